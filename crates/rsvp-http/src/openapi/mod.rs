//! The OpenAPI 3.1 document, generated from the handlers' annotations and the
//! body types (utoipa), served at `/openapi.json`, and a reference page at
//! `/docs` rendered from it on the server (no JavaScript, no CDN).

use std::borrow::Cow;
use std::collections::BTreeMap;

use actix_web::HttpResponse;
use rsvp_domain::{Action, EmailDelivery, EventKind, InvitationStatus, Locale, OptOutScope};
use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, OpenApi, PartialSchema, ToSchema};

use crate::dto::{ConnectionBody, EventBody, InvitationBody};
use crate::{admin, api, lifecycle, links, ops, webhooks};

// The request bodies below only describe the wire (the handlers parse JSON
// themselves); `deny_unknown_fields` is there for the document's
// `additionalProperties: false`, as every handler refuses unknown fields (422).

/// `POST /v1/invitations` body (see the brief for every rule).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    /// The invited address; trimmed, compared case-insensitively.
    #[schema(format = Email, max_length = 254, example = "buyer@globex.test")]
    pub email: String,
    /// At most 1000 characters.
    #[schema(max_length = 1000)]
    pub message: Option<String>,
    /// At most 10 keys of at most 255 characters; values strings (at most 255
    /// characters), numbers or booleans; keys containing `__proto__`,
    /// `constructor` or `prototype` are refused. Shown only to the sender.
    pub custom_data: Option<BTreeMap<String, CustomValue>>,
    /// At most 20 roles of 1 to 64 characters of `A-Z a-z 0-9 _ - . :`.
    #[schema(max_items = 20)]
    pub roles: Option<Vec<String>>,
    /// Invitee's first name, at most 100 characters.
    #[schema(max_length = 100)]
    pub first_name: Option<String>,
    /// Invitee's last name, at most 100 characters.
    #[schema(max_length = 100)]
    pub last_name: Option<String>,
    /// Optional leading `+`, 7 to 15 digits; spaces, dots, dashes, parentheses allowed.
    pub phone: Option<String>,
    /// The sender's reference, at most 255 characters.
    #[schema(max_length = 255)]
    pub external_id: Option<String>,
    /// Whether the invitee will share data with the sender (default false).
    pub source_is_invitee: Option<bool>,
    /// 1 to 90, default 14.
    #[schema(minimum = 1, maximum = 90)]
    pub expires_in_days: Option<i64>,
    /// Default true; when false no email is sent and the response carries `accept_url` once.
    pub send_email: Option<bool>,
    /// An absolute http(s) URL (at most 2000 bytes, no user info) whose
    /// origin is one of the server's `RSVP_REDIRECT_ORIGINS` (422
    /// `origin_not_allowed` otherwise; with none configured, no
    /// `redirect_url` is allowed). After an answer the invitee's page offers
    /// "Continue" to it, with `invitation_id` and `status`
    /// (`accepted`/`rejected`) added to its query.
    #[schema(max_length = 2000, example = "https://app.acme.example/welcome")]
    pub redirect_url: Option<String>,
    /// The language of the emails: `en` or `de` (default: the server's
    /// `RSVP_DEFAULT_LOCALE`).
    #[schema(value_type = Option<LocaleName>, example = "de")]
    pub locale: Option<String>,
}

/// A custom data value.
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// 1 to 1000 items, each as `POST /v1/invitations`.
    #[schema(min_items = 1, max_items = 1000)]
    pub invitations: Vec<CreateInvitationRequest>,
}

/// `PATCH /v1/invitations/{id}` body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchInvitationRequest {
    /// `accepted` or `rejected` (the invitee), `cancelled` (the sender).
    #[schema(value_type = StatusChange, example = "accepted")]
    pub status: String,
}

/// `POST /v1/invitations/{id}/resend` body (optional).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// Kill every earlier link of the invitation (default false).
    pub revoke_previous_links: Option<bool>,
}

/// `POST /v1/invitation-links/{token}/accept` body (optional).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptLinkRequest {
    /// Required when the invited email has no business yet.
    #[schema(max_length = 200)]
    pub business_name: Option<String>,
    /// The new user's first name.
    #[schema(max_length = 100)]
    pub first_name: Option<String>,
    /// The new user's last name.
    #[schema(max_length = 100)]
    pub last_name: Option<String>,
}

/// A new user.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddUserRequest {
    /// Unique across all businesses.
    #[schema(format = Email)]
    pub email: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
}

/// `POST /v1/admin/businesses` body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBusinessRequest {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// The first user.
    pub user: AddUserRequest,
}

/// `PATCH /v1/admin/businesses/{id}` body: a field left out (or null) stays as it is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBusinessRequest {
    /// A new name, 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// `true` suspends the business (its API keys get 403
    /// `business_suspended`, its links are dead), `false` reinstates it.
    pub suspended: Option<bool>,
}

