//! Idempotent requests (`Idempotency-Key`): the records the store keeps and
//! the use cases that begin, complete and abandon them.
//!
//! A client sends a key of its choosing with a request that changes
//! something. The first request with a key (per scope: per credential)
//! runs, and its response is stored for [`IDEMPOTENCY_RETENTION`]; a retry
//! with the same key and the same request gets that response again instead
//! of running twice; the same key with another request is refused; a retry
//! while the first still runs is told so. The records live in the store
//! (the database), so this holds across replicas and restarts.
//!
//! What a "request" and a "response" are is for the caller (the HTTP
//! adapter): here they are a [`RequestFingerprint`] and a [`StoredResponse`].

use std::fmt;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{App, AppError, SecretHash};

/// How long a key is remembered after its first request started: 24 hours.
pub const IDEMPOTENCY_RETENTION: Duration = Duration::hours(24);

/// How long a request may stay in progress before another request with the
/// same key and fingerprint may take the record over: a replica that died
/// (or a connection dropped) mid-request leaves an in-progress record behind,
/// which would otherwise answer "in progress" for 24 hours.
pub const IDEMPOTENCY_TAKEOVER_AFTER: Duration = Duration::seconds(60);

/// Why an `Idempotency-Key` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an idempotency key must be 1 to 255 visible ASCII characters")]
pub struct InvalidIdempotencyKey;

/// A client's idempotency key: 1 to 255 visible ASCII characters
/// (`!` to `~`; no spaces, no controls).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Longest key, in bytes (= characters).
    pub const MAX_LEN: usize = 255;

    /// Checks a key as sent.
    ///
    /// # Errors
    /// [`InvalidIdempotencyKey`] when it is empty, longer than 255 or holds
    /// anything but visible ASCII.
    ///
    /// ```
    /// use rsvp_app::IdempotencyKey;
    /// assert!(IdempotencyKey::parse("order-42/retry").is_ok());
    /// assert!(IdempotencyKey::parse("").is_err());
    /// assert!(IdempotencyKey::parse("has space").is_err());
    /// assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, InvalidIdempotencyKey> {
        let visible = text.bytes().all(|b| b.is_ascii_graphic());
        if text.is_empty() || text.len() > Self::MAX_LEN || !visible {
            return Err(InvalidIdempotencyKey);
        }
        Ok(Self(text.to_owned()))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({:?})", self.0)
    }
}

/// Whose keys: the SHA-256 of the caller's credential (an API key, the
/// operator token, a link token), never the credential itself. Two callers'
/// keys never meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdempotencyScope(pub SecretHash);

/// SHA-256 of what makes two requests "the same" (for HTTP: method, path,
/// query and body bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestFingerprint(pub SecretHash);

/// A response kept for replay: status, the headers worth replaying, and the
/// body byte for byte. It may hold secrets (an API key shown once, an
/// `accept_url`): stores keep it as carefully as the data it came from.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

impl fmt::Debug for StoredResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body may carry a credential: only its size is printed.
        f.debug_struct("StoredResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// One attempt to begin an idempotent request (see
/// [`IdempotencyStore::begin_idempotent`](crate::IdempotencyStore::begin_idempotent)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// Whose key.
    pub scope: IdempotencyScope,
    /// The key.
    pub key: IdempotencyKey,
    /// The request.
    pub fingerprint: RequestFingerprint,
    /// A fresh id of this attempt: completing and abandoning name it, so
    /// that an attempt whose record was taken over cannot touch it.
    pub attempt: Uuid,
    /// Now.
    pub now: OffsetDateTime,
    /// Until when the record is kept (`now` + [`IDEMPOTENCY_RETENTION`]).
    pub expires_at: OffsetDateTime,
    /// An in-progress record started at or before this time may be taken
    /// over (`now` − [`IDEMPOTENCY_TAKEOVER_AFTER`]).
    pub stale_before: OffsetDateTime,
}

impl IdempotencyClaim {
    /// The ticket of this claim's attempt, as a completion or an abandon
    /// names it.
    pub fn ticket(&self) -> IdempotencyTicket {
        IdempotencyTicket {
            scope: self.scope,
            key: self.key.clone(),
            attempt: self.attempt,
        }
    }
}

/// What the store found when a request began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The record is this attempt's: run the request.
    Started,
    /// The same request finished before: this was its response.
    Replay(StoredResponse),
    /// The same request is still running.
    InProgress,
    /// The key was used for another request.
    Mismatch,
}

/// The right to finish an idempotent request that [`App::begin_idempotent`]
/// started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyTicket {
    /// Whose key.
    pub scope: IdempotencyScope,
    /// The key.
    pub key: IdempotencyKey,
    /// The attempt that holds the record.
    pub attempt: Uuid,
}

/// What to do with a request that carries an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotentStart {
    /// Run it, then [`App::complete_idempotent`] or [`App::abandon_idempotent`].
    Run(IdempotencyTicket),
    /// Answer this stored response again.
    Replay(StoredResponse),
    /// Refuse: the first request with this key still runs.
    InProgress,
    /// Refuse: the key was used for another request.
    Mismatch,
}

