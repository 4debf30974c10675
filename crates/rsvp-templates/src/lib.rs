//! # rsvp-templates
//!
//! The one way rsvp loads templates, shared by the emails (`rsvp-mail`) and
//! the invitee's page (`rsvp-http`): [minijinja](https://docs.rs/minijinja)
//! with `trim_blocks` and `lstrip_blocks`, undefined variables as errors,
//! every value HTML-escaped in `.html` templates (`<`, `>`, `&`, `"`, `'`;
//! `/` is kept so links stay readable), built-in templates that an operator
//! may replace file by file from a directory.
//!
//! [`Templates::load`] reads a directory: each known file found there
//! replaces the built-in template of that name; a file that starts with one
//! of the family's prefixes but is not a known name is refused (a typo
//! would otherwise be silently ignored); a file that does not compile is
//! refused naming the file and the line. The caller then renders its samples
//! ([`Templates::check`]) so that a template that fails at render time also
//! fails at load time, naming the file — a server refuses to start rather
//! than fail at send or page time.
//!
//! ```
//! use rsvp_templates::{TemplateFile, Templates};
//!
//! const FILES: [TemplateFile; 1] = [TemplateFile { name: "hello.html", builtin: "<p>Hello {{ name }}</p>" }];
//! let templates = Templates::builtin(&FILES).unwrap();
//! let ctx = minijinja::context! { name => "<Ann>" };
//! assert_eq!(templates.render("hello.html", &ctx).unwrap(), "<p>Hello &lt;Ann&gt;</p>");
//! templates.check("hello.html", &ctx, |out| (!out.contains("Hello")).then(|| "no greeting".to_owned())).unwrap();
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::fmt;
use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior, Value};

/// One template: its file name and its built-in source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateFile {
    /// The file name an override must have, e.g. `invitation.en.html`.
    pub name: &'static str,
    /// The built-in source.
    pub builtin: &'static str,
}

/// Why templates could not be loaded. Raised when loading, never at render
/// time.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The directory or a file in it could not be read.
    #[error("cannot read template {path}: {source}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file named like the family's templates that is not one of them.
    #[error("unknown template file {path}: expected one of {expected}")]
    UnknownFile {
        /// The file.
        path: PathBuf,
        /// The known names, comma-separated.
        expected: String,
    },
    /// A template does not compile, fails to render with sample values, or
    /// misses something it must contain.
    #[error("template {path} is broken: {reason}")]
    Invalid {
        /// The file (for a built-in template, `(built-in)/<name>`).
        path: PathBuf,
        /// What is wrong, with the line number when the engine gives one.
        reason: String,
    },
}

/// A family of templates: the built-ins, some replaced from a directory.
pub struct Templates {
    env: Environment<'static>,
    dir: PathBuf,
    overridden: Vec<String>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates")
            .field("dir", &self.dir)
            .field("overridden", &self.overridden)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// The built-in templates only.
    ///
    /// # Errors
    /// [`TemplateError::Invalid`] when one does not compile.
    pub fn builtin(files: &[TemplateFile]) -> Result<Self, TemplateError> {
        let sources = files.iter().map(|f| (f.name.to_owned(), f.builtin.to_owned()));
        Self::build(sources, Vec::new(), Path::new("(built-in)"))
    }

    /// The templates of `files`, each replaced by the file of the same name
    /// in `dir` when there is one. Files of `dir` whose name starts with one
    /// of `prefixes` but is not in `files` are refused; other files are
    /// ignored (the directory is shared by several families).
    ///
    /// # Errors
    /// [`TemplateError::Io`] when `dir` or a file cannot be read (a missing
    /// directory included), [`TemplateError::UnknownFile`],
    /// [`TemplateError::Invalid`] when a template does not compile.
    pub fn load(dir: &Path, prefixes: &[&str], files: &[TemplateFile]) -> Result<Self, TemplateError> {
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TemplateError::Io { path, source }
        };
        for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
            let entry = entry.map_err(io_error(dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let in_family = prefixes.iter().any(|p| name.starts_with(p));
            if in_family && !files.iter().any(|f| f.name == name) {
                return Err(TemplateError::UnknownFile {
                    path: entry.path(),
                    expected: files.iter().map(|f| f.name).collect::<Vec<_>>().join(", "),
                });
            }
        }
        let mut sources = Vec::new();
        let mut overridden = Vec::new();
        for file in files {
            let path = dir.join(file.name);
            let source = match std::fs::read_to_string(&path) {
                Ok(source) => {
                    overridden.push(file.name.to_owned());
                    // Editors on some systems start UTF-8 files with a byte order mark.
                    source.strip_prefix('\u{feff}').map(str::to_owned).unwrap_or(source)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => file.builtin.to_owned(),
                Err(e) => return Err(io_error(&path)(e)),
            };
            sources.push((file.name.to_owned(), source));
        }
        Self::build(sources, overridden, dir)
    }

    fn build(
        sources: impl IntoIterator<Item = (String, String)>,
        overridden: Vec<String>,
        dir: &Path,
    ) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        if let Ok(syntax) = SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build() {
            env.set_syntax(syntax);
        }
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(format_value);
        for (name, source) in sources {
            let path = dir.join(&name);
            env.add_template_owned(name, source)
                .map_err(|e| TemplateError::Invalid {
                    path,
                    reason: describe(&e),
                })?;
        }
        Ok(Self {
            env,
            dir: dir.to_path_buf(),
            overridden,
        })
    }

