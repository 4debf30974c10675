//! Email providers' reports (`FeedbackStore`): the invitation's delivery
//! state, one event each, the suppression of a hard bounce or complaint,
//! and one effect for the same report twice.

use rsvp_app::{EmailOutcome, EmailProvider, EmailReport, PageRequest, ReportOutcome, Store};
use rsvp_domain::{
    EmailDelivery, EmailFeedback, EmailJobId, Event, EventId, EventKind, Invitation, Suppression, SuppressionId,
    SuppressionReason,
};
use time::OffsetDateTime;

use crate::Harness;
use crate::fixtures::{Tenant, all_events, at, email, finish_email, insert, invite, limit, new_uuid, resend};

use super::webhooks::{endpoint, registered};

/// A report of `feedback` on job `job`, received at `now`.
fn report(job: Option<EmailJobId>, feedback: EmailFeedback, now: OffsetDateTime) -> EmailReport {
    EmailReport {
        provider: EmailProvider::Postmark,
        report_id: new_uuid().to_string(),
        job_id: job,
        provider_message_id: None,
        feedback,
        received_at: now,
        event_id: EventId::from_uuid(new_uuid()),
        suppression_id: SuppressionId::from_uuid(new_uuid()),
    }
}

async fn apply(store: &dyn Store, report: &EmailReport) -> (Invitation, Event, bool) {
    match store.feedback().record_email_report(report).await {
        Ok(ReportOutcome::Applied {
            invitation,
            event,
            suppressed,
        }) => (*invitation, *event, suppressed),
        other => panic!("expected the report applied, got {other:?}"),
    }
}

async fn delivery(store: &dyn Store, invitation: &Invitation) -> Option<EmailDelivery> {
    store
        .invitations()
        .get_invitation(invitation.id())
        .await
        .expect("get_invitation")
        .expect("stored")
        .email_delivery()
}

async fn everyone_suppressions(store: &dyn Store, address: &str) -> Vec<Suppression> {
    store
        .opt_outs()
        .suppressions_for(rsvp_domain::BusinessId::from_uuid(new_uuid()), &[email(address)])
        .await
        .expect("suppressions_for")
}

/// A report on an invitation's latest email sets its `email_delivery`
/// (without touching `updated_at`), writes one event with its webhook
/// delivery; the same `(provider, report_id)` again is a duplicate with no
/// effect, while another provider's same id is another report.
pub async fn a_report_sets_the_latest_emails_delivery_writes_one_event_and_its_webhook_and_a_repeat_changes_nothing(
    h: Harness,
) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let hook = registered(store, endpoint(acme.id(), None, at(0))).await;
    let bob = insert(store, invite(&acme, "bob@globex.test", at(1))).await;
    finish_email(store, bob.job().id, &EmailOutcome::sent(), at(2)).await;
    let events_before = all_events(store, acme.id()).await.len();

    let delivered = report(Some(bob.job().id), EmailFeedback::Delivered, at(3));
    let (invitation, event, suppressed) = apply(store, &delivered).await;
    assert_eq!(invitation.email_delivery(), Some(EmailDelivery::Delivered));
    assert_eq!(delivery(store, bob.invitation()).await, Some(EmailDelivery::Delivered));
    assert_eq!(
        invitation.updated_at(),
        bob.invitation().updated_at(),
        "a report is not an edit"
    );
    assert!(!suppressed);
    assert_eq!(
        (event.id, event.kind, event.invitation_id, event.occurred_at),
        (
            delivered.event_id,
            EventKind::InvitationEmailDelivered,
            Some(bob.id()),
            at(3)
        )
    );
    let events = all_events(store, acme.id()).await;
    assert_eq!(events.len(), events_before + 1);
    assert_eq!(events.last(), Some(&event));
    let deliveries = store
        .webhooks()
        .list_webhook_deliveries(
            hook.id,
            &PageRequest {
                limit: limit(50),
                after: None,
            },
        )
        .await
        .expect("list_webhook_deliveries");
    assert!(
        deliveries.items.iter().any(|d| d.event_id == event.id),
        "the event's webhook delivery is queued"
    );

    // The same report again (a provider's retry): nothing more.
    let again = EmailReport {
        event_id: EventId::from_uuid(new_uuid()),
        feedback: EmailFeedback::Complained,
        ..delivered.clone()
    };
    assert_eq!(
        store.feedback().record_email_report(&again).await,
        Ok(ReportOutcome::Duplicate)
    );
    assert_eq!(all_events(store, acme.id()).await.len(), events_before + 1);
    assert_eq!(delivery(store, bob.invitation()).await, Some(EmailDelivery::Delivered));
    assert!(everyone_suppressions(store, "bob@globex.test").await.is_empty());

    // The same id from another provider is another report.
    let from_ses = EmailReport {
        provider: EmailProvider::Ses,
        event_id: EventId::from_uuid(new_uuid()),
        ..delivered
    };
    apply(store, &from_ses).await;
}

