//! `GET /v1/analytics/invitations` on every backend: the funnel of the
//! caller's business counted from what the API, the invitee's page and the
//! outbox did; the page view recorded once; the range's defaults and
//! refusals; authentication.

#[macro_use]
mod common;

use std::collections::HashMap;

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use common::{Api, codes};
use rsvp_app::{Clock as _, EmailOutcome};
use serde_json::{Value, json};
use time::Duration;

on_every_backend!(
    the_funnel_counts_what_became_of_the_callers_invitations,
    opening_the_invitee_page_again_counts_one_view,
    the_range_is_refused_naming_the_parameter_and_the_funnel_needs_a_key,
);

/// Creates an invitation; returns its id and, when created without email,
/// its link token (else the token travels in the email only).
async fn invited(api: &Api, key: &str, body: Value) -> (String, Option<String>) {
    let created = api.invite(key, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let token = created.body["accept_url"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .map(str::to_owned);
    (created.body["id"].as_str().unwrap().to_owned(), token)
}

/// Hands every queued email to the "transport", as the dispatcher does;
/// returns the link token each carried, by invitation id.
async fn send_queued_emails(api: &Api) -> HashMap<String, String> {
    let store = &api.ports.store;
    let now = api.clock.now();
    let jobs = store
        .outbox()
        .claim_email_jobs(now, 100, Duration::minutes(1))
        .await
        .unwrap();
    let outcomes: Vec<_> = jobs.iter().map(|job| (job.id, EmailOutcome::sent())).collect();
    assert_eq!(
        store.outbox().finish_email_jobs(&outcomes, now).await.unwrap(),
        jobs.len() as u64
    );
    jobs.iter()
        .map(|job| {
            let token = job.link_token.as_ref().unwrap().expose().to_owned();
            (job.invitation_id.to_string(), token)
        })
        .collect()
}

async fn open_page(api: &Api, token: &str) {
    let page = api.raw(TestRequest::get().uri(&format!("/invite/{token}"))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
}

async fn funnel(api: &Api, key: &str, query: &str) -> Value {
    let reply = api
        .call(
            Method::GET,
            &format!("/v1/analytics/invitations{query}"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn the_funnel_counts_what_became_of_the_callers_invitations(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let start = api.clock.now();
    let (viewed, _) = invited(&api, &acme, json!({"email": "a@partner.test"})).await;
    let (silent, _) = invited(&api, &acme, json!({"email": "b@partner.test", "send_email": false})).await;
    invited(&api, &acme, json!({"email": "c@partner.test"})).await;
    let tokens = send_queued_emails(&api).await;
    assert_eq!(tokens.len(), 2);
    let viewed = &tokens[&viewed];
    invited(&api, &globex, json!({"email": "x@partner.test"})).await;

    open_page(&api, viewed).await;
    api.clock.advance(Duration::seconds(90));
    let declined = api
        .call(
            Method::POST,
            &format!("/v1/invitation-links/{viewed}/decline"),
            None,
            None,
        )
        .await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.body);
    let cancelled = api
        .call(
            Method::PATCH,
            &format!("/v1/invitations/{silent}"),
            Some(&acme),
            Some(json!({"status": "cancelled"})),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    api.clock.advance(Duration::seconds(1));

    let body = funnel(&api, &acme, "").await;
    let now = api.clock.now();
    assert_eq!(body["to"], rsvp_http::dto::rfc3339(now), "to: now by default");
    assert_eq!(body["from"], rsvp_http::dto::rfc3339(now - Duration::days(30)));
    let counts: Vec<u64> = [
        "created",
        "sent",
        "delivered",
        "bounced",
        "complained",
        "page_viewed",
        "accepted",
        "declined",
        "cancelled",
        "expired",
    ]
    .iter()
    .map(|name| body[name].as_u64().unwrap_or_else(|| panic!("{name}: {body}")))
    .collect();
    assert_eq!(counts, [3, 2, 0, 0, 0, 1, 0, 1, 1, 0], "{body}");
    assert_eq!(body["median_seconds_to_answer"], 90, "{body}");

    // A range that leaves them out; the other business sees its own only.
    let before = rsvp_http::dto::rfc3339(start);
    let none = funnel(&api, &acme, &format!("?to={before}")).await;
    assert_eq!(
        (none["created"].as_u64(), &none["median_seconds_to_answer"]),
        (Some(0), &Value::Null)
    );
    let theirs = funnel(&api, &globex, "").await;
    assert_eq!(
        (theirs["created"].as_u64(), theirs["sent"].as_u64()),
        (Some(1), Some(0))
    );
    // Once past their expiry, the pending ones read expired.
    api.clock.advance(Duration::days(40));
    let from = rsvp_http::dto::rfc3339(start);
    let later = funnel(&api, &acme, &format!("?from={from}")).await;
    assert_eq!(
        (later["created"].as_u64(), later["expired"].as_u64()),
        (Some(3), Some(1)),
        "{later}"
    );
}

async fn opening_the_invitee_page_again_counts_one_view(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, token) = invited(&api, &acme, json!({"email": "a@partner.test", "send_email": false})).await;
    let token = token.unwrap();
    api.clock.advance(Duration::seconds(1));
    assert_eq!(funnel(&api, &acme, "").await["page_viewed"], 0);
    open_page(&api, &token).await;
    open_page(&api, &token).await;
    // An unknown token's page records nothing (and is no view).
    let unknown = api.raw(TestRequest::get().uri("/invite/no-such-token")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(funnel(&api, &acme, "").await["page_viewed"], 1);
}

async fn the_range_is_refused_naming_the_parameter_and_the_funnel_needs_a_key(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let refused = |query: &'static str| {
        let api = &api;
        let acme = acme.clone();
        async move {
            let reply = api
                .call(
                    Method::GET,
                    &format!("/v1/analytics/invitations{query}"),
                    Some(&acme),
                    None,
                )
                .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}: {}", reply.body);
            assert_eq!(reply.body["code"], "invalid_query", "{}", reply.body);
            codes(&reply.body)
        }
    };
    let named = |field: &str, code: &str| vec![(field.to_owned(), code.to_owned())];
    assert_eq!(refused("?from=yesterday").await, named("from", "invalid_format"));
    assert_eq!(refused("?to=2026-13-01T00:00:00Z").await, named("to", "invalid_format"));
    assert_eq!(
        refused("?from=x&to=y").await,
        [named("from", "invalid_format"), named("to", "invalid_format")].concat()
    );
    assert_eq!(
        refused("?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z").await,
        named("from", "invalid_range")
    );
    assert_eq!(
        refused("?from=2025-01-01T00:00:00Z&to=2026-01-03T00:00:00Z").await,
        named("from", "range_too_long")
    );
    // An offset, its `+` encoded; a range of exactly 366 days.
    let fine = funnel(
        &api,
        &acme,
        "?from=2025-01-01T00:00:00%2B01:00&to=2026-01-02T00:00:00%2B01:00",
    )
    .await;
    assert_eq!(fine["from"], "2024-12-31T23:00:00Z", "{fine}");

    let anonymous = api.call(Method::GET, "/v1/analytics/invitations", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{}", anonymous.body);
    let wrong = api
        .call(Method::GET, "/v1/analytics/invitations", Some("rsvp_wrong"), None)
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
}
