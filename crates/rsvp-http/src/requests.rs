//! Every JSON request body of the API, each one Rust type: serde reads it,
//! `validator` checks its wire rules (types, presence, counts), utoipa
//! documents it, and [`RequestBody::into_input`] hands it to its use case,
//! where the domain's constructors apply the business rules.

use rsvp_app::{AcceptLinkInput, WebhookEndpointInput, WebhookEndpointPatch};
use rsvp_domain::{
    Action, ConnectionRequestStatus, FieldError, InvitationInput, InvitationRequest, InvitationStatus, JoinLinkInput,
    JoinLinkRequest, RawValue,
};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use validator::Validate;

use crate::json::{Field, Integer, RequestBody, not_null, required, typed};
use crate::openapi::{ConnectionRequestAnswerName, LocaleName, StatusChange, WebhookEventTypeName};

/// `POST /v1/invitations` body (see the brief for every rule).
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CreateInvitationRequest {
    /// The invited address; trimmed, compared case-insensitively.
    #[validate(custom(function = typed))]
    #[schema(value_type = String, required = true, format = Email, max_length = 254, example = "buyer@globex.test")]
    #[serde(default)]
    pub email: Field<String>,
    /// At most 1000 characters.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 1000)]
    #[serde(default)]
    pub message: Field<String>,
    /// At most 10 keys of at most 255 characters; values strings (at most 255
    /// characters), numbers or booleans; keys containing `__proto__`,
    /// `constructor` or `prototype` are refused. Shown only to the sender.
    #[schema(value_type = Option<BTreeMap<String, CustomValue>>)]
    #[serde(default)]
    pub custom_data: Field<Value>,
    /// At most 20 roles of 1 to 64 characters of `A-Z a-z 0-9 _ - . :`.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<Vec<String>>, max_items = 20)]
    #[serde(default)]
    pub roles: Field<Vec<String>>,
    /// Invitee's first name, at most 100 characters.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 100)]
    #[serde(default)]
    pub first_name: Field<String>,
    /// Invitee's last name, at most 100 characters.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 100)]
    #[serde(default)]
    pub last_name: Field<String>,
    /// Optional leading `+`, 7 to 15 digits; spaces, dots, dashes, parentheses allowed.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub phone: Field<String>,
    /// The sender's reference, at most 255 characters.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 255)]
    #[serde(default)]
    pub external_id: Field<String>,
    /// Whether the invitee will share data with the sender (default false).
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<bool>)]
    #[serde(default)]
    pub source_is_invitee: Field<bool>,
    /// 1 to 90, default 14.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 90)]
    #[serde(default)]
    pub expires_in_days: Field<Integer>,
    /// Default true; when false no email is sent and the response carries `accept_url` once.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<bool>)]
    #[serde(default)]
    pub send_email: Field<bool>,
    /// An absolute http(s) URL (at most 2000 bytes, no user info) whose
    /// origin is one of the server's `RSVP_REDIRECT_ORIGINS` (422
    /// `origin_not_allowed` otherwise; with none configured, no
    /// `redirect_url` is allowed). After an answer the invitee's page offers
    /// "Continue" to it, with `invitation_id` and `status`
    /// (`accepted`/`rejected`) added to its query.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 2000, example = "https://app.acme.example/welcome")]
    #[serde(default)]
    pub redirect_url: Field<String>,
    /// The language of the emails: `en` or `de` (default: the server's
    /// `RSVP_DEFAULT_LOCALE`).
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<LocaleName>, example = "de")]
    #[serde(default)]
    pub locale: Field<String>,
}

impl RequestBody for CreateInvitationRequest {
    type Input = InvitationRequest;

    fn into_input(self) -> Result<InvitationRequest, Vec<FieldError>> {
        let custom_data = match self.custom_data {
            Field::Absent => None,
            Field::Null | Field::WrongType => Some(RawValue::from(&Value::Null)),
            Field::Given(value) => Some(RawValue::from(&value)),
        };
        InvitationInput {
            email: self.email.given(),
            message: self.message.given(),
            custom_data,
            roles: self.roles.given(),
            first_name: self.first_name.given(),
            last_name: self.last_name.given(),
            phone: self.phone.given(),
            external_id: self.external_id.given(),
            source_is_invitee: self.source_is_invitee.given(),
            expires_in_days: self.expires_in_days.given().map(|days| days.0),
            send_email: self.send_email.given(),
            redirect_url: self.redirect_url.given(),
            locale: self.locale.given(),
        }
        .validate()
        .map_err(rsvp_domain::ValidationErrors::into_vec)
    }
}

