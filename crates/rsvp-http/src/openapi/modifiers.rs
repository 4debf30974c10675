//! The document's modifiers: what applies to many operations is written
//! once here, not in every handler's annotation.

use utoipa::Modify;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{RefOr, Required, Response};

/// Every operation of a path.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

/// Every operation of the API (under `/v1`).
fn v1_operations(openapi: &mut utoipa::openapi::OpenApi) -> impl Iterator<Item = &mut Operation> {
    openapi
        .paths
        .paths
        .iter_mut()
        .filter(|(path, _)| crate::routes::is_api_path(path))
        .flat_map(|(_, item)| operations(item))
}

/// A problem document answer (`application/problem+json`, schema `Problem`).
fn problem_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        utoipa::openapi::ResponseBuilder::new()
            .description(description)
            .content(
                crate::problem::PROBLEM_JSON,
                utoipa::openapi::content::Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Problem",
                )))),
            )
            .build(),
    )
}

/// The 401 of an operation that needs a credential: a problem document with
/// the `WWW-Authenticate: Bearer` challenge.
fn unauthorized_response() -> RefOr<Response> {
    let mut response = problem_response("missing or invalid credentials");
    if let RefOr::T(response) = &mut response {
        let challenge = utoipa::openapi::HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)))
            .description(Some("`Bearer`"))
            .build();
        response.headers.insert("WWW-Authenticate".to_owned(), challenge);
    }
    response
}

/// Every error answer (4xx, 5xx) is a problem document: an annotation names
/// the status and says why, and this gives it the `application/problem+json`
/// content (`Problem`) unless it states its own.
#[derive(Debug)]
pub(super) struct ErrorsAreProblems;

impl Modify for ErrorsAreProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                for (status, response) in &mut operation.responses.responses {
                    let is_error = status.starts_with('4') || status.starts_with('5');
                    if let (true, RefOr::T(response)) = (is_error, response)
                        && response.content.is_empty()
                        && let RefOr::T(problem) = problem_response(&response.description)
                    {
                        response.content = problem.content;
                    }
                }
            }
        }
    }
}

/// The problem answers every operation of a kind can give, documented once
/// instead of in each annotation (an operation's own wording of the same
/// status wins): under `/v1`, 400 (a malformed query, path or body; two
/// `Authorization` headers) and 503 (the store is unavailable); with a
/// credential required (`security`), 401 with its challenge; with a
/// request body, 413 and 415.
#[derive(Debug)]
pub(super) struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for operation in v1_operations(openapi) {
            let has_body = operation.request_body.is_some();
            let needs_credential = operation.security.as_ref().is_some_and(|security| !security.is_empty());
            let responses = &mut operation.responses.responses;
            if needs_credential {
                responses.entry("401".to_owned()).or_insert_with(unauthorized_response);
            }
            let mut ensure = |status: &str, description: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem_response(description));
            };
            ensure("400", "bad query, path or malformed JSON");
            ensure("503", "store unavailable");
            if has_body {
                ensure("413", "body too large");
                ensure("415", "body is not JSON");
            }
        }
    }
}

#[derive(Debug)]
pub(super) struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme("admin_token", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        // Postmark's webhooks (`POST /v1/provider-events/postmark`).
        components.add_security_scheme("postmark_basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
    }
}

/// Optional request bodies (`request_body(content = Option<T>)`) come out of
/// utoipa as `oneOf: [null, T]`; a JSON `null` body is refused (422, the body
/// must be an object), so the document says what is true: omit the body or
/// send a `T`.
/// Adds the 429 of the failed-attempt throttle (`crate::throttle`) to every
/// operation under `/v1` (each checks an API key, the operator token or a
/// link token), merged into a 429 the operation documents already.
#[derive(Debug)]
pub(super) struct Throttled;

impl Throttled {
    const DESCRIPTION: &'static str = "`too_many_requests`: too many failed authentications or unknown link tokens from \
        this client address (`RSVP_FAILED_ATTEMPTS_PER_MINUTE`); every request of it is refused until Retry-After";