/// `PATCH /v1/admin/users/{id}` body: a field left out stays as it is; a
/// null name is cleared.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// First name, at most 100 characters; null clears it.
    #[schema(max_length = 100)]
    pub first_name: Option<String>,
    /// Last name, at most 100 characters; null clears it.
    #[schema(max_length = 100)]
    pub last_name: Option<String>,
    /// `true` deactivates the user (its API keys get 401), `false` reactivates it.
    pub deactivated: Option<bool>,
}

/// `POST /v1/admin/users/{id}/api-keys` body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A label, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, example = "ci deploy")]
    pub name: String,
    /// When the key stops working (RFC 3339, in the future); left out or null: never.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

/// `POST /v1/admin/erasures` body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// The person's address; compared normalized (trimmed, case-insensitive).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

/// Query of the operator's business list.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BusinessListQuery {
    /// Only businesses whose name contains this, case-insensitively.
    #[param(max_length = 200)]
    pub name: Option<String>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
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

/// A page of connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    /// The rows.
    pub data: Vec<ConnectionBody>,
    /// Next page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    /// The rows.
    pub data: Vec<EventBody>,
    /// Next page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A page of suppressions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionList {
    /// The rows, newest first.
    pub data: Vec<crate::dto::SuppressionBody>,
    /// Next page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// Query of the suppression list.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuppressionQueryParams {
    /// Only the suppressions of this address (compared normalized).
    pub email: Option<String>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A status answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    pub status: String,
}

/// Query of the invitation lists.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Comma-separated statuses, e.g. `pending,accepted`.
    pub status: Option<String>,
    /// Only invitations to this address.
    pub email: Option<String>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Query of the other lists.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A string schema of the given values.
fn string_enum<'a>(description: &str, values: impl IntoIterator<Item = &'a str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

/// Schemas of the wire names of domain enums, listed from the domain types
/// themselves so that the document cannot drift from what the server sends.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $description:literal, $values:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $ty;

        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                string_enum($description, $values)
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

wire_enum!(
    /// Schema `InvitationStatus`: an invitation's status as it reads now.
    InvitationStatusName,
    "InvitationStatus",
    "An invitation's status as it reads now (a pending invitation past `expires_at` reads `expired`).",
    InvitationStatus::ALL.map(InvitationStatus::as_str)
);

wire_enum!(
    /// Schema `StatusChange`: the statuses `PATCH /v1/invitations/{id}` can ask for.
    StatusChange,
    "StatusChange",
    "`accepted` or `rejected` (the invitee), `cancelled` (the sender).",
    InvitationStatus::ALL
        .into_iter()
        .filter(|s| matches!(Action::leading_to(*s), Some(Action::Accept | Action::Reject | Action::Cancel)))
        .map(InvitationStatus::as_str)
);

wire_enum!(
    /// Schema `EmailDelivery`: what became of an invitation's email.
    EmailDeliveryName,
    "EmailDelivery",
    "What became of the invitation's email.",
    [EmailDelivery::Queued, EmailDelivery::Sent, EmailDelivery::Failed].map(EmailDelivery::as_str)
);

wire_enum!(
    /// Schema `Locale`: the languages of emails.
    LocaleName,
    "Locale",
    "The language of an invitation's emails.",
    Locale::ALL.map(Locale::as_str)
);

wire_enum!(
    /// Schema `OptOutScope`: whom an opt-out blocks.
    OptOutScopeName,
    "OptOutScope",
    "`business`: the business that sent the invitation; `everyone`: every business on this service.",
    [OptOutScope::Business, OptOutScope::Everyone].map(OptOutScope::as_str)
);

wire_enum!(
    /// Schema `EventType`: the kinds of events.
    EventType,
    "EventType",
    "What happened.",
    EventKind::ALL.map(EventKind::as_str)
);

wire_enum!(
    /// Schema `WebhookEventType`: the types a webhook endpoint can receive.
    WebhookEventTypeName,
    "WebhookEventType",
    "An event type a webhook endpoint can receive: every event kind, and `webhook_endpoint.disabled`.",
    rsvp_domain::webhook::event_types()
);

mod modifiers;