    /// The names of the templates read from the directory (empty for
    /// [`Templates::builtin`]), for a start-up log line.
    pub fn overridden(&self) -> &[String] {
        &self.overridden
    }

    /// Renders `name` with `ctx`.
    ///
    /// # Errors
    /// The engine's error (an unknown template, an undefined variable...).
    pub fn render(&self, name: &str, ctx: &Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }

    /// Renders `name` with sample values and applies `verdict` to the
    /// output (`Some(reason)`: broken), for the load-time check.
    ///
    /// # Errors
    /// [`TemplateError::Invalid`] naming the file, when the render fails or
    /// `verdict` finds fault.
    pub fn check(
        &self,
        name: &str,
        ctx: &Value,
        verdict: impl FnOnce(&str) -> Option<String>,
    ) -> Result<String, TemplateError> {
        let invalid = |reason: String| TemplateError::Invalid {
            path: self.dir.join(name),
            reason,
        };
        let out = self.render(name, ctx).map_err(|e| invalid(describe(&e)))?;
        match verdict(&out) {
            Some(reason) => Err(invalid(reason)),
            None => Ok(out),
        }
    }
}

/// Escapes text for HTML element content and quoted attribute values.
/// Unlike minijinja's default it leaves `/` alone, so that links stay
/// readable (`https://...`, not `https:&#x2f;&#x2f;...`).
pub fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// The engine's formatter: HTML escaping (see [`escape_html`]) for strings
/// in `.html` templates, the default behaviour for everything else.
fn format_value(out: &mut Output, state: &mut State, value: &Value) -> Result<(), minijinja::Error> {
    let plain = value.is_safe() || value.is_undefined() || value.is_none() || value.is_number();
    if state.auto_escape() != &AutoEscape::Html || plain || value.as_str().is_none() {
        return minijinja::escape_formatter(out, state, value);
    }
    let mut escaped = String::new();
    escape_html(value.as_str().unwrap_or_default(), &mut escaped);
    out.write_str(&escaped).map_err(minijinja::Error::from)
}

/// Whether a rendered body carries `url`, as it is or HTML-escaped.
pub fn contains_link(body: &str, url: &str) -> bool {
    let mut escaped = String::new();
    escape_html(url, &mut escaped);
    body.contains(url) || body.contains(&escaped) || body.contains(&minijinja::HtmlEscape(url).to_string())
}

/// A minijinja error with its line, for operators.
pub fn describe(error: &minijinja::Error) -> String {
    let mut text = error.to_string();
    if let Some(line) = error.line()
        && !text.contains(&format!(":{line}"))
    {
        text.push_str(&format!(" (line {line})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILES: [TemplateFile; 2] = [
        TemplateFile {
            name: "page.html",
            builtin: "<p>{{ x }}</p>",
        },
        TemplateFile {
            name: "page.txt",
            builtin: "{{ x }}",
        },
    ];

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rsvp-templates-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_escaper_handles_the_five_html_characters_and_keeps_slashes() {
        let mut out = String::new();
        escape_html(r#"<a href="x">&'/</a>"#, &mut out);
        assert_eq!(out, "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;/&lt;/a&gt;");
    }

    #[test]
    fn an_override_replaces_only_its_template_and_html_alone_is_escaped() {
        let dir = dir("override");
        std::fs::write(dir.join("page.html"), "\u{feff}<b>{{ x }}</b>").unwrap();
        std::fs::write(dir.join("other-family.html"), "ignored").unwrap();
        let templates = Templates::load(&dir, &["page."], &FILES).unwrap();
        let ctx = minijinja::context! { x => "<&>" };
        assert_eq!(templates.render("page.html", &ctx).unwrap(), "<b>&lt;&amp;&gt;</b>");
        assert_eq!(templates.render("page.txt", &ctx).unwrap(), "<&>");
        assert_eq!(templates.overridden(), ["page.html"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_unknown_file_of_the_family_and_a_broken_template_are_refused_naming_the_file() {
        let dir = dir("refused");
        std::fs::write(dir.join("page.htm"), "x").unwrap();
        let error = Templates::load(&dir, &["page."], &FILES).unwrap_err();
        assert!(matches!(&error, TemplateError::UnknownFile { path, .. } if path.ends_with("page.htm")));
        std::fs::remove_file(dir.join("page.htm")).unwrap();
        std::fs::write(dir.join("page.html"), "{% if %}").unwrap();
        let error = Templates::load(&dir, &["page."], &FILES).unwrap_err();
        assert!(error.to_string().contains("page.html"), "{error}");
        std::fs::write(dir.join("page.html"), "{{ y }}").unwrap();
        let templates = Templates::load(&dir, &["page."], &FILES).unwrap();
        let error = templates
            .check("page.html", &minijinja::context! { x => 1 }, |_| None)
            .unwrap_err();
        assert!(matches!(&error, TemplateError::Invalid { path, .. } if path.ends_with("page.html")));
        std::fs::remove_dir_all(dir).unwrap();
    }
}

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
