//! Configuration errors of the transports.

/// Why a transport could not be built from its configuration. Raised by the
/// constructors, so that a bad setting stops start-up instead of failing
/// every send. No variant carries a password or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The sender (`From`) is not an address such as `no-reply@example.com`
    /// or `Acme <no-reply@example.com>`.
    #[error("invalid sender address {value:?}: {reason}")]
    InvalidFrom {
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The SMTP host is empty or not usable as a TLS server name.
    #[error("invalid SMTP host {host:?}: {reason}")]
    InvalidSmtpHost {
        /// The value given.
        host: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Only one of the SMTP username and password was given.
    #[error("SMTP username and password must be given together (or neither)")]
    IncompleteCredentials,
    /// An SMTP TLS mode other than `none`, `starttls` or `tls`.
    #[error("unknown SMTP TLS mode {0:?}: expected none, starttls or tls")]
    UnknownTlsMode(String),
    /// The Postmark base URL is not an `http` or `https` URL.
    #[error("invalid Postmark base URL {value:?}: {reason}")]
    InvalidBaseUrl {
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The Postmark server token is empty or cannot be sent as a header
    /// value (the token itself is not repeated here).
    #[error("the Postmark server token is empty or contains characters not allowed in an HTTP header")]
    InvalidToken,
    /// The Postmark message stream is empty.
    #[error("the Postmark message stream must not be empty")]
    EmptyMessageStream,
    /// A timeout of zero.
    #[error("the mail timeout must be greater than zero")]
    ZeroTimeout,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    /// The transport needs a Tokio runtime and was created outside one.
    #[error("{0} must be created inside a Tokio runtime")]
    NoRuntime(&'static str),
}
