//! Join links: a business's links that many businesses can use to connect
//! with it (`/v1/join-links`, its API key), their public preview and their
//! redemption by another business's key (`/v1/join/{token}`), and the
//! connection requests of the links that ask for approval
//! (`/v1/connection-requests`). Unknown tokens answer 404 and count as failed
//! link lookups, as invitation links do.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use rsvp_app::{JoinLinkPreview, Redemption, RequestSide};
use rsvp_domain::{BusinessId, ConnectionRequest, ConnectionRequestId, CustomData, JoinLink, JoinLinkId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cursor;
use crate::dto::{ConnectionBody, rfc3339};
use crate::json::Json;
use crate::openapi::{ConnectionRequestStatusName, JoinLinkStatusName};
use crate::params::{IdParam, PageQuery, PathId, Query};
use crate::problem::Problem;
use crate::requests::{AnswerConnectionRequestRequest, CreateJoinLinkRequest};
use crate::state::{Caller, HttpState};

/// A join link as its business sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JoinLinkBody {
    /// Id.
    pub id: String,
    /// `<public URL>/join/<token>`: only in the create answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The token of `url`: only in the create answer (stored as a hash).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// What it reads as now.
    #[schema(value_type = JoinLinkStatusName)]
    pub status: &'static str,
    /// Most uses; null: unlimited.
    #[schema(required = true)]
    pub max_uses: Option<u32>,
    /// Uses taken: connections made and requests pending or approved.
    pub uses: u32,
    /// Roles of the connections it makes.
    pub roles: Vec<String>,
    /// The business's metadata.
    #[schema(value_type = Object)]
    pub custom_data: CustomData,
    /// Whether each redemption waits for approval.
    pub requires_approval: bool,
    /// The business's note.
    #[schema(required = true)]
    pub note: Option<String>,
    /// When it stops working.
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// When it was revoked.
    #[schema(format = DateTime, required = true)]
    pub revoked_at: Option<String>,
    /// When it was made.
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl JoinLinkBody {
    fn new(state: &HttpState, link: &JoinLink) -> Self {
        Self {
            id: link.id.to_string(),
            url: None,
            token: None,
            status: link.status_at(state.app.clock().now()).as_str(),
            max_uses: link.max_uses,
            uses: link.uses,
            roles: link.roles.to_strings(),
            custom_data: link.custom_data.clone(),
            requires_approval: link.requires_approval,
            note: link.note.as_ref().map(ToString::to_string),
            expires_at: rfc3339(link.expires_at),
            revoked_at: link.revoked_at.map(rfc3339),
            created_at: rfc3339(link.created_at),
        }
    }
}

/// A page of join links.
#[derive(Debug, Serialize, ToSchema)]
pub struct JoinLinkList {
    /// Newest first.
    pub data: Vec<JoinLinkBody>,
    /// Next page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The business a join link connects with, as its holder sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JoinLinkBusiness {
    /// Its name.
    pub name: String,
}

/// What anyone holding a join link's token sees: who it connects with and
/// whether it can be used (never its uses, note or `custom_data`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JoinLinkPreviewBody {
    /// The link's business.
    pub business: JoinLinkBusiness,
    /// Roles of the connection it makes.
    pub roles: Vec<String>,
    /// When it stops working.
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// Whether a redemption waits for the business's approval.
    pub requires_approval: bool,
    /// What it reads as now.
    #[schema(value_type = JoinLinkStatusName)]
    pub status: &'static str,
}

impl From<&JoinLinkPreview> for JoinLinkPreviewBody {
    fn from(preview: &JoinLinkPreview) -> Self {
        Self {
            business: JoinLinkBusiness {
                name: preview.business.name.to_string(),
            },
            roles: preview.link.roles.to_strings(),
            expires_at: rfc3339(preview.link.expires_at),
            requires_approval: preview.link.requires_approval,
            status: preview.status.as_str(),
        }
    }
}

/// A connection request, as either of its two businesses sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionRequestBody {
    /// Id.
    pub id: String,
    /// The join link redeemed.
    pub join_link_id: String,
    /// Where it stands.
    #[schema(value_type = ConnectionRequestStatusName)]
    pub status: &'static str,
    /// The link's business (who approves).
    pub business_id: String,
    /// The business that redeemed the link.
    pub requester_business_id: String,
    /// The name of the other business, seen from the caller (null when it
    /// cannot be read).
    #[schema(required = true)]
    pub other_business_name: Option<String>,
    /// Roles of the connection an approval makes.
    pub roles: Vec<String>,
    /// The connection its approval made.
    #[schema(required = true)]
    pub connection_id: Option<String>,
    /// When it was made.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When it was answered.
    #[schema(format = DateTime, required = true)]
    pub resolved_at: Option<String>,
}

