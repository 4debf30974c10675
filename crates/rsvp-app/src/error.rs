//! [`AppError`]: every way a use case can refuse, with the stable codes the
//! HTTP API uses.

use rsvp_domain::{InvitationStatus, JoinRefusal, TransitionError, ValidationErrors};

use crate::StoreError;

/// `error` and its chain of causes, as one line (`error: cause: cause`),
/// leaving out a cause whose text the line already holds. For adapters
/// that turn a library's error into a port's message.
///
/// ```
/// let io = std::io::Error::other("disk full");
/// assert_eq!(rsvp_app::error_chain(&io), "disk full");
/// ```
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Why a use case refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppError {
    /// Some fields are invalid; every one is listed.
    #[error("invalid request: {0}")]
    Validation(ValidationErrors),
    /// Missing or unknown credentials.
    #[error("missing or invalid API key")]
    Unauthorized,
    /// Nothing the caller may see has this id (or this link token).
    #[error("not found")]
    NotFound,
    /// A pending invitation from this business to this email exists.
    #[error("a pending invitation to this email already exists")]
    AlreadyInvited,
    /// The email's business is already connected to the caller's.
    #[error("this email's business is already connected to yours")]
    AlreadyConnected,
    /// The email belongs to a member of the caller's own business.
    #[error("you cannot invite a member of your own business")]
    SelfInvite,
    /// The same email appears earlier in the same bulk request.
    #[error("this email appears earlier in the same request")]
    DuplicateInRequest,
    /// A user with this email exists already.
    #[error("a user with this email already exists")]
    EmailTaken,
    /// Another business (or user) has this host platform id.
    #[error("this external_id belongs to another business or user")]
    ExternalIdTaken,
    /// The invitation is not pending.
    #[error("the invitation is {current}")]
    InvalidTransition {
        /// What it reads as now.
        current: InvitationStatus,
    },
    /// The caller may see the invitation but not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// Resent too soon.
    #[error("resent too recently; retry in {retry_after_secs} s")]
    Cooldown {
        /// Seconds until a resend is allowed.
        retry_after_secs: u64,
    },
    /// The business reached its cap of emails an hour
    /// ([`Settings::emails_per_hour`](crate::Settings::emails_per_hour)).
    #[error("this business reached its cap of emails an hour; retry in {retry_after_secs} s")]
    QuotaExceeded {
        /// Seconds until the oldest email in the window leaves it.
        retry_after_secs: u64,
    },
    /// The caller's business is suspended by the operator (its API keys are
    /// refused).
    #[error("this business is suspended")]
    BusinessSuspended,
    /// The invitation's sending business is suspended: its links answer
    /// nothing.
    #[error("the business that sent this invitation is suspended")]
    SenderSuspended,
    /// The user is deactivated (no key can be made for it).
    #[error("this user is deactivated")]
    UserDeactivated,
    /// The address opted out of invitations from the caller's business (or
    /// from everyone).
    #[error("this address opted out of invitations from your business")]
    RecipientOptedOut,
    /// The email provider reported the address hard-bounced or complained:
    /// it is on the suppression list (the operator may lift it).
    #[error("this address is suppressed: the email provider reported a hard bounce or a spam complaint")]
    RecipientSuppressed,
    /// A webhook URL rsvp will not call: not https, or a loopback, private,
    /// link-local or unique-local target (also after DNS resolution).
    #[error("{0}")]
    UrlNotAllowed(String),
    /// The webhook endpoint is disabled: enable it first.
    #[error("the webhook endpoint is disabled; enable it first")]
    EndpointDisabled,
    /// A join link redemption is refused.
    #[error("{0}")]
    JoinRefused(rsvp_domain::JoinRefusal),
    /// The connection request is answered already.
    #[error("the connection request is {current}")]
    RequestAnswered {
        /// Where it stands.
        current: rsvp_domain::ConnectionRequestStatus,
    },
    /// The store failed; details are for logs, never for clients.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl AppError {
    /// The stable machine-readable code (the `code` of an HTTP problem).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::AlreadyInvited => "already_invited",
            Self::AlreadyConnected => "already_connected",
            Self::SelfInvite => "self_invite",
            Self::DuplicateInRequest => "duplicate_in_request",
            Self::EmailTaken => "email_taken",
            Self::ExternalIdTaken => "external_id_taken",
            Self::InvalidTransition { .. } => "invalid_transition",
            Self::Forbidden(_) => "forbidden",
            Self::Cooldown { .. } => "resend_cooldown",
            Self::QuotaExceeded { .. } => "quota_exceeded",
            Self::BusinessSuspended | Self::SenderSuspended => "business_suspended",
            Self::UserDeactivated => "user_deactivated",
            Self::RecipientOptedOut => "recipient_opted_out",
            Self::RecipientSuppressed => "recipient_suppressed",
            Self::UrlNotAllowed(_) => "url_not_allowed",
            Self::EndpointDisabled => "endpoint_disabled",
            Self::JoinRefused(refusal) => match refusal {
                JoinRefusal::UsedUp => "join_link_used_up",
                JoinRefusal::Expired => "join_link_expired",
                JoinRefusal::Revoked => "join_link_revoked",
                JoinRefusal::SelfJoin => "self_join",
                JoinRefusal::AlreadyConnected => "already_connected",
                JoinRefusal::AlreadyRequested => "already_requested",
            },
            Self::RequestAnswered { .. } => "invalid_transition",
            Self::Unavailable(_) => "unavailable",
        }
    }

    /// A single-field validation error.
    pub fn field(field: &str, code: &str, message: &str) -> Self {
        Self::Validation(ValidationErrors::from(vec![rsvp_domain::FieldError::new(
            field, code, message,
        )]))
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyInvited => Self::AlreadyInvited,
            StoreError::EmailTaken => Self::EmailTaken,
            StoreError::ExternalIdTaken => Self::ExternalIdTaken,
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict { current } => Self::InvalidTransition { current },
            StoreError::Cooldown { .. } => Self::Cooldown { retry_after_secs: 1 },
            // Use cases map it with their clock (`App::cap_reached`); this is the floor.
            StoreError::EmailCapReached { .. } => Self::QuotaExceeded { retry_after_secs: 1 },
            StoreError::JoinRefused(refusal) => Self::JoinRefused(refusal),
            StoreError::RequestAnswered { current } => Self::RequestAnswered { current },
            StoreError::Unavailable(message) => Self::Unavailable(message),
        }
    }
}

impl From<TransitionError> for AppError {
    fn from(error: TransitionError) -> Self {
        match error {
            TransitionError::InvalidTransition { current, .. } => Self::InvalidTransition { current },
            TransitionError::NotPermitted { .. } => Self::Forbidden(error.to_string()),
        }
    }
}

impl From<ValidationErrors> for AppError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(errors)
    }
}
