//! A JWKS document read into the keys a token may be verified with, and the
//! `Cache-Control` of its answer read into how long it is kept.
//!
//! A key is kept only when it can verify a token under the configured
//! algorithms: a signing key (`use` absent or `sig`, `key_ops` absent or
//! naming `verify`), of a type and curve this crate verifies (RSA of at least
//! 2048 bits, EC P-256 or P-384, OKP Ed25519), whose `alg`, when it names
//! one, is configured. Symmetric (`oct`) keys, encryption keys and unknown
//! key types are skipped; one broken key does not spoil the others.

use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;

/// Fewest bytes of an RSA modulus kept: 2048 bits.
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// Kept this long when the answer says nothing usable (no `Cache-Control`,
/// `no-cache`, `no-store`).
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(5 * 60);
/// A `max-age` below this is raised to it (a JWKS fetched every request is a
/// load on the identity provider and a latency on every call).
pub(crate) const MIN_TTL: Duration = Duration::from_secs(30);
/// A `max-age` above this is lowered to it (a revoked key must go).
pub(crate) const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// What a key verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// RS256/384/512 and PS256/384/512.
    Rsa,
    /// ES256.
    P256,
    /// ES384.
    P384,
    /// EdDSA.
    Ed25519,
}

impl KeyKind {
    fn fits(self, alg: Algorithm) -> bool {
        match self {
            Self::Rsa => alg.family() == AlgorithmFamily::Rsa,
            Self::P256 => alg == Algorithm::ES256,
            Self::P384 => alg == Algorithm::ES384,
            Self::Ed25519 => alg == Algorithm::EdDSA,
        }
    }
}

/// A key of the JWKS that may verify tokens.
#[derive(Clone)]
pub(crate) struct VerifyingKey {
    /// Its `kid`, when the JWKS names one.
    pub(crate) kid: Option<String>,
    kind: KeyKind,
    /// Its `alg`, when the JWKS names one: then it verifies that one only.
    alg: Option<Algorithm>,
    /// The key itself.
    pub(crate) key: DecodingKey,
}

impl VerifyingKey {
    /// Whether this key may verify a token signed with `alg`: the key's type
    /// and curve fit the algorithm, and the key's own `alg`, if any, is it.
    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        self.kind.fits(alg) && self.alg.is_none_or(|own| own == alg)
    }
}

/// The usable keys of a JWKS document.
pub(crate) struct KeySet {
    /// At most `max_keys`, in the document's order.
    pub(crate) keys: Vec<VerifyingKey>,
    /// Keys skipped as unusable (wrong type, use, algorithm, size, broken).
    pub(crate) skipped: usize,
    /// Usable keys left out beyond `max_keys`.
    pub(crate) over_cap: usize,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

/// Reads a JWKS document: its usable keys under `algorithms`, the first
/// `max_keys` of them.
///
/// # Errors
/// A reason when the document is not a JWKS (`{"keys": [...]}`) or holds no
/// usable key: the caller keeps the keys it had.
pub(crate) fn parse(body: &[u8], algorithms: &[Algorithm], max_keys: usize) -> Result<KeySet, &'static str> {
    let raw: RawSet = serde_json::from_slice(body).map_err(|_| "the answer is not a JWKS document")?;
    let mut set = KeySet {
        keys: Vec::new(),
        skipped: 0,
        over_cap: 0,
    };
    for value in raw.keys {
        match usable(value, algorithms) {
            Some(_) if set.keys.len() >= max_keys => set.over_cap += 1,
            Some(key) => set.keys.push(key),
            None => set.skipped += 1,
        }
    }
    if set.keys.is_empty() {
        return Err("the JWKS holds no usable key");
    }
    Ok(set)
}

/// The key `value` describes, when it may verify a token under `algorithms`.
fn usable(value: serde_json::Value, algorithms: &[Algorithm]) -> Option<VerifyingKey> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    let common = &jwk.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let alg = match common.key_algorithm {
        Some(named) => {
            let alg = Algorithm::try_from(named).ok()?;
            if !algorithms.contains(&alg) {
                return None;
            }
            Some(alg)
        }
        None => None,
    };
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            if base64url_len(&rsa.n) < MIN_RSA_MODULUS_BYTES || rsa.e.is_empty() {
                return None;
            }
            KeyKind::Rsa
        }
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => KeyKind::P256,
            EllipticCurve::P384 => KeyKind::P384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => KeyKind::Ed25519,
        // Symmetric keys never verify here; unknown types are skipped.
        _ => return None,
    };
    // The algorithm the key will verify: its own, or any configured that fits.
    let probe = match alg {
        Some(alg) => alg,
        None => *algorithms.iter().find(|a| kind.fits(**a))?,
    };
    if !kind.fits(probe) {
        return None;
    }
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    // Points and curve keys are parsed when a verifier is made: one made now
    // (on an empty signature) refuses a broken key here rather than per token.
    if kind != KeyKind::Rsa && jsonwebtoken::crypto::verify("", b"", &key, probe).is_err() {
        return None;
    }
    Some(VerifyingKey {
        kid: common.key_id.clone(),
        kind,
        alg,
        key,
    })
}

/// How many bytes the unpadded base64url text `text` decodes to.
fn base64url_len(text: &str) -> usize {
    text.trim_end_matches('=').len() * 3 / 4
}

/// How long an answer with this `Cache-Control` keeps its keys: its
/// `max-age` within [`MIN_TTL`]..=[`MAX_TTL`], [`DEFAULT_TTL`] without one
/// or with `no-cache`/`no-store` (the keys are still needed between
/// fetches).
pub(crate) fn time_to_live(cache_control: Option<&str>) -> Duration {
    let Some(header) = cache_control else {
        return DEFAULT_TTL;
    };
    let mut max_age = None;
    for directive in header.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-cache" || directive == "no-store" {
            return DEFAULT_TTL;
        }
        if let Some(value) = directive.strip_prefix("max-age=") {
            max_age = value.trim_matches('"').parse::<u64>().ok();
        }
    }
    max_age.map_or(DEFAULT_TTL, |seconds| {
        Duration::from_secs(seconds).clamp(MIN_TTL, MAX_TTL)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_sets_the_time_to_live_within_bounds() {
        assert_eq!(time_to_live(None), DEFAULT_TTL);
        assert_eq!(time_to_live(Some("public, max-age=600")), Duration::from_secs(600));
        assert_eq!(time_to_live(Some("max-age=1")), MIN_TTL);
        assert_eq!(time_to_live(Some("max-age=99999999")), MAX_TTL);
        assert_eq!(time_to_live(Some("no-cache")), DEFAULT_TTL);
        assert_eq!(time_to_live(Some("max-age=600, no-store")), DEFAULT_TTL);
        assert_eq!(time_to_live(Some("max-age=soon")), DEFAULT_TTL);
        assert_eq!(time_to_live(Some("Max-Age=120")), Duration::from_secs(120));
    }

    #[test]
    fn a_document_without_keys_or_not_a_jwks_is_refused() {
        let algs = [Algorithm::RS256];
        assert!(parse(b"<html>", &algs, 8).is_err());
        assert!(parse(br#"{"keys": []}"#, &algs, 8).is_err());
        assert!(parse(br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#, &algs, 8).is_err());
        assert!(parse(br#"{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}"#, &algs, 8).is_err());
        assert!(parse(br#"{"keys": [{"kty": "weird"}, 3]}"#, &algs, 8).is_err());
    }
}
