//! What every transport shares: the sender, the Message-ID, the MIME message.

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use rsvp_app::{MailError, OutgoingEmail};

use crate::ConfigError;

/// The SMTP and HTTP transports' default timeout: 30 seconds.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Parses a configured sender such as `Acme <no-reply@acme.example>`.
pub(crate) fn parse_from(value: &str) -> Result<Mailbox, ConfigError> {
    value.trim().parse::<Mailbox>().map_err(|e| ConfigError::InvalidFrom {
        value: value.to_owned(),
        reason: e.to_string(),
    })
}

/// Parses the recipient; an address lettre refuses is a permanent failure.
pub(crate) fn parse_to(email: &OutgoingEmail) -> Result<Mailbox, MailError> {
    email
        .to
        .as_str()
        .parse::<Mailbox>()
        .map_err(|e| MailError::Permanent(format!("invalid recipient address {:?}: {e}", email.to.as_str())))
}

/// Whether `s` can be one side of a message id: printable ASCII without
/// `<`, `>`, `"`, `\`, `/` or `@`, no leading, trailing or double dot.
/// That covers RFC 5322 dot-atoms and `[literal]` domains, and such a
/// string is also a safe file name.
fn is_id_side(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && !s.ends_with('.')
        && !s.contains("..")
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b'/' | b'@'))
}

/// Checks a job's message id (`<job id>` or `<job id>@<domain>`): at most
/// 200 characters of printable ASCII, at most one `@`, no `<`, `>`, `"`,
/// `\` or `/`, no dot at the start or end of a side, no `..`.
pub(crate) fn check_message_id(id: &str) -> Result<(), MailError> {
    let ok = id.len() <= 200
        && match id.split_once('@') {
            Some((left, right)) => is_id_side(left) && is_id_side(right),
            None => is_id_side(id),
        };
    if ok {
        Ok(())
    } else {
        Err(MailError::Permanent(format!(
            "invalid message id {id:?}: expected printable ASCII without spaces, '<', '>', '\"', '\\' or '/', \
             at most one '@', no leading or double dots"
        )))
    }
}

/// The longest provider message id kept (Postmark's are 36-character
/// UUIDs, Amazon SES's about 60 characters).
const MAX_PROVIDER_ID: usize = 255;

/// A provider's message id worth storing: trimmed, not empty, at most
/// [`MAX_PROVIDER_ID`] bytes of printable ASCII (it comes from the network
/// and is stored and matched as it is).
pub(crate) fn provider_id(id: &str) -> Option<String> {
    let id = id.trim();
    (!id.is_empty() && id.len() <= MAX_PROVIDER_ID && id.bytes().all(|b| b.is_ascii_graphic())).then(|| id.to_owned())
}

/// The `Message-ID` header value: `<id>` when the id holds an `@`,
/// otherwise `<id@sender domain>`.
pub(crate) fn message_id_header(id: &str, from: &Mailbox) -> Result<String, MailError> {
    check_message_id(id)?;
    Ok(if id.contains('@') {
        format!("<{id}>")
    } else {
        format!("<{id}@{}>", from.email.domain())
    })
}

/// The subject on one line: control characters and line breaks become
/// single spaces, surrounding spaces go.
pub(crate) fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// How the body parts are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bodies {
    /// lettre's choice: 7bit for short ASCII lines, quoted-printable or
    /// base64 otherwise; safe for any SMTP server.
    Auto,
    /// The text as it is (`7bit` when ASCII, `8bit` otherwise), readable in
    /// a file, links never wrapped, whenever every line fits the 998-octet
    /// limit of RFC 5322; lettre's choice otherwise.
    Verbatim,
}

/// The text as an unencoded body: CRLF line ends, each line at most 998
/// octets, no NUL or bare CR; `None` when it does not qualify.
fn verbatim(text: &str) -> Option<Body> {
    let lf = text.replace("\r\n", "\n");
    if lf.contains(['\r', '\0']) || lf.split('\n').any(|line| line.len() > 998) {
        return None;
    }
    let encoding = if lf.is_ascii() {
        ContentTransferEncoding::SevenBit
    } else {
        ContentTransferEncoding::EightBit
    };
    Some(Body::dangerous_pre_encoded(
        lf.replace('\n', "\r\n").into_bytes(),
        encoding,
    ))
}

fn body(text: &str, bodies: Bodies) -> Body {
    match bodies {
        Bodies::Auto => Body::new(text.to_owned()),
        Bodies::Verbatim => verbatim(text).unwrap_or_else(|| Body::new(text.to_owned())),
    }
}

/// Longest display name put on `From` or `Reply-To`, in characters.
const MAX_DISPLAY_NAME: usize = 120;

