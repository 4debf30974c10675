//! The operator lifecycle (`/v1/admin/...`): businesses (list, read,
//! rename, suspend), users (list, rename, deactivate), API keys (create,
//! list, revoke) and erasure; and `GET /v1/me` for any API key. The bodies
//! are public so that `rsvp admin ...` prints the very same JSON.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use rsvp_app::{BusinessDetail, CreatedApiKey, ErasureReport, Page};
use rsvp_domain::{ApiKey, ApiKeyId, Business, BusinessId, User, UserId};
use serde::Serialize;

use crate::cursor;
use crate::dto::{BusinessBody, UserBody, rfc3339};
use crate::json::Json;
use crate::params::{BusinessListQuery, IdParam, PageQuery, PathId, Query};
use crate::problem::Problem;
use crate::requests::{CreateApiKeyRequest, ErasureRequest, UpdateBusinessRequest, UpdateUserRequest};
use crate::state::{Caller, HttpState, Operator};

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
#[derive(Clone, Serialize, utoipa::ToSchema)]
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
    pub api_key: String,
}

// Hand-written so that a debug print never shows the secret.
impl std::fmt::Debug for CreatedApiKeyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKeyBody")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
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
            api_key: made.secret.expose().to_owned(),
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

/// A page of businesses.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BusinessList {
    /// The rows, newest first.
    pub data: Vec<BusinessBody>,
    /// Pass as `cursor` for the next page; null on the last.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl From<&Page<Business>> for BusinessList {
    fn from(page: &Page<Business>) -> Self {
        Self {
            data: page.items.iter().map(BusinessBody::from).collect(),
            next_cursor: page.next.as_ref().map(cursor::encode),
        }
    }
}

/// A page of users.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserList {
    /// The rows, newest first.
    pub data: Vec<UserBody>,
    /// Pass as `cursor` for the next page; null on the last.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl From<&Page<User>> for UserList {
    fn from(page: &Page<User>) -> Self {
        Self {
            data: page.items.iter().map(UserBody::from).collect(),
            next_cursor: page.next.as_ref().map(cursor::encode),
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

/// `GET /v1/admin/businesses`
#[utoipa::path(get, path = "/v1/admin/businesses", tag = "operator", params(BusinessListQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "newest first", body = BusinessList),
        (status = 404, description = "the operator API is off"),
    ))]
pub async fn list_businesses(
    state: web::Data<HttpState>,
    _: Operator,
    Query(params): Query<BusinessListQuery>,
) -> Result<HttpResponse, Problem> {
    let page = state.app.list_businesses(params).await?;
    Ok(HttpResponse::Ok().json(BusinessList::from(&page)))
}

/// `GET /v1/admin/businesses/{id}`
#[utoipa::path(get, path = "/v1/admin/businesses/{id}", tag = "operator", params(IdParam),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "the business with its users", body = BusinessDetailBody),
        (status = 404, description = "no such business"),
    ))]
pub async fn get_business(
    state: web::Data<HttpState>,
    _: Operator,
    PathId(id): PathId<BusinessId>,
) -> Result<HttpResponse, Problem> {
    let detail = state.app.business_detail(id).await?;
    Ok(HttpResponse::Ok().json(BusinessDetailBody::from(&detail)))
}

/// `PATCH /v1/admin/businesses/{id}` with `{"name", "suspended"}`
#[utoipa::path(patch, path = "/v1/admin/businesses/{id}", tag = "operator", params(IdParam),
    request_body = UpdateBusinessRequest, security(("admin_token" = [])),
    responses(
        (status = 200, description = "the business after the change; while suspended its API keys get 403 `business_suspended` and its links are dead", body = BusinessBody),
        (status = 404, description = "no such business"),
        (status = 422, description = "invalid fields"),
    ))]
pub async fn update_business(
    state: web::Data<HttpState>,
    _: Operator,
    PathId(id): PathId<BusinessId>,
    Json(change): Json<UpdateBusinessRequest>,
) -> Result<HttpResponse, Problem> {
    let business = state.app.update_business(id, change).await?;
    Ok(HttpResponse::Ok().json(BusinessBody::from(&business)))
}

/// `GET /v1/admin/businesses/{id}/users`
#[utoipa::path(get, path = "/v1/admin/businesses/{id}/users", tag = "operator", params(IdParam, PageQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "newest first", body = UserList),
        (status = 404, description = "no such business"),
    ))]
