//! `rsvp admin ...` beyond provisioning: each subcommand calls the use case
//! the operator API calls and prints the very same JSON body.

use anyhow::Context as _;
use clap::Subcommand;
use rsvp_app::{App, BusinessChange, BusinessListParams, NewApiKeyInput, PageRequest, PageSize, UserChange};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::wiring;

/// The lifecycle subcommands of `rsvp admin`.
#[derive(Debug, Subcommand)]
pub enum LifecycleCommand {
    /// List businesses, newest first (as GET /v1/admin/businesses).
    ListBusinesses {
        /// Only businesses whose name contains this, case-insensitively.
        #[arg(long)]
        name: Option<String>,
        /// Only the business with this host platform id.
        #[arg(long)]
        external_id: Option<String>,
        /// Page size, 1 to 200.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show a business with its users (as GET /v1/admin/businesses/{id}).
    GetBusiness {
        /// The business's id.
        #[arg(long)]
        id: String,
    },
    /// Rename, suspend or reinstate a business (as PATCH /v1/admin/businesses/{id}).
    UpdateBusiness {
        /// The business's id.
        #[arg(long)]
        id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// `true` suspends, `false` reinstates.
        #[arg(long)]
        suspended: Option<bool>,
        /// The host platform's id; an empty value clears it.
        #[arg(long)]
        external_id: Option<String>,
    },
    /// Suspend a business: its keys get 403, its links are dead.
    SuspendBusiness {
        /// The business's id.
        #[arg(long)]
        id: String,
    },
    /// Reinstate a suspended business.
    UnsuspendBusiness {
        /// The business's id.
        #[arg(long)]
        id: String,
    },
    /// List a business's users, newest first (as GET /v1/admin/businesses/{id}/users).
    ListUsers {
        /// The business's id.
        #[arg(long)]
        business_id: String,
        /// Page size, 1 to 200.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Rename, deactivate or reactivate a user (as PATCH /v1/admin/users/{id}).
    UpdateUser {
        /// The user's id.
        #[arg(long)]
        id: String,
        /// A new first name.
        #[arg(long)]
        first_name: Option<String>,
        /// A new last name.
        #[arg(long)]
        last_name: Option<String>,
        /// `true` deactivates, `false` reactivates.
        #[arg(long)]
        deactivated: Option<bool>,
        /// The host platform's id; an empty value clears it.
        #[arg(long)]
        external_id: Option<String>,
    },
    /// Find the user with a host platform id (as GET /v1/admin/users?external_id=).
    FindUser {
        /// The host platform's id of the user.
        #[arg(long)]
        external_id: String,
    },
    /// Deactivate a user: its keys get 401.
    DeactivateUser {
        /// The user's id.
        #[arg(long)]
        id: String,
    },
    /// Make a named API key for a user and print its secret, once (as POST /v1/admin/users/{id}/api-keys).
    CreateApiKey {
        /// The user's id.
        #[arg(long)]
        user_id: String,
        /// The key's label.
        #[arg(long)]
        name: String,
        /// When the key stops working (RFC 3339).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List a user's API keys, without secrets (as GET /v1/admin/users/{id}/api-keys).
    ListApiKeys {
        /// The user's id.
        #[arg(long)]
        user_id: String,
    },
    /// Revoke an API key at once (as DELETE /v1/admin/api-keys/{id}; prints `{"id","revoked":true}`).
    RevokeApiKey {
        /// The key's id.
        #[arg(long)]
        id: String,
    },
    /// Erase a person's data from every invitation (GDPR art. 17; as POST /v1/admin/erasures).
    Erase {
        /// The person's email.
        #[arg(long)]
        email: String,
    },
}

fn id<T: std::str::FromStr>(raw: &str, flag: &str) -> anyhow::Result<T> {
    raw.parse().map_err(|_| anyhow::anyhow!("{flag} must be a UUID"))
}

fn external(raw: &str) -> anyhow::Result<rsvp_domain::ExternalId> {
    rsvp_domain::ExternalId::parse(raw).map_err(|e| anyhow::anyhow!("--external-id: {}", e.message))
}

fn page(limit: i64, cursor: Option<&str>) -> anyhow::Result<(PageSize, Option<rsvp_app::Cursor>)> {
    let limit = PageSize::new(limit).context("--limit must be from 1 to 200")?;
    let after = cursor
        .map(|c| rsvp_http::cursor::decode(c).context("--cursor is not one rsvp printed"))
        .transpose()?;
    Ok((limit, after))
}

/// Runs one lifecycle subcommand; the JSON to print.
pub async fn run(app: &App, command: LifecycleCommand) -> anyhow::Result<Value> {
    use rsvp_http::dto::{BusinessBody, UserBody};
    use rsvp_http::operator::{ApiKeyList, BusinessDetailBody, BusinessList, CreatedApiKeyBody, ErasureBody, UserList};
    let describe = wiring::describe;
    match command {
        LifecycleCommand::ListBusinesses {
            name,
            external_id,
            limit,
            cursor,
        } => {
            let (limit, after) = page(limit, cursor.as_deref())?;
            let external_id = external_id.as_deref().map(external).transpose()?;
            let found = app
                .list_businesses(BusinessListParams {
                    name,
                    external_id,
                    limit,
                    after,
                })
                .await
                .map_err(describe)?;
            Ok(serde_json::to_value(BusinessList::from(&found))?)
        }
        LifecycleCommand::GetBusiness { id: raw } => {
            let detail = app.business_detail(id(&raw, "--id")?).await.map_err(describe)?;
            Ok(serde_json::to_value(BusinessDetailBody::from(&detail))?)
        }
        LifecycleCommand::UpdateBusiness {
            id: raw,
            name,
            suspended,
            external_id,
        } => {
            let change = BusinessChange {
                name,
                suspended,
                external_id: external_id.map(Some),
            };
            let business = app.update_business(id(&raw, "--id")?, change).await.map_err(describe)?;
            Ok(serde_json::to_value(BusinessBody::from(&business))?)
        }
        LifecycleCommand::SuspendBusiness { id: raw } => {
            let change = BusinessChange {
                suspended: Some(true),
                ..BusinessChange::default()
            };
            let business = app.update_business(id(&raw, "--id")?, change).await.map_err(describe)?;
            Ok(serde_json::to_value(BusinessBody::from(&business))?)
        }
        LifecycleCommand::UnsuspendBusiness { id: raw } => {
            let change = BusinessChange {
                suspended: Some(false),
                ..BusinessChange::default()
            };
            let business = app.update_business(id(&raw, "--id")?, change).await.map_err(describe)?;
            Ok(serde_json::to_value(BusinessBody::from(&business))?)
        }
        LifecycleCommand::ListUsers {
            business_id,
            limit,
            cursor,
        } => {
            let (limit, after) = page(limit, cursor.as_deref())?;
            let users = app
                .list_users(id(&business_id, "--business-id")?, PageRequest { limit, after })
                .await
                .map_err(describe)?;
            Ok(serde_json::to_value(UserList::from(&users))?)
        }
        LifecycleCommand::UpdateUser {
            id: raw,
            first_name,
            last_name,
            deactivated,
            external_id,
        } => {
            let change = UserChange {
                first_name: first_name.map(Some),
                last_name: last_name.map(Some),
                deactivated,
                external_id: external_id.map(Some),
            };
            let user = app.update_user(id(&raw, "--id")?, change).await.map_err(describe)?;
            Ok(serde_json::to_value(UserBody::from(&user))?)
        }
        LifecycleCommand::FindUser { external_id } => {
            let user = app
                .find_user_by_external_id(&external(&external_id)?)
                .await
                .map_err(describe)?;
            Ok(serde_json::to_value(UserList::found(user.as_ref()))?)
        }
        LifecycleCommand::DeactivateUser { id: raw } => {
            let change = UserChange {
                deactivated: Some(true),
                ..UserChange::default()
            };
            let user = app.update_user(id(&raw, "--id")?, change).await.map_err(describe)?;
            Ok(serde_json::to_value(UserBody::from(&user))?)
        }
        LifecycleCommand::CreateApiKey {
            user_id,
            name,
            expires_at,
        } => {
            let expires_at = expires_at
                .map(|raw| OffsetDateTime::parse(&raw, &Rfc3339))
                .transpose()
                .context("--expires-at must be an RFC 3339 date-time such as 2030-01-31T12:00:00Z")?;
            let made = app
                .create_api_key(
                    id(&user_id, "--user-id")?,
                    NewApiKeyInput {
                        name: Some(name),
                        expires_at,
                    },
                )
                .await
                .map_err(describe)?;
            Ok(serde_json::to_value(CreatedApiKeyBody::from(&made))?)
        }
        LifecycleCommand::ListApiKeys { user_id } => {
            let keys = app.list_api_keys(id(&user_id, "--user-id")?).await.map_err(describe)?;
            Ok(serde_json::to_value(ApiKeyList::new(&keys))?)
        }
        LifecycleCommand::RevokeApiKey { id: raw } => {
            let key: rsvp_domain::ApiKeyId = id(&raw, "--id")?;
            app.revoke_api_key(key).await.map_err(describe)?;
            Ok(json!({"id": key.to_string(), "revoked": true}))
        }
        LifecycleCommand::Erase { email } => {
            let report = app.erase_person(&email).await.map_err(describe)?;
            Ok(serde_json::to_value(ErasureBody::from(&report))?)
        }
    }
}