/// The sender: the configured address, with the email's display name
/// (`Ann Lee (Acme) via rsvp`) when it has one, else the configured name.
pub(crate) fn sender(from: &Mailbox, email: &OutgoingEmail) -> Mailbox {
    match email.from_name.as_deref().map(one_line).filter(|n| !n.is_empty()) {
        Some(name) => Mailbox::new(Some(name.chars().take(MAX_DISPLAY_NAME).collect()), from.email.clone()),
        None => from.clone(),
    }
}

/// `Reply-To`: the inviting user; `None` when the email has none or its
/// address is not one lettre can write (then replies go to `From`, which is
/// better than no email at all).
pub(crate) fn reply_to(email: &OutgoingEmail) -> Option<Mailbox> {
    let person = email.reply_to.as_ref()?;
    let address = person.email.as_str().parse().ok()?;
    let name = person
        .name
        .as_deref()
        .map(one_line)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(MAX_DISPLAY_NAME).collect());
    Some(Mailbox::new(name, address))
}

/// The `List-Unsubscribe` value, `<url>`, when the email has a one-click
/// URL that is plain printable ASCII (anything else could break the header).
pub(crate) fn list_unsubscribe(email: &OutgoingEmail) -> Option<String> {
    let url = email.list_unsubscribe.as_deref()?.trim();
    let plain = url.starts_with("https://") || url.starts_with("http://");
    (plain && url.bytes().all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')).then(|| format!("<{url}>"))
}

/// `List-Unsubscribe-Post`'s only value (RFC 8058).
pub(crate) const ONE_CLICK: &str = "List-Unsubscribe=One-Click";

/// The full MIME message: From, Reply-To, To, Subject, Date, Message-ID,
/// `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058),
/// MIME-Version and a `multipart/alternative` body (text, then HTML).
pub(crate) fn build_message(from: &Mailbox, email: &OutgoingEmail, bodies: Bodies) -> Result<Message, MailError> {
    let to = parse_to(email)?;
    let message_id = message_id_header(&email.message_id, from)?;
    let mut builder = Message::builder()
        .from(sender(from, email))
        .to(to)
        .subject(one_line(&email.content.subject))
        .message_id(Some(message_id))
        .date_now();
    if let Some(person) = reply_to(email) {
        builder = builder.reply_to(person);
    }
    if let Some(value) = list_unsubscribe(email) {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                value,
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                ONE_CLICK.to_owned(),
            ));
    }
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(body(&email.content.text, bodies)))
                .singlepart(SinglePart::html(body(&email.content.html, bodies))),
        )
        .map_err(|e| MailError::Permanent(format!("cannot build the message: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> Mailbox {
        parse_from("Acme <no-reply@acme.example>").unwrap()
    }

    #[test]
    fn a_bare_job_id_gets_the_sender_domain() {
        assert_eq!(
            message_id_header("0190f3a2-7b1c-7def-8000-0123456789ab", &from()).unwrap(),
            "<0190f3a2-7b1c-7def-8000-0123456789ab@acme.example>"
        );
    }

    #[test]
    fn an_id_with_a_domain_is_kept() {
        assert_eq!(
            message_id_header("job.1@mail.example", &from()).unwrap(),
            "<job.1@mail.example>"
        );
    }

    #[test]
    fn unsafe_message_ids_are_permanent_failures() {
        for id in [
            "",
            "../etc/passwd",
            "a/b",
            "a b",
            "<a>",
            "a@b@c",
            ".hidden",
            "a..b",
            "a\r\nBcc: x",
            "@x",
        ] {
            assert!(
                matches!(message_id_header(id, &from()), Err(MailError::Permanent(_))),
                "{id:?} was accepted"
            );
        }
        assert!(check_message_id(&"a".repeat(201)).is_err());
    }

    #[test]
    fn one_line_collapses_line_breaks_and_controls() {
        assert_eq!(one_line("  Acme\r\nBcc: evil@x \t\u{0} ok "), "Acme Bcc: evil@x ok");
    }

    #[test]
    fn verbatim_bodies_keep_the_text_and_respect_the_line_limit() {
        let body = verbatim("Grüße\nline two\r\n").unwrap();
        assert_eq!(body.encoding(), ContentTransferEncoding::EightBit);
        assert_eq!(body.as_ref(), "Grüße\r\nline two\r\n".as_bytes());
        assert_eq!(verbatim("ascii").unwrap().encoding(), ContentTransferEncoding::SevenBit);
        assert!(verbatim(&"x".repeat(998)).is_some());
        assert!(verbatim(&"x".repeat(999)).is_none());
        assert!(verbatim("bare\rcr").is_none());
        assert!(verbatim("nul\0").is_none());
    }

    #[test]
    fn a_sender_without_an_address_is_refused() {
        assert!(matches!(parse_from("Acme"), Err(ConfigError::InvalidFrom { .. })));
        assert!(parse_from(" no-reply@acme.example ").is_ok());
    }
}
