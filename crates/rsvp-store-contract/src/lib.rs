//! # rsvp-store-contract
//!
//! The one contract test suite of rsvp's [`Store`] port, written once and run
//! against every adapter (the in-memory store, SQLite, PostgreSQL), so that
//! they all pass the very same assertions. The contract is the rustdoc of
//! `rsvp_app::Store`: each of its `# Errors` sentences, and each promise of
//! its methods (newest-first keyset paging, one pending invitation per
//! business and normalized email, exactly one winner among concurrent
//! transitions, the outbox lease, one start among racing idempotent
//! begins, ...), is a case here.
//!
//! * [`cases`]: one `pub async fn` per rule, named as a sentence, taking a
//!   fresh [`Harness`] (a store nobody else uses).
//! * [`fixtures`]: builders of businesses, users, invitations and the records
//!   the store writes, with explicit times (no case ever reads a clock).
//! * [`store_contract_tests!`]: expands in an adapter's test file to one
//!   `#[tokio::test]` per case, on a multi-thread runtime with 4 workers.
//!
//! An adapter's whole contract test file:
//!
//! ```text
//! use std::sync::Arc;
//! use rsvp_store_contract::Harness;
//!
//! async fn make_harness() -> Harness {
//!     Harness::new(Arc::new(rsvp_memory::InMemoryStore::new()))
//! }
//!
//! rsvp_store_contract::store_contract_tests!(make_harness);
//! ```
//!
//! A database adapter makes a fresh database per call and hands a guard that
//! drops it: `Harness::with_guard(store, temp_dir)`. The calling crate needs
//! `tokio` (features `macros`, `rt-multi-thread`) among its dev-dependencies.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use rsvp_app::Store;

pub mod cases;
pub mod fixtures;

/// One store under test, fresh for one case, with whatever must live as long
/// as it (a temporary directory, a database to drop).
///
/// Dropping the harness drops the store first, then the guard.
pub struct Harness {
    /// The store under test.
    pub store: Arc<dyn Store>,
    guard: Option<Box<dyn Any + Send + Sync>>,
}

impl Harness {
    /// A harness over a store that needs nothing kept alive beside it.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store, guard: None }
    }

    /// A harness over a store whose backing resource `guard` is dropped with
    /// the harness, after the store (e.g. a per-test database).
    pub fn with_guard(store: Arc<dyn Store>, guard: impl Any + Send + Sync) -> Self {
        Self {
            store,
            guard: Some(Box::new(guard)),
        }
    }
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("has_guard", &self.guard.is_some())
            .finish_non_exhaustive()
    }
}

/// Expands to one test per contract case in the calling test file.
///
/// `$make` is the path of an `async fn() -> Harness` that makes a fresh store;
/// it is called once per test. Each test is
/// `#[tokio::test(flavor = "multi_thread", worker_threads = 4)]` and named as
/// its case, e.g. `concurrent_transitions_of_one_invitation_have_exactly_one_winner`.
/// The calling crate needs `tokio` with `macros` and `rt-multi-thread`.
///
/// ```text
/// rsvp_store_contract::store_contract_tests!(make_harness);
/// ```
#[macro_export]
macro_rules! store_contract_tests {
    ($make:path) => {
        $crate::__store_contract_each_case!(tests $make);
    };
}

