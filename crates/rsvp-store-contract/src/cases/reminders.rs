//! The reminder before expiry (`due_for_reminder`, `record_reminder`) and
//! the expiry's notice to the sender (`apply_transition` with an email job).

use std::sync::Arc;

use rsvp_app::{
    EmailCap, EmailJob, EmailJobStatus, EmailKind, EmailOutcome, EmailProvider, EmailReport, LinkTokenRecord,
    ReminderQuery, ReminderRecord, ReportOutcome, Secret, Store, StoreError, SuppressionQuery,
};
use rsvp_domain::{
    BusinessId, EmailDelivery, EmailFeedback, EmailJobId, Event, EventId, EventKind, Invitation, InvitationId,
    InvitationStatus, Suppression, SuppressionId, SuppressionReason, User,
};
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

use crate::Harness;
use crate::fixtures::{
    Invite, LEASE, Tenant, accept, all_events, at, cancel, claimed, email, email_job, expire, finish_email, hash,
    insert, invite, limit, new_uuid, reject, resend, secret,
};

/// The window of every case: reminders go out 1000 s before expiry.
const WINDOW: Duration = Duration::seconds(1000);

/// A reminder of `invitation` at `now` (uncapped), and its link token in clear.
fn reminder(invitation: &Invitation, now: OffsetDateTime) -> (ReminderRecord, Secret) {
    let token = secret();
    let record = ReminderRecord {
        invitation_id: invitation.id(),
        now,
        window: WINDOW,
        link: LinkTokenRecord {
            hash: hash(&token),
            invitation_id: invitation.id(),
            created_at: now,
        },
        event: Event::reminded(EventId::from_uuid(new_uuid()), invitation, now),
        email_job: email_job(invitation, &token, now),
        email_cap: None,
    };
    (record, token)
}

/// The ids `due_for_reminder` returns at `now`, without `skip`, at most `limit`.
async fn due(store: &dyn Store, now: OffsetDateTime, skip: &[BusinessId], limit: usize) -> Vec<InvitationId> {
    let query = ReminderQuery {
        now,
        window: WINDOW,
        skip_businesses: skip.to_vec(),
        limit,
    };
    let due = store
        .invitations()
        .due_for_reminder(&query)
        .await
        .expect("due_for_reminder");
    due.iter().map(Invitation::id).collect()
}

/// `invitation` as stored.
async fn stored(store: &dyn Store, id: InvitationId) -> Invitation {
    store
        .invitations()
        .get_invitation(id)
        .await
        .expect("get_invitation")
        .expect("the invitation exists")
}

/// Invites `address` (sent at `at(0)`, expiring at `at(2000)`), then
/// records the provider's `feedback` on that email; a complaint's
/// suppression is lifted, so that only the delivery state says no.
async fn reported(store: &dyn Store, sender: &Tenant, address: &str, feedback: EmailFeedback) -> Invite {
    let sent = insert(store, invite(sender, address, at(0)).expiring_at(at(2000))).await;
    finish_email(store, sent.job().id, &EmailOutcome::sent(), at(1)).await;
    let report = EmailReport {
        provider: EmailProvider::Postmark,
        report_id: new_uuid().to_string(),
        job_id: Some(sent.job().id),
        provider_message_id: None,
        feedback,
        received_at: at(2),
        event_id: EventId::from_uuid(new_uuid()),
        suppression_id: SuppressionId::from_uuid(new_uuid()),
    };
    let outcome = store.feedback().record_email_report(&report).await;
    assert!(matches!(outcome, Ok(ReportOutcome::Applied { .. })), "{outcome:?}");
    let query = SuppressionQuery {
        email: Some(email(address)),
        limit: limit(10),
        after: None,
    };
    let suppressions = store
        .opt_outs()
        .list_suppressions(&query)
        .await
        .expect("list_suppressions");
    for lifted in suppressions.items {
        store
            .opt_outs()
            .delete_suppression(lifted.id)
            .await
            .expect("delete_suppression");
    }
    let bounced = stored(store, sent.id()).await;
    assert!(
        matches!(
            bounced.email_delivery(),
            Some(EmailDelivery::Bounced | EmailDelivery::Complained)
        ),
        "{bounced:?}"
    );
    sent
}

