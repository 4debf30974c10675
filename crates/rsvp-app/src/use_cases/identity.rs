//! The host platform's callers: a bearer JWT of its identity provider,
//! verified by the [`TokenVerifier`](crate::ports::TokenVerifier) port and
//! mapped, by the host platform's ids it names, to an active user of an
//! active business (beside API keys, which keep working).

use std::sync::Arc;

use rsvp_domain::ExternalId;
use time::Duration;

use crate::ports::{Principal, TokenRejected, TokenVerifier};
use crate::{App, AppError};

/// The token verifier, if the host platform's JWTs are accepted.
#[derive(Clone, Default)]
pub(crate) struct Verifier(pub(crate) Option<Arc<dyn TokenVerifier>>);

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Verifier").field(&self.0.is_some()).finish()
    }
}

impl App {
    /// Accepts the host platform's bearer JWTs, verified by `verifier`, beside
    /// API keys ([`App::authenticate_token`]).
    #[must_use]
    pub fn with_token_verifier(mut self, verifier: Arc<dyn TokenVerifier>) -> Self {
        self.verifier = Verifier(Some(verifier));
        self
    }

    /// Whether the host platform's JWTs are accepted.
    pub fn accepts_tokens(&self) -> bool {
        self.verifier.0.is_some()
    }

    /// The caller a host platform's JWT acts as: the user whose
    /// `external_id` is the token's user claim, of the business whose
    /// `external_id` is its business claim. What the ids lead to is read from
    /// the store at most once per
    /// [`Settings::credential_cache_ttl`](crate::Settings::credential_cache_ttl),
    /// as for API keys; the token itself is verified on every call.
    ///
    /// # Errors
    /// [`AppError::Unauthorized`] for a token the verifier refuses, for ids
    /// that name no user, a user of another business or a deactivated user,
    /// and when no verifier is configured; [`AppError::BusinessSuspended`]
    /// for a suspended business; [`AppError::Unavailable`] when the verifier
    /// has no keys to judge the token with.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal, AppError> {
        let verifier = self.verifier.0.as_ref().ok_or(AppError::Unauthorized)?;
        let identity = verifier.verify(token).await.map_err(|rejected| match rejected {
            TokenRejected::Invalid(_) => AppError::Unauthorized,
            TokenRejected::KeysUnavailable => {
                AppError::Unavailable("the identity provider's signing keys are unavailable".to_owned())
            }
        })?;
        let (Ok(business_id), Ok(user_id)) = (
            ExternalId::parse(&identity.business_external_id),
            ExternalId::parse(&identity.user_external_id),
        ) else {
            return Err(AppError::Unauthorized);
        };
        // The two ids, unambiguously joined, as the cache's key.
        let hash = self
            .ports
            .secrets
            .hash(&format!("jwt\u{0}{}\u{0}{}", business_id.as_str(), user_id.as_str()));
        let now = self.now();
        let ttl = self.settings.credential_cache_ttl;
        let principal = match self.principals.get(&hash, now, ttl) {
            Some(principal) => principal,
            None => {
                let operator = self.ports.store.operator();
                let user = operator
                    .find_user_by_external_id(&user_id)
                    .await?
                    .ok_or(AppError::Unauthorized)?;
                let business = operator
                    .get_business(user.business_id)
                    .await?
                    .filter(|business| business.external_id.as_ref() == Some(&business_id))
                    .ok_or(AppError::Unauthorized)?;
                let principal = Principal { business, user };
                if ttl > Duration::ZERO {
                    self.principals.put(hash, principal.clone(), now);
                }
                principal
            }
        };
        if principal.user.is_deactivated() {
            return Err(AppError::Unauthorized);
        }
        if principal.business.is_suspended() {
            return Err(AppError::BusinessSuspended);
        }
        Ok(principal)
    }
}
