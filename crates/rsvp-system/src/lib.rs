//! # rsvp-system
//!
//! Production adapters of rsvp's small ports:
//!
//! * [`SystemClock`]: the operating system's UTC clock.
//! * [`UuidV7Ids`]: time-ordered UUIDv7 ids, so ids grow with time.
//! * [`RandomSecrets`]: 256-bit secrets from the operating system's CSPRNG,
//!   base64url without padding (43 characters), hashed with SHA-256.
//! * [`TokioTimer`]: waits on tokio's timer (the dispatcher's send timeout).

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use rsvp_app::{Clock, IdGenerator, Secret, SecretGenerator, SecretHash, Timer};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// The operating system's clock, in UTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Waits on tokio's timer; needs a tokio runtime with the time driver.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

#[async_trait::async_trait]
impl Timer for TokioTimer {
    async fn sleep(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// UUIDv7 ids: 48 bits of milliseconds, then random bits; monotonic within
/// one process (the uuid crate keeps a counter for ids minted in one
/// millisecond).
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}

/// Bytes of entropy in each secret (256 bits; the brief asks for >= 128).
pub const SECRET_BYTES: usize = 32;

/// Secrets from the OS CSPRNG, stored as SHA-256 hashes.
///
/// SHA-256 without a salt is the right hash here: the secrets are 256 random
/// bits, so there is nothing to brute-force, and lookups must be by hash.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSecrets;

impl SecretGenerator for RandomSecrets {
    fn generate(&self) -> Secret {
        let mut bytes = [0u8; SECRET_BYTES];
        // Without an OS random source nothing safe can be made: stopping is
        // the only correct answer (it never happens on supported systems).
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        Secret::new(base64url(&bytes))
    }

    fn hash(&self, secret: &str) -> SecretHash {
        SecretHash(Sha256::digest(secret.as_bytes()).into())
    }
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn secrets_are_url_safe_256_bit_and_unique() {
        let secrets: HashSet<String> = (0..1000)
            .map(|_| RandomSecrets.generate().expose().to_owned())
            .collect();
        assert_eq!(secrets.len(), 1000);
        for s in &secrets {
            assert_eq!(s.len(), 43);
            assert!(
                s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{s}"
            );
        }
    }

    #[test]
    fn a_secret_hashes_to_its_sha256() {
        let hash = RandomSecrets.hash("abc");
        assert_eq!(
            hash.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn ids_grow_with_time() {
        let ids: Vec<Uuid> = (0..1000).map(|_| UuidV7Ids.new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }
}

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