/// The list of cases, written once: expands `__store_contract_expand!` with
/// the given mode and every case name.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_contract_each_case {
    ($($mode:tt)*) => {
        $crate::__store_contract_expand!([$($mode)*]
            // invitations
            an_invitation_reads_back_exactly_as_written,
            a_second_pending_invitation_to_the_same_email_in_any_case_is_refused_and_writes_nothing,
            an_invitation_stored_as_pending_past_its_expiry_still_blocks_a_new_one,
            after_each_terminal_status_the_same_email_may_be_invited_again,
            another_business_may_invite_the_same_email,
            bulk_insert_items_are_independent_and_a_refused_one_writes_nothing,
            duplicates_within_one_bulk_insert_let_exactly_one_win,
            concurrent_inserts_of_one_email_in_varying_case_create_exactly_one_invitation,
            several_invitations_are_read_at_once_each_once_and_unknown_ids_skipped,
            a_create_reports_the_facts_that_may_refuse_it_and_writes_nothing_then,
            // invitations listing
            sent_invitations_are_listed_newest_first_and_paged_without_skips_or_repeats,
            paging_neither_skips_nor_repeats_rows_while_another_task_inserts,
            status_filters_read_the_status_at_the_query_time,
            the_email_filter_matches_whatever_the_case,
            the_sent_list_never_shows_another_business_invitations,
            the_received_list_matches_the_emails_of_every_user_of_the_business_in_any_case,
            the_received_list_leaves_out_cancelled_invitations,
            the_received_list_never_shows_invitations_addressed_to_another_business,
            // invitations transitions
            a_transition_applies_only_to_a_pending_invitation_and_a_refused_one_writes_nothing,
            a_pending_invitation_past_its_expiry_cannot_be_answered_but_can_be_expired,
            a_transition_of_an_unknown_invitation_is_not_found,
            concurrent_transitions_of_one_invitation_have_exactly_one_winner,
            accepting_connects_the_two_businesses_and_writes_connection_created,
            a_second_acceptance_between_the_same_businesses_in_either_direction_returns_the_existing_connection,
            rejecting_cancelling_or_expiring_creates_no_connection,
            accepting_as_a_new_invitee_creates_its_business_and_user_in_the_same_unit,
            accepting_as_a_new_invitee_whose_email_got_a_user_is_refused_and_writes_nothing,
            a_transition_keeps_the_email_delivery_recorded_since_the_invitation_was_read,
            // invitations email cap
            concurrent_creates_never_queue_more_emails_than_the_cap,
            creates_bulks_and_resends_share_the_cap_and_emails_never_queued_count_nothing,
            the_cap_window_rolls_by_the_minute_and_the_refusal_says_when_room_comes_back,
            concurrent_bulks_and_creates_never_queue_more_emails_than_the_cap,
            a_pending_invitation_refuses_a_create_before_the_cap_and_counts_nothing,
            // invitations lookups
            due_for_expiry_returns_stored_pending_invitations_past_expiry_oldest_first_and_limited,
            batch_lookups_answer_for_a_whole_bulk_request,
            // reminders and expiry notices
            a_reminder_is_recorded_once_with_its_link_event_and_email,
            due_for_reminder_reads_pending_invitations_inside_the_window_last_sent_before_it,
            a_reminder_of_an_invitation_that_is_not_due_is_none_and_writes_nothing,
            concurrent_reminders_of_one_invitation_record_exactly_one,
            a_reminder_over_the_email_cap_is_refused_writes_nothing_and_counts_when_it_fits,
            an_expiry_writes_its_notice_once_and_the_notice_leaves_the_invitations_delivery,
            // links
            an_invitation_is_found_by_the_hash_of_its_link_token,
            a_resend_keeps_earlier_links_unless_it_revokes_them,
            a_resend_within_the_cooldown_is_refused_and_writes_nothing,
            resending_an_invitation_that_is_not_pending_is_a_conflict_and_writes_nothing,
            resending_an_unknown_invitation_is_not_found,
            a_resend_queues_a_new_email_and_records_the_send,
            // network
            every_change_writes_its_event_and_events_are_listed_oldest_first_by_id,
            events_are_keyset_paged_by_id_without_skips_or_repeats,
            events_are_visible_to_the_sender_and_the_known_invitee_and_to_no_one_else,
            connections_are_listed_for_both_ends_newest_first_and_paged,
            // join links
            a_join_link_reads_back_exactly_as_written_by_id_and_by_token_hash,
            join_links_are_listed_newest_first_paged_and_only_their_business,
            revoking_a_join_link_keeps_its_first_revocation_time_and_another_business_gets_not_found,
            redeeming_connects_the_two_businesses_takes_one_use_and_writes_both_events,
            a_redemption_is_refused_for_the_links_own_business_when_connected_used_up_expired_or_revoked_and_writes_nothing,
            ten_businesses_redeeming_a_link_of_two_uses_at_once_make_exactly_two_connections,
            one_business_redeeming_twice_at_once_makes_one_connection,
            a_revocation_racing_redemptions_lets_none_through_after_it_commits,
            a_link_that_requires_approval_makes_a_pending_request_listed_on_both_sides,
            approving_a_request_connects_and_declining_frees_its_use,
            concurrent_answers_to_one_request_have_exactly_one_winner,
            // operator
            users_are_found_by_id,
            a_created_business_is_found_with_its_user_and_api_key,
            creating_a_business_with_a_taken_email_in_any_case_is_refused_and_creates_nothing,
            adding_a_user_to_a_missing_business_is_not_found_and_creates_nothing,
            adding_a_user_with_a_taken_email_in_any_case_is_refused_and_creates_nothing,
            an_added_user_acts_for_its_business_through_its_api_key,
            users_are_found_by_email_whatever_the_case,
            // operator tenants
            api_keys_are_added_listed_newest_first_and_found_with_their_owner,
            adding_an_api_key_to_a_missing_user_is_not_found_and_writes_nothing,
            a_revoked_key_is_found_by_nothing_and_revoking_it_again_is_not_found,
            a_key_use_is_recorded_at_most_once_a_minute_and_never_backwards,
            businesses_are_listed_newest_first_paged_and_filtered_by_a_folded_name,
            updating_a_business_writes_its_name_and_suspension_and_an_unknown_one_is_not_found,
            users_of_a_business_are_listed_newest_first_and_paged,
            updating_a_user_writes_its_names_and_deactivation_and_an_unknown_one_is_not_found,
            // operator external ids
            external_ids_read_back_and_find_their_business_and_user_exactly,
            a_taken_external_id_is_refused_on_every_write_and_writes_nothing,
            // operator erasure
            invitations_to_an_email_are_found_in_every_business_whatever_the_case,
            an_erasure_replaces_personal_data_cancels_pending_revokes_links_drops_queued_emails_and_writes_events,
            an_erasure_skips_an_invitation_changed_since_it_was_read_and_writes_nothing_for_it,
            // operator suppressions
            an_opt_out_is_stored_once_per_address_and_scope_and_read_back_as_written,
            concurrent_opt_outs_of_one_address_store_exactly_one_suppression,
            suppressions_for_a_business_are_its_own_and_everyones_for_those_addresses,
            suppressions_are_listed_newest_first_paged_and_filtered_by_address,
            a_lifted_suppression_no_longer_blocks_and_an_unknown_one_is_not_found,
            // outbox
            claiming_returns_due_queued_jobs_oldest_first_and_counts_the_attempt,
            a_claimed_job_is_not_claimed_again_before_its_lease_ends,
            concurrent_claimers_never_get_the_same_job,
            an_older_job_finishing_after_a_resend_leaves_the_delivery_of_the_latest,
            the_outbox_depth_counts_queued_jobs,
            a_sent_job_is_done_and_marks_the_invitation_sent,
            a_retried_job_comes_back_at_its_retry_time_with_its_error,
            a_failed_job_is_done_and_marks_the_invitation_failed,
            finishing_an_unknown_job_skips_it_and_counts_only_the_jobs_found,
            a_job_sent_with_a_provider_message_id_is_found_by_it,
            // outbox rounds
            a_released_job_is_due_again_at_once_with_its_attempt_uncounted,
            a_release_leaves_jobs_finished_or_claimed_again_since,
            the_oldest_queued_email_is_the_oldest_job_still_queued,
            finished_email_jobs_are_pruned_oldest_first_in_batches_and_queued_ones_never,
            finishing_several_jobs_at_once_records_each_as_finishing_one_would,
            // webhooks
            a_webhook_endpoint_reads_back_as_written_and_is_listed_only_for_its_business,
            updating_a_webhook_endpoint_writes_its_settings_and_enabling_it_forgets_its_failures,
            deleting_a_webhook_endpoint_deletes_its_deliveries,
            every_event_queues_one_delivery_per_matching_enabled_endpoint_of_each_business_that_can_see_it,
            // webhooks deliveries
            a_claimed_delivery_is_not_claimed_again_before_its_lease_ends,
            concurrent_claimers_never_get_the_same_delivery,
            a_retried_delivery_comes_back_at_its_retry_time_and_a_success_clears_the_failures,
            a_failure_that_disables_an_endpoint_queues_one_notice_for_the_other_endpoints,
            a_redelivery_is_queued_beside_the_first_and_only_for_an_existing_endpoint,
            a_released_delivery_is_due_again_at_once_and_others_are_left_alone,
            // idempotency
            a_first_begin_starts_and_the_completed_response_is_replayed_exactly,
            a_key_reused_for_another_request_is_a_mismatch_and_writes_nothing,
            a_request_in_progress_is_taken_over_only_after_the_takeover_time,
            abandoning_forgets_the_request_so_that_the_key_starts_afresh,
            a_record_completes_once_and_only_by_the_attempt_holding_it,
            an_expired_record_starts_afresh_whatever_it_held,
            idempotency_keys_are_independent_across_scopes,
            expired_idempotency_records_are_pruned_earliest_first_in_batches_and_live_ones_never,
            concurrent_begins_of_one_key_have_exactly_one_start,
            concurrent_takeovers_of_a_stale_record_have_exactly_one_winner,
            // event relay
            the_relay_reads_events_in_commit_order_after_a_cursor_each_once,
            the_relay_cursor_only_moves_forward_and_only_for_the_lease_holder,
            the_relay_lease_is_exclusive_until_it_ends_and_then_taken_over,
            the_relay_lag_counts_the_events_after_the_cursor_and_when_the_first_occurred,
            // providers' feedback
            a_report_sets_the_latest_emails_delivery_writes_one_event_and_its_webhook_and_a_repeat_changes_nothing,
            a_hard_bounce_or_a_complaint_suppresses_the_address_for_everyone_and_a_soft_bounce_does_not,
            a_report_never_moves_delivery_backwards_and_one_on_a_superseded_email_only_writes_its_event,
            a_report_matching_no_invitation_email_is_unknown_and_changes_nothing,
            report_ids_are_forgotten_oldest_first_after_retention_and_then_apply_again,
            // analytics
            the_funnel_counts_exactly_the_business_invitations_created_in_the_range_by_their_state,
            a_funnel_without_invitations_or_answers_counts_zero_and_has_no_median,
            only_the_first_page_view_of_an_invitation_is_recorded,
            // readiness
            a_store_answers_ping,
        );
    };
}

