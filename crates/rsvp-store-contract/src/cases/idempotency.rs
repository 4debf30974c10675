//! Idempotency records: `begin_idempotent`, `complete_idempotent`,
//! `abandon_idempotent`, `prune_idempotency_records`.
//!
//! The port has no reader of records: "wrote nothing" is checked by what a
//! later begin, complete or abandon finds.

use std::sync::Arc;

use rsvp_app::{
    IdempotencyBegin, IdempotencyClaim, IdempotencyKey, IdempotencyScope, RequestFingerprint, SecretHash, Store,
    StoredResponse,
};
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::Harness;
use crate::fixtures::{at, new_uuid};

/// How long the cases keep a record (the service's 24 h).
const KEPT: Duration = Duration::hours(24);
/// The takeover time the cases assume (the service's 60 s).
const STALE: Duration = Duration::seconds(60);

fn scope(byte: u8) -> IdempotencyScope {
    IdempotencyScope(SecretHash([byte; 32]))
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).expect("a valid key")
}

fn fingerprint(byte: u8) -> RequestFingerprint {
    RequestFingerprint(SecretHash([byte; 32]))
}

/// A claim with a fresh attempt at `now`, kept [`KEPT`], stale after [`STALE`].
fn claim(scope_byte: u8, key_text: &str, fingerprint_byte: u8, now: OffsetDateTime) -> IdempotencyClaim {
    IdempotencyClaim {
        scope: scope(scope_byte),
        key: key(key_text),
        fingerprint: fingerprint(fingerprint_byte),
        attempt: new_uuid(),
        now,
        expires_at: now + KEPT,
        stale_before: now - STALE,
    }
}

/// A response with headers in a given order and a body that is not UTF-8.
fn response(tag: u8) -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![
            ("location".to_owned(), format!("/v1/invitations/{tag}")),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("cache-control".to_owned(), "no-store".to_owned()),
        ],
        body: vec![b'{', 0, 0xff, 0xfe, tag, b'}'],
    }
}

async fn begin(store: &dyn Store, claim: &IdempotencyClaim) -> IdempotencyBegin {
    store
        .idempotency()
        .begin_idempotent(claim)
        .await
        .expect("begin_idempotent")
}

async fn complete(store: &dyn Store, claim: &IdempotencyClaim, response: &StoredResponse) -> bool {
    store
        .idempotency()
        .complete_idempotent(&claim.ticket(), response)
        .await
        .expect("complete_idempotent")
}

async fn abandon(store: &dyn Store, claim: &IdempotencyClaim) -> bool {
    store
        .idempotency()
        .abandon_idempotent(&claim.ticket())
        .await
        .expect("abandon_idempotent")
}

/// The first begin starts; the same request meanwhile is in progress; once
/// completed, it is replayed exactly (status, headers in order, body bytes),
/// again and again.
pub async fn a_first_begin_starts_and_the_completed_response_is_replayed_exactly(h: Harness) {
    let store = h.store.as_ref();
    let first = claim(1, "order-1", 7, at(0));
    assert_eq!(begin(store, &first).await, IdempotencyBegin::Started);
    let retry = claim(1, "order-1", 7, at(5));
    assert_eq!(begin(store, &retry).await, IdempotencyBegin::InProgress);
    assert!(complete(store, &first, &response(1)).await);
    for seconds in [6, 3600, KEPT.whole_seconds() - 1] {
        let retry = claim(1, "order-1", 7, at(seconds));
        assert_eq!(
            begin(store, &retry).await,
            IdempotencyBegin::Replay(response(1)),
            "{seconds} s after"
        );
    }
}

/// The same key with another request is refused whether the first is in
/// progress or completed, and the refusal changes nothing: the first
/// attempt still completes, and its response is what the key replays.
pub async fn a_key_reused_for_another_request_is_a_mismatch_and_writes_nothing(h: Harness) {
    let store = h.store.as_ref();
    let first = claim(1, "k", 7, at(0));
    assert_eq!(begin(store, &first).await, IdempotencyBegin::Started);
    assert_eq!(
        begin(store, &claim(1, "k", 8, at(1))).await,
        IdempotencyBegin::Mismatch,
        "in progress"
    );
    assert!(
        complete(store, &first, &response(1)).await,
        "the first attempt still holds it"
    );
    assert_eq!(
        begin(store, &claim(1, "k", 8, at(2))).await,
        IdempotencyBegin::Mismatch,
        "completed"
    );
    assert_eq!(
        begin(store, &claim(1, "k", 7, at(3))).await,
        IdempotencyBegin::Replay(response(1))
    );
}

