//! The cases of the contract: one `pub async fn` per rule of the
//! `rsvp_app::Store` rustdoc, named as the sentence it checks. Each takes a
//! fresh [`Harness`](crate::Harness) and panics when the store breaks the
//! rule; [`store_contract_tests!`](crate::store_contract_tests) turns each
//! into a test.
//!
//! Every case asserts what a wrong store would get wrong: refusals are
//! checked for the error *and* for having written nothing (no row, no link,
//! no event, no email job); races are real (`tokio::spawn` on a multi-thread
//! runtime, released together by a barrier).

#![allow(clippy::expect_used, reason = "a contract case fails by panicking, like any test")]

mod accounts;
mod events;
mod idempotency;
mod invitations;
mod lifecycle;
mod links;
mod listing;
mod misc;
mod outbox;
mod outbox_rounds;
mod quota;
mod suppressions;
mod transitions;
mod webhook_deliveries;
mod webhooks;

pub use accounts::*;
pub use events::*;
pub use idempotency::*;
pub use invitations::*;
pub use lifecycle::*;
pub use links::*;
pub use listing::*;
pub use misc::*;
pub use outbox::*;
pub use outbox_rounds::*;
pub use quota::*;
pub use suppressions::*;
pub use transitions::*;
pub use webhook_deliveries::*;
pub use webhooks::*;
