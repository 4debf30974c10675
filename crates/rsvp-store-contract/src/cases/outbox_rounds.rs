//! The outbox beyond one job: releasing what a round claimed, finishing
//! several jobs at once, the age of the oldest queued email, pruning.

use crate::Harness;
use crate::fixtures::finish_email;
use crate::fixtures::{LEASE, Tenant, at, claimed, invited, job_ids, new_uuid};
use rsvp_app::EmailOutcome;
use rsvp_domain::{EmailDelivery, EmailJobId};
use time::Duration;

/// A released job is due again at once, its attempt uncounted: a
/// dispatcher that could not handle what it claimed gives it back instead
/// of parking it until the lease ends. Jobs it did not claim are untouched.
pub async fn a_released_job_is_due_again_at_once_with_its_attempt_uncounted(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = invited(store, &acme, "bob@globex.test", at(0)).await;
    let carol = invited(store, &acme, "carol@globex.test", at(1)).await;
    let claimed_jobs = store
        .outbox()
        .claim_email_jobs(at(10), 1, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&claimed_jobs), [bob.job().id]);

    let released = store
        .outbox()
        .release_email_jobs(&claimed_jobs, at(11))
        .await
        .expect("release_email_jobs");
    assert_eq!(released, 1);
    let again = store
        .outbox()
        .claim_email_jobs(at(11), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(
        again,
        [claimed(bob.job(), at(11), LEASE), claimed(carol.job(), at(11), LEASE)],
        "the released job is due at once and counts one attempt, not two"
    );
    assert_eq!(again[0].attempts, 1);
}

/// A release leaves alone a job since finished, and a job claimed again by
/// another caller after the lease ended (its lease is no longer the one
/// released).
pub async fn a_release_leaves_jobs_finished_or_claimed_again_since(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = invited(store, &acme, "bob@globex.test", at(0)).await;
    let carol = invited(store, &acme, "carol@globex.test", at(1)).await;
    let first = store
        .outbox()
        .claim_email_jobs(at(10), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&first), [bob.job().id, carol.job().id]);
    finish_email(store, bob.job().id, &EmailOutcome::sent(), at(12)).await;
    // The first claimer stalls past its lease; another claims carol's job.
    let second = store
        .outbox()
        .claim_email_jobs(at(10) + LEASE, 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&second), [carol.job().id]);

    let released = store
        .outbox()
        .release_email_jobs(&first, at(10) + LEASE + Duration::seconds(1))
        .await
        .expect("release_email_jobs");
    assert_eq!(released, 0, "neither job is the first claimer's any more");
    assert!(
        store
            .outbox()
            .claim_email_jobs(at(10) + LEASE + Duration::seconds(2), 10, LEASE)
            .await
            .expect("claim_email_jobs")
            .is_empty(),
        "the sent job stays sent and the second claim keeps its lease"
    );
    assert_eq!(store.outbox().outbox_depth().await.expect("outbox_depth"), 1);
    assert_eq!(
        store
            .outbox()
            .release_email_jobs(&[], at(100))
            .await
            .expect("release_email_jobs"),
        0
    );
}

