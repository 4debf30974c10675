//! The invitations of the API: create (one or in bulk), list, read, answer
//! or cancel, resend.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use rsvp_app::{Viewer, ports::Principal};
use rsvp_domain::InvitationId;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::cursor;
use crate::dto::InvitationBody;
use crate::json::{Json, OptionalJson, read_body};
use crate::params::{IdParam, ListQuery, PathId, Query};
use crate::problem::{ItemError, Problem};
use crate::requests::{BulkRequest, CreateInvitationRequest, PatchInvitationRequest, ResendRequest};
use crate::state::{Caller, HttpState};

fn created_body<'a>(state: &HttpState, created: &'a rsvp_app::CreatedInvitation) -> InvitationBody<'a> {
    let mut body = InvitationBody::new(&created.invitation, Viewer::Sender);
    body.accept_url = created.link_token.as_ref().map(|t| state.config.links.accept_url(t));
    body
}

/// A page of invitations.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList<'a> {
    /// The rows.
    pub data: Vec<InvitationBody<'a>>,
    /// Pass as `cursor` for the next page; null on the last.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// `POST /v1/invitations`
#[utoipa::path(post, path = "/v1/invitations", tag = "invitations", request_body = CreateInvitationRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "created", body = InvitationBody,
            headers(("Location" = String, description = "the new invitation's URL path"))),
        (status = 409, description = "conflict"),
        (status = 422, description = "`validation_failed`: invalid fields (among them `redirect_url`: `invalid_url`, `origin_not_allowed`; `locale`: `unsupported_locale`); `self_invite`; `recipient_opted_out`: the address opted out of invitations from this business or from everyone"),
        (status = 429, description = "`quota_exceeded`: the business reached its cap of emails an hour (`RSVP_EMAILS_PER_HOUR`)",
            headers(("Retry-After" = u64, description = "seconds until another email fits under the cap"))),
    ))]
pub async fn create(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    req: HttpRequest,
    Json(request): Json<CreateInvitationRequest>,
) -> Result<HttpResponse, Problem> {
    let created = state.app.invite(&caller, request).await?;
    let body = created_body(&state, &created);
    // The answer may carry `accept_url`, a credential.
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::LOCATION,
            crate::state::location_of(&req, created.invitation.id()),
        ))
        .json(body))
}

/// One refused item.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkFailureBody {
    index: usize,
    #[schema(required = true)]
    email: Option<String>,
    error: ItemError,
}

/// The bulk answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkBody<'a> {
    successful: Vec<InvitationBody<'a>>,
    failed: Vec<BulkFailureBody>,
}

/// `POST /v1/invitations/bulk`
#[utoipa::path(post, path = "/v1/invitations/bulk", tag = "invitations", request_body = BulkRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "each item succeeded or failed on its own; an item that would send an email past the business's hourly cap fails with `quota_exceeded`, the earlier ones that fit go through", body = BulkBody),
        (status = 422, description = "invalid fields of the request itself (items fail on their own, with the codes of `POST /v1/invitations`, among them `recipient_opted_out`)"),
    ))]
pub async fn bulk(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    Json(items): Json<BulkRequest>,
) -> Result<HttpResponse, Problem> {
    let emails: Vec<Option<String>> = items
        .iter()
        .map(|item| item.get("email").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let requests = items
        .into_iter()
        .map(|item| read_body::<CreateInvitationRequest>(item).map_err(rsvp_domain::ValidationErrors::from))
        .collect();
    let outcome = state.app.bulk_invite(&caller, requests).await?;
    let body = BulkBody {
        successful: outcome.successful.iter().map(|c| created_body(&state, c)).collect(),
        failed: outcome
            .failed
            .into_iter()
            .map(|f| BulkFailureBody {
                index: f.index,
                email: emails.get(f.index).cloned().flatten(),
                error: f.error.into(),
            })
            .collect(),
    };
    let items = body.successful.len() + body.failed.len();
    // Items may carry `accept_url`, a credential.
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(sized_json(response, &body, items))
}

/// About the bytes one invitation takes in a JSON answer.
const INVITATION_JSON_BYTES: usize = 768;

/// `body` as a JSON answer of `items` invitations, written into one buffer
/// sized for them: a page is tens of KiB and a bulk answer half a MiB,
/// which a buffer grown from empty copies a dozen times over.
fn sized_json(
    mut response: actix_web::HttpResponseBuilder,
    body: &impl serde::Serialize,
    items: usize,
) -> HttpResponse {
    let mut bytes = Vec::with_capacity(256 + items.saturating_mul(INVITATION_JSON_BYTES));
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => response.content_type(header::ContentType::json()).body(bytes),
        Err(error) => actix_web::ResponseError::error_response(&Problem::internal(&error.to_string())),
    }
}

