//! The invitation funnel (`AnalyticsStore`): exact counts over seeded
//! invitations of known states, the median time to answer, and the first
//! page view.

use rsvp_app::{EmailOutcome, EmailProvider, EmailReport, FunnelQuery, InvitationFunnel, Store, TransitionRecord};
use rsvp_domain::{EmailFeedback, EventId, SuppressionId};
use time::OffsetDateTime;

use crate::Harness;
use crate::fixtures::{Invite, Tenant, accept, at, cancel, expire, finish_email, insert, invite, new_uuid, reject};

async fn transition(store: &dyn Store, record: &TransitionRecord) {
    store
        .invitations()
        .apply_transition(record)
        .await
        .expect("apply_transition");
}

/// Sends `invite`'s email, then has the provider report `feedback` on it.
async fn sent_then_reported(store: &dyn Store, invite: &Invite, feedback: EmailFeedback, now: OffsetDateTime) {
    finish_email(store, invite.job().id, &EmailOutcome::sent(), now).await;
    let report = EmailReport {
        provider: EmailProvider::Postmark,
        report_id: new_uuid().to_string(),
        job_id: Some(invite.job().id),
        provider_message_id: None,
        feedback,
        received_at: now,
        event_id: EventId::from_uuid(new_uuid()),
        suppression_id: SuppressionId::from_uuid(new_uuid()),
    };
    store
        .feedback()
        .record_email_report(&report)
        .await
        .expect("record_email_report");
}

async fn viewed(store: &dyn Store, invite: &Invite, now: OffsetDateTime) -> bool {
    store
        .analytics()
        .record_page_view(invite.id(), now)
        .await
        .expect("record_page_view")
}

async fn funnel(store: &dyn Store, tenant: &Tenant, from: i64, to: i64, now: i64) -> InvitationFunnel {
    let query = FunnelQuery {
        from: at(from),
        to: at(to),
        now: at(now),
    };
    store
        .analytics()
        .invitation_funnel(tenant.id(), &query)
        .await
        .expect("invitation_funnel")
}

