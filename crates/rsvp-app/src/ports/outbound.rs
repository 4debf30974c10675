//! Ports that reach out: emails (rendered and sent), webhooks (sent, their
//! hosts resolved), and time (timers, work signals).

use super::*;

/// What an invitation email must say; the renderer turns it into text.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationEmail {
    /// Language.
    pub locale: Locale,
    /// The sending business's name.
    pub sender_business: String,
    /// The sending user's display name.
    pub sender_user: String,
    /// The invitee's name, if the sender gave it.
    pub invitee_name: Option<String>,
    /// The sender's note.
    pub message: Option<String>,
    /// When the link stops working.
    pub expires_at: OffsetDateTime,
    /// `<public url>/invite/<token>`.
    pub accept_url: String,
    /// `<public url>/unsubscribe/<token>`: the page (GET) and the RFC 8058
    /// one-click target (POST) to stop invitations.
    pub unsubscribe_url: String,
    /// The invited address, as the sender wrote it.
    pub invitee_email: String,
    /// Whether this is a resend (a reminder) rather than the first email.
    pub is_reminder: bool,
}

/// A rendered email body pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (every value escaped).
    pub html: String,
}

/// A person's address with an optional display name (`Reply-To`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedAddress {
    /// Display name, if any.
    pub name: Option<String>,
    /// The address.
    pub email: EmailAddress,
}

/// An email ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Stable Message-ID (without angle brackets), the same on every retry of
    /// one job, so a retried send can be recognised as the same message. The
    /// dispatcher writes `<email job id>@<public host>`: its part before `@`
    /// ([`job_reference`](Self::job_reference)) is what provider reports are
    /// matched by when they carry it back.
    pub message_id: String,
    /// Recipient.
    pub to: EmailAddress,
    /// Subject and bodies.
    pub content: RenderedEmail,
    /// The display name of `From` (e.g. `Ann Lee (Acme) via rsvp`); the
    /// transport keeps its configured address. `None`: the configured name.
    pub from_name: Option<String>,
    /// `Reply-To`: the inviting user.
    pub reply_to: Option<NamedAddress>,
    /// The HTTPS one-click unsubscribe URL: sent as `List-Unsubscribe:
    /// <url>` with `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
    /// (RFC 8058).
    pub list_unsubscribe: Option<String>,
}

impl OutgoingEmail {
    /// An email with only the required parts (no display name, `Reply-To`
    /// or `List-Unsubscribe`).
    pub fn new(message_id: impl Into<String>, to: EmailAddress, content: RenderedEmail) -> Self {
        Self {
            message_id: message_id.into(),
            to,
            content,
            from_name: None,
            reply_to: None,
            list_unsubscribe: None,
        }
    }

    /// The Message-ID's part before `@` (all of it when it has none): the
    /// email job's id in an email the dispatcher built. A transport that can
    /// attach data the provider echoes in its reports sends it (Postmark's
    /// `Metadata` `rsvp_email_job`), so a report matches its job even
    /// without the provider's message id.
    pub fn job_reference(&self) -> &str {
        self.message_id
            .split_once('@')
            .map_or(self.message_id.as_str(), |(local, _)| local)
    }
}

/// What a transport tells of an email it accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentEmail {
    /// The provider's own id of the message (Postmark's `MessageID`, the id
    /// in Amazon SES's SMTP answer `250 Ok <id>`), stored with the email job
    /// so the provider's later reports (bounce, complaint, delivery) find
    /// it. `None` (the [`Default`]) when the transport learns no id.
    pub provider_message_id: Option<String>,
}

impl SentEmail {
    /// Accepted under the provider's id `id`.
    pub fn with_provider_id(id: impl Into<String>) -> Self {
        Self {
            provider_message_id: Some(id.into()),
        }
    }
}

/// Why a render failed (a broken operator template, say).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot render email: {0}")]
pub struct RenderError(pub String);

