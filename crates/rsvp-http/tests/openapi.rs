//! The OpenAPI document: committed as docs/openapi.json and kept identical to
//! what the code generates (regenerate with `RSVP_BLESS=1 cargo test -p rsvp-http --test openapi`).

use serde_json::Value;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

#[test]
fn the_committed_openapi_document_is_what_the_code_generates() {
    let generated = rsvp_http::openapi::document() + "\n";
    if std::env::var_os("RSVP_BLESS").is_some() {
        std::fs::write(COMMITTED, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from the code: run `RSVP_BLESS=1 cargo test -p rsvp-http --test openapi` and commit it"
    );
}

#[test]
fn the_document_is_openapi_3_1_and_lists_every_endpoint() {
    let doc: Value = serde_json::from_str(&rsvp_http::openapi::document()).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/invitations", "post"),
        ("/v1/invitations/bulk", "post"),
        ("/v1/invitations/sent", "get"),
        ("/v1/invitations/received", "get"),
        ("/v1/invitations/{id}", "get"),
        ("/v1/invitations/{id}", "patch"),
        ("/v1/invitations/{id}/resend", "post"),
        ("/v1/invitation-links/{token}", "get"),
        ("/v1/invitation-links/{token}/accept", "post"),
        ("/v1/invitation-links/{token}/decline", "post"),
        ("/v1/connections", "get"),
        ("/v1/events", "get"),
        ("/v1/admin/businesses", "post"),
        ("/v1/admin/businesses/{id}/users", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[test]
fn the_reference_page_shows_every_operation_with_its_fields_and_an_example() {
    let text = rsvp_http::openapi::document();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let html = rsvp_http::reference::render(&text);
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            // minijinja's HTML escaping also escapes `/`.
            let shown = path.replace('/', "&#x2f;");
            assert!(
                html.contains(&format!(
                    "<span class=\"m {method}\">{method}</span><code>{shown}</code>"
                )),
                "{method} {path} is missing"
            );
        }
    }
    let create = &doc["components"]["schemas"]["CreateInvitationRequest"]["properties"];
    for field in create.as_object().unwrap().keys() {
        assert!(
            html.contains(&format!("<code>{field}</code>")),
            "field {field} is missing"
        );
    }
    assert!(html.contains("&quot;email&quot;:"), "request examples are shown");
    assert!(html.contains("&quot;next_cursor&quot;:"), "response examples are shown");
    assert!(!html.contains('`'), "Markdown code spans are rendered, not shown");
    assert!(!html.contains("<script"), "no JavaScript");
}
