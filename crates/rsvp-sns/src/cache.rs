//! Signing certificates by URL: fetched once, kept for a while, at most a
//! few.
//!
//! - A certificate is kept for [`crate::SnsSettings::cache_ttl`] after its
//!   fetch, then fetched again when a message needs it.
//! - At most [`crate::SnsSettings::max_cached`] URLs are held: a new one
//!   pushes out the one held longest.
//! - Callers that need the same URL at once share one fetch (each URL has a
//!   lock held for the whole of its fetch); callers waiting on a fetch that
//!   fails get its error rather than fetching again.
//! - A failed fetch is not kept: the next message tries again. A failed
//!   refresh keeps serving the certificate held (a URL names one
//!   certificate; its validity is checked at each message anyway).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};

use reqwest::Url;
use rsvp_app::Clock;
use rsvp_app::ports::SnsError;
use time::{Duration, OffsetDateTime};

use crate::fetch::{Fetcher, MAX_CERT_BYTES};
use crate::signing::{CertProblem, SigningCert};

/// A certificate held and when it was fetched.
struct Held {
    cert: Arc<SigningCert>,
    fetched_at: OffsetDateTime,
}

/// What one URL holds.
#[derive(Default)]
struct SlotState {
    held: Option<Held>,
    /// The outcome of the last fetch when it failed.
    last_error: Option<SnsError>,
}

/// One URL: its lock (held during a fetch) and its fetch count.
struct Slot {
    /// When the URL was first held (the oldest goes first).
    order: u64,
    /// Fetches started for this URL.
    attempts: AtomicU64,
    state: tokio::sync::Mutex<SlotState>,
}

#[derive(Default)]
struct Slots {
    by_url: HashMap<String, Arc<Slot>>,
    next_order: u64,
}

/// The signing certificates held.
pub(crate) struct CertCache {
    fetcher: Fetcher,
    ttl: Duration,
    max: usize,
    clock: Arc<dyn Clock>,
    slots: std::sync::Mutex<Slots>,
}

impl CertCache {
    /// An empty cache keeping at most `max` certificates for `ttl` each.
    pub(crate) fn new(fetcher: Fetcher, ttl: Duration, max: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            fetcher,
            ttl,
            max,
            clock,
            slots: std::sync::Mutex::new(Slots::default()),
        }
    }

    /// The number of URLs held.
    pub(crate) fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner).by_url.len()
    }

    /// The slot of `key`, made (pushing out the oldest when full) if new.
    fn slot(&self, key: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.by_url.get(key) {
            return slot.clone();
        }
        while slots.by_url.len() >= self.max {
            let Some(oldest) = slots
                .by_url
                .iter()
                .min_by_key(|(_, slot)| slot.order)
                .map(|(url, _)| url.clone())
            else {
                break;
            };
            slots.by_url.remove(&oldest);
        }
        let slot = Arc::new(Slot {
            order: slots.next_order,
            attempts: AtomicU64::new(0),
            state: tokio::sync::Mutex::new(SlotState::default()),
        });
        slots.next_order += 1;
        slots.by_url.insert(key.to_owned(), slot.clone());
        slot
    }

    /// Drops `slot` from the map unless it was replaced meanwhile.
    fn forget(&self, key: &str, slot: &Arc<Slot>) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.by_url.get(key).is_some_and(|held| Arc::ptr_eq(held, slot)) {
            slots.by_url.remove(key);
        }
    }

    /// The certificate at `url` (already checked against the host rule),
    /// from the cache while fresh, fetched otherwise.
    ///
    /// # Errors
    /// [`SnsError::Unavailable`] when it cannot be fetched or read;
    /// [`SnsError::Rejected`] when it is a certificate no SNS message is
    /// signed with (not RSA).
    pub(crate) async fn get(&self, url: &Url) -> Result<Arc<SigningCert>, SnsError> {
        let key = url.as_str();
        let slot = self.slot(key);
        let seen = slot.attempts.load(Ordering::SeqCst);
        let mut state = slot.state.lock().await;
        let now = self.clock.now();
        if let Some(held) = &state.held
            && now < held.fetched_at + self.ttl
        {
            return Ok(held.cert.clone());
        }
        // A fetch finished while this caller waited: its outcome serves.
        if slot.attempts.load(Ordering::SeqCst) != seen
            && let Some(error) = &state.last_error
        {
            return Err(error.clone());
        }
        slot.attempts.fetch_add(1, Ordering::SeqCst);
        let host = url.host_str().unwrap_or_default();
        match self.fetch(url).await {
            Ok(cert) => {
                let cert = Arc::new(cert);
                tracing::info!(
                    host,
                    ttl_seconds = self.ttl.whole_seconds(),
                    "SNS signing certificate fetched"
                );
                state.held = Some(Held {
                    cert: cert.clone(),
                    fetched_at: self.clock.now(),
                });
                state.last_error = None;
                Ok(cert)
            }
            Err(error) => {
                // The same URL serves the same certificate: the one held
                // (its validity still checked) beats refusing messages.
                if let Some(held) = &state.held {
                    tracing::warn!(host, reason = %error, "SNS signing certificate not fetched again; the one held serves");
                    return Ok(held.cert.clone());
                }
                tracing::warn!(host, reason = %error, "SNS signing certificate not fetched");
                state.last_error = Some(error.clone());
                drop(state);
                self.forget(key, &slot);
                Err(error)
            }
        }
    }

    /// One fetch of the certificate at `url`, read.
    async fn fetch(&self, url: &Url) -> Result<SigningCert, SnsError> {
        let body = self
            .fetcher
            .get(url, MAX_CERT_BYTES)
            .await
            .map_err(|why| SnsError::Unavailable(format!("signing certificate: {why}")))?;
        SigningCert::from_pem(&body).map_err(|problem| match problem {
            CertProblem::Unreadable(why) => SnsError::Unavailable(format!("signing certificate: {why}")),
            CertProblem::Unusable(why) => SnsError::Rejected(format!("signing certificate: {why}")),
        })
    }
}
