//! The cases of the contract: one `pub async fn` per rule of the
//! `rsvp_app::Store` rustdoc, named as the sentence it checks, in one
//! module per area (invitations, links, network, join links, operator,
//! webhooks, idempotency, the event relay) and for the outbox and readiness the areas share.
//! Each takes a fresh [`Harness`](crate::Harness) and panics when the store
//! breaks the rule; [`store_contract_tests!`](crate::store_contract_tests)
//! turns each into a test.
//!
//! Every case asserts what a wrong store would get wrong: refusals are
//! checked for the error *and* for having written nothing (no row, no link,
//! no event, no email job); races are real (`tokio::spawn` on a multi-thread
//! runtime, released together by a barrier).

#![allow(clippy::expect_used, reason = "a contract case fails by panicking, like any test")]

mod analytics;
mod event_relay;
mod feedback;
mod idempotency;
mod invitations;
mod invitations_email_cap;
mod invitations_listing;
mod invitations_lookups;
mod invitations_transitions;
mod join_links;
mod join_links_races;
mod join_links_requests;
mod links;
mod network;
mod operator;
mod operator_erasure;
mod operator_external_ids;
mod operator_suppressions;
mod operator_tenants;
mod outbox;
mod outbox_rounds;
mod readiness;
mod reminders;
mod webhooks;
mod webhooks_deliveries;

pub use analytics::*;
pub use event_relay::*;
pub use feedback::*;
pub use idempotency::*;
pub use invitations::*;
pub use invitations_email_cap::*;
pub use invitations_listing::*;
pub use invitations_lookups::*;
pub use invitations_transitions::*;
pub use join_links::*;
pub use join_links_races::*;
pub use join_links_requests::*;
pub use links::*;
pub use network::*;
pub use operator::*;
pub use operator_erasure::*;
pub use operator_external_ids::*;
pub use operator_suppressions::*;
pub use operator_tenants::*;
pub use outbox::*;
pub use outbox_rounds::*;
pub use readiness::*;
pub use reminders::*;
pub use webhooks::*;
pub use webhooks_deliveries::*;
