//! The [`AnalyticsStore`] role of the store port: the invitation funnel of
//! a business, and the first view of an invitee's page it counts.

use super::super::*;

/// Which invitations a funnel counts: a business's invitations created in
/// `[from, to)`, read as of `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunnelQuery {
    /// The first instant of the range (included).
    pub from: OffsetDateTime,
    /// The end of the range (excluded).
    pub to: OffsetDateTime,
    /// When the funnel is read: a pending invitation whose `expires_at` is
    /// at or before it counts as expired, as it reads everywhere.
    pub now: OffsetDateTime,
}

/// What became of a business's invitations created in a range
/// ([`AnalyticsStore::invitation_funnel`]). Each count is of invitations,
/// each counted once per line it fits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InvitationFunnel {
    /// Every invitation created in the range.
    pub created: u64,
    /// Those whose latest email was handed to the transport: its delivery
    /// reads `sent`, `delivered`, `bounced` or `complained` (not `queued`,
    /// `failed`, nor none: created with `send_email: false`).
    pub sent: u64,
    /// Those whose latest email the provider reports delivered.
    pub delivered: u64,
    /// Those whose latest email the provider reports bounced.
    pub bounced: u64,
    /// Those whose latest email the recipient reported as spam.
    pub complained: u64,
    /// Those whose invitee page was opened at least once (an upper bound:
    /// mail scanners open links too).
    pub page_viewed: u64,
    /// Those accepted.
    pub accepted: u64,
    /// Those declined (the status `rejected`).
    pub declined: u64,
    /// Those cancelled (by their sender, or by an operator's erasure).
    pub cancelled: u64,
    /// Those expired: stored `expired`, or `pending` with `expires_at` at
    /// or before [`FunnelQuery::now`].
    pub expired: u64,
    /// The median of `resolved_at - created_at` over the accepted and
    /// declined ones, in nanoseconds (of an even count, the mean of the two
    /// middle values, truncated); `None` when none was answered. See
    /// [`InvitationFunnel::median_seconds_to_answer`].
    pub median_nanos_to_answer: Option<i64>,
}

impl InvitationFunnel {
    /// The median time to answer in whole seconds (truncated), `None` when
    /// no invitation of the range was answered.
    pub fn median_seconds_to_answer(&self) -> Option<i64> {
        self.median_nanos_to_answer.map(|nanos| nanos / 1_000_000_000)
    }
}

/// The median of answer times in nanoseconds, as
/// [`InvitationFunnel::median_nanos_to_answer`] defines it: the middle value
/// of the sorted times, or of an even count the mean of the two middle
/// values truncated towards zero; `None` for none. For stores that compute
/// it outside a database (the in-memory one), and for tests.
///
/// ```
/// use rsvp_app::median_nanos;
///
/// assert_eq!(median_nanos(vec![]), None);
/// assert_eq!(median_nanos(vec![30, 10, 20]), Some(20));
/// assert_eq!(median_nanos(vec![40, 10, 20, 30]), Some(25));
/// assert_eq!(median_nanos(vec![1, 2]), Some(1));
/// ```
pub fn median_nanos(mut times: Vec<i64>) -> Option<i64> {
    if times.is_empty() {
        return None;
    }
    times.sort_unstable();
    let lower = times[(times.len() - 1) / 2];
    let upper = times[times.len() / 2];
    // The sum in i128: two answer times near i64::MAX cannot overflow it.
    i64::try_from((i128::from(lower) + i128::from(upper)) / 2).ok()
}

/// The invitation funnel and what feeds it beyond the invitations' own
/// columns (the first view of the invitee's page).
///
/// Part of the [`Store`] port: its methods are its contract, checked on
/// every adapter by `rsvp-store-contract`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Counts `business`'s invitations whose `created_at` is in
    /// `[query.from, query.to)` (no other business's, whatever their
    /// times), each by its state when read:
    ///
    /// * `sent`, `delivered`, `bounced`, `complained`: by its
    ///   `email_delivery` (`sent` counts `sent`, `delivered`, `bounced`
    ///   and `complained`);
    /// * `page_viewed`: a page view was recorded
    ///   ([`record_page_view`](Self::record_page_view));
    /// * `accepted`, `declined`, `cancelled`: by its stored status
    ///   (`declined` is `rejected`); `expired`: stored `expired`, or
    ///   `pending` with `expires_at <= query.now`;
    /// * `median_nanos_to_answer`: over the accepted and declined ones
    ///   with a `resolved_at`, as [`median_nanos`] computes it.
    ///
    /// An empty range (`from >= to`) counts nothing.
    async fn invitation_funnel(
        &self,
        business: BusinessId,
        query: &FunnelQuery,
    ) -> Result<InvitationFunnel, StoreError>;

    /// Records that the invitee's page of `invitation` was opened at `at`,
    /// unless a view was recorded before (the first one stays). Returns
    /// whether this call recorded it: `false` for a later view and for an
    /// unknown invitation. Changes nothing else (no event, no
    /// `updated_at`).
    async fn record_page_view(&self, invitation: InvitationId, at: OffsetDateTime) -> Result<bool, StoreError>;
}
