//! The template renderer: built-in English and German templates, operator
//! overrides from a directory, HTML escaping of every value.

use std::fmt;
use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior, Value, context};
use rsvp_app::{EmailRenderer, InvitationEmail, Locale, RenderError, RenderedEmail};
use time::{Month, OffsetDateTime, UtcOffset};

use crate::message::one_line;

/// The template file names [`TemplateRenderer::from_dir`] looks for.
pub const TEMPLATE_FILES: [&str; 6] = [
    "invitation.en.subject.txt",
    "invitation.en.txt",
    "invitation.en.html",
    "invitation.de.subject.txt",
    "invitation.de.txt",
    "invitation.de.html",
];

const LOCALES: [Locale; 2] = [Locale::En, Locale::De];

/// The three templates of one email.
#[derive(Debug, Clone, Copy)]
enum Part {
    Subject,
    Text,
    Html,
}

impl Part {
    const ALL: [Part; 3] = [Part::Subject, Part::Text, Part::Html];

    fn file_name(self, locale: Locale) -> String {
        let lang = locale.as_str();
        match self {
            Part::Subject => format!("invitation.{lang}.subject.txt"),
            Part::Text => format!("invitation.{lang}.txt"),
            Part::Html => format!("invitation.{lang}.html"),
        }
    }

    fn builtin(self, locale: Locale) -> &'static str {
        match (locale, self) {
            (Locale::En, Part::Subject) => include_str!("templates/invitation.en.subject.txt"),
            (Locale::En, Part::Text) => include_str!("templates/invitation.en.txt"),
            (Locale::En, Part::Html) => include_str!("templates/invitation.en.html"),
            (Locale::De, Part::Subject) => include_str!("templates/invitation.de.subject.txt"),
            (Locale::De, Part::Text) => include_str!("templates/invitation.de.txt"),
            (Locale::De, Part::Html) => include_str!("templates/invitation.de.html"),
        }
    }
}

/// Why operator templates could not be loaded. Raised by
/// [`TemplateRenderer::from_dir`], never at send time.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The directory or a file in it could not be read.
    #[error("cannot read email template {path}: {source}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file named `invitation.*` that is not one of [`TEMPLATE_FILES`]
    /// (a typo would otherwise be silently ignored).
    #[error("unknown email template file {path}: expected one of {}", TEMPLATE_FILES.join(", "))]
    UnknownFile {
        /// The file.
        path: PathBuf,
    },
    /// A template does not compile, fails to render with sample values,
    /// renders an empty subject or leaves out the accept link.
    #[error("email template {path} is broken: {reason}")]
    Invalid {
        /// The file (for a built-in template, its name).
        path: PathBuf,
        /// What is wrong, with the line number when the engine gives one.
        reason: String,
    },
}

/// Renders invitation emails with minijinja templates.
///
/// [`TemplateRenderer::new`] uses the built-in English and German
/// templates; [`TemplateRenderer::from_dir`] lets an operator replace any of
/// them (see [`TEMPLATE_FILES`] and the crate documentation).
///
/// # Template variables
///
/// | variable | value |
/// |---|---|
/// | `locale` | `"en"` or `"de"` |
/// | `sender_business` | the sending business's name |
/// | `sender_user` | the sending user's display name (may be empty) |
/// | `invitee_name` | the invitee's name, or none |
/// | `message` | the sender's message, or none (may hold line breaks) |
/// | `expires_on` | the expiry date in UTC, written for the locale: `22 November 2026`, `22. November 2026` |
/// | `expires_at` | the expiry time, RFC 3339 UTC: `2026-11-22T10:00:00Z` |
/// | `accept_url` | the link to accept or decline |
/// | `is_reminder` | `true` on a resend |
///
/// In `.html` templates every value is HTML-escaped (`<`, `>`, `&`, `"`,
/// `'`); `|safe` turns that off for one value. Subjects are made one line.
pub struct TemplateRenderer {
    env: Environment<'static>,
    overridden: Vec<String>,
}

impl fmt::Debug for TemplateRenderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateRenderer")
            .field("overridden", &self.overridden)
            .finish_non_exhaustive()
    }
}