/// The funnel counts the business's invitations created in `[from, to)`
/// and no other: `sent` by a delivery of `sent`, `delivered`, `bounced` or
/// `complained` (not `queued`, `failed`, nor an invitation created without
/// email); the provider's three by the delivery; `page_viewed` by a
/// recorded view; the statuses as stored, `expired` also for a pending one
/// past its expiry at `now`; the median time to answer over the accepted
/// and declined ones, of an even count the mean of the two middle ones,
/// truncated.
pub async fn the_funnel_counts_exactly_the_business_invitations_created_in_the_range_by_their_state(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(-100)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(-100)).await;

    // Created at `from`, sent, delivered, viewed, accepted after 101 s.
    let a = insert(store, invite(&acme, "a@partner.test", at(0))).await;
    sent_then_reported(store, &a, EmailFeedback::Delivered, at(1)).await;
    assert!(viewed(store, &a, at(2)).await);
    transition(store, &accept(a.invitation(), globex.id(), at(101))).await;
    // Sent, bounced (softly), still pending.
    let b = insert(store, invite(&acme, "b@partner.test", at(10))).await;
    sent_then_reported(store, &b, EmailFeedback::Bounced { permanent: false }, at(11)).await;
    // Sent, complained, viewed twice, declined after 300 s.
    let c = insert(store, invite(&acme, "c@partner.test", at(20))).await;
    sent_then_reported(store, &c, EmailFeedback::Complained, at(21)).await;
    assert!(viewed(store, &c, at(22)).await);
    assert!(!viewed(store, &c, at(23)).await, "only the first view is recorded");
    transition(store, &reject(c.invitation(), at(320))).await;
    // Sent, declined after 51 s.
    let d = insert(store, invite(&acme, "d@partner.test", at(30))).await;
    finish_email(store, d.job().id, &EmailOutcome::sent(), at(31)).await;
    transition(store, &reject(d.invitation(), at(81))).await;
    // Created without email, cancelled.
    let e = insert(store, invite(&acme, "e@partner.test", at(40)).without_email()).await;
    transition(store, &cancel(e.invitation(), at(45))).await;
    // Its email still queued; expired by the sweep.
    let f = insert(store, invite(&acme, "f@partner.test", at(50)).expiring_at(at(200))).await;
    transition(store, &expire(f.invitation(), at(200))).await;
    // Its email failed; pending past its expiry (the sweep has not run).
    let g = insert(store, invite(&acme, "g@partner.test", at(60)).expiring_at(at(500))).await;
    let failed = EmailOutcome::Failed { error: "550".into() };
    finish_email(store, g.job().id, &failed, at(61)).await;
    // Created just before `to`, sent, accepted after 1000 s.
    let last = insert(store, invite(&acme, "h@partner.test", at(999))).await;
    finish_email(store, last.job().id, &EmailOutcome::sent(), at(1000)).await;
    transition(store, &accept(last.invitation(), globex.id(), at(1999))).await;

    // Outside: before `from`, at `to`, and another business's in the range.
    let early = insert(store, invite(&acme, "early@partner.test", at(-1))).await;
    finish_email(store, early.job().id, &EmailOutcome::sent(), at(-1)).await;
    transition(store, &reject(early.invitation(), at(5))).await;
    let at_end = insert(store, invite(&acme, "late@partner.test", at(1000))).await;
    assert!(viewed(store, &at_end, at(1001)).await);
    let theirs = insert(store, invite(&globex, "x@partner.test", at(500))).await;
    sent_then_reported(store, &theirs, EmailFeedback::Delivered, at(501)).await;
    assert!(viewed(store, &theirs, at(502)).await);
    transition(store, &accept(theirs.invitation(), acme.id(), at(503))).await;

    let counted = funnel(store, &acme, 0, 1000, 100_000).await;
    assert_eq!(
        counted,
        InvitationFunnel {
            created: 8,
            sent: 5,
            delivered: 1,
            bounced: 1,
            complained: 1,
            page_viewed: 2,
            accepted: 2,
            declined: 2,
            cancelled: 1,
            expired: 2,
            // 51, 101, 300, 1000 s: the mean of 101 and 300.
            median_nanos_to_answer: Some(200_500_000_000),
        }
    );
    assert_eq!(counted.median_seconds_to_answer(), Some(200));

    // Before g's expiry it reads pending; the answer times of a, c, d (odd).
    let earlier = funnel(store, &acme, 0, 35, 499).await;
    assert_eq!(
        (earlier.created, earlier.expired, earlier.median_nanos_to_answer),
        (4, 0, Some(101_000_000_000))
    );
    assert_eq!(funnel(store, &acme, 0, 1000, 499).await.expired, 1);
    // The other business sees its own only.
    let other = funnel(store, &globex, -1000, 2000, 100_000).await;
    assert_eq!(
        (
            other.created,
            other.sent,
            other.delivered,
            other.page_viewed,
            other.accepted
        ),
        (1, 1, 1, 1, 1)
    );
}

/// A range with no invitation, or an empty one, counts zero everywhere and
/// has no median; a range with invitations but no answer has no median
/// either.
pub async fn a_funnel_without_invitations_or_answers_counts_zero_and_has_no_median(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let pending = insert(store, invite(&acme, "p@partner.test", at(10))).await;
    assert!(viewed(store, &pending, at(11)).await);

    assert_eq!(funnel(store, &acme, 20, 30, 40).await, InvitationFunnel::default());
    assert_eq!(
        funnel(store, &acme, 10, 10, 40).await,
        InvitationFunnel::default(),
        "empty"
    );
    let unanswered = funnel(store, &acme, 0, 20, 40).await;
    assert_eq!(
        (
            unanswered.created,
            unanswered.page_viewed,
            unanswered.median_nanos_to_answer
        ),
        (1, 1, None)
    );
}

/// A page view is recorded once, the first time: a later view and a view
/// of an unknown invitation record nothing and say so; the invitation is
/// not otherwise changed.
pub async fn only_the_first_page_view_of_an_invitation_is_recorded(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = insert(store, invite(&acme, "bob@partner.test", at(1))).await;

    assert_eq!(funnel(store, &acme, 0, 10, 10).await.page_viewed, 0);
    assert!(viewed(store, &bob, at(5)).await);
    assert!(!viewed(store, &bob, at(6)).await);
    assert_eq!(funnel(store, &acme, 0, 10, 10).await.page_viewed, 1);
    let unknown = rsvp_domain::InvitationId::from_uuid(new_uuid());
    assert!(
        !store
            .analytics()
            .record_page_view(unknown, at(7))
            .await
            .expect("record_page_view")
    );
    let stored = store
        .invitations()
        .get_invitation(bob.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(&stored, bob.invitation(), "a view changes nothing else");
}
