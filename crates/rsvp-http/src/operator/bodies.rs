//! The operator's answers: businesses, users, API keys (a new key's
//! secret shown once), erasure reports, and who an API key acts as. Public
//! so that `rsvp admin ...` prints the very same JSON.

use rsvp_app::{BusinessDetail, CreatedApiKey, ErasureReport, Page};
use rsvp_domain::{ApiKey, Business, User};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cursor;
use crate::dto::{BusinessBody, SuppressionBody, UserBody, rfc3339};

/// A secret an answer shows once: written as the string itself, never
/// shown by a debug print.
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct ShownOnce(String);

impl ShownOnce {
    /// The secret.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ShownOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShownOnce(..)")
    }
}

/// A new business, its user and API key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProvisionedBusinessBody {
    business: BusinessBody,
    user: UserBody,
    /// The key's secret, shown once.
    #[schema(value_type = String)]
    api_key: ShownOnce,
    /// The key's id (to list or revoke it).
    api_key_id: String,
}

impl From<&rsvp_app::ProvisionedBusiness> for ProvisionedBusinessBody {
    fn from(made: &rsvp_app::ProvisionedBusiness) -> Self {
        Self {
            business: BusinessBody::from(&made.business),
            user: UserBody::from(&made.user),
            api_key: ShownOnce(made.api_key.expose().to_owned()),
            api_key_id: made.api_key_id.to_string(),
        }
    }
}

/// A new user and its API key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProvisionedUserBody {
    user: UserBody,
    /// The key's secret, shown once.
    #[schema(value_type = String)]
    api_key: ShownOnce,
    /// The key's id (to list or revoke it).
    api_key_id: String,
}

impl From<&rsvp_app::ProvisionedUser> for ProvisionedUserBody {
    fn from(made: &rsvp_app::ProvisionedUser) -> Self {
        Self {
            user: UserBody::from(&made.user),
            api_key: ShownOnce(made.api_key.expose().to_owned()),
            api_key_id: made.api_key_id.to_string(),
        }
    }
}

/// An API key, without its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKeyBody {
    /// Id (to revoke it).
    pub id: String,
    /// The operator's label.
    pub name: String,
    /// The first characters of the secret (`rsvp_` and 8 more; only `rsvp_`
    /// for keys made before prefixes were kept), to recognise it.
    pub prefix: String,
    /// When it was made.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// From when it is refused; null: never.
    #[schema(format = DateTime, required = true)]
    pub expires_at: Option<String>,
    /// Its last use, to the minute; null: never used.
    #[schema(format = DateTime, required = true)]
    pub last_used_at: Option<String>,
}

impl From<&ApiKey> for ApiKeyBody {
    fn from(key: &ApiKey) -> Self {
        Self {
            id: key.id.to_string(),
            name: key.name.to_string(),
            prefix: key.prefix.clone(),
            created_at: rfc3339(key.created_at),
            expires_at: key.expires_at.map(rfc3339),
            last_used_at: key.last_used_at.map(rfc3339),
        }
    }
}

/// A new API key with its secret, shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKeyBody {
    /// Id (to revoke it).
    pub id: String,
    /// The operator's label.
    pub name: String,
    /// The first characters of the secret.
    pub prefix: String,
    /// When it was made.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// From when it is refused; null: never.
    #[schema(format = DateTime, required = true)]
    pub expires_at: Option<String>,
    /// Always null for a new key.
    #[schema(format = DateTime, required = true)]
    pub last_used_at: Option<String>,
    /// The secret, `rsvp_...`: shown only here.
    #[schema(value_type = String)]
    pub api_key: ShownOnce,
}

impl From<&CreatedApiKey> for CreatedApiKeyBody {
    fn from(made: &CreatedApiKey) -> Self {
        let key = ApiKeyBody::from(&made.key);
        Self {
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            created_at: key.created_at,
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            api_key: ShownOnce(made.secret.expose().to_owned()),
        }
    }
}