    fn header(schema: Type, description: &str) -> utoipa::openapi::header::Header {
        let integer = schema == Type::Integer;
        let mut object = ObjectBuilder::new().schema_type(schema);
        if integer {
            object = object.minimum(Some(0));
        }
        utoipa::openapi::header::HeaderBuilder::new()
            .schema(object)
            .description(Some(description))
            .build()
    }

    fn add(operation: &mut Operation) {
        let headers = [
            (
                "Retry-After",
                Self::header(Type::Integer, "seconds until the address may try again"),
            ),
            (
                "RateLimit-Policy",
                Self::header(
                    Type::String,
                    "draft-ietf-httpapi-ratelimit-headers: `\"failed\";q=<failures allowed>;w=60`",
                ),
            ),
            (
                "RateLimit",
                Self::header(
                    Type::String,
                    "draft-ietf-httpapi-ratelimit-headers: `\"failed\";r=0;t=<seconds until the address may try again>`",
                ),
            ),
        ];
        let entry = operation
            .responses
            .responses
            .entry("429".to_owned())
            .or_insert_with(|| problem_response(""));
        let RefOr::T(response) = entry else {
            return;
        };
        response.description = if response.description.is_empty() {
            Self::DESCRIPTION.to_owned()
        } else {
            format!("{}; {}", response.description, Self::DESCRIPTION)
        };
        for (name, header) in headers {
            response.headers.entry(name.to_owned()).or_insert(header);
        }
    }
}

impl Modify for Throttled {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for operation in v1_operations(openapi) {
            Self::add(operation);
        }
    }
}

/// Adds the 403 `business_suspended` of a suspended business's API keys to
/// every operation an API key calls, merged into a 403 it documents already.
#[derive(Debug)]
pub(super) struct Suspended;

impl Suspended {
    const DESCRIPTION: &'static str =
        "`business_suspended`: the caller's business is suspended by the operator; every API key of it is refused";

    fn uses_api_key(operation: &Operation) -> bool {
        operation.security.as_ref().is_some_and(|requirements| {
            requirements.iter().any(|requirement| {
                serde_json::to_value(requirement)
                    .ok()
                    .and_then(|v| v.as_object().map(|o| o.contains_key("api_key")))
                    .unwrap_or(false)
            })
        })
    }

    fn add(operation: &mut Operation) {
        let entry = operation
            .responses
            .responses
            .entry("403".to_owned())
            .or_insert_with(|| problem_response(""));
        let RefOr::T(response) = entry else {
            return;
        };
        if response.description.contains("business_suspended") {
            return;
        }
        response.description = if response.description.is_empty() {
            Self::DESCRIPTION.to_owned()
        } else {
            format!("{}; {}", response.description, Self::DESCRIPTION)
        };
    }
}

impl Modify for Suspended {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                if Self::uses_api_key(operation) {
                    Self::add(operation);
                }
            }
        }
    }
}

/// Documents `Idempotency-Key` ([`crate::idempotency`]) on every POST and
/// PATCH under `/v1`: the optional header parameter, the `Idempotent-Replayed`
/// header on every answer that can be replayed, and the 400, 409 and 422 the
/// middleware answers, merged into those the operation documents already.
#[derive(Debug)]
pub(super) struct Idempotent;

impl Idempotent {
    const KEY: &'static str = "Idempotency-Key";
    const REPLAYED: &'static str = "Idempotent-Replayed";