// The domain's `CustomData` reads and checks these values; this enum only
// names their JSON types for the document.
/// A custom data value.
#[derive(Debug, serde::Serialize, ToSchema)]
#[serde(untagged)]
pub enum CustomValue {
    /// At most 255 characters.
    String(String),
    /// Any finite number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

/// `POST /v1/invitations/bulk` body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct BulkRequest {
    /// 1 to 1000 items, each as `POST /v1/invitations`.
    #[validate(
        custom(function = required),
        length(min = 1, max = 1000, code = "out_of_range", message = "{field} must hold 1 to 1000 items")
    )]
    #[schema(value_type = Vec<CreateInvitationRequest>, required = true, min_items = 1, max_items = 1000)]
    #[serde(default)]
    pub invitations: Field<Vec<Value>>,
}

impl RequestBody for BulkRequest {
    // Each item is read on its own: one bad item fails alone.
    type Input = Vec<Value>;

    const BULK: bool = true;

    fn into_input(self) -> Result<Vec<Value>, Vec<FieldError>> {
        Ok(self.invitations.given().unwrap_or_default())
    }
}

/// `PATCH /v1/invitations/{id}` body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct PatchInvitationRequest {
    /// `accepted` or `rejected` (the invitee), `cancelled` (the sender).
    #[validate(custom(function = required))]
    #[schema(value_type = StatusChange, required = true, example = "accepted")]
    #[serde(default)]
    pub status: Field<String>,
}

impl RequestBody for PatchInvitationRequest {
    type Input = Action;

    fn into_input(self) -> Result<Action, Vec<FieldError>> {
        let status = self.status.given().unwrap_or_default();
        match status.parse::<InvitationStatus>().ok().and_then(Action::leading_to) {
            Some(action @ (Action::Accept | Action::Reject | Action::Cancel)) => Ok(action),
            _ => Err(vec![FieldError::new(
                "status",
                "invalid_value",
                "status must be one of accepted, rejected, cancelled",
            )]),
        }
    }
}

/// `POST /v1/invitations/{id}/resend` body (optional).
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct ResendRequest {
    /// Kill every earlier link of the invitation (default false).
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<bool>)]
    #[serde(default)]
    pub revoke_previous_links: Field<bool>,
}

impl RequestBody for ResendRequest {
    type Input = bool;

    fn into_input(self) -> Result<bool, Vec<FieldError>> {
        Ok(self.revoke_previous_links.given().unwrap_or(false))
    }
}

/// `POST /v1/invitation-links/{token}/accept` body (optional).
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct AcceptLinkRequest {
    /// Required when the invited email has no business yet.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 200)]
    #[serde(default)]
    pub business_name: Field<String>,
    /// The new user's first name.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 100)]
    #[serde(default)]
    pub first_name: Field<String>,
    /// The new user's last name.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 100)]
    #[serde(default)]
    pub last_name: Field<String>,
}

impl RequestBody for AcceptLinkRequest {
    type Input = AcceptLinkInput;

    fn into_input(self) -> Result<AcceptLinkInput, Vec<FieldError>> {
        Ok(AcceptLinkInput {
            business_name: self.business_name.given(),
            first_name: self.first_name.given(),
            last_name: self.last_name.given(),
        })
    }
}

/// `POST /v1/webhook-endpoints` body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CreateWebhookEndpointRequest {
    /// An `https://` URL of a public host (no loopback, private, link-local
    /// or unique-local address), at most 2048 bytes.
    #[validate(custom(function = typed))]
    #[schema(value_type = String, required = true, max_length = 2048, example = "https://hooks.example.com/rsvp")]
    #[serde(default)]
    pub url: Field<String>,
    /// The types to receive; left out for every type.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<Vec<WebhookEventTypeName>>, min_items = 1)]
    #[serde(default)]
    pub event_types: Field<Vec<String>>,
    /// A note, at most 500 characters.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 500)]
    #[serde(default)]
    pub description: Field<String>,
}

impl RequestBody for CreateWebhookEndpointRequest {
    type Input = WebhookEndpointInput;

    fn into_input(self) -> Result<WebhookEndpointInput, Vec<FieldError>> {
        Ok(WebhookEndpointInput {
            url: self.url.given(),
            event_types: self.event_types.given(),
            description: self.description.given(),
        })
    }
}