impl Default for TemplateRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl TemplateRenderer {
    /// A renderer with the built-in English and German templates.
    #[allow(
        clippy::expect_used,
        reason = "the built-in templates are constants checked by the tests"
    )]
    pub fn new() -> Self {
        let sources = LOCALES
            .iter()
            .flat_map(|&locale| Part::ALL.map(|part| (part.file_name(locale), part.builtin(locale).to_owned())));
        Self::build(sources, Vec::new(), Path::new("(built-in)")).expect("the built-in email templates are valid")
    }

    /// A renderer whose templates are read from `dir`: each file of
    /// [`TEMPLATE_FILES`] found there replaces the built-in template of that
    /// name; the others stay built-in.
    ///
    /// # Errors
    /// [`TemplateError::Io`] when `dir` or a file cannot be read (a missing
    /// directory included), [`TemplateError::UnknownFile`] for a file named
    /// `invitation.*` that is not a known template,
    /// [`TemplateError::Invalid`] when a template does not compile, uses an
    /// unknown variable, renders an empty subject, or leaves out
    /// `accept_url` from a body.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, TemplateError> {
        let dir = dir.as_ref();
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TemplateError::Io { path, source }
        };
        for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
            let entry = entry.map_err(io_error(dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("invitation.") && !TEMPLATE_FILES.contains(&name.as_ref()) {
                return Err(TemplateError::UnknownFile { path: entry.path() });
            }
        }
        let mut sources = Vec::new();
        let mut overridden = Vec::new();
        for locale in LOCALES {
            for part in Part::ALL {
                let name = part.file_name(locale);
                let path = dir.join(&name);
                let source = match std::fs::read_to_string(&path) {
                    Ok(source) => {
                        overridden.push(name.clone());
                        // Editors on some systems start UTF-8 files with a byte order mark.
                        source.strip_prefix('\u{feff}').map(str::to_owned).unwrap_or(source)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => part.builtin(locale).to_owned(),
                    Err(e) => return Err(io_error(&path)(e)),
                };
                sources.push((name, source));
            }
        }
        Self::build(sources, overridden, dir)
    }

    /// The names of the templates read from the override directory (empty
    /// for [`TemplateRenderer::new`]), for a start-up log line.
    pub fn overridden(&self) -> &[String] {
        &self.overridden
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
        let renderer = Self { env, overridden };
        renderer.check(dir)?;
        Ok(renderer)
    }

    /// Renders every template with sample values (with and without the
    /// optional ones), so that a broken template fails now, not at send time.
    fn check(&self, dir: &Path) -> Result<(), TemplateError> {
        for locale in LOCALES {
            for full in [true, false] {
                let sample = sample_email(locale, full);
                let ctx = template_context(&sample);
                for part in Part::ALL {
                    let name = part.file_name(locale);
                    let invalid = |reason: String| TemplateError::Invalid {
                        path: dir.join(&name),
                        reason,
                    };
                    let out = self.render_part(&name, &ctx).map_err(|e| invalid(describe(&e)))?;
                    match part {
                        Part::Subject if one_line(&out).is_empty() => {
                            return Err(invalid("the subject is empty".to_owned()));
                        }
                        Part::Text | Part::Html if !contains_link(&out, &sample.accept_url) => {
                            return Err(invalid("the body does not contain {{ accept_url }}".to_owned()));
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    fn render_part(&self, name: &str, ctx: &Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }
}

impl EmailRenderer for TemplateRenderer {
    fn render(&self, email: &InvitationEmail) -> Result<RenderedEmail, RenderError> {
        let ctx = template_context(email);
        let render = |part: Part| {
            let name = part.file_name(email.locale);
            self.render_part(&name, &ctx)
                .map_err(|e| RenderError(format!("{name}: {}", describe(&e))))
        };
        let subject = one_line(&render(Part::Subject)?);
        let mut text = render(Part::Text)?.trim_end().to_owned();
        text.push('\n');
        let html = render(Part::Html)?;
        Ok(RenderedEmail { subject, text, html })
    }
}

/// The variables of every template (documented on [`TemplateRenderer`]).
fn template_context(email: &InvitationEmail) -> Value {
    let present = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let expires_at = email.expires_at.to_offset(UtcOffset::UTC);
    context! {
        locale => email.locale.as_str(),
        sender_business => email.sender_business.trim(),
        sender_user => email.sender_user.trim(),
        invitee_name => present(&email.invitee_name),
        message => present(&email.message),
        expires_on => format_date(expires_at, email.locale),
        expires_at => format_rfc3339(expires_at),
        accept_url => email.accept_url.as_str(),
        is_reminder => email.is_reminder,
    }
}

/// The date in UTC, as people of the locale write it.
pub(crate) fn format_date(at: OffsetDateTime, locale: Locale) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    let (day, year) = (at.day(), at.year());
    match locale {
        Locale::En => format!("{day} {} {year}", english_month(at.month())),
        Locale::De => format!("{day}. {} {year}", german_month(at.month())),
    }
}

fn format_rfc3339(at: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

fn english_month(month: Month) -> &'static str {
    match month {
        Month::January => "January",
        Month::February => "February",
        Month::March => "March",
        Month::April => "April",
        Month::May => "May",
        Month::June => "June",
        Month::July => "July",
        Month::August => "August",
        Month::September => "September",
        Month::October => "October",
        Month::November => "November",
        Month::December => "December",
    }
}

fn german_month(month: Month) -> &'static str {
    match month {
        Month::January => "Januar",
        Month::February => "Februar",
        Month::March => "März",
        Month::April => "April",
        Month::May => "Mai",
        Month::June => "Juni",
        Month::July => "Juli",
        Month::August => "August",
        Month::September => "September",
        Month::October => "Oktober",
        Month::November => "November",
        Month::December => "Dezember",
    }
}

/// Escapes text for HTML element content and quoted attribute values.
/// Unlike minijinja's default it leaves `/` alone, so that links stay
/// readable (`https://...`, not `https:&#x2f;&#x2f;...`).
fn escape_html(s: &str, out: &mut String) {
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

/// Whether a rendered body carries the link, as it is or HTML-escaped.
fn contains_link(body: &str, url: &str) -> bool {
    let mut escaped = String::new();
    escape_html(url, &mut escaped);
    body.contains(url) || body.contains(&escaped) || body.contains(&minijinja::HtmlEscape(url).to_string())
}

/// A minijinja error with its line, for operators.
fn describe(error: &minijinja::Error) -> String {
    let mut text = error.to_string();
    if let Some(line) = error.line()
        && !text.contains(&format!(":{line}"))
    {
        text.push_str(&format!(" (line {line})"));
    }
    text
}

/// Sample values for the load-time check, with every optional value set
/// (and a reminder) or none.
fn sample_email(locale: Locale, full: bool) -> InvitationEmail {
    InvitationEmail {
        locale,
        sender_business: "Sample Business Ltd".to_owned(),
        sender_user: if full { "Sam Sender".to_owned() } else { String::new() },
        invitee_name: full.then(|| "Ivy Invitee".to_owned()),
        message: full.then(|| "Looking forward to working with you.\nSecond line.".to_owned()),
        expires_at: OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
        accept_url: "https://rsvp.example/invite/sample-token".to_owned(),
        is_reminder: full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_for_the_locale_in_utc() {
        // 2026-11-22T23:30:00-02:00 is 2026-11-23T01:30:00Z.
        let at = OffsetDateTime::from_unix_timestamp(1_795_397_400).unwrap();
        assert_eq!(format_rfc3339(at), "2026-11-23T01:30:00Z");
        let local = at.to_offset(UtcOffset::from_hms(-2, 0, 0).unwrap());
        assert_eq!(format_date(local, Locale::En), "23 November 2026");
        assert_eq!(format_date(local, Locale::De), "23. November 2026");
        let march = OffsetDateTime::from_unix_timestamp(1_772_409_600).unwrap(); // 2026-03-02
        assert_eq!(format_date(march, Locale::De), "2. März 2026");
        assert_eq!(format_date(march, Locale::En), "2 March 2026");
    }

    #[test]
    fn the_escaper_handles_the_five_html_characters_and_keeps_slashes() {
        let mut out = String::new();
        escape_html(r#"<a href="x">&'/</a>"#, &mut out);
        assert_eq!(out, "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;/&lt;/a&gt;");
    }

    #[test]
    fn every_template_file_name_is_known() {
        let names: Vec<String> = LOCALES
            .iter()
            .flat_map(|&l| Part::ALL.map(|p| p.file_name(l)))
            .collect();
        assert_eq!(names, TEMPLATE_FILES.map(str::to_owned));
    }
}
