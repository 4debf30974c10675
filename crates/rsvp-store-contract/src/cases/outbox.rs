//! The email outbox: `claim_email_jobs`, `finish_email_job`, and their
//! mirror on `Invitation::email_delivery`.

use std::collections::BTreeSet;
use std::sync::Arc;

use rsvp_app::{EmailJob, EmailOutcome, StoreError};
use rsvp_domain::{EmailDelivery, EmailJobId};
use time::Duration;
use tokio::sync::Barrier;

use crate::Harness;
use crate::fixtures::{LEASE, Tenant, at, claimed, insert, invite, invited, job_ids, new_uuid};

/// Claiming returns queued jobs due at `now`, oldest first, at most `limit`,
/// each leased (`next_attempt_at = now + lease`) with its attempt counted
/// and its link token; jobs not yet due are left, invitations created
/// without email have none.
pub async fn claiming_returns_due_queued_jobs_oldest_first_and_counts_the_attempt(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let first = invited(store, &acme, "p1@partner.test", at(0)).await;
    let second = invited(store, &acme, "p2@partner.test", at(10)).await;
    let third = invited(store, &acme, "p3@partner.test", at(20)).await;
    let _silent = insert(store, invite(&acme, "p4@partner.test", at(5)).without_email()).await;

    let claim = |now, limit| async move {
        store
            .claim_email_jobs(now, limit, LEASE)
            .await
            .expect("claim_email_jobs")
    };
    assert_eq!(claim(at(15), 1).await, [claimed(first.job(), at(15), LEASE)]);
    let rest = claim(at(15), 10).await;
    assert_eq!(rest, [claimed(second.job(), at(15), LEASE)], "the third is not due yet");
    assert_eq!(rest[0].attempts, 1);
    assert_eq!(
        rest[0].link_token.as_ref().map(|t| t.expose()),
        Some(second.token.expose())
    );
    assert_eq!(claim(at(20), 10).await, [claimed(third.job(), at(20), LEASE)]);
    assert!(claim(at(20), 10).await.is_empty(), "every due job is leased");
}

