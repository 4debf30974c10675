//! `/v1/webhook-endpoints`: a business's webhook endpoints, their secrets,
//! their delivery log and redelivery (API key, scoped to the caller's
//! business: another business's endpoint is 404).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use rsvp_app::{WebhookDelivery, WebhookEndpoint, rfc3339 as app_rfc3339};
use rsvp_domain::WebhookEndpointId;
use serde::Serialize;

use crate::cursor;
use crate::json::Json;
use crate::openapi::WebhookEventTypeName;
use crate::params::{IdParam, PageQuery, PathId, Query};
use crate::problem::Problem;
use crate::requests::{CreateWebhookEndpointRequest, PatchWebhookEndpointRequest, RedeliverRequest};
use crate::state::{Caller, HttpState};

/// A webhook endpoint as the API shows it (its secret only on creation and
/// rotation).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookEndpointBody {
    /// Id.
    pub id: String,
    /// Where deliveries go.
    pub url: String,
    /// The types it receives; null for every type.
    #[schema(value_type = Option<Vec<WebhookEventTypeName>>, required = true)]
    pub event_types: Option<Vec<String>>,
    /// The business's note.
    #[schema(required = true)]
    pub description: Option<String>,
    /// Whether deliveries are queued for it (false after 5 days of failures).
    pub enabled: bool,
    /// Creation.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// `whsec_<base64>`: only in the answers of creation and rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookEndpointBody {
    fn new(endpoint: &WebhookEndpoint, with_secret: bool) -> Self {
        Self {
            id: endpoint.id.to_string(),
            url: endpoint.url.clone(),
            event_types: (!endpoint.event_types.is_all()).then(|| endpoint.event_types.types().to_vec()),
            description: endpoint.description.clone(),
            enabled: endpoint.enabled,
            created_at: app_rfc3339(endpoint.created_at),
            secret: with_secret.then(|| endpoint.secret.expose().to_owned()),
        }
    }
}

/// The endpoints of the caller's business.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookEndpointList {
    /// Oldest first.
    pub data: Vec<WebhookEndpointBody>,
}

/// The new secret of a rotation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedSecret {
    /// `whsec_<base64>`; the previous secret also signs for 24 h.
    pub secret: String,
}

/// One delivery of an event to the endpoint, with its last attempt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookDeliveryBody {
    /// Id.
    pub id: String,
    /// The event (`webhook-id`).
    pub event_id: String,
    /// Its type.
    #[schema(value_type = WebhookEventTypeName)]
    pub event_type: String,
    /// Attempts made.
    pub attempt: u32,
    /// `pending`, `succeeded` or `failed`.
    #[schema(example = "pending")]
    pub status: &'static str,
    /// The HTTP status of the last attempt, when there was an answer.
    #[schema(required = true)]
    pub response_status: Option<u16>,
    /// How long the last attempt took.
    #[schema(required = true)]
    pub duration_ms: Option<u64>,
    /// When the last attempt was made.
    #[schema(format = DateTime, required = true)]
    pub attempted_at: Option<String>,
    /// When the next attempt is due; null once succeeded or failed.
    #[schema(format = DateTime, required = true)]
    pub next_attempt_at: Option<String>,
}

impl From<&WebhookDelivery> for WebhookDeliveryBody {
    fn from(d: &WebhookDelivery) -> Self {
        Self {
            id: d.id.to_string(),
            event_id: d.event_id.to_string(),
            event_type: d.event_type.clone(),
            attempt: d.attempts,
            status: d.status.as_str(),
            response_status: d.response_status,
            duration_ms: d.duration_ms,
            attempted_at: d.attempted_at.map(app_rfc3339),
            next_attempt_at: (d.status == rsvp_app::WebhookDeliveryStatus::Pending)
                .then(|| app_rfc3339(d.next_attempt_at)),
        }
    }
}

/// A page of deliveries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookDeliveryList {
    /// Newest first.
    pub data: Vec<WebhookDeliveryBody>,
    /// Next page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// With a secret: never stored by a cache.
fn secret_answer(mut response: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

/// `POST /v1/webhook-endpoints`
#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", request_body = CreateWebhookEndpointRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "registered; the answer holds its `secret`, shown only here and on rotation", body = WebhookEndpointBody,
            headers(("Location" = String, description = "the endpoint's URL path"), ("Cache-Control" = String, description = "`no-store`"))),
        (status = 422, description = "`validation_failed`: invalid fields; `url_not_allowed`: not https, or a host that is or resolves to a loopback, private, link-local or unique-local address (unless the operator allows it)"),
    ))]
