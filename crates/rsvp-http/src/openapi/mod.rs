//! The OpenAPI 3.1 document, generated from the handlers' annotations and the
//! body types (utoipa), served at `/openapi.json`, and a reference page at
//! `/docs` rendered from it on the server (no JavaScript, no CDN).

use std::borrow::Cow;

use actix_web::HttpResponse;
use rsvp_domain::{Action, EmailDelivery, EventKind, InvitationStatus, Locale, OptOutScope};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{OpenApi, PartialSchema, ToSchema};

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
    /// Schema `JoinLinkStatus`: what a join link reads as now.
    JoinLinkStatusName,
    "JoinLinkStatus",
    "What a join link reads as now.",
    [
        rsvp_domain::JoinLinkStatus::Active,
        rsvp_domain::JoinLinkStatus::UsedUp,
        rsvp_domain::JoinLinkStatus::Expired,
        rsvp_domain::JoinLinkStatus::Revoked
    ]
    .map(rsvp_domain::JoinLinkStatus::as_str)
);

wire_enum!(
    /// Schema `ConnectionRequestStatus`: where a connection request stands.
    ConnectionRequestStatusName,
    "ConnectionRequestStatus",
    "Where a connection request stands.",
    rsvp_domain::ConnectionRequestStatus::ALL.map(rsvp_domain::ConnectionRequestStatus::as_str)
);

wire_enum!(
    /// Schema `ConnectionRequestAnswer`: what the link's business answers.
    ConnectionRequestAnswerName,
    "ConnectionRequestAnswer",
    "`approved` (connects the two businesses) or `declined` (frees the link's use).",
    [
        rsvp_domain::ConnectionRequestStatus::Approved,
        rsvp_domain::ConnectionRequestStatus::Declined
    ]
    .map(rsvp_domain::ConnectionRequestStatus::as_str)
);

wire_enum!(
    /// Schema `EmailDelivery`: what became of an invitation's email.
    EmailDeliveryName,
    "EmailDelivery",
    "What became of the invitation's email: `queued`, `sent`, `failed` (rsvp's sending); `delivered`, `bounced`, `complained` (the email provider's report).",
    EmailDelivery::ALL.map(EmailDelivery::as_str)
);

wire_enum!(
    /// Schema `SuppressionReason`: why an address is suppressed.
    SuppressionReasonName,
    "SuppressionReason",
    "`opt_out`: the recipient opted out; `bounce`: the email provider reported a hard bounce; `complaint`: the recipient marked an email as spam.",
    rsvp_domain::SuppressionReason::ALL.map(rsvp_domain::SuppressionReason::as_str)
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

use modifiers::{
    ClosedRequestBodies, CommonProblems, ErrorsAreProblems, Idempotent, OptionalBodies, RouteTable, SecuritySchemes,
    Suspended, Throttled,
};

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "rsvp",
        description = "Business network invitations. Errors are RFC 9457 problem documents.",
        license(name = "MIT OR Apache-2.0")
    ),
    // No `paths(...)`: the route table puts every registered operation in
    // (`RouteTable`, first, so that the other modifiers see them).
    // Every error answer points at it (modifiers::ErrorsAreProblems), not an annotation.
    components(schemas(crate::problem::Problem)),
    modifiers(&RouteTable, &SecuritySchemes, &ClosedRequestBodies, &OptionalBodies, &CommonProblems, &Throttled, &Idempotent, &Suspended, &ErrorsAreProblems),
    tags(
        (name = "invitations", description = "Invite businesses, answer, cancel, resend."),
        (name = "links", description = "What the holder of an invitation link can do."),
        (name = "connections", description = "Businesses connected by accepted invitations."),
        (name = "events", description = "Every state change, oldest first."),
        (name = "analytics", description = "What became of a business's invitations: the funnel from sent to answered."),
        (name = "operator", description = "Provisioning by the host platform; the lifecycle of businesses, users and API keys; erasure; recipients' opt-outs."),
        (name = "me", description = "Who an API key acts as."),
        (name = "webhooks", description = "Signed deliveries of events (Standard Webhooks) to a business's endpoints."),
        (name = "provider events", description = "What the email providers (Postmark, Amazon SES through SNS) report after a send: deliveries, bounces, complaints."),
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
        assert_eq!(
            values("EmailDelivery"),
            serde_json::json!(["queued", "sent", "failed", "delivered", "bounced", "complained"])
        );
        assert_eq!(
            values("SuppressionReason"),
            serde_json::json!(["opt_out", "bounce", "complaint"])
        );
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
