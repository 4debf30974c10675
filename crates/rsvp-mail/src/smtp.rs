//! The `smtp` transport: lettre's pooled async SMTP client.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::response::Response;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use rsvp_app::{MailError, Mailer, OutgoingEmail, SentEmail};

use crate::ConfigError;
use crate::message::{Bodies, DEFAULT_TIMEOUT, build_message, parse_from, provider_id};
use rsvp_app::error_chain;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SmtpTls {
    /// Plain text, no TLS (a local relay or a test server only).
    None,
    /// Connect in plain text, then upgrade with `STARTTLS`, which is
    /// required: a server that does not offer it is an error, and no
    /// credentials or mail are sent in the clear. The default.
    #[default]
    StartTls,
    /// TLS from the first byte ("implicit TLS", SMTPS).
    Tls,
}

impl SmtpTls {
    /// The usual port of the mode: 25, 587 (submission) or 465 (submissions).
    pub fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::StartTls => 587,
            Self::Tls => 465,
        }
    }

    /// The mode's name, as [`FromStr`] reads it: `none`, `starttls`, `tls`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::StartTls => "starttls",
            Self::Tls => "tls",
        }
    }
}

impl FromStr for SmtpTls {
    type Err = ConfigError;

    /// Reads `none`, `starttls` or `tls` (any case), as in an environment
    /// variable.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Tls),
            _ => Err(ConfigError::UnknownTlsMode(s.to_owned())),
        }
    }
}

/// Settings of [`SmtpMailer`]. Its `Debug` output never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Server host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Server port; see [`SmtpTls::default_port`].
    pub port: u16,
    /// How the connection is secured.
    pub tls: SmtpTls,
    /// Login for SMTP AUTH (PLAIN or LOGIN); `None` for no authentication.
    /// Must be given together with `password`.
    pub username: Option<String>,
    /// Password for SMTP AUTH. Never printed.
    pub password: Option<String>,
    /// The sender of every message: `no-reply@example.com` or
    /// `Acme <no-reply@example.com>`. Its domain completes bare message ids.
    pub from: String,
    /// Limit for connecting and for each SMTP command.
    pub timeout: Duration,
}

