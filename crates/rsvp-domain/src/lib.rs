//! # rsvp-domain
//!
//! The pure rules of business network invitations: who may invite whom, what
//! an invitation may carry, and how it moves from `pending` to one of its
//! terminal states. No IO, no async, no framework: embed it anywhere.
//!
//! * Value types whose constructor is the only way in ("parse, don't
//!   validate"): [`EmailAddress`], [`CustomData`], [`Message`], [`Roles`],
//!   [`PersonName`], [`Phone`], [`ExternalId`], [`ExpiryDays`],
//!   [`BusinessName`].
//! * [`InvitationInput::validate`] checks a whole create request and reports
//!   every invalid field at once as [`ValidationErrors`].
//! * [`Invitation`] and its lifecycle: [`Invitation::accept`],
//!   [`Invitation::reject`], [`Invitation::cancel`], [`Invitation::expire`],
//!   each taking the [`Actor`] and `now`; [`Invitation::status_at`] reads a
//!   pending invitation past its expiry as expired. The clock is never read
//!   here: time is always passed in. Its fields are private: a new one comes
//!   from [`Invitation::new`], a recorded one from [`Invitation::restore`]
//!   (a store's [`InvitationParts`]); [`Invitation::resend`] holds who may
//!   send its link again and how often ([`ResendError`]).
//! * [`Connection`] and [`Event`].
//! * Join links: a [`JoinLink`] connects many businesses, each use counted
//!   against its `max_uses` ([`JoinLink::redeem`], [`JoinRefusal`]); a
//!   [`ConnectionRequest`] waits for approval when the link asks for it.
//! * The invitee's side: [`Locale`], [`RedirectUrl`], [`Suppression`] (an
//!   opt-out, [`OptOutScope`]).
//! * [`webhook`]: endpoint URL rules, event-type filters, the retry
//!   schedule, and Standard Webhooks signatures with a [`webhook::verify`]
//!   for Rust receivers.
//!
//! With the `serde` feature, the types serialize, and
//! `CustomData::from_json` / `InvitationInput::parse_json` read JSON.
//!
//! ```
//! use rsvp_domain::{InvitationInput, InvitationStatus};
//!
//! let request = InvitationInput {
//!     email: Some("buyer@globex.test".into()),
//!     message: Some("Let's trade.".into()),
//!     expires_in_days: Some(30),
//!     ..Default::default()
//! }
//! .validate()
//! .expect("valid request");
//! assert_eq!(request.expires_in.days(), 30);
//! assert!("accepted".parse::<InvitationStatus>().unwrap().is_terminal());
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod api_key;
mod business;
mod connection;
mod custom_data;
mod email;
mod error;
mod event;
mod fields;
mod ids;
mod invitation;
mod join_link;
mod locale;
mod policy;
mod redirect;
mod request;
mod suppression;
mod unicode;
pub mod webhook;

pub use api_key::{
    API_KEY_MAX_LIFETIME, API_KEY_PREFIX_LEN, AccessDenied, ApiKey, LAST_USED_GRANULARITY, check_access,
};
pub use business::{Business, User, fold_for_search};
pub use connection::{Connection, ordered_pair};
pub use custom_data::{
    CustomData, CustomNumber, CustomValue, FORBIDDEN_CUSTOM_DATA_KEY_PARTS, MAX_CUSTOM_DATA_KEY_LEN,
    MAX_CUSTOM_DATA_KEYS, MAX_CUSTOM_DATA_STRING_LEN, RawValue,
};
pub use email::{EmailAddress, EmailError, MAX_EMAIL_LEN};
pub use error::{FieldError, ValidationErrors};
pub use event::{Event, EventData, EventKind, JoinMade};
pub use fields::{
    ApiKeyName, BusinessName, ExpiryDays, ExternalId, MAX_API_KEY_NAME_LEN, MAX_BUSINESS_NAME_LEN, MAX_EXTERNAL_ID_LEN,
    MAX_MESSAGE_LEN, MAX_NAME_LEN, MAX_ROLE_LEN, MAX_ROLES, Message, PersonName, Phone, Role, Roles,
};
pub use ids::{
    ApiKeyId, BusinessId, ConnectionId, ConnectionRequestId, EmailJobId, EventId, InvitationId, JoinLinkId,
    SuppressionId, UserId, WebhookDeliveryId, WebhookEndpointId,
};
pub use invitation::{
    Action, Actor, EmailDelivery, EmailFeedback, Invitation, InvitationParts, InvitationStatus, ResendError,
    TransitionError, UnknownStatus,
};
pub use join_link::{
    ConnectionRequest, ConnectionRequestStatus, DEFAULT_JOIN_LINK_DAYS, JoinFacts, JoinLink, JoinLinkInput,
    JoinLinkRequest, JoinLinkStatus, JoinRefusal, MAX_JOIN_LINK_USES, RequestAnswered,
};
pub use locale::Locale;
pub use policy::{InviteFacts, InviteRefusal, check_invite, suppression_refusal};
pub use redirect::{MAX_REDIRECT_URL_LEN, RedirectUrl, parse_origin};
pub use request::{InvitationInput, InvitationRequest};
pub use suppression::{OptOutScope, Suppression, SuppressionReason};
pub use unicode::{is_bidi_override, is_format_control};