/// A hard bounce and a complaint suppress the address for every business
/// (with the report's ids and time); a soft bounce does not; a standing
/// suppression keeps the strongest reason.
pub async fn a_hard_bounce_or_a_complaint_suppresses_the_address_for_everyone_and_a_soft_bounce_does_not(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let soft = insert(store, invite(&acme, "soft@globex.test", at(1))).await;
    let hard = insert(store, invite(&acme, "Hard@Globex.test", at(1))).await;
    let spam = insert(store, invite(&acme, "spam@globex.test", at(1))).await;
    for job in [soft.job(), hard.job(), spam.job()] {
        finish_email(store, job.id, &EmailOutcome::sent(), at(2)).await;
    }

    let (after, event, suppressed) = apply(
        store,
        &report(Some(soft.job().id), EmailFeedback::Bounced { permanent: false }, at(3)),
    )
    .await;
    assert_eq!(after.email_delivery(), Some(EmailDelivery::Bounced));
    assert_eq!(event.kind, EventKind::InvitationEmailBounced);
    assert!(!suppressed, "a soft bounce suppresses nothing");
    assert!(everyone_suppressions(store, "soft@globex.test").await.is_empty());

    let bounce = report(Some(hard.job().id), EmailFeedback::Bounced { permanent: true }, at(4));
    let (_, _, suppressed) = apply(store, &bounce).await;
    assert!(suppressed);
    let stored = everyone_suppressions(store, "hard@globex.test").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        (
            stored[0].id,
            stored[0].business_id,
            stored[0].invitation_id,
            stored[0].reason,
            stored[0].created_at
        ),
        (
            bounce.suppression_id,
            None,
            Some(hard.id()),
            SuppressionReason::Bounce,
            at(4)
        )
    );
    // A later complaint on the bounced address: the bounce stays the reason.
    let (after, event, suppressed) = apply(store, &report(Some(hard.job().id), EmailFeedback::Complained, at(5))).await;
    assert_eq!(event.kind, EventKind::InvitationEmailComplained);
    assert_eq!(after.email_delivery(), Some(EmailDelivery::Complained));
    assert!(!suppressed);
    assert_eq!(
        everyone_suppressions(store, "hard@globex.test").await[0].reason,
        SuppressionReason::Bounce
    );

    // A complaint on an address that had opted out of everyone: the reason is raised.
    store
        .opt_outs()
        .add_suppression(&Suppression {
            id: SuppressionId::from_uuid(new_uuid()),
            email: email("spam@globex.test"),
            business_id: None,
            invitation_id: None,
            created_at: at(2),
            reason: SuppressionReason::OptOut,
        })
        .await
        .expect("add_suppression");
    let (_, _, suppressed) = apply(store, &report(Some(spam.job().id), EmailFeedback::Complained, at(6))).await;
    assert!(suppressed);
    let stored = everyone_suppressions(store, "spam@globex.test").await;
    assert_eq!(
        stored.iter().map(|s| s.reason).collect::<Vec<_>>(),
        [SuppressionReason::Complaint]
    );
}

