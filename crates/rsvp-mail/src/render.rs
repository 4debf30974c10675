//! The template renderer: built-in English and German templates, operator
//! overrides from a directory, HTML escaping of every value.

mod notice;

use std::path::Path;

use minijinja::{Value, context};
use rsvp_app::{Branding, EmailRenderer, ExpiryNoticeEmail, InvitationEmail, Locale, RenderError, RenderedEmail};
pub use rsvp_templates::TemplateError;
use rsvp_templates::{TemplateFile, Templates, contains_link, describe};
use time::{OffsetDateTime, UtcOffset};

use crate::message::one_line;

/// The template file names [`TemplateRenderer::from_dir`] looks for: the
/// invitation's (also its reminder) and the expiry notice's to its sender.
pub const TEMPLATE_FILES: [&str; 12] = [
    "invitation.en.subject.txt",
    "invitation.en.txt",
    "invitation.en.html",
    "invitation.de.subject.txt",
    "invitation.de.txt",
    "invitation.de.html",
    "expiry_notice.en.subject.txt",
    "expiry_notice.en.txt",
    "expiry_notice.en.html",
    "expiry_notice.de.subject.txt",
    "expiry_notice.de.txt",
    "expiry_notice.de.html",
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

    fn file_name(self, locale: Locale) -> &'static str {
        match (locale, self) {
            (Locale::En, Part::Subject) => "invitation.en.subject.txt",
            (Locale::En, Part::Text) => "invitation.en.txt",
            (Locale::En, Part::Html) => "invitation.en.html",
            (Locale::De, Part::Subject) => "invitation.de.subject.txt",
            (Locale::De, Part::Text) => "invitation.de.txt",
            (Locale::De, Part::Html) => "invitation.de.html",
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

/// Renders invitation emails with minijinja templates.
///
/// [`TemplateRenderer::new`] uses the built-in English and German
/// templates; [`TemplateRenderer::from_dir`] lets an operator replace any of
/// them (see [`TEMPLATE_FILES`] and the crate documentation). Loading and
/// checking is `rsvp-templates`' (shared with the invitee's page).
///
/// # Template variables
///
/// | variable | value |
/// |---|---|
/// | `locale` | `"en"` or `"de"` |
/// | `sender_business` | the sending business's name |
/// | `sender_user` | the sending user's display name (may be empty) |
/// | `invitee_name` | the invitee's name, or none |
/// | `invitee_email` | the invited address |
/// | `message` | the sender's message, or none (may hold line breaks) |
/// | `expires_on` | the expiry date in UTC, written for the locale: `22 November 2026`, `22. November 2026` |
/// | `expires_at` | the expiry time, RFC 3339 UTC: `2026-11-22T10:00:00Z` |
/// | `accept_url` | the link to accept or decline |
/// | `unsubscribe_url` | the page to stop invitations (from this business or everyone) |
/// | `is_reminder` | `true` on a resend |
/// | `product_name` | the operator's product name (`RSVP_PRODUCT_NAME`, default `rsvp`) |
/// | `brand_color` | the brand colour, `#rrggbb` (`RSVP_BRAND_COLOR`, default `#2563eb`) |
/// | `logo_url` | the logo (`RSVP_LOGO_URL`) if it is a `data:` URL, else none (emails load nothing remote) |
///
/// The expiry notice's templates (`expiry_notice.*`, to the user who sent
/// an invitation that expired unanswered; no link, no image) have
/// `locale`, `sender_business`, `sender_user` (the recipient), `invitee_name`,
/// `invitee_email`, `sent_on` / `sent_at` (when the invitation was sent),
/// `expired_on` / `expired_at` (written as `expires_on` / `expires_at`
/// are), `product_name` and `brand_color`; each body must contain
/// `{{ invitee_email }}`.
///
/// In `.html` templates every value is HTML-escaped (`<`, `>`, `&`, `"`,
/// `'`); `|safe` turns that off for one value. Subjects are made one line.
#[derive(Debug)]
pub struct TemplateRenderer {
    templates: Templates,
    branding: Branding,
}

impl Default for TemplateRenderer {
    fn default() -> Self {
        Self::new()
    }
}

/// The colour of buttons and links when the operator set none.
pub const DEFAULT_BRAND_COLOR: &str = "#2563eb";

fn files() -> Vec<TemplateFile> {
    LOCALES
        .iter()
        .flat_map(|&locale| {
            Part::ALL.map(|part| TemplateFile {
                name: part.file_name(locale),
                builtin: part.builtin(locale),
            })
        })
        .chain(notice::files())
        .collect()
}

/// The brandings every template is checked with: none, and a full one.
fn sample_brandings() -> [(bool, Branding); 2] {
    let branded =
        Branding::new("Sample Network", Some("#0f766e"), Some("https://cdn.example/logo.png")).unwrap_or_default();
    [(true, branded), (false, Branding::default())]
}

impl TemplateRenderer {
    /// A renderer with the built-in English and German templates.
    #[allow(
        clippy::expect_used,
        reason = "the built-in templates are constants checked by the tests"
    )]
    pub fn new() -> Self {
        Templates::builtin(&files())
            .and_then(Self::checked)
            .expect("the built-in email templates are valid")
    }

    /// A renderer whose templates are read from `dir`: each file of
    /// [`TEMPLATE_FILES`] found there replaces the built-in template of that
    /// name; the others stay built-in. Files not named `invitation.*` or
    /// `expiry_notice.*` are left alone (the directory also holds the page's
    /// templates).
    ///
    /// # Errors
    /// [`TemplateError::Io`] when `dir` or a file cannot be read (a missing
    /// directory included), [`TemplateError::UnknownFile`] for a file named
    /// `invitation.*` or `expiry_notice.*` that is not a known template,
    /// [`TemplateError::Invalid`] when a template does not compile, uses an
    /// unknown variable, renders an empty subject, or leaves out
    /// `accept_url` from an invitation's body (`invitee_email` from a
    /// notice's).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, TemplateError> {
        Self::checked(Templates::load(
            dir.as_ref(),
            &["invitation.", notice::PREFIX],
            &files(),
        )?)
    }

    /// The same templates, rendered with the operator's brand.
    #[must_use]
    pub fn with_branding(mut self, branding: Branding) -> Self {
        self.branding = branding;
        self
    }

    /// The names of the templates read from the override directory (empty
    /// for [`TemplateRenderer::new`]), for a start-up log line.
    pub fn overridden(&self) -> &[String] {
        self.templates.overridden()
    }

    /// Renders every template with sample values (with and without the
    /// optional ones, with and without a brand), so that a broken template
    /// fails now, not at send time.
    fn checked(templates: Templates) -> Result<Self, TemplateError> {
        for locale in LOCALES {
            for (full, branding) in sample_brandings() {
                let sample = sample_email(locale, full);
                let ctx = template_context(&sample, &branding);
                for part in Part::ALL {
                    templates.check(part.file_name(locale), &ctx, |out| match part {
                        Part::Subject if one_line(out).is_empty() => Some("the subject is empty".to_owned()),
                        Part::Text | Part::Html if !contains_link(out, &sample.accept_url) => {
                            Some("the body does not contain {{ accept_url }}".to_owned())
                        }
                        _ => None,
                    })?;
                }
            }
        }
        notice::check(&templates)?;
        Ok(Self {
            templates,
            branding: Branding::default(),
        })
    }
}