/// A claimed job is not returned again before its lease ends, and is
/// returned once it has, with a second attempt counted.
pub async fn a_claimed_job_is_not_claimed_again_before_its_lease_ends(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let invite = invited(store, &acme, "bob@globex.test", at(0)).await;

    let first = store
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(first, [claimed(invite.job(), at(0), LEASE)]);
    let during = store
        .claim_email_jobs(at(0) + LEASE - Duration::seconds(1), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert!(during.is_empty(), "a leased job must not be claimed again");
    let after = store
        .claim_email_jobs(at(0) + LEASE, 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(after, [claimed(&first[0], at(0) + LEASE, LEASE)]);
    assert_eq!(after[0].attempts, 2);
}

/// "A job claimed by one caller is not returned to another before its lease
/// ends, even when several claim at once": 8 concurrent claimers never get
/// the same job, and what they leave is claimed afterwards.
pub async fn concurrent_claimers_never_get_the_same_job(h: Harness) {
    const CLAIMERS: usize = 8;
    const JOBS: usize = 20;
    const LIMIT: usize = 3;
    let acme = Tenant::create(h.store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    let mut all = BTreeSet::new();
    for n in 0..JOBS {
        let invite = invited(h.store.as_ref(), &acme, &format!("p{n}@partner.test"), at(0)).await;
        all.insert(invite.job().id);
    }

    let barrier = Arc::new(Barrier::new(CLAIMERS));
    let mut tasks = Vec::new();
    for _ in 0..CLAIMERS {
        let store = Arc::clone(&h.store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.claim_email_jobs(at(100), LIMIT, LEASE).await
        }));
    }
    let mut claimed_by: Vec<Vec<EmailJob>> = Vec::new();
    for task in tasks {
        let jobs = task.await.expect("a claiming task panicked").expect("claim_email_jobs");
        assert!(
            jobs.len() <= LIMIT,
            "a claim returned {} jobs, more than {LIMIT}",
            jobs.len()
        );
        claimed_by.push(jobs);
    }
    let mut seen = BTreeSet::new();
    for job in claimed_by.iter().flatten() {
        assert!(seen.insert(job.id), "job {} was claimed twice", job.id);
        assert_eq!(job.attempts, 1);
    }
    let leftovers = h
        .store
        .claim_email_jobs(at(100), JOBS, LEASE)
        .await
        .expect("claim_email_jobs");
    for job in &leftovers {
        assert!(seen.insert(job.id), "job {} was claimed twice", job.id);
    }
    assert_eq!(seen, all, "every job is claimed exactly once");
}

/// The invitation shows the fate of its latest email: an older job that
/// finishes after a resend queued a newer one does not overwrite it.
pub async fn an_older_job_finishing_after_a_resend_leaves_the_delivery_of_the_latest(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = invited(store, &acme, "bob@globex.test", at(0)).await;
    let first = store
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&first), [bob.job().id]);
    let resent = crate::fixtures::resend(bob.invitation(), at(100), false);
    store.record_resend(&resent.record).await.expect("record_resend");
    let failure = EmailOutcome::Failed {
        error: "mailbox unavailable".to_owned(),
    };
    store
        .finish_email_job(bob.job().id, &failure, at(101))
        .await
        .expect("finish_email_job");
    let stored = store
        .get_invitation(bob.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(
        stored.email_delivery(),
        Some(EmailDelivery::Queued),
        "the resend's email is still queued"
    );
    store
        .claim_email_jobs(at(200), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    store
        .finish_email_job(resent.record.email_job.id, &EmailOutcome::Sent, at(201))
        .await
        .expect("finish_email_job");
    let stored = store
        .get_invitation(bob.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(stored.email_delivery(), Some(EmailDelivery::Sent));
}

/// The outbox depth counts queued jobs, due or waiting for a retry, and
/// not the finished ones.
pub async fn the_outbox_depth_counts_queued_jobs(h: Harness) {
    let store = h.store.as_ref();
    assert_eq!(store.outbox_depth().await.expect("outbox_depth"), 0);
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let first = invited(store, &acme, "a@x.test", at(0)).await;
    let second = invited(store, &acme, "b@x.test", at(0)).await;
    invited(store, &acme, "c@x.test", at(0)).await;
    assert_eq!(store.outbox_depth().await.expect("outbox_depth"), 3);
    store
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(
        store.outbox_depth().await.expect("outbox_depth"),
        3,
        "claimed jobs are still queued"
    );
    store
        .finish_email_job(first.job().id, &EmailOutcome::Sent, at(1))
        .await
        .expect("finish_email_job");
    let retry = EmailOutcome::Retry {
        retry_at: at(100),
        error: "451".to_owned(),
    };
    store
        .finish_email_job(second.job().id, &retry, at(1))
        .await
        .expect("finish_email_job");
    assert_eq!(
        store.outbox_depth().await.expect("outbox_depth"),
        2,
        "sent is gone, the retry still counts"
    );
}

/// `Sent` ends the job for good and sets the invitation's `email_delivery`
/// to `sent`.
pub async fn a_sent_job_is_done_and_marks_the_invitation_sent(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let invite = invited(store, &acme, "bob@globex.test", at(0)).await;
    let other = invited(store, &acme, "carol@globex.test", at(0)).await;
    let jobs = store
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(jobs.len(), 2);

    store
        .finish_email_job(invite.job().id, &EmailOutcome::Sent, at(1))
        .await
        .expect("finish_email_job");
    let stored = store
        .get_invitation(invite.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(stored.email_delivery(), Some(EmailDelivery::Sent));
    let untouched = store
        .get_invitation(other.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(untouched.email_delivery(), Some(EmailDelivery::Queued));

    let later = store
        .claim_email_jobs(at(10_000), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&later), [other.job().id], "a sent job is never claimed again");
}

/// `Retry` puts the job back in the queue until `retry_at`, keeping its
/// error and token; the invitation's `email_delivery` stays `queued`.
pub async fn a_retried_job_comes_back_at_its_retry_time_with_its_error(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let invite = invited(store, &acme, "bob@globex.test", at(0)).await;
    let first = store
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&first), [invite.job().id]);

    let outcome = EmailOutcome::Retry {
        retry_at: at(300),
        error: "451 try again later".to_owned(),
    };
    store
        .finish_email_job(invite.job().id, &outcome, at(1))
        .await
        .expect("finish_email_job");
    let stored = store
        .get_invitation(invite.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(stored.email_delivery(), Some(EmailDelivery::Queued));

    let early = store
        .claim_email_jobs(at(299), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert!(early.is_empty(), "not before retry_at");
    let again = store
        .claim_email_jobs(at(300), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    let expected = EmailJob {
        attempts: 2,
        next_attempt_at: at(300) + LEASE,
        last_error: Some("451 try again later".to_owned()),
        ..invite.job().clone()
    };
    assert_eq!(again, [expected]);
}

/// `Failed` ends the job for good and sets the invitation's `email_delivery`
/// to `failed`.
pub async fn a_failed_job_is_done_and_marks_the_invitation_failed(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let invite = invited(store, &acme, "bob@globex.test", at(0)).await;
    store
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");

    let outcome = EmailOutcome::Failed {
        error: "550 no such user".to_owned(),
    };
    store
        .finish_email_job(invite.job().id, &outcome, at(1))
        .await
        .expect("finish_email_job");
    let stored = store
        .get_invitation(invite.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(stored.email_delivery(), Some(EmailDelivery::Failed));
    let later = store
        .claim_email_jobs(at(10_000), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert!(later.is_empty(), "a failed job is never claimed again");
}

/// `finish_email_job` returns `NotFound` when there is no such job.
pub async fn finishing_an_unknown_job_is_not_found(h: Harness) {
    let store = h.store.as_ref();
    let unknown = EmailJobId::from_uuid(new_uuid());
    for outcome in [
        EmailOutcome::Sent,
        EmailOutcome::Retry {
            retry_at: at(10),
            error: "x".to_owned(),
        },
        EmailOutcome::Failed { error: "x".to_owned() },
    ] {
        assert_eq!(
            store.finish_email_job(unknown, &outcome, at(1)).await,
            Err(StoreError::NotFound)
        );
    }
}

/// A released job is due again at once, its attempt uncounted: a
/// dispatcher that could not handle what it claimed gives it back instead
/// of parking it until the lease ends. Jobs it did not claim are untouched.
pub async fn a_released_job_is_due_again_at_once_with_its_attempt_uncounted(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = invited(store, &acme, "bob@globex.test", at(0)).await;
    let carol = invited(store, &acme, "carol@globex.test", at(1)).await;
    let claimed_jobs = store
        .claim_email_jobs(at(10), 1, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&claimed_jobs), [bob.job().id]);

    let released = store
        .release_email_jobs(&claimed_jobs, at(11))
        .await
        .expect("release_email_jobs");
    assert_eq!(released, 1);
    let again = store
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
        .claim_email_jobs(at(10), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&first), [bob.job().id, carol.job().id]);
    store
        .finish_email_job(bob.job().id, &EmailOutcome::Sent, at(12))
        .await
        .expect("finish_email_job");
    // The first claimer stalls past its lease; another claims carol's job.
    let second = store
        .claim_email_jobs(at(10) + LEASE, 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&second), [carol.job().id]);

    let released = store
        .release_email_jobs(&first, at(10) + LEASE + Duration::seconds(1))
        .await
        .expect("release_email_jobs");
    assert_eq!(released, 0, "neither job is the first claimer's any more");
    assert!(
        store
            .claim_email_jobs(at(10) + LEASE + Duration::seconds(2), 10, LEASE)
            .await
            .expect("claim_email_jobs")
            .is_empty(),
        "the sent job stays sent and the second claim keeps its lease"
    );
    assert_eq!(store.outbox_depth().await.expect("outbox_depth"), 1);
    assert_eq!(
        store
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
    assert_eq!(store.oldest_queued_email().await.expect("oldest_queued_email"), None);
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let first = invited(store, &acme, "a@x.test", at(5)).await;
    invited(store, &acme, "b@x.test", at(7)).await;
    assert_eq!(
        store.oldest_queued_email().await.expect("oldest_queued_email"),
        Some(at(5))
    );
    store
        .claim_email_jobs(at(10), 1, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(
        store.oldest_queued_email().await.expect("oldest_queued_email"),
        Some(at(5)),
        "a claimed job is still queued"
    );
    store
        .finish_email_job(first.job().id, &EmailOutcome::Sent, at(11))
        .await
        .expect("finish_email_job");
    assert_eq!(
        store.oldest_queued_email().await.expect("oldest_queued_email"),
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
    store.claim_email_jobs(at(0), 4, LEASE).await.expect("claim_email_jobs");
    let finish = |job: EmailJobId, outcome: EmailOutcome, now| async move {
        store
            .finish_email_job(job, &outcome, now)
            .await
            .expect("finish_email_job");
    };
    finish(sent_early.job().id, EmailOutcome::Sent, at(10)).await;
    let gave_up = EmailOutcome::Failed {
        error: "550".to_owned(),
    };
    finish(failed.job().id, gave_up, at(20)).await;
    finish(sent_late.job().id, EmailOutcome::Sent, at(1000)).await;
    let retry = EmailOutcome::Retry {
        retry_at: at(5000),
        error: "451".to_owned(),
    };
    finish(retrying.job().id, retry, at(30)).await;

    let prune = |before, limit| async move { store.prune_email_jobs(before, limit).await.expect("prune_email_jobs") };
    assert_eq!(prune(at(500), 1).await, 1, "one batch of one");
    assert_eq!(prune(at(500), 10).await, 1, "the other one finished before the cut-off");
    assert_eq!(prune(at(500), 10).await, 0, "nothing else finished before it");
    assert_eq!(store.outbox_depth().await.expect("outbox_depth"), 2, "queued jobs stay");
    let stored = store
        .get_invitation(sent_early.id())
        .await
        .expect("get_invitation")
        .expect("the invitation stays");
    assert_eq!(stored.email_delivery(), Some(EmailDelivery::Sent));
    assert_eq!(prune(at(100_000), 10).await, 1, "the late one, and never a queued job");
    assert_eq!(store.outbox_depth().await.expect("outbox_depth"), 2);
    let due = store
        .claim_email_jobs(at(100_000), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(due.len(), 2, "the retrying and the queued job are still there");
}

/// `finish_email_jobs` records each outcome of a group exactly as
/// `finish_email_job` would (status, retry time and error, link token kept
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
        .claim_email_jobs(at(1), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(jobs.len(), 3);

    assert_eq!(store.finish_email_jobs(&[], at(2)).await.expect("finish_email_jobs"), 0);
    let outcomes = [
        (sent.job().id, EmailOutcome::Sent),
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
        (EmailJobId::from_uuid(new_uuid()), EmailOutcome::Sent),
    ];
    let found = store
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
            .get_invitation(invite.id())
            .await
            .expect("get_invitation")
            .expect("stored");
        assert_eq!(stored.email_delivery(), Some(delivery));
    }
    let early = store
        .claim_email_jobs(at(499), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert!(
        early.is_empty(),
        "done jobs never come back, the retry not before its time: {early:?}"
    );
    let again = store
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
