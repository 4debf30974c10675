//! A short-lived cache of what API key hashes (and the host platform's ids
//! of a verified JWT) lead to, so that a client sending many requests a
//! second costs the store one credential read a second, not one per request.
//!
//! Why it stays correct: an entry lives at most [`Settings::credential_cache_ttl`]
//! (half a second by default), so a key revoked, a user deactivated or a business
//! suspended on *another* replica is refused within that time; on this
//! replica, every operator change that can take access away empties the
//! cache at once. Access itself (expiry, deactivation, suspension) is still
//! decided on every request, from the cached rows and the current time.
//! Unknown keys are never cached (they are throttled instead).
//!
//! [`Settings::credential_cache_ttl`]: crate::Settings::credential_cache_ttl

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

use crate::SecretHash;
use crate::ports::Credential;

/// Most entries kept: a server has at most a few thousand active keys; past
/// this the cache is emptied rather than grown (a bound on memory that no
/// client can push).
const MAX_ENTRIES: usize = 10_000;

/// Credentials (or principals) by key hash, each with when it was read.
#[derive(Debug)]
pub(crate) struct CredentialCache<V = Credential> {
    entries: Mutex<HashMap<SecretHash, (V, OffsetDateTime)>>,
}

impl<V> Default for CredentialCache<V> {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
        }
    }
}

impl<V: Clone> CredentialCache<V> {
    /// The credential of `hash` read less than `ttl` before `now`.
    pub(crate) fn get(&self, hash: &SecretHash, now: OffsetDateTime, ttl: Duration) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(hash)
            .filter(|(_, read_at)| now - *read_at < ttl && *read_at <= now)
            .map(|(credential, _)| credential.clone())
    }

    /// Keeps `credential`, read at `now`.
    pub(crate) fn put(&self, hash: SecretHash, credential: V, now: OffsetDateTime) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&hash) {
            entries.clear();
        }
        entries.insert(hash, (credential, now));
    }

    /// Forgets everything (after an operator change that may take access away).
    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

impl CredentialCache<Credential> {
    /// Notes that the key of `hash` had its use recorded at `at`, so that
    /// the cached copy does not ask to record it again.
    pub(crate) fn note_use(&self, hash: &SecretHash, at: OffsetDateTime) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((credential, _)) = entries.get_mut(hash) {
            credential.key.last_used_at = Some(at);
        }
    }
}