pub async fn list_users(
    state: web::Data<HttpState>,
    _: Operator,
    PathId(id): PathId<BusinessId>,
    Query(page): Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let users = state.app.list_users(id, page).await?;
    Ok(HttpResponse::Ok().json(UserList::from(&users)))
}

/// `PATCH /v1/admin/users/{id}` with `{"first_name","last_name","deactivated"}`
#[utoipa::path(patch, path = "/v1/admin/users/{id}", tag = "operator", params(IdParam),
    request_body = UpdateUserRequest, security(("admin_token" = [])),
    responses(
        (status = 200, description = "the user after the change; while deactivated its API keys get 401", body = UserBody),
        (status = 404, description = "no such user"),
        (status = 422, description = "invalid fields"),
    ))]
pub async fn update_user(
    state: web::Data<HttpState>,
    _: Operator,
    PathId(id): PathId<UserId>,
    Json(change): Json<UpdateUserRequest>,
) -> Result<HttpResponse, Problem> {
    let user = state.app.update_user(id, change).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(&user)))
}

/// `POST /v1/admin/users/{id}/api-keys` with `{"name","expires_at"}`
#[utoipa::path(post, path = "/v1/admin/users/{id}/api-keys", tag = "operator", params(IdParam),
    request_body = CreateApiKeyRequest, security(("admin_token" = [])),
    responses(
        (status = 201, description = "created; the secret `api_key` is shown only here", body = CreatedApiKeyBody),
        (status = 404, description = "no such user"),
        (status = 409, description = "`user_deactivated`: the user is deactivated"),
        (status = 422, description = "invalid fields (`expires_at` must be in the future, at most 10 years ahead)"),
    ))]
pub async fn create_api_key(
    state: web::Data<HttpState>,
    _: Operator,
    PathId(id): PathId<UserId>,
    Json(input): Json<CreateApiKeyRequest>,
) -> Result<HttpResponse, Problem> {
    let made = state.app.create_api_key(id, input).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedApiKeyBody::from(&made)))
}

/// `GET /v1/admin/users/{id}/api-keys`
#[utoipa::path(get, path = "/v1/admin/users/{id}/api-keys", tag = "operator", params(IdParam),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "the user's keys, newest first, never their secrets", body = ApiKeyList),
        (status = 404, description = "no such user"),
    ))]
pub async fn list_api_keys(
    state: web::Data<HttpState>,
    _: Operator,
    PathId(id): PathId<UserId>,
) -> Result<HttpResponse, Problem> {
    let keys = state.app.list_api_keys(id).await?;
    Ok(HttpResponse::Ok().json(ApiKeyList::new(&keys)))
}

/// `DELETE /v1/admin/api-keys/{id}`
#[utoipa::path(delete, path = "/v1/admin/api-keys/{id}", tag = "operator", params(IdParam),
    security(("admin_token" = [])),
    responses(
        (status = 204, description = "revoked: refused from now on, on every replica"),
        (status = 404, description = "no such key (or revoked already)"),
    ))]
pub async fn revoke_api_key(
    state: web::Data<HttpState>,
    _: Operator,
    PathId(id): PathId<ApiKeyId>,
) -> Result<HttpResponse, Problem> {
    state.app.revoke_api_key(id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /v1/admin/erasures` with `{"email"}`
#[utoipa::path(post, path = "/v1/admin/erasures", tag = "operator", request_body = ErasureRequest,
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "erased (GDPR art. 17): every invitation to the address, in every business, lost its personal data; pending ones were cancelled, their links revoked, their queued emails dropped; a user with the address was deactivated", body = ErasureBody),
        (status = 404, description = "the operator API is off"),
        (status = 422, description = "invalid fields"),
    ))]
pub async fn erase(
    state: web::Data<HttpState>,
    _: Operator,
    Json(email): Json<ErasureRequest>,
) -> Result<HttpResponse, Problem> {
    let report = state.app.erase_person(&email).await?;
    Ok(HttpResponse::Ok().json(ErasureBody::from(&report)))
}

/// `GET /v1/me`
#[utoipa::path(get, path = "/v1/me", tag = "me",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "the user the API key acts as, and its business", body = MeBody),
        (status = 403, description = "`business_suspended`: the business is suspended"),
    ))]
pub async fn me(Caller(caller): Caller) -> HttpResponse {
    HttpResponse::Ok().json(MeBody {
        user: UserBody::from(&caller.user),
        business: BusinessBody::from(&caller.business),
    })
}