fn invitation_list(page: &rsvp_app::Page<rsvp_domain::Invitation>, viewer: Viewer) -> InvitationList<'_> {
    InvitationList {
        data: page.items.iter().map(|i| InvitationBody::new(i, viewer)).collect(),
        next_cursor: page.next.as_ref().map(cursor::encode),
    }
}

/// `GET /v1/invitations/sent`
#[utoipa::path(get, path = "/v1/invitations/sent", tag = "invitations", params(ListQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "newest first", body = InvitationList),
    ))]
pub async fn list_sent(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    Query(params): Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    let page = state.app.list_sent(&caller, params).await?;
    Ok(sized_json(
        HttpResponse::Ok(),
        &invitation_list(&page, Viewer::Sender),
        page.items.len(),
    ))
}

/// `GET /v1/invitations/received`
#[utoipa::path(get, path = "/v1/invitations/received", tag = "invitations", params(ListQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "newest first; cancelled ones left out", body = InvitationList),
    ))]
pub async fn list_received(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    Query(params): Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    let page = state.app.list_received(&caller, params).await?;
    Ok(sized_json(
        HttpResponse::Ok(),
        &invitation_list(&page, Viewer::Invitee),
        page.items.len(),
    ))
}

/// `GET /v1/invitations/{id}`
#[utoipa::path(get, path = "/v1/invitations/{id}", tag = "invitations", params(IdParam),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "the invitation", body = InvitationBody),
        (status = 404, description = "not found (or not yours)"),
    ))]
pub async fn get(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<InvitationId>,
) -> Result<HttpResponse, Problem> {
    let view = state.app.get_invitation(&caller, id).await?;
    Ok(HttpResponse::Ok().json(InvitationBody::new(&view.invitation, view.viewer)))
}

fn viewer_of(caller: &Principal, invitation: &rsvp_domain::Invitation) -> Viewer {
    if invitation.business_id() == caller.business.id {
        Viewer::Sender
    } else {
        Viewer::Invitee
    }
}

/// `PATCH /v1/invitations/{id}` with `{"status": "accepted" | "rejected" | "cancelled"}`
#[utoipa::path(patch, path = "/v1/invitations/{id}", tag = "invitations", params(IdParam),
    request_body = PatchInvitationRequest, security(("api_key" = [])),
    responses(
        (status = 200, description = "the invitation after the change", body = InvitationBody),
        (status = 403, description = "the other side's action"),
        (status = 404, description = "not found (or not yours)"),
        (status = 409, description = "conflict"),
        (status = 422, description = "invalid fields"),
    ))]
pub async fn patch(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<InvitationId>,
    Json(action): Json<PatchInvitationRequest>,
) -> Result<HttpResponse, Problem> {
    let outcome = state.app.change_status(&caller, id, action).await?;
    state.metrics.observe_transition(outcome.invitation.status().as_str());
    Ok(HttpResponse::Ok().json(InvitationBody::new(
        &outcome.invitation,
        viewer_of(&caller, &outcome.invitation),
    )))
}

/// `POST /v1/invitations/{id}/resend` with an optional `{"revoke_previous_links": bool}`
#[utoipa::path(post, path = "/v1/invitations/{id}/resend", tag = "invitations", params(IdParam),
    request_body(content = Option<ResendRequest>), security(("api_key" = [])),
    responses(
        (status = 200, description = "a new link was queued", body = InvitationBody),
        (status = 403, description = "the other side's action"),
        (status = 404, description = "not found (or not yours)"),
        (status = 409, description = "conflict"),
        (status = 422, description = "`validation_failed`: invalid fields; `recipient_opted_out`: the address opted out since the invitation was sent"),
        (status = 429, description = "`resend_cooldown`: resent too soon; `quota_exceeded`: the business reached its cap of emails an hour",
            headers(("Retry-After" = u64, description = "seconds until a resend is allowed"))),
    ))]
pub async fn resend(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    PathId(id): PathId<InvitationId>,
    OptionalJson(revoke): OptionalJson<ResendRequest>,
) -> Result<HttpResponse, Problem> {
    let revoke = revoke.unwrap_or(false);
    let invitation = state.app.resend(&caller, id, revoke).await?;
    Ok(HttpResponse::Ok().json(InvitationBody::new(&invitation, Viewer::Sender)))
}