impl EmailRenderer for TemplateRenderer {
    fn render(&self, email: &InvitationEmail) -> Result<RenderedEmail, RenderError> {
        let ctx = template_context(email, &self.branding);
        render_parts(&self.templates, &ctx, |part| part.file_name(email.locale))
    }

    fn render_expiry_notice(&self, email: &ExpiryNoticeEmail) -> Result<RenderedEmail, RenderError> {
        notice::render(&self.templates, email, &self.branding)
    }
}

/// The variables of every template (documented on [`TemplateRenderer`]).
/// Renders one email's subject (on one line), text (ending in one newline)
/// and HTML from the templates `name` gives for each part.
fn render_parts(
    templates: &Templates,
    ctx: &Value,
    name: impl Fn(Part) -> &'static str,
) -> Result<RenderedEmail, RenderError> {
    let render = |part: Part| {
        let name = name(part);
        templates
            .render(name, ctx)
            .map_err(|e| RenderError(format!("{name}: {}", describe(&e))))
    };
    let subject = one_line(&render(Part::Subject)?);
    let mut text = render(Part::Text)?.trim_end().to_owned();
    text.push('\n');
    let html = render(Part::Html)?;
    Ok(RenderedEmail { subject, text, html })
}

fn template_context(email: &InvitationEmail, branding: &Branding) -> Value {
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
        invitee_email => email.invitee_email.as_str(),
        message => present(&email.message),
        expires_on => email.locale.format_date(expires_at),
        expires_at => format_rfc3339(expires_at),
        accept_url => email.accept_url.as_str(),
        unsubscribe_url => email.unsubscribe_url.as_str(),
        is_reminder => email.is_reminder,
        product_name => branding.product_name(),
        brand_color => branding.brand_color().unwrap_or(DEFAULT_BRAND_COLOR),
        // An email loads nothing from a server (an https logo would tell
        // its host who opened it): only an inline logo goes in.
        logo_url => branding.logo_url().filter(|url| url.starts_with("data:")),
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
        unsubscribe_url: "https://rsvp.example/unsubscribe/sample-token".to_owned(),
        invitee_email: "ivy@invitee.example".to_owned(),
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
        let mut email = sample_email(Locale::En, false);
        email.expires_at = local;
        let english = template_context(&email, &Branding::default());
        assert_eq!(english.get_attr("expires_on").unwrap().to_string(), "23 November 2026");
        assert_eq!(
            english.get_attr("expires_at").unwrap().to_string(),
            "2026-11-23T01:30:00Z"
        );
        email.locale = Locale::De;
        let german = template_context(&email, &Branding::default());
        assert_eq!(german.get_attr("expires_on").unwrap().to_string(), "23. November 2026");
    }

    #[test]
    fn every_template_file_name_is_known() {
        let names: Vec<&str> = files().iter().map(|f| f.name).collect();
        assert_eq!(names, TEMPLATE_FILES);
    }
}
