//! The link holder's endpoints: preview, accept, decline by token. Unknown,
//! revoked and never-existing tokens all answer the same 404.

use actix_web::{HttpResponse, web};
use rsvp_app::LinkPreview;
use serde::Serialize;

use crate::dto::{ConnectionBody, rfc3339};
use crate::json::OptionalJson;
use crate::openapi::InvitationStatusName;
use crate::problem::Problem;
use crate::requests::AcceptLinkRequest;
use crate::state::HttpState;

/// What a link holder sees: never `custom_data`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkPreviewBody {
    /// The invitation's id.
    pub invitation_id: String,
    /// The sending business's name.
    pub sender_name: String,
    /// The sending business's id.
    pub sender_business_id: String,
    /// The invited email.
    pub email: String,
    /// The sender's note.
    #[schema(required = true)]
    pub message: Option<String>,
    /// Status as it reads now.
    #[schema(value_type = InvitationStatusName)]
    pub status: &'static str,
    /// Expiry.
    #[schema(format = DateTime)]
    pub expires_at: String,
}

impl From<&LinkPreview> for LinkPreviewBody {
    fn from(p: &LinkPreview) -> Self {
        Self {
            invitation_id: p.invitation.id().to_string(),
            sender_name: p.sender.name.to_string(),
            sender_business_id: p.sender.id.to_string(),
            email: p.invitation.email().to_string(),
            message: p.invitation.message().map(ToString::to_string),
            status: p.invitation.status().as_str(),
            expires_at: rfc3339(p.invitation.expires_at()),
        }
    }
}

/// `GET /v1/invitation-links/{token}`
#[utoipa::path(get, path = "/v1/invitation-links/{token}", tag = "links", params(("token" = String, Path)),
    responses(
        (status = 200, description = "what the link holder may see", body = LinkPreviewBody),
        (status = 404, description = "not found (or not yours)"),
        (status = 409, description = "`business_suspended`: the sending business is suspended"),
    ))]
pub async fn preview(state: web::Data<HttpState>, token: web::Path<String>) -> Result<HttpResponse, Problem> {
    let preview = state.app.preview_link(&token).await?;
    Ok(HttpResponse::Ok().json(LinkPreviewBody::from(&preview)))
}

/// The answer to a link.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AnswerBody {
    invitation_id: String,
    #[schema(value_type = InvitationStatusName)]
    status: &'static str,
    #[schema(required = true)]
    invitee_business_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection: Option<ConnectionBody>,
}

/// `POST /v1/invitation-links/{token}/accept` with an optional
/// `{"business_name","first_name","last_name"}` (`business_name` required when
/// the email has no business yet).
#[utoipa::path(post, path = "/v1/invitation-links/{token}/accept", tag = "links", params(("token" = String, Path)),
    request_body(content = Option<AcceptLinkRequest>),
    responses(
        (status = 200, description = "accepted; the businesses are connected", body = AnswerBody),
        (status = 404, description = "not found (or not yours)"),
        (status = 409, description = "conflict: `invalid_transition`, or `business_suspended` when the sending business is suspended"),
        (status = 422, description = "invalid fields"),
    ))]
pub async fn accept(
    state: web::Data<HttpState>,
    token: web::Path<String>,
    OptionalJson(input): OptionalJson<AcceptLinkRequest>,
) -> Result<HttpResponse, Problem> {
    let input = input.unwrap_or_default();
    let outcome = state.app.accept_link(&token, input).await?;
    state.metrics.observe_transition(outcome.invitation.status().as_str());
    let invitee = outcome.invitation.invitee_business_id();
    let connection = match (outcome.connection.as_ref(), invitee) {
        (Some(c), Some(business)) => Some(ConnectionBody::new(c, business)),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(AnswerBody {
        invitation_id: outcome.invitation.id().to_string(),
        status: outcome.invitation.status().as_str(),
        invitee_business_id: invitee.map(|b| b.to_string()),
        connection,
    }))
}

/// `POST /v1/invitation-links/{token}/decline`
#[utoipa::path(post, path = "/v1/invitation-links/{token}/decline", tag = "links", params(("token" = String, Path)),
    responses(
        (status = 200, description = "declined", body = AnswerBody),
        (status = 404, description = "not found (or not yours)"),
        (status = 409, description = "conflict: `invalid_transition`, or `business_suspended` when the sending business is suspended"),
    ))]
pub async fn decline(state: web::Data<HttpState>, token: web::Path<String>) -> Result<HttpResponse, Problem> {
    let invitation = state.app.decline_link(&token).await?;
    state.metrics.observe_transition(invitation.status().as_str());
    Ok(HttpResponse::Ok().json(AnswerBody {
        invitation_id: invitation.id().to_string(),
        status: invitation.status().as_str(),
        invitee_business_id: invitation.invitee_business_id().map(|b| b.to_string()),
        connection: None,
    }))
}