/// A record in progress is reported as such until the takeover time; a
/// begin of the same request at or past it takes the record over, and the
/// attempt that lost it can neither complete nor abandon it.
pub async fn a_request_in_progress_is_taken_over_only_after_the_takeover_time(h: Harness) {
    let store = h.store.as_ref();
    let first = claim(1, "k", 7, at(0));
    assert_eq!(begin(store, &first).await, IdempotencyBegin::Started);
    assert_eq!(
        begin(store, &claim(1, "k", 7, at(59))).await,
        IdempotencyBegin::InProgress,
        "started after stale_before"
    );
    assert_eq!(
        begin(store, &claim(1, "k", 8, at(60))).await,
        IdempotencyBegin::Mismatch,
        "a takeover is for the same request only"
    );
    let second = claim(1, "k", 7, at(60));
    assert_eq!(
        begin(store, &second).await,
        IdempotencyBegin::Started,
        "started exactly at stale_before"
    );
    assert_eq!(
        begin(store, &claim(1, "k", 7, at(61))).await,
        IdempotencyBegin::InProgress,
        "the takeover restarted the clock"
    );
    assert!(
        !complete(store, &first, &response(1)).await,
        "the first attempt lost it"
    );
    assert!(!abandon(store, &first).await, "the first attempt lost it");
    assert!(complete(store, &second, &response(2)).await);
    assert_eq!(
        begin(store, &claim(1, "k", 7, at(62))).await,
        IdempotencyBegin::Replay(response(2))
    );
}

/// Abandoning deletes the attempt's record (the next begin starts afresh,
/// even with another request); abandoning by another attempt, or a
/// completed record, changes nothing.
pub async fn abandoning_forgets_the_request_so_that_the_key_starts_afresh(h: Harness) {
    let store = h.store.as_ref();
    let first = claim(1, "k", 7, at(0));
    assert_eq!(begin(store, &first).await, IdempotencyBegin::Started);
    let stranger = IdempotencyClaim {
        attempt: new_uuid(),
        ..first.clone()
    };
    assert!(!abandon(store, &stranger).await, "not the holder");
    assert_eq!(
        begin(store, &claim(1, "k", 7, at(1))).await,
        IdempotencyBegin::InProgress
    );
    assert!(abandon(store, &first).await);
    assert!(!abandon(store, &first).await, "gone already");
    assert!(!complete(store, &first, &response(1)).await, "gone: nothing stored");

    let second = claim(1, "k", 8, at(2));
    assert_eq!(begin(store, &second).await, IdempotencyBegin::Started);
    assert!(complete(store, &second, &response(2)).await);
    assert!(!abandon(store, &second).await, "a completed record stays");
    assert_eq!(
        begin(store, &claim(1, "k", 8, at(3))).await,
        IdempotencyBegin::Replay(response(2))
    );
}

/// A record completes once: completing it again, by its own attempt or by
/// another, or completing a key that has no record, stores nothing.
pub async fn a_record_completes_once_and_only_by_the_attempt_holding_it(h: Harness) {
    let store = h.store.as_ref();
    let nobody = claim(1, "never-begun", 7, at(0));
    assert!(!complete(store, &nobody, &response(9)).await);
    assert_eq!(
        begin(store, &nobody).await,
        IdempotencyBegin::Started,
        "nothing was stored"
    );

    let first = claim(1, "k", 7, at(0));
    assert_eq!(begin(store, &first).await, IdempotencyBegin::Started);
    let stranger = IdempotencyClaim {
        attempt: new_uuid(),
        ..first.clone()
    };
    assert!(!complete(store, &stranger, &response(9)).await);
    assert!(complete(store, &first, &response(1)).await);
    assert!(!complete(store, &first, &response(2)).await, "completed already");
    assert_eq!(
        begin(store, &claim(1, "k", 7, at(1))).await,
        IdempotencyBegin::Replay(response(1))
    );
}

/// Once a record's `expires_at` is reached, a begin starts afresh whatever
/// the record held (completed or in progress, another request or the same).
pub async fn an_expired_record_starts_afresh_whatever_it_held(h: Harness) {
    let store = h.store.as_ref();
    let done = claim(1, "done", 7, at(0));
    assert_eq!(begin(store, &done).await, IdempotencyBegin::Started);
    assert!(complete(store, &done, &response(1)).await);
    let running = claim(1, "running", 7, at(0));
    assert_eq!(begin(store, &running).await, IdempotencyBegin::Started);

    let just_before = at(0) + KEPT - Duration::nanoseconds(1);
    assert_eq!(
        begin(store, &claim(1, "done", 8, just_before)).await,
        IdempotencyBegin::Mismatch
    );
    let expired_done = claim(1, "done", 8, at(0) + KEPT);
    assert_eq!(begin(store, &expired_done).await, IdempotencyBegin::Started);
    assert!(complete(store, &expired_done, &response(2)).await);
    assert_eq!(
        begin(store, &claim(1, "done", 8, at(0) + KEPT + Duration::seconds(1))).await,
        IdempotencyBegin::Replay(response(2)),
        "the new record is kept from its own start"
    );
    let expired_running = claim(1, "running", 7, at(0) + KEPT);
    assert_eq!(begin(store, &expired_running).await, IdempotencyBegin::Started);
    assert!(
        !complete(store, &running, &response(3)).await,
        "the old attempt lost it"
    );
}