/// Expands the case list in one mode: `tests <make>` (the tests) or `names`
/// (the [`CASE_NAMES`] constant).
#[doc(hidden)]
#[macro_export]
macro_rules! __store_contract_expand {
    ([tests $make:path] $($case:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::cases::$case($make().await).await;
            }
        )*
    };
    ([names] $($case:ident,)*) => {
        /// The name of every case [`store_contract_tests!`] expands, in order.
        pub const CASE_NAMES: &[&str] = &[$(stringify!($case)),*];
    };
}

__store_contract_each_case!(names);

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::CASE_NAMES;

    /// The source of every case module: a case written there but missing from
    /// the macro's list would silently never run.
    const CASE_SOURCES: &[&str] = &[
        include_str!("cases/analytics.rs"),
        include_str!("cases/event_relay.rs"),
        include_str!("cases/feedback.rs"),
        include_str!("cases/idempotency.rs"),
        include_str!("cases/invitations.rs"),
        include_str!("cases/invitations_email_cap.rs"),
        include_str!("cases/invitations_listing.rs"),
        include_str!("cases/invitations_lookups.rs"),
        include_str!("cases/invitations_transitions.rs"),
        include_str!("cases/join_links.rs"),
        include_str!("cases/join_links_races.rs"),
        include_str!("cases/join_links_requests.rs"),
        include_str!("cases/links.rs"),
        include_str!("cases/network.rs"),
        include_str!("cases/operator.rs"),
        include_str!("cases/operator_erasure.rs"),
        include_str!("cases/operator_external_ids.rs"),
        include_str!("cases/operator_suppressions.rs"),
        include_str!("cases/operator_tenants.rs"),
        include_str!("cases/outbox.rs"),
        include_str!("cases/outbox_rounds.rs"),
        include_str!("cases/readiness.rs"),
        include_str!("cases/reminders.rs"),
        include_str!("cases/webhooks.rs"),
        include_str!("cases/webhooks_deliveries.rs"),
    ];

    #[test]
    fn every_case_module_is_read_for_its_cases() {
        let modules = include_str!("cases/mod.rs")
            .lines()
            .filter(|line| line.starts_with("mod "))
            .count();
        assert_eq!(
            modules,
            CASE_SOURCES.len(),
            "a module of cases/ is missing from CASE_SOURCES"
        );
    }

    #[test]
    fn the_macro_runs_every_case_written_and_nothing_else() {
        let written: Vec<&str> = CASE_SOURCES
            .iter()
            .flat_map(|source| source.lines())
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split('(').next())
            .collect();
        let listed: BTreeSet<&str> = CASE_NAMES.iter().copied().collect();
        assert_eq!(listed.len(), CASE_NAMES.len(), "a case is listed twice");
        assert_eq!(written.iter().copied().collect::<BTreeSet<_>>(), listed);
        assert_eq!(written.len(), listed.len(), "a case is written twice");
    }

    #[test]
    fn case_names_are_sentences_in_snake_case() {
        for name in CASE_NAMES {
            assert!(name.split('_').count() >= 4, "{name} is not a sentence");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
        }
    }
}