impl App {
    /// Begins a request carrying `key`: decides whether it runs, replays the
    /// first answer, or is refused (see [`IdempotentStart`]).
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the store fails.
    pub async fn begin_idempotent(
        &self,
        scope: IdempotencyScope,
        key: IdempotencyKey,
        fingerprint: RequestFingerprint,
    ) -> Result<IdempotentStart, AppError> {
        let ports = self.ports();
        let now = ports.clock.now();
        let claim = IdempotencyClaim {
            scope,
            key,
            fingerprint,
            attempt: ports.ids.new_id(),
            now,
            expires_at: now + IDEMPOTENCY_RETENTION,
            stale_before: now - IDEMPOTENCY_TAKEOVER_AFTER,
        };
        Ok(match ports.store.idempotency().begin_idempotent(&claim).await? {
            IdempotencyBegin::Started => IdempotentStart::Run(IdempotencyTicket {
                scope: claim.scope,
                key: claim.key,
                attempt: claim.attempt,
            }),
            IdempotencyBegin::Replay(response) => IdempotentStart::Replay(response),
            IdempotencyBegin::InProgress => IdempotentStart::InProgress,
            IdempotencyBegin::Mismatch => IdempotentStart::Mismatch,
        })
    }

    /// Stores the answer of a request that ran, for replay. `false` when the
    /// record is no longer this attempt's (taken over after
    /// [`IDEMPOTENCY_TAKEOVER_AFTER`], or pruned): nothing is stored.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the store fails.
    pub async fn complete_idempotent(
        &self,
        ticket: &IdempotencyTicket,
        response: &StoredResponse,
    ) -> Result<bool, AppError> {
        Ok(self
            .ports()
            .store
            .idempotency()
            .complete_idempotent(ticket, response)
            .await?)
    }

    /// Forgets a request that ran but whose answer is not to be replayed (a
    /// server error, a failed authentication): the next request with the key
    /// runs again. `false` when the record is no longer this attempt's.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the store fails.
    pub async fn abandon_idempotent(&self, ticket: &IdempotencyTicket) -> Result<bool, AppError> {
        Ok(self.ports().store.idempotency().abandon_idempotent(ticket).await?)
    }

    /// Deletes up to `batch` idempotency records whose retention ended
    /// (expired at or before now), oldest first; returns how many. Call it
    /// again while it returns `batch`.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the store fails.
    pub async fn prune_idempotency_records(&self, batch: usize) -> Result<u64, AppError> {
        let ports = self.ports();
        Ok(ports
            .store
            .idempotency()
            .prune_idempotency_records(ports.clock.now(), batch)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ports::{MockClock, MockIdGenerator, MockSecretGenerator, MockStore};
    use crate::{Ports, Settings};

    fn app(store: MockStore, now: OffsetDateTime) -> App {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(now);
        let mut ids = MockIdGenerator::new();
        ids.expect_new_id().return_const(Uuid::from_u128(7));
        App::new(
            Ports {
                store: Arc::new(store),
                clock: Arc::new(clock),
                ids: Arc::new(ids),
                secrets: Arc::new(MockSecretGenerator::new()),
            },
            Settings::default(),
        )
    }

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"~".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse("!\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~").is_ok());
        for bad in ["", " ", "a b", "tab\t", "é", "nul\0", "\u{7f}"] {
            assert_eq!(IdempotencyKey::parse(bad), Err(InvalidIdempotencyKey), "{bad:?}");
        }
        assert_eq!(IdempotencyKey::parse(&"k".repeat(256)), Err(InvalidIdempotencyKey));
    }

    #[tokio::test]
    async fn a_request_begins_with_a_fresh_attempt_kept_24_hours_and_taken_over_after_60_seconds() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let scope = IdempotencyScope(SecretHash([1; 32]));
        let key = IdempotencyKey::parse("k-1").unwrap();
        let fingerprint = RequestFingerprint(SecretHash([2; 32]));
        let mut store = MockStore::new();
        let expected = IdempotencyClaim {
            scope,
            key: key.clone(),
            fingerprint,
            attempt: Uuid::from_u128(7),
            now,
            expires_at: now + Duration::hours(24),
            stale_before: now - Duration::seconds(60),
        };
        store
            .idempotency
            .expect_begin_idempotent()
            .withf(move |claim| *claim == expected)
            .times(1)
            .returning(|_| Ok(IdempotencyBegin::Started));
        let started = app(store, now).begin_idempotent(scope, key.clone(), fingerprint).await;
        assert_eq!(
            started,
            Ok(IdempotentStart::Run(IdempotencyTicket {
                scope,
                key,
                attempt: Uuid::from_u128(7)
            }))
        );
    }

    #[tokio::test]
    async fn pruning_removes_records_expired_by_now_one_batch_per_call() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut store = MockStore::new();
        store
            .idempotency
            .expect_prune_idempotency_records()
            .withf(move |expired_by, limit| *expired_by == now && *limit == 500)
            .times(1)
            .returning(|_, _| Ok(500));
        assert_eq!(app(store, now).prune_idempotency_records(500).await, Ok(500));
    }
}
