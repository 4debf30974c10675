//! # rsvp-jwt
//!
//! The [`TokenVerifier`] port over `jsonwebtoken` ([`JwtVerifier`]): bearer
//! JWTs of the host platform's identity provider, verified with the keys of
//! its JWKS, and mapped to the host platform's business and user ids.
//!
//! A token is accepted when all of these hold:
//! - its header's `alg` is one of [`JwtSettings::algorithms`] (from
//!   configuration only, RFC 8725: `none` cannot be named, `HS*` is refused
//!   at construction);
//! - a key of the JWKS fits it: the token's `kid` names it (a token without
//!   `kid` is tried against every held key that fits its `alg`), its type and
//!   curve fit the `alg` (RSA for `RS*`/`PS*`, P-256 for `ES256`, P-384 for
//!   `ES384`, Ed25519 for `EdDSA`), and its own `alg`, if it names one, is
//!   the token's; the signature verifies with it;
//! - `exp` (required), `iss` (required, [`JwtSettings::issuer`]), `aud`
//!   (required, containing [`JwtSettings::audience`]) and `nbf` (when
//!   present) hold, within [`JwtSettings::leeway`];
//! - the business and user claims are non-empty strings (a number is
//!   refused).
//!
//! Keys come from the JWKS URL only: a token's `jku`, `x5u`, `x5c` and `jwk`
//! headers are ignored, never fetched nor trusted. The JWKS cache (its
//! `Cache-Control`, the refetch of an unknown `kid` at most once per 30 s,
//! the last good keys kept while the URL is down) is described below.
//!
//! Nothing here logs a token, a claim value or a `kid`: a rejection carries
//! a fixed reason ([`TokenRejected::Invalid`]); a fetch logs counts and why
//! it failed.
//!
//! ## The JWKS cache
//!
//! Fetched when a token first needs it (or [`JwtVerifier::prefetch`]), kept
//! for the answer's `Cache-Control: max-age` (raised to 30 s, lowered to
//! 24 h; 5 min without one or with `no-cache`), at most
//! [`JwtSettings::max_keys`] usable keys (the first ones). A `kid` no key
//! has fetches again at most once per 30 s, all callers together, one fetch
//! at a time (callers share it). A failed fetch keeps the last good keys (and
//! is tried again 30 s later); with none ever fetched a token gets
//! [`TokenRejected::KeysUnavailable`] (tried again 5 s later).

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod cache;
mod jwks;
mod settings;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use rsvp_app::{Clock, TokenIdentity, TokenRejected, TokenVerifier};
use serde_json::Value;
use time::OffsetDateTime;

use cache::{KeyCache, fitting};
pub use settings::{
    DEFAULT_ALGORITHMS, DEFAULT_BUSINESS_CLAIM, DEFAULT_FETCH_TIMEOUT, DEFAULT_LEEWAY, DEFAULT_MAX_KEYS,
    DEFAULT_USER_CLAIM, JwtConfigError, JwtSettings,
};

/// The longest token read (bytes): a longer one is refused unread.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The system's clock (the default of [`JwtVerifier::new`]).
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Verifies bearer JWTs with the keys of a JWKS (see the crate's
/// documentation for what is checked).
pub struct JwtVerifier {
    settings: JwtSettings,
    /// One validation per configured algorithm (`iss`, `aud`, `exp`, `nbf`,
    /// leeway; that algorithm only).
    validations: Vec<(Algorithm, Validation)>,
    cache: KeyCache,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("settings", &self.settings)
            .field("keys", &self.cache.len())
            .finish_non_exhaustive()
    }
}

type Claims = HashMap<String, Value>;

impl JwtVerifier {
    /// A verifier under `settings`, on the system's clock. Nothing is
    /// fetched yet. Installs rustls' `ring` provider as the process default
    /// unless one is installed already.
    ///
    /// # Errors
    /// [`JwtConfigError`] when the settings are refused (no issuer, audience
    /// or algorithm, an `HS*` algorithm, a JWKS URL that is not http(s)...)
    /// or the HTTP client cannot be built.
    pub fn new(settings: JwtSettings) -> Result<Self, JwtConfigError> {
        Self::with_clock(settings, Arc::new(SystemClock))
    }

