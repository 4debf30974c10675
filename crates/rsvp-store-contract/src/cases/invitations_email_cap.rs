//! The per-business email cap ([`EmailCap`]): counted atomically with the
//! writes that queue email (`create_invitation`, `insert_invitations`,
//! `record_resend`), exact under concurrency, in a window that rolls by
//! the minute.

use std::sync::Arc;

use rsvp_app::{CreateOutcome, EmailCap, StoreError};
use time::Duration;
use tokio::sync::Barrier;

use crate::Harness;
use crate::fixtures::{LEASE, Tenant, all_sent, at, insert, invite, query, resend};

/// The refusal of an email whose window's oldest bucket is that of `at`.
fn cap_reached(oldest: time::OffsetDateTime) -> StoreError {
    StoreError::EmailCapReached {
        retry_at: EmailCap::leaves_window_at(EmailCap::minute_of(oldest)),
    }
}

/// 32 creates of one business at once against a cap of 10 queue exactly 10
/// emails; the others are refused with `EmailCapReached` and write nothing.
pub async fn concurrent_creates_never_queue_more_emails_than_the_cap(h: Harness) {
    const RACERS: usize = 32;
    let cap = Some(EmailCap { limit: 10 });
    let acme = Tenant::create(h.store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for n in 0..RACERS {
        let candidate = invite(&acme, &format!("p{n}@partner.test"), at(10));
        let store = Arc::clone(&h.store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.invitations().create_invitation(&candidate.record, cap).await
        }));
    }
    let (mut created, mut refused) = (0, 0);
    for task in tasks {
        match task.await.expect("a create task panicked") {
            Ok(CreateOutcome::Created { .. }) => created += 1,
            Err(error) => {
                assert_eq!(error, cap_reached(at(10)));
                refused += 1;
            }
            Ok(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        (created, refused),
        (10, RACERS - 10),
        "exactly the cap's worth is written"
    );
    let store = h.store.as_ref();
    assert_eq!(all_sent(store, acme.id(), query(at(20))).await.len(), 10);
    let jobs = store
        .outbox()
        .claim_email_jobs(at(20), 100, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(jobs.len(), 10, "exactly 10 emails queued");
}

/// Creates, bulks and resends of one business share its cap; emails never
/// queued (`send_email: false`) count nothing; another business has its own.
pub async fn creates_bulks_and_resends_share_the_cap_and_emails_never_queued_count_nothing(h: Harness) {
    let store = h.store.as_ref();
    let cap = Some(EmailCap { limit: 3 });
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "gil@globex.test", at(0)).await;
    for n in 0..2 {
        let silent = invite(&acme, &format!("quiet{n}@partner.test"), at(10)).without_email();
        assert!(matches!(
            store.invitations().create_invitation(&silent.record, cap).await,
            Ok(CreateOutcome::Created { .. })
        ));
    }
    let first = invite(&acme, "first@partner.test", at(10));
    assert!(matches!(
        store.invitations().create_invitation(&first.record, cap).await,
        Ok(CreateOutcome::Created { .. })
    ));
    let bulk = [
        invite(&acme, "b1@partner.test", at(11)),
        invite(&acme, "b2@partner.test", at(11)),
        invite(&acme, "b3@partner.test", at(11)),
        invite(&acme, "b4@partner.test", at(11)).without_email(),
    ];
    let records: Vec<_> = bulk.iter().map(|i| i.record.clone()).collect();
    let results = store
        .invitations()
        .insert_invitations(&records, cap)
        .await
        .expect("insert_invitations");
    assert_eq!(
        results,
        [Ok(()), Ok(()), Err(cap_reached(at(10))), Ok(())],
        "request order decides which items fit"
    );
    assert_eq!(
        store
            .invitations()
            .get_invitation(bulk[2].id())
            .await
            .expect("get_invitation"),
        None,
        "the refused item writes nothing"
    );
    let mut resent = resend(first.invitation(), at(100), false).record;
    resent.email_cap = cap;
    assert_eq!(
        store.invitations().record_resend(&resent).await,
        Err(cap_reached(at(10)))
    );
    let after = store
        .invitations()
        .get_invitation(first.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(
        after.last_sent_at(),
        first.invitation().last_sent_at(),
        "the refused resend writes nothing"
    );
    let jobs = store
        .outbox()
        .claim_email_jobs(at(200), 100, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(jobs.len(), 3, "three emails: the cap");

    let theirs = invite(&globex, "first@partner.test", at(12));
    assert!(
        matches!(
            store.invitations().create_invitation(&theirs.record, cap).await,
            Ok(CreateOutcome::Created { .. })
        ),
        "another business has its own cap"
    );
}

/// An email counts for the whole hour after its minute and no longer; the
/// refusal names when room comes back, and then it does.
pub async fn the_cap_window_rolls_by_the_minute_and_the_refusal_says_when_room_comes_back(h: Harness) {
    let store = h.store.as_ref();
    let cap = Some(EmailCap { limit: 2 });
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    insert(store, invite(&acme, "seeded@partner.test", at(1)).without_email()).await;
    for (n, when) in [at(10), at(10) + Duration::minutes(30)].into_iter().enumerate() {
        let candidate = invite(&acme, &format!("p{n}@partner.test"), when);
        assert!(matches!(
            store.invitations().create_invitation(&candidate.record, cap).await,
            Ok(CreateOutcome::Created { .. })
        ));
    }
    let room_at = EmailCap::leaves_window_at(EmailCap::minute_of(at(10)));
    assert!(
        room_at >= at(10) + Duration::HOUR,
        "an email counts a whole hour at least"
    );
    assert!(room_at <= at(10) + Duration::HOUR + Duration::MINUTE);
    let early = invite(&acme, "early@partner.test", room_at - Duration::SECOND);
    assert_eq!(
        store.invitations().create_invitation(&early.record, cap).await,
        Err(StoreError::EmailCapReached { retry_at: room_at })
    );
    let on_time = invite(&acme, "on-time@partner.test", room_at);
    assert!(matches!(
        store.invitations().create_invitation(&on_time.record, cap).await,
        Ok(CreateOutcome::Created { .. })
    ));
    let next = invite(&acme, "next@partner.test", room_at);
    assert_eq!(
        store.invitations().create_invitation(&next.record, cap).await,
        Err(cap_reached(at(10) + Duration::minutes(30))),
        "full again: the email of the thirtieth minute is now the oldest"
    );
}

/// A create to an address the business has a pending invitation to is
/// refused with that invitation among the facts, counts nothing against the
/// cap, and is refused so (not `EmailCapReached`) when the cap is full too.
pub async fn a_pending_invitation_refuses_a_create_before_the_cap_and_counts_nothing(h: Harness) {
    let store = h.store.as_ref();
    let cap = Some(EmailCap { limit: 2 });
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let first = invite(&acme, "bob@partner.test", at(10));
    assert!(matches!(
        store.invitations().create_invitation(&first.record, cap).await,
        Ok(CreateOutcome::Created { .. })
    ));
    let refused_with_pending = |outcome: Result<CreateOutcome, StoreError>| match outcome {
        Ok(CreateOutcome::Refused(facts)) => facts.pending.map(|pending| pending.id()),
        other => panic!("expected a refusal with the pending invitation, got {other:?}"),
    };
    let again = invite(&acme, "Bob@Partner.test", at(11));
    assert_eq!(
        refused_with_pending(store.invitations().create_invitation(&again.record, cap).await),
        Some(first.id())
    );
    // The refused create counted nothing: one more email still fits.
    let second = invite(&acme, "carol@partner.test", at(12));
    assert!(matches!(
        store.invitations().create_invitation(&second.record, cap).await,
        Ok(CreateOutcome::Created { .. })
    ));
    let third = invite(&acme, "dave@partner.test", at(13));
    assert_eq!(
        store.invitations().create_invitation(&third.record, cap).await,
        Err(cap_reached(at(10)))
    );
    // Full, and a pending invitation: "already invited" comes first.
    let once_more = invite(&acme, "bob@partner.test", at(14));
    assert_eq!(
        refused_with_pending(store.invitations().create_invitation(&once_more.record, cap).await),
        Some(first.id())
    );
    assert_eq!(all_sent(store, acme.id(), query(at(20))).await.len(), 2);
}

/// Bulks and creates racing in one business never exceed the cap together.
pub async fn concurrent_bulks_and_creates_never_queue_more_emails_than_the_cap(h: Harness) {
    const BULKS: usize = 4;
    const CREATES: usize = 8;
    let cap = Some(EmailCap { limit: 12 });
    let acme = Tenant::create(h.store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    let barrier = Arc::new(Barrier::new(BULKS + CREATES));
    let mut tasks = Vec::new();
    for b in 0..BULKS {
        let records: Vec<_> = (0..5)
            .map(|n| invite(&acme, &format!("bulk{b}-{n}@partner.test"), at(10)).record)
            .collect();
        let store = Arc::clone(&h.store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let results = store
                .invitations()
                .insert_invitations(&records, cap)
                .await
                .expect("insert_invitations");
            results.iter().filter(|r| r.is_ok()).count()
        }));
    }
    for c in 0..CREATES {
        let candidate = invite(&acme, &format!("one{c}@partner.test"), at(10));
        let store = Arc::clone(&h.store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            match store.invitations().create_invitation(&candidate.record, cap).await {
                Ok(CreateOutcome::Created { .. }) => 1,
                Err(StoreError::EmailCapReached { .. }) => 0,
                other => panic!("unexpected {other:?}"),
            }
        }));
    }
    let mut written = 0;
    for task in tasks {
        written += task.await.expect("a task panicked");
    }
    assert_eq!(written, 12, "exactly the cap's worth across bulks and creates");
    let jobs = h
        .store
        .outbox()
        .claim_email_jobs(at(20), 100, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(jobs.len(), 12);
}