    fn parameter() -> utoipa::openapi::path::Parameter {
        utoipa::openapi::path::ParameterBuilder::new()
            .name(Self::KEY)
            .parameter_in(utoipa::openapi::path::ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Makes a retry safe: within 24 hours, the same key (per credential) with the same method, path, \
                 query and body replays the first answer (status, `Location`, `Content-Type`, `Retry-After`, \
                 `Cache-Control`, body byte for byte) with `Idempotent-Replayed: true`, instead of running again. \
                 The same key with another request is 422 `idempotency_key_reused`; while the first still runs, \
                 409 `idempotency_in_progress`. Server errors (5xx), 401 and 429 answers are not stored. \
                 1 to 255 visible ASCII characters, e.g. a UUID.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some("^[!-~]+$")),
            ))
            .build()
    }

    fn replayed_header() -> utoipa::openapi::header::Header {
        utoipa::openapi::header::HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["true"])),
            )
            .description(Some(
                "`true` when this answer is the stored answer of an earlier request with the same `Idempotency-Key`",
            ))
            .build()
    }

    /// Merges a problem answer into `status` (`description` appended).
    fn merge(operation: &mut Operation, status: &str, description: &str, retry_after: bool) {
        let entry = operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| problem_response(""));
        let RefOr::T(response) = entry else {
            return;
        };
        response.description = if response.description.is_empty() {
            description.to_owned()
        } else {
            format!("{}; {description}", response.description)
        };
        if retry_after {
            response.headers.entry("Retry-After".to_owned()).or_insert_with(|| {
                utoipa::openapi::header::HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                    .description(Some("seconds to wait before retrying"))
                    .build()
            });
        }
    }

    fn add(operation: &mut Operation) {
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(Self::parameter());
        Self::merge(
            operation,
            "400",
            "`invalid_idempotency_key`: the Idempotency-Key header is malformed or sent twice",
            false,
        );
        Self::merge(
            operation,
            "409",
            "`idempotency_in_progress`: a request with this Idempotency-Key is still running",
            true,
        );
        Self::merge(
            operation,
            "422",
            "`idempotency_key_reused`: this Idempotency-Key was used for another request in the last 24 hours",
            false,
        );
        // Every answer that may be stored may come back as a replay.
        for (status, response) in &mut operation.responses.responses {
            let stored = status.starts_with('2') || (status.starts_with('4') && status != "401" && status != "429");
            if let (true, RefOr::T(response)) = (stored, response) {
                response
                    .headers
                    .entry(Self::REPLAYED.to_owned())
                    .or_insert_with(Self::replayed_header);
            }
        }
    }
}

impl Modify for Idempotent {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            if !crate::routes::is_api_path(path) {
                continue;
            }
            for operation in [&mut item.post, &mut item.patch].into_iter().flatten() {
                Self::add(operation);
            }
        }
    }
}

#[derive(Debug)]
pub(super) struct OptionalBodies;

impl OptionalBodies {
    fn fix(operation: &mut Operation) {
        let Some(body) = operation.request_body.as_mut() else {
            return;
        };
        if matches!(body.required, Some(Required::True)) {
            return;
        }
        for content in body.content.values_mut() {
            let Some(RefOr::T(Schema::OneOf(one_of))) = content.schema.as_ref() else {
                continue;
            };
            let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
            let mut others = one_of.items.iter().filter(|s| !is_null(s));
            if let (Some(only), None) = (others.next(), others.next()) {
                content.schema = Some(only.clone());
            }
        }
    }
}

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.post, &mut item.put, &mut item.patch].into_iter().flatten() {
                Self::fix(operation);
            }
        }
    }
}

/// Every request body refuses unknown fields (422 `unknown_field`), so its
/// schema says `additionalProperties: false`. The types do not carry
/// `#[serde(deny_unknown_fields)]`: serde would stop at the first one,
/// where the API names them all.
#[derive(Debug)]
pub(super) struct ClosedRequestBodies;

impl Modify for ClosedRequestBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for (name, schema) in &mut components.schemas {
            if let (true, RefOr::T(Schema::Object(object))) = (name.ends_with("Request"), schema) {
                object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
}

/// The operations of the route table (`crate::routes`), each as its
/// handler's `#[utoipa::path]` describes it.
#[derive(Debug)]
pub(super) struct RouteTable;

impl Modify for RouteTable {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        crate::routes::document_routes(openapi);
    }
}
