//! # rsvp-app
//!
//! The use cases of rsvp and the ports they run on. It knows the domain
//! (`rsvp-domain`) and nothing else: no database, no HTTP, no runtime.
//!
//! * Ports ([`ports`]): [`Store`], [`Clock`], [`IdGenerator`],
//!   [`SecretGenerator`], [`Timer`]. Their rustdoc is their contract; the
//!   `rsvp-store-contract` crate checks every store adapter against it.
//!   With the `mock` feature each has a mockall mock (`MockStore`, ...).
//! * Use cases: [`App`] — provisioning, invite, bulk invite, get, list sent
//!   and received, accept / reject / cancel, resend, link preview / accept /
//!   decline, connections, events, the expiry sweep. Each state change
//!   reaches the store as one record holding everything it writes (the
//!   invitation, its event, its email job, the connection), so that the
//!   store commits it as one unit of work.
//! * Errors: [`AppError`], whose [`code`](AppError::code) is the stable code
//!   of the HTTP API.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod dispatch;
mod error;
mod list;
pub mod ports;
mod retention;
mod secret;
mod service;

pub use dispatch::{
    AttemptOutcome, DispatchObserver, DispatchReport, DispatchSettings, EmailDispatcher, FailureReason,
};
pub use error::AppError;
pub use list::{
    Cursor, DEFAULT_PAGE_SIZE, EventQuery, InvitationFilter, InvitationQuery, MAX_PAGE_SIZE, MIN_PAGE_SIZE, Page,
    PageRequest, PageSize,
};
pub use ports::{
    ApiKeyRecord, Clock, EmailJob, EmailJobStatus, EmailOutcome, EmailRenderer, EmailsQueued, IdGenerator,
    InvitationEmail, LinkTokenRecord, Locale, MailError, Mailer, NewInvitationRecord, NewInvitee, OutgoingEmail,
    Principal, RenderError, RenderedEmail, ResendRecord, SecretGenerator, Store, StoreError, Timer, TransitionOutcome,
    TransitionRecord, WorkSignal,
};
#[cfg(any(test, feature = "mock"))]
pub use ports::{
    MockClock, MockEmailRenderer, MockIdGenerator, MockMailer, MockSecretGenerator, MockStore, MockTimer,
    MockWorkSignal,
};
pub use secret::{Secret, SecretHash};
pub use service::{
    AcceptLinkInput, App, BulkFailure, BulkOutcome, CreatedInvitation, InvitationView, LinkPreview, ListParams,
    MAX_BULK_INVITATIONS, NewBusinessInput, NewUserInput, Ports, ProvisionedBusiness, ProvisionedUser, Settings,
    Viewer,
};
