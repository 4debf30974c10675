//! The JWKS cache: the last good keys, when to fetch again, and one fetch at
//! a time.
//!
//! - A fetch keeps its keys for the answer's `Cache-Control: max-age`
//!   (30 s..24 h; 5 min without one: [`jwks::time_to_live`]).
//! - A `kid` (or an algorithm) no key fits fetches again, at most once per
//!   [`REFETCH_INTERVAL`] since the last fetch of any kind: random `kid`s
//!   cannot make the identity provider a target.
//! - One fetch at a time: callers that need its result wait for it (they
//!   share it); callers whose key is only stale keep verifying with the keys
//!   held while another caller refreshes them.
//! - A failed fetch (down, timed out, an error status, not a JWKS, no usable
//!   key) keeps the last good keys, and is tried again after
//!   [`RETRY_WITH_KEYS`] ([`RETRY_WITHOUT_KEYS`] while no key was ever
//!   fetched: then a token gets `KeysUnavailable`).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration as StdDuration;

use jsonwebtoken::Algorithm;
use rsvp_app::{Clock, TokenRejected};
use time::{Duration, OffsetDateTime};

use crate::jwks::{self, KeySet, VerifyingKey};

/// The least time between two fetches an unknown `kid` causes (counted from
/// the last fetch of any kind).
pub(crate) const REFETCH_INTERVAL: Duration = Duration::seconds(30);
/// How long the last good keys serve after a failed fetch before the next try.
pub(crate) const RETRY_WITH_KEYS: Duration = Duration::seconds(30);
/// How long after a failed fetch the next is tried while no key is known.
pub(crate) const RETRY_WITHOUT_KEYS: Duration = Duration::seconds(5);
/// The most bytes of a JWKS answer read.
pub(crate) const MAX_JWKS_BYTES: usize = 256 * 1024;

/// The keys held and when they were fetched.
struct State {
    /// The last good keys (empty until a fetch succeeds).
    keys: Arc<[VerifyingKey]>,
    /// Until when the keys need no fetch (after a failure: the next try).
    fresh_until: OffsetDateTime,
    /// When the last fetch started, whatever its outcome.
    last_attempt: Option<OffsetDateTime>,
}

/// The cache of one JWKS URL.
pub(crate) struct KeyCache {
    client: reqwest::Client,
    url: reqwest::Url,
    algorithms: Vec<Algorithm>,
    max_keys: usize,
    clock: Arc<dyn Clock>,
    state: RwLock<State>,
    /// Held for the whole of a fetch: one at a time.
    fetching: tokio::sync::Mutex<()>,
}

/// Whether `keys` hold one for a token with this `kid` (any key, without
/// one) signed with `alg`.
pub(crate) fn fitting<'a>(
    keys: &'a [VerifyingKey],
    kid: Option<&'a str>,
    alg: Algorithm,
) -> impl Iterator<Item = &'a VerifyingKey> + 'a {
    keys.iter()
        .filter(move |key| key.fits(alg) && kid.is_none_or(|kid| key.kid.as_deref() == Some(kid)))
}

