//! The email outbox: `claim_email_jobs`, `finish_email_jobs`, and their
//! mirror on `Invitation::email_delivery` (releases, batches, age and
//! pruning are in `outbox_rounds`).

use std::collections::BTreeSet;
use std::sync::Arc;

use rsvp_app::{EmailJob, EmailOutcome, EmailProvider, EmailReport, ReportOutcome};
use rsvp_domain::{EmailDelivery, EmailFeedback, EmailJobId, EventId, SuppressionId};
use time::Duration;
use tokio::sync::Barrier;

use crate::Harness;
use crate::fixtures::finish_email;
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
            .outbox()
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
        .outbox()
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(first, [claimed(invite.job(), at(0), LEASE)]);
    let during = store
        .outbox()
        .claim_email_jobs(at(0) + LEASE - Duration::seconds(1), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert!(during.is_empty(), "a leased job must not be claimed again");
    let after = store
        .outbox()
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
            store.outbox().claim_email_jobs(at(100), LIMIT, LEASE).await
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
        .outbox()
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
        .outbox()
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&first), [bob.job().id]);
    let resent = crate::fixtures::resend(bob.invitation(), at(100), false);
    store
        .invitations()
        .record_resend(&resent.record)
        .await
        .expect("record_resend");
    let failure = EmailOutcome::Failed {
        error: "mailbox unavailable".to_owned(),
    };
    finish_email(store, bob.job().id, &failure, at(101)).await;
    let stored = store
        .invitations()
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
        .outbox()
        .claim_email_jobs(at(200), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    finish_email(store, resent.record.email_job.id, &EmailOutcome::sent(), at(201)).await;
    let stored = store
        .invitations()
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
    assert_eq!(store.outbox().outbox_depth().await.expect("outbox_depth"), 0);
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let first = invited(store, &acme, "a@x.test", at(0)).await;
    let second = invited(store, &acme, "b@x.test", at(0)).await;
    invited(store, &acme, "c@x.test", at(0)).await;
    assert_eq!(store.outbox().outbox_depth().await.expect("outbox_depth"), 3);
    store
        .outbox()
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(
        store.outbox().outbox_depth().await.expect("outbox_depth"),
        3,
        "claimed jobs are still queued"
    );
    finish_email(store, first.job().id, &EmailOutcome::sent(), at(1)).await;
    let retry = EmailOutcome::Retry {
        retry_at: at(100),
        error: "451".to_owned(),
    };
    finish_email(store, second.job().id, &retry, at(1)).await;
    assert_eq!(
        store.outbox().outbox_depth().await.expect("outbox_depth"),
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
        .outbox()
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(jobs.len(), 2);

    finish_email(store, invite.job().id, &EmailOutcome::sent(), at(1)).await;
    let stored = store
        .invitations()
        .get_invitation(invite.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(stored.email_delivery(), Some(EmailDelivery::Sent));
    let untouched = store
        .invitations()
        .get_invitation(other.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(untouched.email_delivery(), Some(EmailDelivery::Queued));

    let later = store
        .outbox()
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
        .outbox()
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&first), [invite.job().id]);

    let outcome = EmailOutcome::Retry {
        retry_at: at(300),
        error: "451 try again later".to_owned(),
    };
    finish_email(store, invite.job().id, &outcome, at(1)).await;
    let stored = store
        .invitations()
        .get_invitation(invite.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(stored.email_delivery(), Some(EmailDelivery::Queued));

    let early = store
        .outbox()
        .claim_email_jobs(at(299), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert!(early.is_empty(), "not before retry_at");
    let again = store
        .outbox()
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
        .outbox()
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");

    let outcome = EmailOutcome::Failed {
        error: "550 no such user".to_owned(),
    };
    finish_email(store, invite.job().id, &outcome, at(1)).await;
    let stored = store
        .invitations()
        .get_invitation(invite.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(stored.email_delivery(), Some(EmailDelivery::Failed));
    let later = store
        .outbox()
        .claim_email_jobs(at(10_000), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert!(later.is_empty(), "a failed job is never claimed again");
}

/// `finish_email_jobs` skips a job that does not exist (whatever the
/// outcome) and counts only the jobs it found.
pub async fn finishing_an_unknown_job_skips_it_and_counts_only_the_jobs_found(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let known = invited(store, &acme, "bob@globex.test", at(0)).await;
    let unknown = EmailJobId::from_uuid(new_uuid());
    for outcome in [
        EmailOutcome::sent(),
        EmailOutcome::Retry {
            retry_at: at(10),
            error: "x".to_owned(),
        },
        EmailOutcome::Failed { error: "x".to_owned() },
    ] {
        assert_eq!(
            store.outbox().finish_email_jobs(&[(unknown, outcome)], at(1)).await,
            Ok(0)
        );
    }
    assert_eq!(
        store
            .outbox()
            .finish_email_jobs(
                &[(unknown, EmailOutcome::sent()), (known.job().id, EmailOutcome::sent())],
                at(1)
            )
            .await,
        Ok(1)
    );
}

/// A job finished as sent with the provider's message id stores it: a
/// provider report that names the email only by that id
/// (`record_email_report` without a job id) finds the job and applies to
/// its invitation; an id no job was sent with finds nothing.
pub async fn a_job_sent_with_a_provider_message_id_is_found_by_it(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = invited(store, &acme, "bob@globex.test", at(0)).await;
    let carol = invited(store, &acme, "carol@globex.test", at(0)).await;
    store
        .outbox()
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    let sent = EmailOutcome::Sent {
        provider_message_id: Some("b7bc2f4a-e38e-4336-af7d-e6c392c2f817".to_owned()),
    };
    finish_email(store, bob.job().id, &sent, at(1)).await;
    finish_email(store, carol.job().id, &EmailOutcome::sent(), at(1)).await;

    let report = |report_id: &str, provider_message_id: &str| EmailReport {
        provider: EmailProvider::Postmark,
        report_id: report_id.to_owned(),
        job_id: None,
        provider_message_id: Some(provider_message_id.to_owned()),
        feedback: EmailFeedback::Delivered,
        received_at: at(5),
        event_id: EventId::from_uuid(new_uuid()),
        suppression_id: SuppressionId::from_uuid(new_uuid()),
    };
    let outcome = store
        .feedback()
        .record_email_report(&report("delivery-1", "b7bc2f4a-e38e-4336-af7d-e6c392c2f817"))
        .await
        .expect("record_email_report");
    let ReportOutcome::Applied { invitation, .. } = outcome else {
        panic!("the report should find the job by its provider message id: {outcome:?}");
    };
    assert_eq!(invitation.id(), bob.id());
    assert_eq!(invitation.email_delivery(), Some(EmailDelivery::Delivered));
    assert_eq!(
        store
            .feedback()
            .record_email_report(&report("delivery-2", "no-job-was-sent-with-this-id"))
            .await
            .expect("record_email_report"),
        ReportOutcome::UnknownEmail
    );
}