    /// As [`JwtVerifier::new`], the JWKS cache's time read from `clock`
    /// (the token's `exp` and `nbf` are always judged on the system's clock).
    ///
    /// # Errors
    /// As [`JwtVerifier::new`].
    pub fn with_clock(settings: JwtSettings, clock: Arc<dyn Clock>) -> Result<Self, JwtConfigError> {
        let url = settings.check()?;
        if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
            return Err(JwtConfigError::Setup("jsonwebtoken has no crypto provider".to_owned()));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(settings.fetch_timeout)
            .connect_timeout(settings.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| JwtConfigError::Setup(format!("cannot build the JWKS HTTP client: {e}")))?;
        let mut algorithms: Vec<Algorithm> = Vec::with_capacity(settings.algorithms.len());
        for alg in &settings.algorithms {
            if !algorithms.contains(alg) {
                algorithms.push(*alg);
            }
        }
        let validations = algorithms
            .iter()
            .map(|alg| {
                let mut validation = Validation::new(*alg);
                validation.leeway = settings.leeway.as_secs();
                validation.validate_exp = true;
                validation.validate_nbf = true;
                validation.validate_aud = true;
                validation.set_issuer(&[&settings.issuer]);
                validation.set_audience(&[&settings.audience]);
                validation.set_required_spec_claims(&["exp", "iss", "aud"]);
                (*alg, validation)
            })
            .collect();
        let cache = KeyCache::new(client, url, algorithms, settings.max_keys, clock);
        Ok(Self {
            settings,
            validations,
            cache,
        })
    }

    /// Fetches the JWKS now unless the keys held are fresh (at start-up, say,
    /// so that the first token does not wait); the number of keys held after.
    /// A failure is logged and keeps the keys held.
    pub async fn prefetch(&self) -> usize {
        self.cache.prefetch().await
    }

    /// The settings this verifier judges by.
    pub fn settings(&self) -> &JwtSettings {
        &self.settings
    }

    /// The id named by the claim `name`: a non-empty string, or `refusal`.
    fn claim(claims: &Claims, name: &str, refusal: &'static str) -> Result<String, TokenRejected> {
        match claims.get(name) {
            Some(Value::String(id)) if !id.trim().is_empty() => Ok(id.clone()),
            _ => Err(TokenRejected::Invalid(refusal)),
        }
    }
}

/// A fixed reason for an error of `jsonwebtoken` (never the token's text).
fn reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::ImmatureSignature => "not yet valid",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::MissingRequiredClaim(_) => "a required claim (exp, iss, aud) is missing",
        ErrorKind::InvalidClaimFormat(_) => "a registered claim has the wrong type",
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            "algorithm not allowed"
        }
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidEddsaKey | ErrorKind::InvalidRsaKey(_) => "unusable key",
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => "malformed token",
        _ => "invalid token",
    }
}

#[async_trait]
impl TokenVerifier for JwtVerifier {
    async fn verify(&self, token: &str) -> Result<TokenIdentity, TokenRejected> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenRejected::Invalid("token too long"));
        }
        // The header is read unverified only to pick the algorithm and key;
        // `decode` checks it again with the signature.
        let header = decode_header(token).map_err(|_| TokenRejected::Invalid("malformed token"))?;
        let alg = header.alg;
        let Some((_, validation)) = self.validations.iter().find(|(allowed, _)| *allowed == alg) else {
            return Err(TokenRejected::Invalid("algorithm not allowed"));
        };
        let kid = header.kid.as_deref();
        let keys = self.cache.keys_for(kid, alg).await?;
        let mut outcome = Err(TokenRejected::Invalid("unknown key"));
        // Several keys only without a `kid` (or with a `kid` the JWKS
        // repeats): the first whose signature verifies judges the claims.
        for key in fitting(&keys, kid, alg) {
            match decode::<Claims>(token, &key.key, validation) {
                Ok(data) => {
                    let claims = data.claims;
                    return Ok(TokenIdentity {
                        business_external_id: Self::claim(
                            &claims,
                            &self.settings.business_claim,
                            "the business claim is missing or not a non-empty string",
                        )?,
                        user_external_id: Self::claim(
                            &claims,
                            &self.settings.user_claim,
                            "the user claim is missing or not a non-empty string",
                        )?,
                    });
                }
                Err(error) if matches!(error.kind(), ErrorKind::InvalidSignature) => {
                    outcome = Err(TokenRejected::Invalid(reason(error.kind())));
                }
                Err(error) => return Err(TokenRejected::Invalid(reason(error.kind()))),
            }
        }
        outcome
    }
}

// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