impl KeyCache {
    /// An empty cache of `url` (nothing is fetched before a token needs it or
    /// [`KeyCache::prefetch`]).
    pub(crate) fn new(
        client: reqwest::Client,
        url: reqwest::Url,
        algorithms: Vec<Algorithm>,
        max_keys: usize,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            url,
            algorithms,
            max_keys,
            clock,
            state: RwLock::new(State {
                keys: Arc::from(Vec::new()),
                fresh_until: OffsetDateTime::UNIX_EPOCH,
                last_attempt: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn snapshot(&self) -> (Arc<[VerifyingKey]>, bool) {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        (state.keys.clone(), self.clock.now() < state.fresh_until)
    }

    /// The number of keys held.
    pub(crate) fn len(&self) -> usize {
        self.state.read().unwrap_or_else(PoisonError::into_inner).keys.len()
    }

    /// The keys to verify a token with this `kid` and `alg` with, fetched
    /// again when the rules above allow it.
    ///
    /// # Errors
    /// [`TokenRejected::KeysUnavailable`] when no key was ever fetched and
    /// none can be now.
    pub(crate) async fn keys_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<[VerifyingKey]>, TokenRejected> {
        let (keys, fresh) = self.snapshot();
        let known = fitting(&keys, kid, alg).next().is_some();
        if known && fresh {
            return Ok(keys);
        }
        if known {
            // Stale: refresh unless another caller is at it, and verify with
            // the keys held either way.
            if let Ok(guard) = self.fetching.try_lock() {
                self.fetch_if_due(true).await;
                drop(guard);
                return Ok(self.snapshot().0);
            }
            return Ok(keys);
        }
        // No key fits: wait for (or make) a fetch, then judge with its keys.
        let guard = self.fetching.lock().await;
        let (keys, _) = self.snapshot();
        if fitting(&keys, kid, alg).next().is_none() {
            self.fetch_if_due(false).await;
        }
        drop(guard);
        let (keys, _) = self.snapshot();
        if keys.is_empty() {
            return Err(TokenRejected::KeysUnavailable);
        }
        Ok(keys)
    }

    /// Fetches now unless the keys are fresh (or a fetch failed a moment
    /// ago), as a token would.
    pub(crate) async fn prefetch(&self) -> usize {
        let guard = self.fetching.lock().await;
        self.fetch_if_due(true).await;
        drop(guard);
        self.len()
    }

    /// Under the fetch lock: fetches when the keys are stale, or when no key
    /// is `known` and the last fetch started [`REFETCH_INTERVAL`] ago or more.
    async fn fetch_if_due(&self, known: bool) {
        let now = self.clock.now();
        let due = {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            now >= state.fresh_until || (!known && state.last_attempt.is_none_or(|at| now - at >= REFETCH_INTERVAL))
        };
        if !due {
            return;
        }
        // Marked before the fetch: a fetch cut short (its caller gone) still
        // counts against the interval.
        self.state.write().unwrap_or_else(PoisonError::into_inner).last_attempt = Some(now);
        let outcome = self.fetch().await;
        let now = self.clock.now();
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok((set, ttl)) => {
                tracing::info!(
                    keys = set.keys.len(),
                    skipped = set.skipped,
                    over_cap = set.over_cap,
                    ttl_seconds = ttl.as_secs(),
                    "JWKS fetched"
                );
                state.keys = Arc::from(set.keys);
                state.fresh_until = now + Duration::try_from(ttl).unwrap_or(Duration::DAY);
            }
            Err(reason) => {
                let retry = if state.keys.is_empty() {
                    RETRY_WITHOUT_KEYS
                } else {
                    RETRY_WITH_KEYS
                };
                tracing::warn!(
                    reason = %reason,
                    keys_kept = state.keys.len(),
                    retry_seconds = retry.whole_seconds(),
                    "JWKS fetch failed; the last good keys keep serving"
                );
                state.fresh_until = now + retry;
            }
        }
    }

    /// One GET of the JWKS: its usable keys and how long to keep them.
    async fn fetch(&self) -> Result<(KeySet, StdDuration), String> {
        let mut response = self
            .client
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| describe(&e))?;
        if !response.status().is_success() {
            return Err(format!("the JWKS URL answered {}", response.status().as_u16()));
        }
        let ttl = jwks::time_to_live(
            response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        );
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let set = jwks::parse(&body, &self.algorithms, self.max_keys)?;
        Ok((set, ttl))
    }
}

/// What went wrong with a request, in words (no URL: it is in the settings).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_redirect() {
        "redirected (not followed)"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    };
    match std::error::Error::source(error) {
        Some(cause) => format!("{what}: {}", rsvp_app::error_chain(cause)),
        None => what.to_owned(),
    }
}
