//! The operator's area (`/v1/admin/...`, with the operator token): the
//! host platform provisions its tenants into rsvp (businesses and their
//! first user, more users), and manages their lifecycle (list, read,
//! rename, suspend businesses; rename, deactivate users; API keys: create,
//! list, revoke), erases a person's data, and lifts recipients'
//! suppressions. And `GET /v1/me`, for any API key: who it acts as.

mod bodies;
mod requests;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use rsvp_domain::{ApiKeyId, BusinessId, SuppressionId, UserId};

pub use bodies::*;

use crate::cursor;
use crate::dto::{BusinessBody, SuppressionBody, UserBody};
use crate::json::Json;
use crate::params::{BusinessListQuery, IdParam, PageQuery, PathId, Query, SuppressionQuery, UserLookupQuery};
use crate::problem::Problem;
use crate::state::{Caller, HttpState, Operator};
pub use requests::{
    AddUserRequest, CreateApiKeyRequest, CreateBusinessRequest, ErasureRequest, UpdateBusinessRequest,
    UpdateUserRequest,
};

/// `POST /v1/admin/businesses`
#[utoipa::path(post, path = "/v1/admin/businesses", tag = "operator", request_body = CreateBusinessRequest,
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "created; the API key is shown once", body = ProvisionedBusinessBody),
        (status = 404, description = "not found (or not yours)"),
        (status = 409, description = "conflict"),
        (status = 422, description = "invalid fields"),
    ))]
pub async fn create_business(
    state: web::Data<HttpState>,
    _: Operator,
    Json(input): Json<CreateBusinessRequest>,
) -> Result<HttpResponse, Problem> {
    let made = state.app.provision_business(input).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ProvisionedBusinessBody::from(&made)))
}

/// `POST /v1/admin/businesses/{id}/users`
#[utoipa::path(post, path = "/v1/admin/businesses/{id}/users", tag = "operator", params(IdParam),
    request_body = AddUserRequest, security(("admin_token" = [])),
    responses(
        (status = 201, description = "created; the API key is shown once", body = ProvisionedUserBody),
        (status = 404, description = "not found (or not yours)"),
        (status = 409, description = "conflict"),
        (status = 422, description = "invalid fields"),
    ))]
pub async fn add_user(
    state: web::Data<HttpState>,
    _: Operator,
    PathId(business): PathId<BusinessId>,
    Json(input): Json<AddUserRequest>,
) -> Result<HttpResponse, Problem> {
    let made = state.app.add_user(business, input).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ProvisionedUserBody::from(&made)))
}

/// `GET /v1/admin/suppressions`
#[utoipa::path(get, path = "/v1/admin/suppressions", tag = "operator", params(SuppressionQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "recipients' opt-outs, newest first", body = SuppressionList),
        (status = 404, description = "the operator API is turned off"),
    ))]
pub async fn list_suppressions(
    state: web::Data<HttpState>,
    _: Operator,
    Query(query): Query<SuppressionQuery>,
) -> Result<HttpResponse, Problem> {
    let page = state.app.list_suppressions(query).await?;
    Ok(HttpResponse::Ok().json(SuppressionList {
        data: page.items.iter().map(SuppressionBody::from).collect(),
        next_cursor: page.next.as_ref().map(cursor::encode),
    }))
}

/// `DELETE /v1/admin/suppressions/{id}`
#[utoipa::path(delete, path = "/v1/admin/suppressions/{id}", tag = "operator",
    params(IdParam),
    security(("admin_token" = [])),
    responses(
        (status = 204, description = "lifted: the address may be invited again by those it blocked"),
        (status = 404, description = "no such suppression (or the operator API is turned off)"),
    ))]
pub async fn delete_suppression(
    state: web::Data<HttpState>,
    _: Operator,
    PathId(id): PathId<SuppressionId>,
) -> Result<HttpResponse, Problem> {
    state.app.delete_suppression(id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/admin/businesses`
#[utoipa::path(get, path = "/v1/admin/businesses", tag = "operator", params(BusinessListQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "newest first", body = BusinessList),
        (status = 400, description = "`invalid_query`: a bad filter, limit or cursor"),
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

/// `PATCH /v1/admin/businesses/{id}` with `{"name", "suspended", "external_id"}`
#[utoipa::path(patch, path = "/v1/admin/businesses/{id}", tag = "operator", params(IdParam),
    request_body = UpdateBusinessRequest, security(("admin_token" = [])),
    responses(
        (status = 200, description = "the business after the change; while suspended its API keys get 403 `business_suspended` and its links are dead", body = BusinessBody),
        (status = 404, description = "no such business"),
        (status = 409, description = "`external_id_taken`: another business has this external_id"),
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

/// `GET /v1/admin/users?external_id=`: the user with the host platform's id.
#[utoipa::path(get, path = "/v1/admin/users", tag = "operator", params(UserLookupQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "the user with this external_id, or none (`data` is empty)", body = UserList),
        (status = 404, description = "the operator API is off"),
        (status = 400, description = "`invalid_query`: external_id missing or invalid"),
    ))]
pub async fn find_users(
    state: web::Data<HttpState>,
    _: Operator,
    Query(external_id): Query<UserLookupQuery>,
) -> Result<HttpResponse, Problem> {
    let user = state.app.find_user_by_external_id(&external_id).await?;
    Ok(HttpResponse::Ok().json(UserList::found(user.as_ref())))
}

/// `PATCH /v1/admin/users/{id}` with `{"first_name","last_name","deactivated","external_id"}`
#[utoipa::path(patch, path = "/v1/admin/users/{id}", tag = "operator", params(IdParam),
    request_body = UpdateUserRequest, security(("admin_token" = [])),
    responses(
        (status = 200, description = "the user after the change; while deactivated its API keys get 401", body = UserBody),
        (status = 404, description = "no such user"),
        (status = 409, description = "`external_id_taken`: another user has this external_id"),
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