impl SmtpConfig {
    /// Settings for `host` with `STARTTLS` on port 587, no authentication
    /// and a [`DEFAULT_TIMEOUT`].
    pub fn new(host: impl Into<String>, from: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port: SmtpTls::StartTls.default_port(),
            tls: SmtpTls::StartTls,
            username: None,
            password: None,
            from: from.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Sends messages over SMTP with a pool of connections (lettre's
/// `AsyncSmtpTransport` on Tokio, rustls for TLS with the `ring` provider
/// and the Mozilla root certificates).
///
/// Errors: 5xx replies are [`MailError::Permanent`]; 4xx replies,
/// connection failures, timeouts, TLS and network errors are
/// [`MailError::Transient`].
///
/// The provider message id: when the server's answer to the message is
/// `250 Ok <id>` (Amazon SES's SMTP interface, whose id its SNS reports
/// carry as `mail.messageId`), the send returns its last word; other
/// answers give none.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
    tls: SmtpTls,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds the mailer; no connection is made until the first send.
    ///
    /// # Errors
    /// [`ConfigError::NoRuntime`] outside a Tokio runtime (the connection
    /// pool starts a task), [`ConfigError::InvalidFrom`],
    /// [`ConfigError::InvalidSmtpHost`], [`ConfigError::IncompleteCredentials`],
    /// [`ConfigError::ZeroTimeout`].
    pub fn new(config: SmtpConfig) -> Result<Self, ConfigError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConfigError::NoRuntime("SmtpMailer"));
        }
        let from = parse_from(&config.from)?;
        let host = config.host.trim().to_owned();
        let invalid_host = |reason: String| ConfigError::InvalidSmtpHost {
            host: config.host.clone(),
            reason,
        };
        if host.is_empty() {
            return Err(invalid_host("the host is empty".to_owned()));
        }
        if config.timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        let builder = match config.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str()),
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
                .map_err(|e| invalid_host(error_chain(&e)))?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&host).map_err(|e| invalid_host(error_chain(&e)))?
            }
        };
        let builder = builder.port(config.port).timeout(Some(config.timeout));
        let builder = match (config.username, config.password) {
            (Some(user), Some(password)) => builder.credentials(Credentials::new(user, password)),
            (None, None) => builder,
            _ => return Err(ConfigError::IncompleteCredentials),
        };
        Ok(Self {
            transport: builder.build(),
            from,
            host,
            port: config.port,
            tls: config.tls,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    /// Submits the message to the SMTP server.
    ///
    /// # Errors
    /// [`MailError::Permanent`] for 5xx replies and messages that cannot be
    /// built; [`MailError::Transient`] for everything else.
    async fn send(&self, email: &OutgoingEmail) -> Result<SentEmail, MailError> {
        let message = build_message(&self.from, email, Bodies::Auto)?;
        self.transport
            .send(message)
            .await
            .map(|response| SentEmail {
                provider_message_id: ses_message_id(&response),
            })
            .map_err(|e| classify(&e, &self.host, self.port))
    }
}

/// The id in an answer `250 Ok <id>` (Amazon SES): the last word of its
/// first line; `None` for any other answer.
fn ses_message_id(response: &Response) -> Option<String> {
    if !response.has_code(250) {
        return None;
    }
    let mut words = response.first_line()?.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("ok") {
        return None;
    }
    provider_id(words.next_back()?)
}

/// 5xx replies are permanent; 4xx replies, connection, timeout, TLS and
/// network errors transient.
fn classify(error: &lettre::transport::smtp::Error, host: &str, port: u16) -> MailError {
    let text = format!("SMTP server {host}:{port}: {}", error_chain(error));
    if error.is_permanent() {
        MailError::Permanent(text)
    } else {
        MailError::Transient(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_modes_read_from_text() {
        assert_eq!("STARTTLS".parse::<SmtpTls>().unwrap(), SmtpTls::StartTls);
        assert_eq!(" tls ".parse::<SmtpTls>().unwrap(), SmtpTls::Tls);
        assert_eq!("none".parse::<SmtpTls>().unwrap(), SmtpTls::None);
        assert!(matches!("ssl".parse::<SmtpTls>(), Err(ConfigError::UnknownTlsMode(_))));
        for mode in [SmtpTls::None, SmtpTls::StartTls, SmtpTls::Tls] {
            assert_eq!(mode.as_str().parse::<SmtpTls>().unwrap(), mode);
        }
    }

    #[test]
    fn only_an_answer_250_ok_id_gives_a_provider_message_id() {
        let id = |answer: &str| ses_message_id(&answer.parse::<Response>().unwrap());
        assert_eq!(
            id("250 Ok 0100018c7f4e8a3b-2a6e4b1c-9d0e-4f5a-8b7c-6d5e4f3a2b1c-000000\r\n").as_deref(),
            Some("0100018c7f4e8a3b-2a6e4b1c-9d0e-4f5a-8b7c-6d5e4f3a2b1c-000000")
        );
        assert_eq!(id("250 OK queued as 4XyZ\r\n").as_deref(), Some("4XyZ"));
        for other in [
            "250 2.0.0 Message accepted\r\n",
            "250 Ok\r\n",
            "251 Ok elsewhere\r\n",
            "250 Okay id-1\r\n",
        ] {
            assert_eq!(id(other), None, "{other}");
        }
    }

    #[test]
    fn creating_the_mailer_outside_a_runtime_is_an_error_not_a_panic() {
        let config = SmtpConfig::new("smtp.example.com", "no-reply@example.com");
        assert!(matches!(SmtpMailer::new(config), Err(ConfigError::NoRuntime(_))));
    }
}