use modifiers::{CommonProblems, ErrorsAreProblems, Idempotent, OptionalBodies, SecuritySchemes, Suspended, Throttled};

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "rsvp",
        description = "Business network invitations. Errors are RFC 9457 problem documents.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        api::create, api::bulk, api::list_sent, api::list_received, api::get, api::patch, api::resend,
        api::connections, api::events, links::preview, links::accept, links::decline,
        admin::create_business, admin::add_user, lifecycle::list_businesses, lifecycle::get_business,
        lifecycle::update_business, lifecycle::list_users, lifecycle::update_user, lifecycle::create_api_key,
        lifecycle::list_api_keys, lifecycle::revoke_api_key, lifecycle::erase, lifecycle::me,
        admin::list_suppressions, admin::delete_suppression, ops::healthz, ops::readyz, ops::metrics,
        webhooks::create, webhooks::list, webhooks::get, webhooks::patch, webhooks::delete, webhooks::rotate,
        webhooks::deliveries, webhooks::redeliver
    ),
    // Every error answer points at it (modifiers::ErrorsAreProblems), not an annotation.
    components(schemas(crate::problem::Problem)),
    modifiers(&SecuritySchemes, &OptionalBodies, &CommonProblems, &Throttled, &Idempotent, &Suspended, &ErrorsAreProblems),
    tags(
        (name = "invitations", description = "Invite businesses, answer, cancel, resend."),
        (name = "links", description = "What the holder of an invitation link can do."),
        (name = "connections", description = "Businesses connected by accepted invitations."),
        (name = "events", description = "Every state change, oldest first."),
        (name = "operator", description = "Provisioning by the host platform; the lifecycle of businesses, users and API keys; erasure; recipients' opt-outs."),
        (name = "me", description = "Who an API key acts as."),
        (name = "webhooks", description = "Signed deliveries of events (Standard Webhooks) to a business's endpoints."),
        (name = "operations", description = "Health, readiness, metrics.")
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

/// The document as pretty JSON (what `docs/openapi.json` holds).
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|_| "{}".to_owned())
}

/// `GET /openapi.json`
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(document())
}

/// `GET /docs`: the API reference, rendered from the document.
pub async fn reference_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(crate::reference::render(&document()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn doc() -> Value {
        serde_json::from_str(&document()).unwrap()
    }

    #[test]
    fn optional_bodies_may_be_left_out_but_are_never_null() {
        let doc = doc();
        for pointer in [
            "/paths/~1v1~1invitations~1{id}~1resend/post/requestBody",
            "/paths/~1v1~1invitation-links~1{token}~1accept/post/requestBody",
        ] {
            let body = doc.pointer(pointer).unwrap();
            assert_ne!(body.get("required"), Some(&Value::Bool(true)), "{pointer}");
            let schema = body.pointer("/content/application~1json/schema").unwrap();
            assert!(schema.get("$ref").is_some(), "{pointer}: {schema}");
        }
    }

    #[test]
    fn every_post_and_patch_under_v1_documents_the_idempotency_key_and_its_answers() {
        let doc = doc();
        let mut seen = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let keyed = operation["parameters"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"));
                let expected = path.starts_with("/v1/") && (method == "post" || method == "patch");
                assert_eq!(keyed, expected, "{method} {path}");
                if !expected {
                    continue;
                }
                seen += 1;
                let responses = &operation["responses"];
                for (status, code) in [
                    ("400", "invalid_idempotency_key"),
                    ("409", "idempotency_in_progress"),
                    ("422", "idempotency_key_reused"),
                ] {
                    let description = responses[status]["description"].as_str().unwrap_or_default();
                    assert!(description.contains(code), "{method} {path} {status}: {description}");
                }
                let success = responses
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(status, _)| status.starts_with('2'))
                    .unwrap()
                    .1;
                assert!(success["headers"]["Idempotent-Replayed"].is_object(), "{method} {path}");
                assert!(responses["401"]["headers"].get("Idempotent-Replayed").is_none());
            }
        }
        assert!(seen >= 8, "every POST and PATCH under /v1: {seen}");
    }

    #[test]
    fn wire_enums_list_what_the_server_sends_and_accepts() {
        let doc = doc();
        let values = |name: &str| doc["components"]["schemas"][name]["enum"].clone();
        assert_eq!(
            values("InvitationStatus"),
            serde_json::json!(["pending", "accepted", "rejected", "cancelled", "expired"])
        );
        assert_eq!(
            values("StatusChange"),
            serde_json::json!(["accepted", "rejected", "cancelled"])
        );
        assert_eq!(values("EmailDelivery"), serde_json::json!(["queued", "sent", "failed"]));
        assert_eq!(values("EventType").as_array().map(Vec::len), Some(EventKind::ALL.len()));
    }

    #[test]
    fn request_bodies_refuse_unknown_fields_as_the_handlers_do() {
        let doc = doc();
        for name in [
            "CreateInvitationRequest",
            "BulkRequest",
            "PatchInvitationRequest",
            "ResendRequest",
            "AcceptLinkRequest",
            "AddUserRequest",
            "CreateBusinessRequest",
            "UpdateBusinessRequest",
            "UpdateUserRequest",
            "CreateApiKeyRequest",
            "ErasureRequest",
        ] {
            assert_eq!(
                doc["components"]["schemas"][name]["additionalProperties"],
                Value::Bool(false),
                "{name}"
            );
        }
    }
}