/// Keys are per scope: the same key in two scopes, or two keys in one
/// scope, are independent records.
pub async fn idempotency_keys_are_independent_across_scopes(h: Harness) {
    let store = h.store.as_ref();
    let ann = claim(1, "shared", 7, at(0));
    let bob = claim(2, "shared", 8, at(0));
    assert_eq!(begin(store, &ann).await, IdempotencyBegin::Started);
    assert_eq!(begin(store, &bob).await, IdempotencyBegin::Started, "another scope");
    assert_eq!(
        begin(store, &claim(1, "other", 8, at(0))).await,
        IdempotencyBegin::Started,
        "another key"
    );
    assert!(complete(store, &ann, &response(1)).await);
    assert!(complete(store, &bob, &response(2)).await);
    assert_eq!(
        begin(store, &claim(1, "shared", 7, at(1))).await,
        IdempotencyBegin::Replay(response(1))
    );
    assert_eq!(
        begin(store, &claim(2, "shared", 8, at(1))).await,
        IdempotencyBegin::Replay(response(2))
    );
}

/// Records expired by the given time are deleted earliest expiry first, up
/// to the limit per call; records expiring later never are.
pub async fn expired_idempotency_records_are_pruned_earliest_first_in_batches_and_live_ones_never(h: Harness) {
    let store = h.store.as_ref();
    // Expiring at KEPT + 0, 10, 20 (completed, completed, in progress), and
    // + 30, 40 (after the cutoff).
    let mut claims = Vec::new();
    for (n, seconds) in [20i64, 0, 40, 10, 30].into_iter().enumerate() {
        let claim = claim(1, &format!("k{seconds}"), 7, at(seconds));
        assert_eq!(begin(store, &claim).await, IdempotencyBegin::Started);
        if n % 2 == 1 {
            assert!(complete(store, &claim, &response(1)).await);
        }
        claims.push(claim);
    }
    let cutoff = at(20) + KEPT;
    let prune = |limit| async move {
        store
            .idempotency()
            .prune_idempotency_records(cutoff, limit)
            .await
            .expect("prune_idempotency_records")
    };
    // Whether the record of `k{seconds}` is still there: a begin of another
    // request before its expiry is refused only if it is.
    let kept = |seconds: i64| async move {
        let probe = claim(1, &format!("k{seconds}"), 9, at(seconds) + Duration::seconds(1));
        match begin(store, &probe).await {
            IdempotencyBegin::Mismatch => true,
            IdempotencyBegin::Started => {
                assert!(abandon(store, &probe).await);
                false
            }
            other => panic!("k{seconds}: {other:?}"),
        }
    };
    assert_eq!(prune(2).await, 2);
    assert!(!kept(0).await && !kept(10).await, "the earliest two went first");
    assert!(kept(20).await && kept(30).await && kept(40).await);
    assert_eq!(prune(2).await, 1, "expiring exactly at the cutoff");
    assert!(!kept(20).await);
    assert_eq!(prune(2).await, 0);
    assert!(kept(30).await && kept(40).await, "live records are never pruned");
    assert_eq!(prune(0).await, 0);
}

/// 16 begins of one key at once, on a multi-thread runtime: exactly one
/// starts; every other sees it in progress.
pub async fn concurrent_begins_of_one_key_have_exactly_one_start(h: Harness) {
    const RACERS: usize = 16;
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(&h.store);
        let barrier = Arc::clone(&barrier);
        let claim = claim(1, "race", 7, at(0));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let outcome = store
                .idempotency()
                .begin_idempotent(&claim)
                .await
                .expect("begin_idempotent");
            (claim, outcome)
        }));
    }
    let mut started = Vec::new();
    for task in tasks {
        let (claim, outcome) = task.await.expect("a begin task panicked");
        match outcome {
            IdempotencyBegin::Started => started.push(claim),
            IdempotencyBegin::InProgress => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(started.len(), 1, "exactly one of {RACERS} concurrent begins must start");
    let store = h.store.as_ref();
    assert!(
        complete(store, &started[0], &response(1)).await,
        "the winner holds the record"
    );
    assert_eq!(
        begin(store, &claim(1, "race", 7, at(1))).await,
        IdempotencyBegin::Replay(response(1))
    );
}

/// 16 takeovers of one stale record at once: exactly one wins.
pub async fn concurrent_takeovers_of_a_stale_record_have_exactly_one_winner(h: Harness) {
    const RACERS: usize = 16;
    let stale = claim(1, "stale", 7, at(0));
    assert_eq!(begin(h.store.as_ref(), &stale).await, IdempotencyBegin::Started);
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(&h.store);
        let barrier = Arc::clone(&barrier);
        let claim = claim(1, "stale", 7, at(120));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let outcome = store
                .idempotency()
                .begin_idempotent(&claim)
                .await
                .expect("begin_idempotent");
            (claim.attempt, outcome)
        }));
    }
    let mut winners: Vec<Uuid> = Vec::new();
    for task in tasks {
        let (attempt, outcome) = task.await.expect("a begin task panicked");
        match outcome {
            IdempotencyBegin::Started => winners.push(attempt),
            IdempotencyBegin::InProgress => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {RACERS} concurrent takeovers must win"
    );
    assert!(!abandon(h.store.as_ref(), &stale).await, "the stale attempt lost it");
}
