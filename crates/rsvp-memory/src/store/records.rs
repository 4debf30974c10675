//! What the in-memory tables hold beside the domain's own types, and the
//! small functions the store's units of work share.

use rsvp_app::{
    Cursor, IdempotencyClaim, InvitationFilter, Page, PageSize, RequestFingerprint, StoredResponse, WebhookDelivery,
    WebhookDeliveryStatus, WebhookEndpoint,
};
use rsvp_domain::{BusinessId, EventId, Invitation, WebhookDeliveryId};
use time::OffsetDateTime;
use uuid::Uuid;

/// One idempotency record: in progress (`response` is `None`) or completed.
#[derive(Debug)]
pub(super) struct IdempotencyRecord {
    pub(super) fingerprint: RequestFingerprint,
    pub(super) attempt: Uuid,
    pub(super) started_at: OffsetDateTime,
    pub(super) expires_at: OffsetDateTime,
    pub(super) response: Option<StoredResponse>,
}

impl IdempotencyRecord {
    pub(super) fn of(claim: &IdempotencyClaim) -> Self {
        Self {
            fingerprint: claim.fingerprint,
            attempt: claim.attempt,
            started_at: claim.now,
            expires_at: claim.expires_at,
            response: None,
        }
    }

    pub(super) fn held_by(&self, attempt: Uuid) -> bool {
        self.response.is_none() && self.attempt == attempt
    }
}

/// A new pending delivery of `event_id` to `endpoint`.
pub(super) fn pending_delivery(
    endpoint: &WebhookEndpoint,
    event_id: EventId,
    event_type: &str,
    payload: Option<String>,
    at: OffsetDateTime,
) -> WebhookDelivery {
    WebhookDelivery {
        id: WebhookDeliveryId::from_uuid(event_id.as_uuid()),
        endpoint_id: endpoint.id,
        business_id: endpoint.business_id,
        event_id,
        event_type: event_type.to_owned(),
        payload,
        occurred_at: at,
        attempts: 0,
        status: WebhookDeliveryStatus::Pending,
        next_attempt_at: at,
        response_status: None,
        duration_ms: None,
        attempted_at: None,
        last_error: None,
        created_at: at,
    }
}

pub(super) fn pending_key(invitation: &Invitation) -> (BusinessId, String) {
    (invitation.business_id(), invitation.email().normalized().to_owned())
}

pub(super) fn matches(filter: &InvitationFilter, invitation: &Invitation, now: OffsetDateTime) -> bool {
    (filter.statuses.is_empty() || filter.statuses.contains(&invitation.status_at(now)))
        && filter.email.as_ref().is_none_or(|email| email == invitation.email())
}

/// Newest first (`created_at`, then id, descending), after the cursor, one
/// page: the keyset rule, so rows inserted meanwhile never shift a page.
pub(super) fn newest_first_page<T: Clone>(
    rows: impl Iterator<Item = T>,
    key: impl Fn(&T) -> Cursor,
    after: Option<Cursor>,
    limit: PageSize,
) -> Page<T> {
    let sort_key = |row: &T| {
        let cursor = key(row);
        (cursor.created_at, cursor.id)
    };
    let mut rows: Vec<T> = rows
        .filter(|row| after.is_none_or(|after| sort_key(row) < (after.created_at, after.id)))
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(sort_key(row)));
    rows.truncate(limit.as_usize() + 1);
    Page::from_overfetch(rows, limit, key)
}

pub(super) fn invitation_cursor(invitation: &Invitation) -> Cursor {
    Cursor {
        created_at: invitation.created_at(),
        id: invitation.id().as_uuid(),
    }
}