impl ConnectionRequestBody {
    fn new(request: &ConnectionRequest, other_business_name: Option<String>) -> Self {
        Self {
            id: request.id.to_string(),
            join_link_id: request.join_link_id.to_string(),
            status: request.status.as_str(),
            business_id: request.business_id.to_string(),
            requester_business_id: request.requester_business_id.to_string(),
            other_business_name,
            roles: request.roles.to_strings(),
            connection_id: request.connection_id.map(|id| id.to_string()),
            created_at: rfc3339(request.created_at),
            resolved_at: request.resolved_at.map(rfc3339),
        }
    }
}

/// The other business of `request`, seen from `caller`.
fn other_business(request: &ConnectionRequest, caller: BusinessId) -> BusinessId {
    if request.business_id == caller {
        request.requester_business_id
    } else {
        request.business_id
    }
}

/// `request` as `caller` sees it, with the other business's name.
async fn request_body(state: &HttpState, request: &ConnectionRequest, caller: BusinessId) -> ConnectionRequestBody {
    let name = state.app.business_name(other_business(request, caller)).await;
    ConnectionRequestBody::new(request, name)
}

/// A page of connection requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionRequestList {
    /// Newest first.
    pub data: Vec<ConnectionRequestBody>,
    /// Next page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A redemption that connected the two businesses.
#[derive(Debug, Serialize, ToSchema)]
pub struct JoinedBody {
    /// The connection made.
    pub connection: ConnectionBody,
}

/// A redemption waiting for the link's business to approve it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JoinRequestedBody {
    /// The pending request.
    pub connection_request: ConnectionRequestBody,
}

/// An answered connection request, with the connection an approval made.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnsweredRequestBody {
    /// The request as answered.
    pub connection_request: ConnectionRequestBody,
    /// The connection (an approval's; null after a decline).
    #[schema(required = true)]
    pub connection: Option<ConnectionBody>,
}

/// `POST /v1/join-links`
#[utoipa::path(post, path = "/v1/join-links", tag = "join-links", request_body = CreateJoinLinkRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "created; `url` and `token` are shown only here", body = JoinLinkBody,
            headers(("Location" = String, description = "the link's URL path"), ("Cache-Control" = String, description = "`no-store`"))),
        (status = 422, description = "`validation_failed`: invalid fields"),
    ))]
pub async fn create(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    req: HttpRequest,
    Json(request): Json<CreateJoinLinkRequest>,
) -> Result<HttpResponse, Problem> {
    let created = state.app.create_join_link(&caller, request).await?;
    let mut body = JoinLinkBody::new(&state, &created.link);
    body.url = Some(state.config.links.join_url(&created.token));
    body.token = Some(created.token.expose().to_owned());
    // The answer carries the token, a credential.
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::LOCATION, crate::state::location_of(&req, created.link.id)))
        .json(body))
}

/// `GET /v1/join-links`
#[utoipa::path(get, path = "/v1/join-links", tag = "join-links", params(PageQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "the caller's business's links, newest first", body = JoinLinkList),
    ))]
pub async fn list(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    Query(page): Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let page = state.app.list_join_links(&caller, page).await?;
    Ok(HttpResponse::Ok().json(JoinLinkList {
        data: page.items.iter().map(|l| JoinLinkBody::new(&state, l)).collect(),
        next_cursor: page.next.as_ref().map(cursor::encode),
    }))
}

/// `GET /v1/join-links/{id}`
#[utoipa::path(get, path = "/v1/join-links/{id}", tag = "join-links", params(IdParam),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "the link (without its token)", body = JoinLinkBody),
        (status = 404, description = "not found (or not yours)"),
    ))]
pub async fn get(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<JoinLinkId>,
) -> Result<HttpResponse, Problem> {
    let link = state.app.get_join_link(&caller, id).await?;
    Ok(HttpResponse::Ok().json(JoinLinkBody::new(&state, &link)))
}

/// `DELETE /v1/join-links/{id}`
#[utoipa::path(delete, path = "/v1/join-links/{id}", tag = "join-links", params(IdParam),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "revoked (again: no change); redemptions after it are refused with 410 `join_link_revoked`"),
        (status = 404, description = "not found (or not yours)"),
    ))]