pub async fn create(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    req: HttpRequest,
    Json(input): Json<CreateWebhookEndpointRequest>,
) -> Result<HttpResponse, Problem> {
    let endpoint = state.app.create_webhook_endpoint(&caller, &input).await?;
    Ok(secret_answer(HttpResponse::Created())
        .insert_header((header::LOCATION, crate::state::location_of(&req, endpoint.id)))
        .json(WebhookEndpointBody::new(&endpoint, true)))
}

/// `GET /v1/webhook-endpoints`
#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", security(("api_key" = [])),
    responses(
        (status = 200, description = "the caller's business's endpoints, oldest first", body = WebhookEndpointList),
    ))]
pub async fn list(state: web::Data<HttpState>, Caller(caller): Caller) -> Result<HttpResponse, Problem> {
    let endpoints = state.app.list_webhook_endpoints(&caller).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointList {
        data: endpoints.iter().map(|e| WebhookEndpointBody::new(e, false)).collect(),
    }))
}

/// `GET /v1/webhook-endpoints/{id}`
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(IdParam),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "the endpoint (without its secret)", body = WebhookEndpointBody),
        (status = 404, description = "not found (or not yours)"),
    ))]
pub async fn get(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<WebhookEndpointId>,
) -> Result<HttpResponse, Problem> {
    let endpoint = state.app.get_webhook_endpoint(&caller, id).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointBody::new(&endpoint, false)))
}

/// `PATCH /v1/webhook-endpoints/{id}`
#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(IdParam),
    request_body = PatchWebhookEndpointRequest, security(("api_key" = [])),
    responses(
        (status = 200, description = "the endpoint after the change", body = WebhookEndpointBody),
        (status = 404, description = "not found (or not yours)"),
        (status = 422, description = "`validation_failed` or `url_not_allowed`"),
    ))]
pub async fn patch(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<WebhookEndpointId>,
    Json(patch): Json<PatchWebhookEndpointRequest>,
) -> Result<HttpResponse, Problem> {
    let endpoint = state.app.update_webhook_endpoint(&caller, id, &patch).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointBody::new(&endpoint, false)))
}

/// `DELETE /v1/webhook-endpoints/{id}`
#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(IdParam),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "deleted, with its deliveries"),
        (status = 404, description = "not found (or not yours)"),
    ))]
pub async fn delete(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<WebhookEndpointId>,
) -> Result<HttpResponse, Problem> {
    state.app.delete_webhook_endpoint(&caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /v1/webhook-endpoints/{id}/rotate-secret`
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", params(IdParam),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "the new secret; for 24 h both the new and the previous secret sign (two space-separated signatures)", body = RotatedSecret,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 404, description = "not found (or not yours)"),
    ))]
pub async fn rotate(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<WebhookEndpointId>,
) -> Result<HttpResponse, Problem> {
    let endpoint = state.app.rotate_webhook_secret(&caller, id).await?;
    Ok(secret_answer(HttpResponse::Ok()).json(RotatedSecret {
        secret: endpoint.secret.expose().to_owned(),
    }))
}

/// `GET /v1/webhook-endpoints/{id}/deliveries`
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}/deliveries", tag = "webhooks",
    params(IdParam, PageQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "newest first", body = WebhookDeliveryList),
        (status = 404, description = "not found (or not yours)"),
    ))]
pub async fn deliveries(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<WebhookEndpointId>,
    Query(page): Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let page = state.app.list_webhook_deliveries(&caller, id, &page).await?;
    Ok(HttpResponse::Ok().json(WebhookDeliveryList {
        data: page.items.iter().map(WebhookDeliveryBody::from).collect(),
        next_cursor: page.next.as_ref().map(cursor::encode),
    }))
}

/// `POST /v1/webhook-endpoints/{id}/redeliver`
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/redeliver", tag = "webhooks", params(IdParam),
    request_body = RedeliverRequest, security(("api_key" = [])),
    responses(
        (status = 202, description = "queued again, with the same `webhook-id`", body = WebhookDeliveryBody),
        (status = 404, description = "no such endpoint, or no such event your business can see"),
        (status = 409, description = "`endpoint_disabled`: enable the endpoint first"),
        (status = 422, description = "invalid fields"),
    ))]
pub async fn redeliver(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<WebhookEndpointId>,
    Json(event_id): Json<RedeliverRequest>,
) -> Result<HttpResponse, Problem> {
    let delivery = state.app.redeliver_webhook(&caller, id, event_id.as_deref()).await?;
    Ok(HttpResponse::Accepted().json(WebhookDeliveryBody::from(&delivery)))
}
