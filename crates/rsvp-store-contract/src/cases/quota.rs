//! The per-business email cap: `emails_queued_since`.

use rsvp_app::{EmailOutcome, EmailsQueued};

use crate::Harness;
use crate::fixtures::{LEASE, Tenant, at, insert, invite, invited, resend};

/// Only the jobs of invitations sent by the business count, only those
/// queued at or after `since`, whatever became of them since (claimed, sent);
/// the oldest counted one is named.
pub async fn emails_queued_since_counts_only_that_business_jobs_within_the_window(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "gil@globex.test", at(0)).await;
    invited(store, &acme, "p1@partner.test", at(10)).await;
    let sent = invited(store, &acme, "p2@partner.test", at(20)).await;
    invited(store, &acme, "p3@partner.test", at(30)).await;
    invited(store, &globex, "p4@partner.test", at(25)).await;
    let claimed = store
        .outbox()
        .claim_email_jobs(at(40), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(claimed.len(), 4);
    store
        .outbox()
        .finish_email_job(sent.job().id, &EmailOutcome::Sent, at(41))
        .await
        .expect("finish_email_job");

    let count = |business, since| async move {
        store
            .outbox()
            .emails_queued_since(business, since)
            .await
            .expect("emails_queued_since")
    };
    assert_eq!(
        count(acme.id(), at(0)).await,
        EmailsQueued {
            count: 3,
            oldest: Some(at(10))
        }
    );
    assert_eq!(
        count(acme.id(), at(20)).await,
        EmailsQueued {
            count: 2,
            oldest: Some(at(20))
        },
        "a job queued exactly at `since` counts; a sent one still counts"
    );
    assert_eq!(
        count(acme.id(), at(31)).await,
        EmailsQueued::default(),
        "nothing queued since"
    );
    assert_eq!(
        count(globex.id(), at(0)).await,
        EmailsQueued {
            count: 1,
            oldest: Some(at(25))
        }
    );
}

/// An invitation created with `send_email: false` queued no job and counts
/// nothing; a resend queues one and counts like a create.
pub async fn emails_queued_since_counts_resends_and_not_invitations_created_without_email(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let silent = insert(store, invite(&acme, "quiet@partner.test", at(10)).without_email()).await;
    let queued = store
        .outbox()
        .emails_queued_since(acme.id(), at(0))
        .await
        .expect("emails_queued_since");
    assert_eq!(queued, EmailsQueued::default(), "no email, no count");

    store
        .invitations()
        .record_resend(&resend(silent.invitation(), at(100), false).record)
        .await
        .expect("record_resend");
    let queued = store
        .outbox()
        .emails_queued_since(acme.id(), at(0))
        .await
        .expect("emails_queued_since");
    assert_eq!(
        queued,
        EmailsQueued {
            count: 1,
            oldest: Some(at(100))
        },
        "the resend's email counts"
    );
}