pub async fn revoke(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<JoinLinkId>,
) -> Result<HttpResponse, Problem> {
    state.app.revoke_join_link(&caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/join/{token}`
#[utoipa::path(get, path = "/v1/join/{token}", tag = "join-links", params(("token" = String, Path)),
    responses(
        (status = 200, description = "what the link's holder may see; a look never uses it", body = JoinLinkPreviewBody),
        (status = 404, description = "no such link (counts as a failed attempt)"),
        (status = 409, description = "`business_suspended`: the link's business is suspended"),
    ))]
pub async fn preview(state: web::Data<HttpState>, token: web::Path<String>) -> Result<HttpResponse, Problem> {
    let preview = state.app.preview_join_link(&token).await?;
    Ok(HttpResponse::Ok().json(JoinLinkPreviewBody::from(&preview)))
}

/// `POST /v1/join/{token}` with the redeeming business's API key.
#[utoipa::path(post, path = "/v1/join/{token}", tag = "join-links", params(("token" = String, Path)),
    security(("api_key" = [])),
    responses(
        (status = 201, description = "connected", body = JoinedBody),
        (status = 202, description = "the link requires approval: a request waits for the link's business", body = JoinRequestedBody),
        (status = 404, description = "no such link (counts as a failed attempt)"),
        (status = 409, description = "`already_connected`: the two businesses are connected (a business redeeming twice uses the link once); `already_requested`: a request of yours on this link is pending; `business_suspended`: the link's business is suspended"),
        (status = 410, description = "`join_link_used_up`, `join_link_expired` or `join_link_revoked`"),
        (status = 422, description = "`self_join`: the link is your business's own"),
    ))]
pub async fn redeem(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    token: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let business = caller.business.id;
    Ok(match state.app.redeem_join_link(&caller, &token).await? {
        Redemption::Connected { connection, .. } => HttpResponse::Created().json(JoinedBody {
            connection: ConnectionBody::new(&connection, business),
        }),
        Redemption::Requested { request, .. } => HttpResponse::Accepted().json(JoinRequestedBody {
            connection_request: request_body(&state, &request, business).await,
        }),
    })
}

async fn list_requests(
    state: &HttpState,
    caller: &rsvp_app::Principal,
    side: RequestSide,
    page: rsvp_app::PageRequest,
) -> Result<HttpResponse, Problem> {
    let page = state.app.list_connection_requests(caller, side, page).await?;
    let business = caller.business.id;
    // One read per other business on the page, not per row.
    let mut names: HashMap<BusinessId, Option<String>> = HashMap::new();
    for request in &page.items {
        let other = other_business(request, business);
        if let Entry::Vacant(slot) = names.entry(other) {
            slot.insert(state.app.business_name(other).await);
        }
    }
    Ok(HttpResponse::Ok().json(ConnectionRequestList {
        data: page
            .items
            .iter()
            .map(|r| ConnectionRequestBody::new(r, names.get(&other_business(r, business)).cloned().flatten()))
            .collect(),
        next_cursor: page.next.as_ref().map(cursor::encode),
    }))
}

/// `GET /v1/connection-requests/received`
#[utoipa::path(get, path = "/v1/connection-requests/received", tag = "join-links", params(PageQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "requests on the caller's business's links, newest first", body = ConnectionRequestList),
    ))]
pub async fn received(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    Query(page): Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    list_requests(&state, &caller, RequestSide::Received, page).await
}

/// `GET /v1/connection-requests/sent`
#[utoipa::path(get, path = "/v1/connection-requests/sent", tag = "join-links", params(PageQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "requests the caller's business made, newest first", body = ConnectionRequestList),
    ))]
pub async fn sent(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    Query(page): Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    list_requests(&state, &caller, RequestSide::Sent, page).await
}

/// `GET /v1/connection-requests/{id}`
#[utoipa::path(get, path = "/v1/connection-requests/{id}", tag = "join-links", params(IdParam),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "the request (to either of its two businesses)", body = ConnectionRequestBody),
        (status = 404, description = "not found (or not yours)"),
    ))]
pub async fn get_request(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<ConnectionRequestId>,
) -> Result<HttpResponse, Problem> {
    let request = state.app.get_connection_request(&caller, id).await?;
    Ok(HttpResponse::Ok().json(request_body(&state, &request, caller.business.id).await))
}

/// `PATCH /v1/connection-requests/{id}` by the link's business.
#[utoipa::path(patch, path = "/v1/connection-requests/{id}", tag = "join-links", params(IdParam),
    request_body = AnswerConnectionRequestRequest, security(("api_key" = [])),
    responses(
        (status = 200, description = "answered: approved connects the two businesses, declined frees the link's use", body = AnsweredRequestBody),
        (status = 403, description = "`forbidden`: only the link's business answers"),
        (status = 404, description = "not found (or not yours)"),
        (status = 409, description = "`invalid_transition`: the request is not pending"),
        (status = 422, description = "`validation_failed`"),
    ))]
pub async fn answer(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<ConnectionRequestId>,
    Json(answer): Json<AnswerConnectionRequestRequest>,
) -> Result<HttpResponse, Problem> {
    let business = caller.business.id;
    let (request, connection) = state.app.answer_connection_request(&caller, id, answer).await?;
    Ok(HttpResponse::Ok().json(AnsweredRequestBody {
        connection_request: request_body(&state, &request, business).await,
        connection: connection.as_ref().map(|c| ConnectionBody::new(c, business)),
    }))
}