/// Delivery is never moved backwards (a delivery after a bounce), and a
/// report on an email a resend superseded writes its event (and
/// suppression) but leaves the latest email's state.
pub async fn a_report_never_moves_delivery_backwards_and_one_on_a_superseded_email_only_writes_its_event(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = insert(store, invite(&acme, "bob@globex.test", at(1))).await;
    finish_email(store, bob.job().id, &EmailOutcome::sent(), at(2)).await;
    let (after, _, _) = apply(
        store,
        &report(Some(bob.job().id), EmailFeedback::Bounced { permanent: false }, at(3)),
    )
    .await;
    assert_eq!(after.email_delivery(), Some(EmailDelivery::Bounced));
    // A delivery report arriving after the bounce report does not undo it.
    let (after, event, _) = apply(store, &report(Some(bob.job().id), EmailFeedback::Delivered, at(4))).await;
    assert_eq!(event.kind, EventKind::InvitationEmailDelivered);
    assert_eq!(after.email_delivery(), Some(EmailDelivery::Bounced));
    assert_eq!(delivery(store, bob.invitation()).await, Some(EmailDelivery::Bounced));

    // A resend queues a new email: the report was on the old one.
    let again = resend(bob.invitation(), at(200), false);
    store
        .invitations()
        .record_resend(&again.record)
        .await
        .expect("record_resend");
    assert_eq!(delivery(store, bob.invitation()).await, Some(EmailDelivery::Queued));
    let late = report(Some(bob.job().id), EmailFeedback::Complained, at(201));
    let (after, event, suppressed) = apply(store, &late).await;
    assert_eq!(event.kind, EventKind::InvitationEmailComplained);
    assert_eq!(
        after.email_delivery(),
        Some(EmailDelivery::Queued),
        "the latest email's state stands"
    );
    assert!(suppressed, "a complaint suppresses whichever email it was about");
}

/// A report naming no invitation email (unknown job, unknown provider id,
/// no id) is `UnknownEmail` and writes nothing.
pub async fn a_report_matching_no_invitation_email_is_unknown_and_changes_nothing(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = insert(store, invite(&acme, "bob@globex.test", at(1))).await;
    finish_email(store, bob.job().id, &EmailOutcome::sent(), at(2)).await;
    let events_before = all_events(store, acme.id()).await;
    for unknown in [
        report(
            Some(EmailJobId::from_uuid(new_uuid())),
            EmailFeedback::Complained,
            at(3),
        ),
        report(None, EmailFeedback::Complained, at(3)),
        EmailReport {
            provider_message_id: Some("no-such-message".into()),
            ..report(None, EmailFeedback::Complained, at(3))
        },
    ] {
        assert_eq!(
            store.feedback().record_email_report(&unknown).await,
            Ok(ReportOutcome::UnknownEmail)
        );
    }
    assert_eq!(all_events(store, acme.id()).await, events_before);
    assert_eq!(delivery(store, bob.invitation()).await, Some(EmailDelivery::Sent));
    assert!(everyone_suppressions(store, "bob@globex.test").await.is_empty());
}

/// Report ids older than the cutoff are forgotten oldest first, at most
/// `limit` a call; a forgotten id applies again, a kept one stays a
/// duplicate.
pub async fn report_ids_are_forgotten_oldest_first_after_retention_and_then_apply_again(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = insert(store, invite(&acme, "bob@globex.test", at(1))).await;
    finish_email(store, bob.job().id, &EmailOutcome::sent(), at(2)).await;
    let reports: Vec<EmailReport> = (0..3)
        .map(|n| report(Some(bob.job().id), EmailFeedback::Delivered, at(10 + n)))
        .collect();
    for report in &reports {
        apply(store, report).await;
    }
    let feedback = store.feedback();
    assert_eq!(
        feedback.prune_email_reports(at(10), 10).await,
        Ok(0),
        "none before the cutoff"
    );
    assert_eq!(feedback.prune_email_reports(at(12), 1).await, Ok(1), "the limit holds");
    assert_eq!(feedback.prune_email_reports(at(12), 10).await, Ok(1));
    assert_eq!(feedback.prune_email_reports(at(12), 10).await, Ok(0));
    // The forgotten ids apply again; the kept one is still a duplicate.
    for (report, outcome) in reports.iter().zip(["applied", "applied", "duplicate"]) {
        let again = EmailReport {
            event_id: EventId::from_uuid(new_uuid()),
            ..report.clone()
        };
        let got = feedback.record_email_report(&again).await.expect("record_email_report");
        assert_eq!(
            matches!(got, ReportOutcome::Applied { .. }),
            outcome == "applied",
            "{outcome}: {got:?}"
        );
    }
}
