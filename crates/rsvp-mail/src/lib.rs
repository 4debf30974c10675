//! # rsvp-mail
//!
//! The email adapters of rsvp: one renderer and three transports for the
//! ports [`EmailRenderer`](rsvp_app::EmailRenderer) and
//! [`Mailer`](rsvp_app::Mailer) of `rsvp-app`.
//!
//! ## Rendering
//!
//! [`TemplateRenderer`] turns an [`InvitationEmail`](rsvp_app::InvitationEmail)
//! into a subject, a plain-text body and an HTML body with
//! [minijinja](https://docs.rs/minijinja) templates. Built-in templates speak
//! English and German; each names the sending business and user, the
//! invitee (when known), the sender's message (when given), the expiry date
//! (UTC, written for the locale: `22 November 2026`, `22. November 2026`) and
//! the accept link, and says "Reminder" / "Erinnerung" on a resend.
//!
//! HTML templates escape every value (`<`, `>`, `&`, `"`, `'`); the subject
//! and the text body are plain text and are not escaped. The subject is
//! always one line.
//!
//! ### Operator templates
//!
//! [`TemplateRenderer::from_dir`] loads templates from a directory. It looks
//! for these files ([`TEMPLATE_FILES`]); each file that is missing falls back
//! to the built-in one:
//!
//! | file | what |
//! |---|---|
//! | `invitation.en.subject.txt` | English subject (one line; line breaks become spaces) |
//! | `invitation.en.txt` | English plain-text body |
//! | `invitation.en.html` | English HTML body (auto-escaped) |
//! | `invitation.de.subject.txt` | German subject |
//! | `invitation.de.txt` | German plain-text body |
//! | `invitation.de.html` | German HTML body (auto-escaped) |
//! | `expiry_notice.en.subject.txt`, `expiry_notice.en.txt`, `expiry_notice.en.html` | the English notice to the sender of an invitation that expired unanswered |
//! | `expiry_notice.de.subject.txt`, `expiry_notice.de.txt`, `expiry_notice.de.html` | the German notice |
//!
//! Templates are UTF-8 Jinja2 syntax (minijinja, with its built-in
//! filters; `trim_blocks` and `lstrip_blocks` on; undefined variables are
//! errors). Each template stands alone: no `include`, `extends` or
//! `import`.
//! The variables are listed on [`TemplateRenderer`]. A broken template is
//! refused when the directory is loaded — a syntax error, an unknown
//! variable, a body without `{{ accept_url }}` (a notice's without
//! `{{ invitee_email }}`), an empty subject, or a file named `invitation.*`
//! or `expiry_notice.*` that is not one of the names above — so that a
//! server fails at start-up rather than at send time.
//!
//! ## Transports
//!
//! * [`LogMailer`] (the default): writes each message as
//!   `<dir>/<message_id>.eml`, a complete RFC 5322 `multipart/alternative`
//!   message, through a temporary file and a rename so that a reader never
//!   sees half a file. A retry of the same message replaces the file.
//!   Bodies hold the text as it is (`7bit`/`8bit`, so the file is readable
//!   and the link can be found verbatim) unless a line is too long for that.
//! * [`SmtpMailer`]: SMTP submission with lettre (STARTTLS, implicit TLS or
//!   plain, optional AUTH, pooled connections), configured by [`SmtpConfig`].
//! * [`HttpMailer`]: the [Postmark](https://postmarkapp.com/developer/api/email-api)
//!   HTTP API (`POST /email`), configured by [`PostmarkConfig`].
//!
//! Every transport sends the same message: `From` (its configured address,
//! with the email's display name such as `Ann Lee (Acme) via rsvp` when it
//! has one), `Reply-To` (the inviting user), `To`, `Subject`, a text part
//! and an HTML part, `List-Unsubscribe: <https://.../unsubscribe/{token}>`
//! with `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), and the stable
//! `Message-ID` of the job ([`OutgoingEmail::message_id`](rsvp_app::OutgoingEmail)),
//! the same on every retry. A message id written without a domain (a bare
//! job id) is completed with the sender's domain, because RFC 5322 wants
//! `<left@right>`: job `0190f3a2-...` from `no-reply@rsvp.example` is sent
//! as `Message-ID: <0190f3a2-...@rsvp.example>`. An id that already holds
//! an `@` is sent as it is.
//!
//! A send returns what the transport learned of the message
//! ([`SentEmail`](rsvp_app::SentEmail)), stored with the job so that the
//! provider's later reports (bounces, complaints, deliveries) find it:
//! [`HttpMailer`] returns Postmark's `MessageID` and sends the job's id as
//! `Metadata` (`{"rsvp_email_job": "<job id>"}`, echoed by Postmark's
//! webhooks); [`SmtpMailer`] returns the id of an answer `250 Ok <id>`
//! (Amazon SES); [`LogMailer`] returns none.
//!
//! Constructors check the configuration (sender address, URL, credentials)
//! and return a [`ConfigError`] naming what is wrong; nothing is checked
//! late, at send time.
//!
//! ## Error classification
//!
//! [`MailError::Transient`](rsvp_app::MailError) means a retry may succeed,
//! [`MailError::Permanent`](rsvp_app::MailError) that it cannot:
//!
//! | transport | transient | permanent |
//! |---|---|---|
//! | log | any I/O error (disk full, permissions) | a message id that is not a safe file name |
//! | SMTP | connection refused, timeouts, TLS and network errors, 4xx replies (451, 421, ...) | 5xx replies (550, 553, ...) |
//! | HTTP (Postmark) | connection errors, timeouts, 408, 429, 5xx, redirects | other 4xx (401 bad token, 422 with its `ErrorCode`), a 2xx carrying a non-zero `ErrorCode` |
//!
//! All transports: a message that cannot be built (an invalid recipient
//! address, a malformed message id) is permanent. No error message and no
//! `Debug` output contains the SMTP password or the Postmark token.
//!
//! ## Runtime and TLS
//!
//! The transports run on Tokio. [`SmtpMailer::new`] must be called inside a
//! Tokio runtime (its connection pool starts a task). TLS is rustls with the
//! `ring` provider; [`HttpMailer::new`] installs `ring` as the process-wide
//! rustls default if no default is installed yet.
//!
//! ## Example
//!
//! ```
//! use rsvp_app::{EmailRenderer, InvitationEmail, Locale, Mailer, OutgoingEmail};
//! use rsvp_domain::EmailAddress;
//! use rsvp_mail::{LogMailer, TemplateRenderer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let renderer = TemplateRenderer::new(); // or TemplateRenderer::from_dir(dir)?
//! let content = renderer.render(&InvitationEmail {
//!     locale: Locale::De,
//!     sender_business: "Acme Ltd".into(),
//!     sender_user: "Ann Lee".into(),
//!     invitee_name: None,
//!     message: Some("Auf gute Zusammenarbeit!".into()),
//!     expires_at: time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_779),
//!     accept_url: "https://rsvp.example/invite/tok_123".into(),
//!     unsubscribe_url: "https://rsvp.example/unsubscribe/tok_123".into(),
//!     invitee_email: "bob@example.com".into(),
//!     is_reminder: false,
//! })?;
//! assert_eq!(content.subject, "Acme Ltd lädt Sie zur Vernetzung ein");
//! assert!(content.text.contains("bis zum 22. November 2026"));
//!
//! let outbox = std::env::temp_dir().join(format!("rsvp-mail-doc-{}", std::process::id()));
//! let mailer = LogMailer::new(&outbox, "rsvp <no-reply@rsvp.example>")?;
//! let to = EmailAddress::parse("bob@example.com").map_err(|e| e.message())?;
//! mailer.send(&OutgoingEmail::new("job-1@rsvp.example", to, content)).await?;
//! assert!(mailer.path_for("job-1@rsvp.example").exists());
//! # std::fs::remove_dir_all(&outbox)?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Tests
//!
//! `cargo nextest run -p rsvp-mail` runs every test against real parts: a
//! real SMTP server (`tests/support/smtp_server.py`, which needs `python3`
//! and `pip install aiosmtpd`; the SMTP tests fail, never skip, without
//! them) and a hand-written local HTTP server standing in for Postmark.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod error;
mod http;
mod log_file;
mod message;
mod render;
mod smtp;

pub use error::ConfigError;
pub use http::{DEFAULT_POSTMARK_URL, HttpMailer, POSTMARK_JOB_METADATA_KEY, PostmarkConfig};
pub use log_file::LogMailer;
pub use message::DEFAULT_TIMEOUT;
pub use render::{DEFAULT_BRAND_COLOR, TEMPLATE_FILES, TemplateError, TemplateRenderer};
pub use smtp::{SmtpConfig, SmtpMailer, SmtpTls};

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
