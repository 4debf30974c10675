//! What the operator configures ([`JwtSettings`]) and why a configuration is
//! refused ([`JwtConfigError`]).

use std::time::Duration;

use jsonwebtoken::{Algorithm, AlgorithmFamily};

/// The algorithms accepted when none are configured: `RS256` and `ES256`.
pub const DEFAULT_ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];
/// The claim naming the business when none is configured.
pub const DEFAULT_BUSINESS_CLAIM: &str = "org_id";
/// The claim naming the user when none is configured.
pub const DEFAULT_USER_CLAIM: &str = "sub";
/// Clock skew allowed on `exp` and `nbf` by default.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// How long a JWKS fetch may take by default (connection and answer).
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// How many keys of a JWKS are kept by default (the first usable ones).
pub const DEFAULT_MAX_KEYS: usize = 32;

/// How bearer JWTs are judged and where their keys come from.
///
/// Build it with [`JwtSettings::new`] (the defaults below), then change
/// fields; [`crate::JwtVerifier::new`] checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// The one accepted `iss` (required in every token).
    pub issuer: String,
    /// The accepted `aud` (required in every token; a token's list of
    /// audiences must contain it).
    pub audience: String,
    /// Where the JWKS is fetched (`https://` in production; `http://` is
    /// accepted for a local identity provider). Redirects are not followed.
    pub jwks_url: String,
    /// The accepted algorithms: a token whose header names another is
    /// refused (RFC 8725). Asymmetric only: `HS*` is refused at
    /// construction (a JWKS is public; its keys never sign an HMAC), and
    /// `none` cannot be named. Default [`DEFAULT_ALGORITHMS`].
    pub algorithms: Vec<Algorithm>,
    /// The claim holding the business's id on the host platform (a
    /// non-empty string). Default [`DEFAULT_BUSINESS_CLAIM`].
    pub business_claim: String,
    /// The claim holding the user's id on the host platform (a non-empty
    /// string). Default [`DEFAULT_USER_CLAIM`].
    pub user_claim: String,
    /// Clock skew allowed on `exp` and `nbf` (whole seconds). Default
    /// [`DEFAULT_LEEWAY`].
    pub leeway: Duration,
    /// The bound of one JWKS fetch. Default [`DEFAULT_FETCH_TIMEOUT`].
    pub fetch_timeout: Duration,
    /// The most keys kept from a JWKS: the first usable ones, the rest
    /// ignored. Default [`DEFAULT_MAX_KEYS`].
    pub max_keys: usize,
}

impl JwtSettings {
    /// Settings for tokens of `issuer` to `audience`, keys from `jwks_url`,
    /// every other field at its default.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, jwks_url: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_url: jwks_url.into(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            business_claim: DEFAULT_BUSINESS_CLAIM.to_owned(),
            user_claim: DEFAULT_USER_CLAIM.to_owned(),
            leeway: DEFAULT_LEEWAY,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_keys: DEFAULT_MAX_KEYS,
        }
    }

    /// Checks the settings; the JWKS URL parsed.
    pub(crate) fn check(&self) -> Result<reqwest::Url, JwtConfigError> {
        if self.issuer.trim().is_empty() {
            return Err(JwtConfigError::Missing("issuer"));
        }
        if self.audience.trim().is_empty() {
            return Err(JwtConfigError::Missing("audience"));
        }
        if self.business_claim.is_empty() {
            return Err(JwtConfigError::Missing("business claim"));
        }
        if self.user_claim.is_empty() {
            return Err(JwtConfigError::Missing("user claim"));
        }
        if self.algorithms.is_empty() {
            return Err(JwtConfigError::Missing("algorithms"));
        }
        if let Some(alg) = self.algorithms.iter().find(|a| a.family() == AlgorithmFamily::Hmac) {
            return Err(JwtConfigError::SymmetricAlgorithm(*alg));
        }
        if self.max_keys == 0 {
            return Err(JwtConfigError::Missing("max keys (at least 1)"));
        }
        if self.fetch_timeout.is_zero() {
            return Err(JwtConfigError::Missing("fetch timeout (above zero)"));
        }
        let url = reqwest::Url::parse(&self.jwks_url).map_err(|e| JwtConfigError::JwksUrl(e.to_string()))?;
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            return Err(JwtConfigError::JwksUrl("not an http(s) URL with a host".to_owned()));
        }
        Ok(url)
    }
}

/// Why settings are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtConfigError {
    /// A required setting is empty.
    #[error("JWT settings: no {0}")]
    Missing(&'static str),
    /// An HMAC algorithm was configured: with keys from a public JWKS it
    /// would let anyone sign (RFC 8725, 3.1).
    #[error("JWT settings: {0:?} is a shared-secret algorithm, refused with keys from a JWKS")]
    SymmetricAlgorithm(Algorithm),
    /// The JWKS URL is not an http(s) URL.
    #[error("JWT settings: JWKS URL: {0}")]
    JwksUrl(String),
    /// The HTTP client or the crypto provider could not be set up.
    #[error("JWT verifier: {0}")]
    Setup(String),
}