/// A user's API keys, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKeyList {
    /// The keys (never their secrets).
    pub data: Vec<ApiKeyBody>,
}

impl ApiKeyList {
    /// The list of `keys`.
    pub fn new(keys: &[ApiKey]) -> Self {
        Self {
            data: keys.iter().map(ApiKeyBody::from).collect(),
        }
    }
}

/// A page of `$body`s read from a page of `$item`s, newest first.
macro_rules! newest_first_page {
    ($(#[$doc:meta])* $name:ident of $body:ident from $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
        pub struct $name {
            /// The rows, newest first.
            pub data: Vec<$body>,
            /// Pass as `cursor` for the next page; null on the last.
            #[schema(required = true)]
            pub next_cursor: Option<String>,
        }

        impl From<&Page<$item>> for $name {
            fn from(page: &Page<$item>) -> Self {
                Self {
                    data: page.items.iter().map($body::from).collect(),
                    next_cursor: page.next.as_ref().map(cursor::encode),
                }
            }
        }
    };
}

newest_first_page!(
    /// A page of businesses.
    BusinessList of BusinessBody from Business
);
newest_first_page!(
    /// A page of users.
    UserList of UserBody from User
);

impl UserList {
    /// The answer of a look-up by `external_id`: the user found, or none;
    /// one page, no next.
    pub fn found(user: Option<&User>) -> Self {
        Self {
            data: user.map(UserBody::from).into_iter().collect(),
            next_cursor: None,
        }
    }
}

/// A business with its users.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BusinessDetailBody {
    /// The business.
    pub business: BusinessBody,
    /// Its users, newest first, at most 200.
    pub users: Vec<UserBody>,
    /// Non-null when it has more: pass as `cursor` to `GET /v1/admin/businesses/{id}/users`.
    #[schema(required = true)]
    pub users_next_cursor: Option<String>,
}

impl From<&BusinessDetail> for BusinessDetailBody {
    fn from(detail: &BusinessDetail) -> Self {
        let users = UserList::from(&detail.users);
        Self {
            business: BusinessBody::from(&detail.business),
            users: users.data,
            users_next_cursor: users.next_cursor,
        }
    }
}

/// What an erasure did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErasureBody {
    /// Invitations (in every business) whose personal data was replaced.
    pub invitations_erased: u64,
    /// Of those, pending ones now cancelled.
    pub invitations_cancelled: u64,
    /// Queued emails dropped.
    pub emails_dropped: u64,
    /// Users with the address, deactivated (not erased).
    pub users_deactivated: u64,
}

impl From<&ErasureReport> for ErasureBody {
    fn from(report: &ErasureReport) -> Self {
        Self {
            invitations_erased: report.invitations_erased,
            invitations_cancelled: report.invitations_cancelled,
            emails_dropped: report.emails_dropped,
            users_deactivated: report.users_deactivated,
        }
    }
}

/// The caller of `GET /v1/me`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MeBody {
    /// The user the API key acts as.
    pub user: UserBody,
    /// Its business.
    pub business: BusinessBody,
}

/// A page of suppressions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionList {
    /// The rows, newest first.
    pub data: Vec<SuppressionBody>,
    /// Next page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_shown_once_is_in_the_json_and_never_in_a_debug_print() {
        let body = ProvisionedUserBody {
            user: UserBody {
                id: "u".to_owned(),
                business_id: "b".to_owned(),
                email: "ann@acme.test".to_owned(),
                first_name: None,
                last_name: None,
                created_at: "2026-01-01T00:00:00Z".to_owned(),
                deactivated: false,
                deactivated_at: None,
                external_id: None,
            },
            api_key: ShownOnce("rsvp_secret".to_owned()),
            api_key_id: "k".to_owned(),
        };
        assert!(!format!("{body:?}").contains("rsvp_secret"));
        let json = serde_json::to_value(&body).unwrap_or_default();
        assert_eq!(json["api_key"], "rsvp_secret");
    }
}
