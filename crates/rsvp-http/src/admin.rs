//! The operator API (`/v1/admin`), used by the host platform to mirror its
//! tenants into rsvp.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use rsvp_domain::{BusinessId, SuppressionId};
use serde::Serialize;

use crate::cursor;
use crate::dto::{BusinessBody, SuppressionBody, UserBody};
use crate::json::Json;
use crate::openapi::SuppressionList;
use crate::params::{IdParam, PathId, Query, SuppressionQuery};
use crate::problem::Problem;
use crate::requests::{AddUserRequest, CreateBusinessRequest};
use crate::state::{HttpState, Operator};

/// A new business, its user and API key.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProvisionedBusinessBody {
    business: BusinessBody,
    user: UserBody,
    /// The key's secret, shown once.
    api_key: String,
    /// The key's id (to list or revoke it).
    api_key_id: String,
}

// Hand-written so that a debug print never shows the secret.
impl std::fmt::Debug for ProvisionedBusinessBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisionedBusinessBody")
            .field("business", &self.business)
            .field("user", &self.user)
            .field("api_key_id", &self.api_key_id)
            .finish_non_exhaustive()
    }
}

impl From<&rsvp_app::ProvisionedBusiness> for ProvisionedBusinessBody {
    fn from(made: &rsvp_app::ProvisionedBusiness) -> Self {
        Self {
            business: BusinessBody::from(&made.business),
            user: UserBody::from(&made.user),
            api_key: made.api_key.expose().to_owned(),
            api_key_id: made.api_key_id.to_string(),
        }
    }
}

/// A new user and its API key.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProvisionedUserBody {
    user: UserBody,
    /// The key's secret, shown once.
    api_key: String,
    /// The key's id (to list or revoke it).
    api_key_id: String,
}

// Hand-written so that a debug print never shows the secret.
impl std::fmt::Debug for ProvisionedUserBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisionedUserBody")
            .field("user", &self.user)
            .field("api_key_id", &self.api_key_id)
            .finish_non_exhaustive()
    }
}

impl From<&rsvp_app::ProvisionedUser> for ProvisionedUserBody {
    fn from(made: &rsvp_app::ProvisionedUser) -> Self {
        Self {
            user: UserBody::from(&made.user),
            api_key: made.api_key.expose().to_owned(),
            api_key_id: made.api_key_id.to_string(),
        }
    }
}

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
