//! The host platform's identity: bearer JWTs its identity provider signs,
//! verified by an adapter (`rsvp-jwt`: the provider's JWKS, cached).

use super::*;

/// The host platform's ids a verified token names: matched by the use
/// cases to a business's and a user's `external_id`.
///
/// Its `Debug` shows both ids: log neither (they are claim values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    /// The business's id on the host platform (the business claim, `org_id`
    /// by default).
    pub business_external_id: String,
    /// The user's id on the host platform (the user claim, `sub` by default).
    pub user_external_id: String,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejected {
    /// Not a token this service accepts: malformed, an algorithm not
    /// configured, an unknown key, a bad signature, expired, not yet valid,
    /// another issuer or audience, a claim missing. The reason is fit for
    /// logs and metrics: it never holds the token or a claim value.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    /// No signing key is known and the key set (JWKS) cannot be fetched: the
    /// token could not be judged.
    #[error("no signing keys available")]
    KeysUnavailable,
}

/// Verifies the bearer JWTs of the host platform's identity provider.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait TokenVerifier: Send + Sync + std::fmt::Debug {
    /// Verifies a bearer JWT (the token alone, without `Bearer `) and
    /// returns the host platform's ids it names.
    ///
    /// # Errors
    /// [`TokenRejected::Invalid`] for a token that is not accepted,
    /// [`TokenRejected::KeysUnavailable`] when no key is known and none can
    /// be fetched.
    async fn verify(&self, token: &str) -> Result<TokenIdentity, TokenRejected>;
}