/// The oldest queued email is the `created_at` of the oldest job still
/// queued (claimed or waiting for a retry included); finished jobs do not
/// count, and an empty outbox has none.
pub async fn the_oldest_queued_email_is_the_oldest_job_still_queued(h: Harness) {
    let store = h.store.as_ref();
    assert_eq!(
        store.outbox().oldest_queued_email().await.expect("oldest_queued_email"),
        None
    );
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let first = invited(store, &acme, "a@x.test", at(5)).await;
    invited(store, &acme, "b@x.test", at(7)).await;
    assert_eq!(
        store.outbox().oldest_queued_email().await.expect("oldest_queued_email"),
        Some(at(5))
    );
    store
        .outbox()
        .claim_email_jobs(at(10), 1, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(
        store.outbox().oldest_queued_email().await.expect("oldest_queued_email"),
        Some(at(5)),
        "a claimed job is still queued"
    );
    finish_email(store, first.job().id, &EmailOutcome::sent(), at(11)).await;
    assert_eq!(
        store.outbox().oldest_queued_email().await.expect("oldest_queued_email"),
        Some(at(7))
    );
}

/// Finished jobs (sent or failed) that finished before the cut-off are
/// deleted, oldest first, at most `limit` per call; queued jobs (due,
/// claimed or waiting for a retry) never are, and the invitations keep
/// their `email_delivery`.
pub async fn finished_email_jobs_are_pruned_oldest_first_in_batches_and_queued_ones_never(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let sent_early = invited(store, &acme, "a@x.test", at(0)).await;
    let failed = invited(store, &acme, "b@x.test", at(0)).await;
    let sent_late = invited(store, &acme, "c@x.test", at(0)).await;
    let retrying = invited(store, &acme, "d@x.test", at(0)).await;
    let _queued = invited(store, &acme, "e@x.test", at(0)).await;
    store
        .outbox()
        .claim_email_jobs(at(0), 4, LEASE)
        .await
        .expect("claim_email_jobs");
    let finish = |job: EmailJobId, outcome: EmailOutcome, now| async move {
        finish_email(store, job, &outcome, now).await;
    };
    finish(sent_early.job().id, EmailOutcome::sent(), at(10)).await;
    let gave_up = EmailOutcome::Failed {
        error: "550".to_owned(),
    };
    finish(failed.job().id, gave_up, at(20)).await;
    finish(sent_late.job().id, EmailOutcome::sent(), at(1000)).await;
    let retry = EmailOutcome::Retry {
        retry_at: at(5000),
        error: "451".to_owned(),
    };
    finish(retrying.job().id, retry, at(30)).await;

    let prune = |before, limit| async move {
        store
            .outbox()
            .prune_email_jobs(before, limit)
            .await
            .expect("prune_email_jobs")
    };
    assert_eq!(prune(at(500), 1).await, 1, "one batch of one");
    assert_eq!(prune(at(500), 10).await, 1, "the other one finished before the cut-off");
    assert_eq!(prune(at(500), 10).await, 0, "nothing else finished before it");
    assert_eq!(
        store.outbox().outbox_depth().await.expect("outbox_depth"),
        2,
        "queued jobs stay"
    );
    let stored = store
        .invitations()
        .get_invitation(sent_early.id())
        .await
        .expect("get_invitation")
        .expect("the invitation stays");
    assert_eq!(stored.email_delivery(), Some(EmailDelivery::Sent));
    assert_eq!(prune(at(100_000), 10).await, 1, "the late one, and never a queued job");
    assert_eq!(store.outbox().outbox_depth().await.expect("outbox_depth"), 2);
    let due = store
        .outbox()
        .claim_email_jobs(at(100_000), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(due.len(), 2, "the retrying and the queued job are still there");
}

/// `finish_email_jobs` records each outcome of a group exactly as
/// finishing each alone would (status, retry time and error, link token kept
/// only for a retry, the invitation's `email_delivery`), skips a job that
/// does not exist, and returns how many it found; an empty group writes
/// nothing.
pub async fn finishing_several_jobs_at_once_records_each_as_finishing_one_would(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let sent = invited(store, &acme, "p1@partner.test", at(0)).await;
    let retried = invited(store, &acme, "p2@partner.test", at(0)).await;
    let failed = invited(store, &acme, "p3@partner.test", at(0)).await;
    let jobs = store
        .outbox()
        .claim_email_jobs(at(1), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(jobs.len(), 3);

    assert_eq!(
        store
            .outbox()
            .finish_email_jobs(&[], at(2))
            .await
            .expect("finish_email_jobs"),
        0
    );
    let outcomes = [
        (sent.job().id, EmailOutcome::sent()),
        (
            retried.job().id,
            EmailOutcome::Retry {
                retry_at: at(500),
                error: "451 try later".into(),
            },
        ),
        (
            failed.job().id,
            EmailOutcome::Failed {
                error: "550 no such user".into(),
            },
        ),
        (EmailJobId::from_uuid(new_uuid()), EmailOutcome::sent()),
    ];
    let found = store
        .outbox()
        .finish_email_jobs(&outcomes, at(2))
        .await
        .expect("finish_email_jobs");
    assert_eq!(found, 3, "the unknown job is skipped");

    for (invite, delivery) in [
        (&sent, EmailDelivery::Sent),
        (&retried, EmailDelivery::Queued),
        (&failed, EmailDelivery::Failed),
    ] {
        let stored = store
            .invitations()
            .get_invitation(invite.id())
            .await
            .expect("get_invitation")
            .expect("stored");
        assert_eq!(stored.email_delivery(), Some(delivery));
    }
    let early = store
        .outbox()
        .claim_email_jobs(at(499), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert!(
        early.is_empty(),
        "done jobs never come back, the retry not before its time: {early:?}"
    );
    let again = store
        .outbox()
        .claim_email_jobs(at(500), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&again), [retried.job().id]);
    assert_eq!(again[0].last_error.as_deref(), Some("451 try later"));
    assert_eq!(
        again[0].link_token.as_ref().map(|t| t.expose()),
        Some(retried.token.expose()),
        "a retry keeps its link token"
    );
}