fn suppression(address: &str, business: Option<BusinessId>, reason: SuppressionReason) -> Suppression {
    Suppression {
        id: SuppressionId::from_uuid(new_uuid()),
        email: email(address),
        business_id: business,
        invitation_id: None,
        created_at: at(1),
        reason,
    }
}

/// The notice of `invitation`'s expiry to `sender`, queued at `now`.
fn notice(invitation: &Invitation, sender: &User, now: OffsetDateTime) -> EmailJob {
    EmailJob {
        id: EmailJobId::from_uuid(new_uuid()),
        invitation_id: invitation.id(),
        to: sender.email.clone(),
        link_token: None,
        attempts: 0,
        status: EmailJobStatus::Queued,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        kind: EmailKind::ExpiryNotice,
    }
}

/// `record_reminder` of a due invitation marks it, writes the new link (the
/// first one keeps working), the event and the email job, and records the
/// send; it is then no longer due, and a second reminder is `None` and
/// writes nothing.
pub async fn a_reminder_is_recorded_once_with_its_link_event_and_email(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = insert(store, invite(&acme, "bob@globex.test", at(0)).expiring_at(at(2000))).await;
    finish_email(store, bob.job().id, &EmailOutcome::sent(), at(1)).await;
    assert_eq!(due(store, at(1500), &[], 10).await, [bob.id()]);

    let (first, token) = reminder(bob.invitation(), at(1500));
    let returned = store
        .invitations()
        .record_reminder(&first)
        .await
        .expect("record_reminder")
        .expect("a due invitation is reminded");
    assert_eq!(returned.status(), InvitationStatus::Pending);
    assert_eq!(returned.last_sent_at(), Some(at(1500)));
    assert_eq!(returned.updated_at(), at(1500));
    assert_eq!(returned.email_delivery(), Some(EmailDelivery::Queued));
    assert_eq!(stored(store, bob.id()).await, returned);
    let jobs = store
        .outbox()
        .claim_email_jobs(at(1500), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(jobs, [claimed(&first.email_job, at(1500), LEASE)]);
    assert_eq!(jobs[0].link_token.as_ref().map(Secret::expose), Some(token.expose()));
    assert_eq!(all_events(store, acme.id()).await.pop(), Some(first.event.clone()));
    for link in [bob.link_hash(), first.link.hash] {
        let found = store.invitations().find_invitation_by_link(&link).await.expect("find");
        assert_eq!(found.map(|i| i.id()), Some(bob.id()), "both links work");
    }

    assert!(due(store, at(1500), &[], 10).await.is_empty(), "reminded once");
    let events = all_events(store, acme.id()).await.len();
    let (second, _) = reminder(bob.invitation(), at(1600));
    assert_eq!(
        store
            .invitations()
            .record_reminder(&second)
            .await
            .expect("record_reminder"),
        None
    );
    assert_eq!(all_events(store, acme.id()).await.len(), events, "no second event");
    assert_eq!(
        store.outbox().outbox_depth().await.expect("depth"),
        1,
        "no second email"
    );
    let found = store
        .invitations()
        .find_invitation_by_link(&second.link.hash)
        .await
        .expect("find");
    assert_eq!(found, None, "no second link");
    assert_eq!(stored(store, bob.id()).await, returned);
}

/// `due_for_reminder` reads the stored pending invitations that expire
/// within the window and were last sent before it started, oldest expiry
/// first, limited, without the businesses left out; never one answered,
/// cancelled, expired, never emailed, sent since the window started,
/// bounced, complained about or suppressed (opt-out or provider report,
/// for its business or everyone).
pub async fn due_for_reminder_reads_pending_invitations_inside_the_window_last_sent_before_it(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let now = at(1500);
    let add = |address: &str, created: i64, expires: i64| invite(&acme, address, at(created)).expiring_at(at(expires));

    let a = insert(store, add("a@partner.test", 0, 2000)).await;
    let b = insert(store, add("b@partner.test", 0, 1800)).await;
    let on_the_edge = insert(store, add("edge@partner.test", 0, 2500)).await;
    let from_initech = insert(store, invite(&initech, "i@partner.test", at(0)).expiring_at(at(1900))).await;
    // Suppressed by another business only: still due for Acme.
    let elsewhere = insert(store, add("elsewhere@partner.test", 0, 2050)).await;
    for (address, business, reason) in [
        ("elsewhere@partner.test", Some(initech.id()), SuppressionReason::OptOut),
        ("opted@partner.test", Some(acme.id()), SuppressionReason::OptOut),
        ("hard@partner.test", None, SuppressionReason::Bounce),
    ] {
        store
            .opt_outs()
            .add_suppression(&suppression(address, business, reason))
            .await
            .expect("add_suppression");
    }
    // Not due.
    insert(store, add("expiring@partner.test", 0, 1500)).await;
    insert(store, add("not-yet@partner.test", 0, 2600)).await;
    insert(store, add("recent@partner.test", 1200, 2000)).await;
    insert(store, add("never@partner.test", 0, 2000).without_email()).await;
    insert(store, add("opted@partner.test", 0, 2000)).await;
    insert(store, add("hard@partner.test", 0, 2000)).await;
    reported(
        store,
        &acme,
        "bounced@partner.test",
        EmailFeedback::Bounced { permanent: false },
    )
    .await;
    reported(store, &acme, "complained@partner.test", EmailFeedback::Complained).await;
    let resent = insert(store, add("resent@partner.test", 0, 2100)).await;
    store
        .invitations()
        .record_resend(&resend(resent.invitation(), at(1100), false).record)
        .await
        .expect("a resend exactly at the window's start");
    for (n, answer) in ["accepted", "rejected", "cancelled", "expired"].into_iter().enumerate() {
        let answered = insert(store, add(&format!("{answer}@partner.test"), 0, 2000)).await;
        let before = answered.invitation();
        let record = match n {
            0 => accept(before, globex.id(), at(10)),
            1 => reject(before, at(10)),
            2 => cancel(before, at(10)),
            _ => expire(before, at(10)),
        };
        store.invitations().apply_transition(&record).await.expect("answer");
    }

    let expected = [b.id(), from_initech.id(), a.id(), elsewhere.id(), on_the_edge.id()];
    assert_eq!(due(store, now, &[], 10).await, expected);
    assert_eq!(due(store, now, &[], 2).await, expected[..2]);
    assert_eq!(
        due(store, now, &[initech.id()], 10).await,
        [b.id(), a.id(), elsewhere.id(), on_the_edge.id()]
    );
    assert!(due(store, at(499), &[], 10).await.is_empty(), "before every window");
}

/// `record_reminder` of an invitation that is not due returns `None` and
/// writes nothing: no event, no email, no link, no change to the invitation.
pub async fn a_reminder_of_an_invitation_that_is_not_due_is_none_and_writes_nothing(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let add = |address: &str, created: i64, expires: i64| invite(&acme, address, at(created)).expiring_at(at(expires));
    let mut not_due = vec![
        insert(store, add("not-yet@partner.test", 0, 2600)).await,
        insert(store, add("past@partner.test", 0, 1400)).await,
        insert(store, add("recent@partner.test", 1200, 2000)).await,
        insert(store, add("never@partner.test", 0, 2000).without_email()).await,
    ];
    not_due.push(
        reported(
            store,
            &acme,
            "bounced@partner.test",
            EmailFeedback::Bounced { permanent: false },
        )
        .await,
    );
    not_due.push(reported(store, &acme, "complained@partner.test", EmailFeedback::Complained).await);
    for (address, business, reason) in [
        ("opted@partner.test", Some(acme.id()), SuppressionReason::OptOut),
        ("everyone@partner.test", None, SuppressionReason::OptOut),
        ("complaint@partner.test", None, SuppressionReason::Complaint),
    ] {
        not_due.push(insert(store, add(address, 0, 2000)).await);
        store
            .opt_outs()
            .add_suppression(&suppression(address, business, reason))
            .await
            .expect("add_suppression");
    }
    for (n, answer) in ["accepted", "rejected", "cancelled", "expired"].into_iter().enumerate() {
        let answered = insert(store, add(&format!("{answer}@partner.test"), 0, 2000)).await;
        let before = answered.invitation();
        let record = match n {
            0 => accept(before, globex.id(), at(10)),
            1 => reject(before, at(10)),
            2 => cancel(before, at(10)),
            _ => expire(before, at(10)),
        };
        store.invitations().apply_transition(&record).await.expect("answer");
        not_due.push(answered);
    }
    let events = all_events(store, acme.id()).await;
    let depth = store.outbox().outbox_depth().await.expect("depth");
    for invite in &not_due {
        let before = stored(store, invite.id()).await;
        let (record, _) = reminder(&before, at(1500));
        let outcome = store
            .invitations()
            .record_reminder(&record)
            .await
            .expect("record_reminder");
        assert_eq!(outcome, None, "{}", invite.invitation().email());
        assert_eq!(
            stored(store, invite.id()).await,
            before,
            "{}",
            invite.invitation().email()
        );
        let link = store
            .invitations()
            .find_invitation_by_link(&record.link.hash)
            .await
            .expect("find");
        assert_eq!(link, None, "{}", invite.invitation().email());
    }
    let (unknown, _) = reminder(not_due[0].invitation(), at(1500));
    let unknown = ReminderRecord {
        invitation_id: InvitationId::from_uuid(new_uuid()),
        ..unknown
    };
    assert_eq!(
        store.invitations().record_reminder(&unknown).await.expect("unknown"),
        None
    );
    assert_eq!(all_events(store, acme.id()).await, events, "no event");
    assert_eq!(store.outbox().outbox_depth().await.expect("depth"), depth, "no email");
}

/// Among 8 concurrent reminders of one invitation exactly one is recorded:
/// one event, one email, one new link.
pub async fn concurrent_reminders_of_one_invitation_record_exactly_one(h: Harness) {
    const RACERS: usize = 8;
    let acme = Tenant::create(h.store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    let bob = insert(
        h.store.as_ref(),
        invite(&acme, "bob@globex.test", at(0)).expiring_at(at(2000)),
    )
    .await;
    let depth = h.store.outbox().outbox_depth().await.expect("depth");
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let (record, _) = reminder(bob.invitation(), at(1500));
        let store = Arc::clone(&h.store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let outcome = store.invitations().record_reminder(&record).await;
            (record, outcome)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (record, outcome) = task.await.expect("a reminder task panicked");
        if outcome.expect("record_reminder").is_some() {
            winners.push(record);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one of {RACERS} racing reminders");
    let store = h.store.as_ref();
    let reminded: Vec<Event> = all_events(store, acme.id())
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::InvitationReminded)
        .collect();
    assert_eq!(reminded, [winners[0].event.clone()]);
    assert_eq!(store.outbox().outbox_depth().await.expect("depth"), depth + 1);
    let jobs = store
        .outbox()
        .claim_email_jobs(at(1500), 10, LEASE)
        .await
        .expect("claim");
    assert!(
        jobs.iter().any(|j| j.id == winners[0].email_job.id),
        "the winner's email"
    );
}

/// `record_reminder` MUST return `EmailCapReached`, writing nothing, when
/// the email does not fit under the cap; the invitation stays due, and a
/// reminder that fits counts against the cap like any email.
pub async fn a_reminder_over_the_email_cap_is_refused_writes_nothing_and_counts_when_it_fits(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = insert(store, invite(&acme, "bob@globex.test", at(0)).expiring_at(at(2000))).await;
    // One email queued in the reminder's hour, under a cap of one.
    let recent = invite(&acme, "carol@globex.test", at(1450));
    let queued = store
        .invitations()
        .insert_invitations(std::slice::from_ref(&recent.record), Some(EmailCap { limit: 1 }))
        .await
        .expect("insert_invitations");
    assert_eq!(queued, [Ok(())]);
    let events = all_events(store, acme.id()).await;
    let depth = store.outbox().outbox_depth().await.expect("depth");

    let (mut capped, _) = reminder(bob.invitation(), at(1500));
    capped.email_cap = Some(EmailCap { limit: 1 });
    let refused = store.invitations().record_reminder(&capped).await;
    assert!(
        matches!(refused, Err(StoreError::EmailCapReached { .. })),
        "{refused:?}"
    );
    assert_eq!(stored(store, bob.id()).await, *bob.invitation(), "nothing written");
    assert_eq!(all_events(store, acme.id()).await, events);
    assert_eq!(store.outbox().outbox_depth().await.expect("depth"), depth);
    assert_eq!(due(store, at(1500), &[], 10).await, [bob.id()], "still due");

    let (mut fits, _) = reminder(bob.invitation(), at(1500));
    fits.email_cap = Some(EmailCap { limit: 2 });
    assert!(
        store
            .invitations()
            .record_reminder(&fits)
            .await
            .expect("fits")
            .is_some()
    );
    let next = invite(&acme, "dave@globex.test", at(1510));
    let refused = store
        .invitations()
        .insert_invitations(std::slice::from_ref(&next.record), Some(EmailCap { limit: 2 }))
        .await
        .expect("insert_invitations");
    assert!(
        matches!(refused[..], [Err(StoreError::EmailCapReached { .. })]),
        "the reminder counted: {refused:?}"
    );
}

/// An expiry's notice to the sender is written with the transition, once:
/// a second expiry is a conflict and queues nothing. The notice's fate
/// never shows as the invitation's `email_delivery` (that is the invitee's
/// email's).
pub async fn an_expiry_writes_its_notice_once_and_the_notice_leaves_the_invitations_delivery(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = insert(store, invite(&acme, "bob@globex.test", at(0)).expiring_at(at(100))).await;
    let first = store.outbox().claim_email_jobs(at(0), 10, LEASE).await.expect("claim");
    assert_eq!(first.len(), 1);
    let failure = EmailOutcome::Failed {
        error: "mailbox unavailable".to_owned(),
    };
    finish_email(store, bob.job().id, &failure, at(1)).await;

    let mut expiry = expire(bob.invitation(), at(200));
    expiry.email_job = Some(notice(bob.invitation(), &acme.user, at(200)));
    store.invitations().apply_transition(&expiry).await.expect("expire");
    let mut again = expire(bob.invitation(), at(201));
    again.email_job = Some(notice(bob.invitation(), &acme.user, at(201)));
    let conflict = store.invitations().apply_transition(&again).await;
    assert!(matches!(conflict, Err(StoreError::Conflict { .. })), "{conflict:?}");

    let jobs = store
        .outbox()
        .claim_email_jobs(at(300), 10, LEASE)
        .await
        .expect("claim");
    let written = expiry.email_job.as_ref().expect("a notice");
    assert_eq!(
        jobs,
        [claimed(written, at(300), LEASE)],
        "one notice, the first expiry's"
    );
    assert_eq!(jobs[0].kind, EmailKind::ExpiryNotice);
    assert_eq!(jobs[0].to, acme.user.email);
    assert_eq!(jobs[0].link_token, None);

    finish_email(store, written.id, &EmailOutcome::sent(), at(301)).await;
    let after = stored(store, bob.id()).await;
    assert_eq!(after.status(), InvitationStatus::Expired);
    assert_eq!(
        after.email_delivery(),
        Some(EmailDelivery::Failed),
        "the invitee's email failed"
    );
}
