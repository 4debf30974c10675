//! The notice to a sender that an invitation expired unanswered: its
//! templates (English and German, overridable like the invitation's), its
//! variables and its load-time check.

use minijinja::{Value, context};
use rsvp_app::{Branding, ExpiryNoticeEmail, Locale, RenderError, RenderedEmail};
use rsvp_templates::{TemplateError, TemplateFile, Templates, contains_link};
use time::{OffsetDateTime, UtcOffset};

use super::{DEFAULT_BRAND_COLOR, LOCALES, Part, format_rfc3339, sample_brandings};
use crate::message::one_line;

/// The file-name prefix of the notice's templates.
pub(super) const PREFIX: &str = "expiry_notice.";

fn file_name(locale: Locale, part: Part) -> &'static str {
    match (locale, part) {
        (Locale::En, Part::Subject) => "expiry_notice.en.subject.txt",
        (Locale::En, Part::Text) => "expiry_notice.en.txt",
        (Locale::En, Part::Html) => "expiry_notice.en.html",
        (Locale::De, Part::Subject) => "expiry_notice.de.subject.txt",
        (Locale::De, Part::Text) => "expiry_notice.de.txt",
        (Locale::De, Part::Html) => "expiry_notice.de.html",
    }
}

fn builtin(locale: Locale, part: Part) -> &'static str {
    match (locale, part) {
        (Locale::En, Part::Subject) => include_str!("../templates/expiry_notice.en.subject.txt"),
        (Locale::En, Part::Text) => include_str!("../templates/expiry_notice.en.txt"),
        (Locale::En, Part::Html) => include_str!("../templates/expiry_notice.en.html"),
        (Locale::De, Part::Subject) => include_str!("../templates/expiry_notice.de.subject.txt"),
        (Locale::De, Part::Text) => include_str!("../templates/expiry_notice.de.txt"),
        (Locale::De, Part::Html) => include_str!("../templates/expiry_notice.de.html"),
    }
}

/// The notice's templates, every locale and part.
pub(super) fn files() -> impl Iterator<Item = TemplateFile> {
    LOCALES.into_iter().flat_map(|locale| {
        Part::ALL.map(|part| TemplateFile {
            name: file_name(locale, part),
            builtin: builtin(locale, part),
        })
    })
}

/// Renders the notice.
pub(super) fn render(
    templates: &Templates,
    email: &ExpiryNoticeEmail,
    branding: &Branding,
) -> Result<RenderedEmail, RenderError> {
    let ctx = template_context(email, branding);
    super::render_parts(templates, &ctx, |part| file_name(email.locale, part))
}

/// Renders every notice template with sample values (with and without the
/// optional ones, with and without a brand): a subject, and bodies that say
/// which address did not answer.
pub(super) fn check(templates: &Templates) -> Result<(), TemplateError> {
    for locale in LOCALES {
        for (full, branding) in sample_brandings() {
            let sample = sample(locale, full);
            let ctx = template_context(&sample, &branding);
            for part in Part::ALL {
                templates.check(file_name(locale, part), &ctx, |out| match part {
                    Part::Subject if one_line(out).is_empty() => Some("the subject is empty".to_owned()),
                    Part::Text | Part::Html if !contains_link(out, &sample.invitee_email) => {
                        Some("the body does not contain {{ invitee_email }}".to_owned())
                    }
                    _ => None,
                })?;
            }
        }
    }
    Ok(())
}

/// The notice's variables (documented on
/// [`TemplateRenderer`](super::TemplateRenderer)). No logo: the notice
/// shows no image.
fn template_context(email: &ExpiryNoticeEmail, branding: &Branding) -> Value {
    let present = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let utc = |at: OffsetDateTime| at.to_offset(UtcOffset::UTC);
    context! {
        locale => email.locale.as_str(),
        sender_business => email.sender_business.trim(),
        sender_user => email.sender_user.trim(),
        invitee_name => present(&email.invitee_name),
        invitee_email => email.invitee_email.as_str(),
        sent_on => email.locale.format_date(utc(email.sent_at)),
        sent_at => format_rfc3339(utc(email.sent_at)),
        expired_on => email.locale.format_date(utc(email.expired_at)),
        expired_at => format_rfc3339(utc(email.expired_at)),
        product_name => branding.product_name(),
        brand_color => branding.brand_color().unwrap_or(DEFAULT_BRAND_COLOR),
    }
}

/// Sample values for the load-time check, with every optional value set or none.
fn sample(locale: Locale, full: bool) -> ExpiryNoticeEmail {
    let sent_at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    ExpiryNoticeEmail {
        locale,
        sender_business: "Sample Business Ltd".to_owned(),
        sender_user: if full { "Sam Sender".to_owned() } else { String::new() },
        invitee_email: "ivy@invitee.example".to_owned(),
        invitee_name: full.then(|| "Ivy Invitee".to_owned()),
        sent_at,
        expired_at: sent_at + time::Duration::days(14),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_says_who_did_not_answer_and_when_in_each_language() {
        let templates = Templates::builtin(&files().collect::<Vec<_>>()).unwrap();
        let mut email = sample(Locale::En, true);
        let english = render(&templates, &email, &Branding::default()).unwrap();
        assert_eq!(
            english.subject,
            "Your invitation to ivy@invitee.example expired unanswered"
        );
        assert!(english.text.starts_with("Hello Sam Sender,\n"), "{}", english.text);
        assert!(
            english.text.contains(
                "to Ivy Invitee (ivy@invitee.example), sent on 4 October 2024, expired on 18 October 2024 (UTC)"
            ),
            "{}",
            english.text
        );
        email.locale = Locale::De;
        let german = render(&templates, &email, &Branding::default()).unwrap();
        assert_eq!(
            german.subject,
            "Ihre Einladung an ivy@invitee.example ist unbeantwortet abgelaufen"
        );
        assert!(
            german
                .text
                .contains("gesendet am 4. Oktober 2024, ist am 18. Oktober 2024 (UTC)"),
            "{}",
            german.text
        );
        for body in [&english.html, &german.html] {
            assert!(
                !body.contains("<img") && !body.contains("href="),
                "no image, no link: {body}"
            );
        }
    }
}