/// Turns an [`InvitationEmail`] (or an [`ExpiryNoticeEmail`]) into
/// subject, text and HTML.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait EmailRenderer: Send + Sync {
    /// Renders one email.
    ///
    /// # Errors
    /// [`RenderError`] when a template fails.
    fn render(&self, email: &InvitationEmail) -> Result<RenderedEmail, RenderError>;

    /// Renders the notice to a sender that an invitation expired
    /// unanswered.
    ///
    /// The default refuses (a renderer written before the notices existed):
    /// the notice's email job then fails as a render failure, and nothing
    /// else changes.
    ///
    /// # Errors
    /// [`RenderError`] when a template fails, or the renderer has none.
    fn render_expiry_notice(&self, email: &ExpiryNoticeEmail) -> Result<RenderedEmail, RenderError> {
        let _ = email;
        Err(RenderError("this renderer has no expiry notice template".to_owned()))
    }
}

/// What the notice of an expired invitation must say to its sender (the
/// user who sent it); the renderer turns it into text. It links to
/// nothing: the invitation cannot be answered any more.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiryNoticeEmail {
    /// Language (the invitation's).
    pub locale: Locale,
    /// The sending business's name.
    pub sender_business: String,
    /// The sending user's display name (the recipient; may be empty).
    pub sender_user: String,
    /// The address that did not answer, as the sender wrote it.
    pub invitee_email: String,
    /// The invitee's name, if the sender gave it.
    pub invitee_name: Option<String>,
    /// When the invitation was sent (created).
    pub sent_at: OffsetDateTime,
    /// When it expired.
    pub expired_at: OffsetDateTime,
}

/// Waits: the only place a delay comes from (the dispatcher's per-send
/// timeout), so that `rsvp-app` needs no runtime.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Timer: Send + Sync {
    /// Resolves after `duration`.
    async fn sleep(&self, duration: std::time::Duration);
}

/// Tells the email dispatcher that jobs may have been queued, so that it
/// claims them at once instead of at its next poll (a store adapter raises
/// it: PostgreSQL's `LISTEN/NOTIFY` across replicas, an in-process signal on
/// SQLite). A hint only: a wake-up may be spurious or lost (a listener
/// reconnecting), so the dispatcher keeps polling too.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WorkSignal: Send + Sync {
    /// Resolves when jobs may have been queued since the last wake-up was
    /// taken (`true`), or after `timeout` (`false`). A wake-up raised while
    /// nobody waits is kept for the next call.
    async fn wait_for_work(&self, timeout: std::time::Duration) -> bool;
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Worth retrying (timeouts, 5xx, connection refused, 4xx SMTP replies).
    #[error("transient mail failure: {0}")]
    Transient(String),
    /// Not worth retrying (4xx HTTP answers, 5xx SMTP replies, bad address).
    #[error("permanent mail failure: {0}")]
    Permanent(String),
}

/// Hands emails to a transport (log file, SMTP, an HTTP provider).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one email; what the provider said of it (its message id, when
    /// it gives one).
    ///
    /// # Errors
    /// [`MailError::Transient`] when a retry may succeed,
    /// [`MailError::Permanent`] when it cannot.
    async fn send(&self, email: &OutgoingEmail) -> Result<SentEmail, MailError>;
}

/// A signed webhook request, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// The endpoint URL.
    pub url: String,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature`, `content-type`.
    pub headers: Vec<(String, String)>,
    /// The JSON body, exactly as signed.
    pub body: Vec<u8>,
}

/// Why a webhook request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSendError {
    /// The URL, or what its host resolves to now, is not allowed (SSRF guard).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// No connection, or it broke (refused, reset, TLS, DNS).
    #[error("connection failed: {0}")]
    Connection(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
}

/// Sends webhook requests: POST, no redirects followed, only to addresses
/// allowed by the operator's policy (checked after DNS resolution, at
/// connection).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Sends one request; the answer's status when there was one (any
    /// status, 2xx or not).
    ///
    /// # Errors
    /// [`WebhookSendError`] when there was no answer.
    async fn send(&self, request: &WebhookRequest) -> Result<u16, WebhookSendError>;
}

/// Resolves host names (the SSRF check of an endpoint's host at creation).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait HostResolver: Send + Sync {
    /// The addresses of `host`.
    ///
    /// # Errors
    /// A message when the name does not resolve.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<std::net::IpAddr>, String>;
}