/// `PATCH /v1/webhook-endpoints/{id}` body: each field given is changed.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct PatchWebhookEndpointRequest {
    /// A new URL (same rules as on creation).
    #[validate(custom(function = not_null))]
    #[schema(value_type = Option<String>, max_length = 2048)]
    #[serde(default)]
    pub url: Field<String>,
    /// New types; null for every type.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<Vec<WebhookEventTypeName>>, min_items = 1)]
    #[serde(default)]
    pub event_types: Field<Vec<String>>,
    /// A new note; null removes it.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 500)]
    #[serde(default)]
    pub description: Field<String>,
    /// Enables (forgetting past failures) or disables the endpoint.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<bool>)]
    #[serde(default)]
    pub enabled: Field<bool>,
}

impl RequestBody for PatchWebhookEndpointRequest {
    type Input = WebhookEndpointPatch;

    fn into_input(self) -> Result<WebhookEndpointPatch, Vec<FieldError>> {
        Ok(WebhookEndpointPatch {
            url: self.url.given(),
            event_types: self.event_types.patch(),
            description: self.description.patch(),
            enabled: self.enabled.given(),
        })
    }
}

/// `POST /v1/webhook-endpoints/{id}/redeliver` body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct RedeliverRequest {
    /// An event the caller's business can see.
    #[validate(custom(function = typed))]
    #[schema(value_type = String, required = true, format = "uuid")]
    #[serde(default)]
    pub event_id: Field<String>,
}

impl RequestBody for RedeliverRequest {
    type Input = Option<String>;

    fn into_input(self) -> Result<Option<String>, Vec<FieldError>> {
        Ok(self.event_id.given())
    }
}

/// `POST /v1/join-links` body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CreateJoinLinkRequest {
    /// 1 to 10,000 businesses may use it; null or left out: unlimited.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    #[serde(default)]
    pub max_uses: Field<Integer>,
    /// 1 to 90, default 7.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 90)]
    #[serde(default)]
    pub expires_in_days: Field<Integer>,
    /// Roles of the connections it makes: at most 20 of 1 to 64 characters of `A-Z a-z 0-9 _ - . :`.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<Vec<String>>, max_items = 20)]
    #[serde(default)]
    pub roles: Field<Vec<String>>,
    /// As an invitation's `custom_data`; shown only to the link's business.
    #[schema(value_type = Option<BTreeMap<String, CustomValue>>)]
    #[serde(default)]
    pub custom_data: Field<Value>,
    /// Whether each redemption waits for the link's business to approve it (default false).
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<bool>)]
    #[serde(default)]
    pub requires_approval: Field<bool>,
    /// The link's business's own note, at most 1000 characters.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 1000)]
    #[serde(default)]
    pub note: Field<String>,
}

impl RequestBody for CreateJoinLinkRequest {
    type Input = JoinLinkRequest;

    fn into_input(self) -> Result<JoinLinkRequest, Vec<FieldError>> {
        let custom_data = match self.custom_data {
            Field::Absent => None,
            Field::Null | Field::WrongType => Some(RawValue::from(&Value::Null)),
            Field::Given(value) => Some(RawValue::from(&value)),
        };
        JoinLinkInput {
            max_uses: self.max_uses.given().map(|uses| uses.0),
            expires_in_days: self.expires_in_days.given().map(|days| days.0),
            roles: self.roles.given(),
            custom_data,
            requires_approval: self.requires_approval.given(),
            note: self.note.given(),
        }
        .validate()
        .map_err(rsvp_domain::ValidationErrors::into_vec)
    }
}

/// `PATCH /v1/connection-requests/{id}` body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct AnswerConnectionRequestRequest {
    /// `approved` or `declined`.
    #[validate(custom(function = required))]
    #[schema(value_type = ConnectionRequestAnswerName, required = true)]
    #[serde(default)]
    pub status: Field<String>,
}

impl RequestBody for AnswerConnectionRequestRequest {
    type Input = ConnectionRequestStatus;

    fn into_input(self) -> Result<ConnectionRequestStatus, Vec<FieldError>> {
        match self.status.given().map(|s| s.parse::<ConnectionRequestStatus>()) {
            Some(Ok(status @ (ConnectionRequestStatus::Approved | ConnectionRequestStatus::Declined))) => Ok(status),
            _ => Err(vec![FieldError::new(
                "status",
                "invalid_value",
                "status must be approved or declined",
            )]),
        }
    }
}
