//! The email providers' reports end to end through the HTTP API: Postmark's
//! webhook records (HTTP Basic credentials) and Amazon SES's through SNS
//! messages signed with a throwaway CA's certificate, served by a real https
//! server on 127.0.0.1 (rsvp-sns's test support). For each: the invitation's
//! `email_delivery`, the event, the webhook delivery queued for it and the
//! suppression list show the effect, once; refusals (credentials,
//! signatures, stale messages, foreign topics, bad or huge bodies) change
//! nothing. On the in-memory store, on SQLite and on PostgreSQL.

#[macro_use]
mod common;
#[path = "../../rsvp-sns/tests/support/mod.rs"]
mod sns;

use std::sync::Arc;

use actix_web::http::{Method, StatusCode, header};
use actix_web::test::TestRequest;
use base64::Engine as _;
use common::{ADMIN, Api, Reply};
use rsvp_app::{EmailOutcome, Secret, SnsMessage};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

on_every_backend!(
    postmark_bounce_delivery_and_complaint_reach_the_invitation_events_webhooks_and_suppressions_once,
    postmark_refuses_wrong_credentials_and_bad_bodies_and_changes_nothing,
    ses_reports_signed_by_aws_apply_once_and_a_subscription_is_confirmed,
    ses_refuses_unsigned_stale_and_foreign_messages_and_changes_nothing,
    providers_not_configured_answer_404,
);

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ses-feedback";

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn with_postmark(api: Api) -> Api {
    api.with_app(|app| app.with_postmark_webhook(Secret::new("postmark"), Secret::new("hook-s3cret")))
}

async fn post_postmark(api: &Api, authorization: Option<&str>, body: &str) -> Reply {
    let mut request = TestRequest::default()
        .method(Method::POST)
        .uri("/v1/provider-events/postmark")
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(body.to_owned());
    if let Some(authorization) = authorization {
        request = request.insert_header((header::AUTHORIZATION, authorization.to_owned()));
    }
    api.raw(request).await
}

async fn postmark(api: &Api, record: &Value) -> Reply {
    post_postmark(api, Some(&basic("postmark", "hook-s3cret")), &record.to_string()).await
}

/// Acme, its key, a webhook endpoint of it, and an invitation to `to` whose
/// email went out: (key, endpoint id, invitation id, email job id).
async fn sent_invitation(api: &Api, to: &str, provider_id: &str) -> (String, String, String, String) {
    let (_, key) = api.business("Acme", "ann@acme.test").await;
    let hook = api
        .call(
            Method::POST,
            "/v1/webhook-endpoints",
            Some(&key),
            Some(json!({"url": "https://hooks.example.com/rsvp"})),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
    let invited = api.invite(&key, json!({"email": to})).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let invitation = invited.body["id"].as_str().unwrap().to_owned();
    // What the dispatcher does: claim the email, hand it over, record the provider's id.
    let now = rsvp_app::Clock::now(api.clock.as_ref());
    let jobs = api
        .ports
        .store
        .outbox()
        .claim_email_jobs(now, 10, time::Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    let outcome = EmailOutcome::Sent {
        provider_message_id: Some(provider_id.to_owned()),
    };
    api.ports
        .store
        .outbox()
        .finish_email_jobs(&[(jobs[0].id, outcome)], now)
        .await
        .unwrap();
    (
        key,
        hook.body["id"].as_str().unwrap().to_owned(),
        invitation,
        jobs[0].id.to_string(),
    )
}

async fn get(api: &Api, key: &str, path: &str) -> Value {
    let reply = api.call(Method::GET, path, Some(key), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply.body
}

async fn event_types(api: &Api, key: &str) -> Vec<String> {
    get(api, key, "/v1/events?limit=100").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn delivered_types(api: &Api, key: &str, hook: &str) -> Vec<String> {
    get(api, key, &format!("/v1/webhook-endpoints/{hook}/deliveries?limit=100")).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_type"].as_str().unwrap().to_owned())
        .collect()
}

async fn suppressions(api: &Api, email: &str) -> Vec<Value> {
    get(api, ADMIN, &format!("/v1/admin/suppressions?email={email}")).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

fn count(types: &[String], wanted: &str) -> usize {
    types.iter().filter(|t| *t == wanted).count()
}

async fn postmark_bounce_delivery_and_complaint_reach_the_invitation_events_webhooks_and_suppressions_once(api: Api) {
    let api = with_postmark(api);
    let (key, hook, invitation, job) = sent_invitation(&api, "bob@globex.test", "pm-0001").await;

    // A Delivery record names Postmark's MessageID only.
    let delivery = json!({"RecordType": "Delivery", "ServerID": 23, "MessageStream": "outbound",
        "MessageID": "pm-0001", "Recipient": "bob@globex.test", "Tag": "", "DeliveredAt": "2027-01-15T08:00:01Z",
        "Details": "Test delivery webhook details", "Metadata": {}});
    let reply = postmark(&api, &delivery).await;
    assert_eq!(
        (reply.status, &reply.body["result"]),
        (StatusCode::OK, &json!("applied"))
    );
    let shown = get(&api, &key, &format!("/v1/invitations/{invitation}")).await;
    assert_eq!(shown["email_delivery"], "delivered");

    // A hard bounce, carrying rsvp's job id in its Metadata; sent twice.
    let bounce = json!({"RecordType": "Bounce", "MessageStream": "outbound", "ID": 4_323_372_036_854_775_807_i64,
        "Type": "HardBounce", "TypeCode": 1, "Name": "Hard bounce", "Tag": "", "MessageID": "pm-0001",
        "Metadata": {"rsvp_email_job": job}, "ServerID": 23, "Description": "The server was unable to deliver your message",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "bob@globex.test", "From": "ann@acme.test", "BouncedAt": "2027-01-15T08:00:02Z",
        "DumpAvailable": true, "Inactive": true, "CanActivate": true, "Subject": "Acme invites you"});
    let reply = postmark(&api, &bounce).await;
    assert_eq!(reply.body["result"], "applied", "{}", reply.body);
    let again = postmark(&api, &bounce).await;
    assert_eq!(
        (again.status, &again.body["result"]),
        (StatusCode::OK, &json!("duplicate"))
    );

    let shown = get(&api, &key, &format!("/v1/invitations/{invitation}")).await;
    assert_eq!(shown["email_delivery"], "bounced");
    let events = event_types(&api, &key).await;
    assert_eq!(
        (
            count(&events, "invitation.email_delivered"),
            count(&events, "invitation.email_bounced")
        ),
        (1, 1),
        "{events:?}"
    );
    let hooked = delivered_types(&api, &key, &hook).await;
    assert_eq!(count(&hooked, "invitation.email_bounced"), 1, "{hooked:?}");
    let listed = suppressions(&api, "bob@globex.test").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (&listed[0]["reason"], &listed[0]["scope"], &listed[0]["invitation_id"]),
        (&json!("bounce"), &json!("everyone"), &json!(invitation))
    );

    // The address is now refused, by every business, until the operator lifts it.
    let cancel = api
        .call(
            Method::PATCH,
            &format!("/v1/invitations/{invitation}"),
            Some(&key),
            Some(json!({"status": "cancelled"})),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::OK, "{}", cancel.body);
    let refused = api.invite(&key, json!({"email": "Bob@Globex.test"})).await;
    assert_eq!(
        (refused.status, &refused.body["code"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("recipient_suppressed"))
    );
    let (_, other_key) = api.business("Initech", "ian@initech.test").await;
    let refused = api.invite(&other_key, json!({"email": "bob@globex.test"})).await;
    assert_eq!(refused.body["code"], "recipient_suppressed");
    let lifted = api
        .call(
            Method::DELETE,
            &format!("/v1/admin/suppressions/{}", listed[0]["id"].as_str().unwrap()),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(lifted.status, StatusCode::NO_CONTENT, "{}", lifted.body);
    assert_eq!(
        api.invite(&other_key, json!({"email": "bob@globex.test"})).await.status,
        StatusCode::CREATED
    );

    // A spam complaint on the first email: its event, and the address suppressed again.
    let complaint = json!({"RecordType": "SpamComplaint", "MessageStream": "outbound", "ID": 42, "Type": "SpamComplaint",
        "TypeCode": 512, "MessageID": "pm-0001", "Metadata": {"rsvp_email_job": job}, "Email": "bob@globex.test",
        "BouncedAt": "2027-01-15T08:10:00Z"});
    assert_eq!(postmark(&api, &complaint).await.body["result"], "applied");
    let events = event_types(&api, &key).await;
    assert_eq!(count(&events, "invitation.email_complained"), 1, "{events:?}");
    let listed = suppressions(&api, "bob@globex.test").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["reason"], "complaint");

    // A record about an email rsvp did not send: 200, ignored, counted.
    let stranger = json!({"RecordType": "Bounce", "ID": 7, "TypeCode": 1, "MessageID": "not-ours",
        "Email": "x@y.test", "Metadata": {}});
    let reply = postmark(&api, &stranger).await;
    assert_eq!(
        (reply.status, &reply.body["result"]),
        (StatusCode::OK, &json!("unknown_message"))
    );
    let opened = postmark(&api, &json!({"RecordType": "Open", "MessageID": "pm-0001"})).await;
    assert_eq!(opened.body["result"], "ignored");
    let metrics = api.state.metrics.render(&rsvp_http::metrics::OutboxGauges::default());
    for line in [
        "rsvp_provider_events_total{provider=\"postmark\",result=\"applied\"} 3",
        "rsvp_provider_events_total{provider=\"postmark\",result=\"duplicate\"} 1",
        "rsvp_provider_events_total{provider=\"postmark\",result=\"unknown_message\"} 1",
        "rsvp_provider_events_total{provider=\"postmark\",result=\"ignored\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

async fn postmark_refuses_wrong_credentials_and_bad_bodies_and_changes_nothing(api: Api) {
    let api = with_postmark(api);
    let (key, _, invitation, job) = sent_invitation(&api, "bob@globex.test", "pm-0002").await;
    let bounce = json!({"RecordType": "Bounce", "ID": 1, "TypeCode": 1, "MessageID": "pm-0002",
        "Metadata": {"rsvp_email_job": job}});
    let events_before = event_types(&api, &key).await;
    for authorization in [
        None,
        Some(basic("postmark", "wrong")),
        Some(basic("Postmark", "hook-s3cret")),
        Some(basic("postmark", "hook-s3cret-and-more")),
        Some("Bearer hook-s3cret".to_owned()),
        Some("Basic !!!not-base64".to_owned()),
    ] {
        let reply = post_postmark(&api, authorization.as_deref(), &bounce.to_string()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert!(
            reply
                .headers
                .get(header::WWW_AUTHENTICATE)
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Basic"),
            "{authorization:?}"
        );
    }
    let good = basic("postmark", "hook-s3cret");
    for (body, status, code) in [
        ("{not json", StatusCode::BAD_REQUEST, "malformed_json"),
        ("[]", StatusCode::BAD_REQUEST, "invalid_payload"),
        (
            r#"{"RecordType":"Bounce","MessageID":"pm-0002"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (r#"{"MessageID":"pm-0002"}"#, StatusCode::BAD_REQUEST, "invalid_payload"),
    ] {
        let reply = post_postmark(&api, Some(&good), body).await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let huge = format!(r#"{{"RecordType":"Open","Details":"{}"}}"#, "x".repeat(600 * 1024));
    let reply = post_postmark(&api, Some(&good), &huge).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(event_types(&api, &key).await, events_before);
    let shown = get(&api, &key, &format!("/v1/invitations/{invitation}")).await;
    assert_eq!(shown["email_delivery"], "sent");
    assert!(suppressions(&api, "bob@globex.test").await.is_empty());
}

/// The SNS side: a CA, an https server of the signing certificate (valid
/// around the API's clock), and the API accepting SES's reports from it.
struct Aws {
    server: sns::SnsServer,
}

async fn with_ses(api: Api) -> (Api, Aws) {
    let pki = sns::Pki::new();
    let now = rsvp_app::Clock::now(api.clock.as_ref());
    let cert = pki.signing_cert(
        sns::SIGNER_KEY_PEM,
        now - time::Duration::DAY,
        now + time::Duration::days(365),
    );
    let server = sns::SnsServer::start(&pki, &cert).await;
    let verifier = rsvp_sns::AwsSnsVerifier::with_clock(sns::test_settings(&pki, &server), api.clock.clone()).unwrap();
    let api = api.with_app(|app| app.with_ses_feedback(Arc::new(verifier), vec![TOPIC.to_owned()]));
    (api, Aws { server })
}

impl Aws {
    /// A notification of `ses_event`, timestamped `at`, signed (v2) with the
    /// certificate's key.
    fn notification(&self, id: &str, ses_event: &Value, at: time::OffsetDateTime) -> SnsMessage {
        let message = SnsMessage {
            message_id: id.to_owned(),
            topic_arn: TOPIC.to_owned(),
            message: ses_event.to_string(),
            timestamp: at.format(&Rfc3339).unwrap(),
            ..sns::notification(&self.server.cert_url(), None)
        };
        sns::signed(message, "2", sns::SIGNER_KEY_PEM)
    }
}

fn envelope(message: &SnsMessage) -> String {
    let mut body = json!({
        "Type": message.kind.as_str(), "MessageId": message.message_id, "TopicArn": message.topic_arn,
        "Message": message.message, "Timestamp": message.timestamp, "SignatureVersion": message.signature_version,
        "Signature": message.signature, "SigningCertURL": message.signing_cert_url,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    });
    if let Some(subject) = &message.subject {
        body["Subject"] = json!(subject);
    }
    if let Some(token) = &message.token {
        body["Token"] = json!(token);
    }
    if let Some(url) = &message.subscribe_url {
        body["SubscribeURL"] = json!(url);
    }
    body.to_string()
}

async fn post_ses(api: &Api, message: &SnsMessage) -> Reply {
    // SNS posts JSON as text/plain.
    let request = TestRequest::default()
        .method(Method::POST)
        .uri("/v1/provider-events/ses")
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=UTF-8"))
        .insert_header(("x-amz-sns-message-type", message.kind.as_str()))
        .set_payload(envelope(message));
    api.raw(request).await
}

fn ses_bounce(job: &str, bounce_type: &str) -> Value {
    json!({"notificationType": "Bounce",
        "bounce": {"bounceType": bounce_type, "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": "bob@globex.test", "action": "failed", "status": "5.1.1"}],
            "timestamp": "2027-01-15T08:00:02.000Z", "feedbackId": "0100018c-feedback"},
        "mail": {"timestamp": "2027-01-15T08:00:00.000Z", "source": "rsvp@acme.test", "messageId": "0100018c-ses-id",
            "destination": ["bob@globex.test"],
            "commonHeaders": {"messageId": format!("<{job}@rsvp.test>"), "subject": "Acme invites you"}}})
}

async fn ses_reports_signed_by_aws_apply_once_and_a_subscription_is_confirmed(api: Api) {
    let (api, aws) = with_ses(api).await;
    let (key, hook, invitation, job) = sent_invitation(&api, "bob@globex.test", "0100018c-ses-id").await;
    let now = rsvp_app::Clock::now(api.clock.as_ref());

    let confirmation = sns::signed(
        SnsMessage {
            topic_arn: TOPIC.to_owned(),
            timestamp: now.format(&Rfc3339).unwrap(),
            ..sns::confirmation(
                &aws.server.cert_url(),
                &aws.server
                    .url("/?Action=ConfirmSubscription&TopicArn=ses-feedback&Token=2336412f37fb"),
            )
        },
        "1",
        sns::SIGNER_KEY_PEM,
    );
    let reply = post_ses(&api, &confirmation).await;
    assert_eq!(
        (reply.status, &reply.body["result"]),
        (StatusCode::OK, &json!("subscription_confirmed")),
        "{}",
        reply.body
    );
    assert!(
        aws.server
            .requests()
            .iter()
            .any(|r| r.starts_with("/?Action=ConfirmSubscription") && r.contains("Token=2336412f37fb")),
        "{:?}",
        aws.server.requests()
    );

    let bounce = aws.notification("sns-0001", &ses_bounce(&job, "Permanent"), now);
    let reply = post_ses(&api, &bounce).await;
    assert_eq!(
        (reply.status, &reply.body["result"]),
        (StatusCode::OK, &json!("applied")),
        "{}",
        reply.body
    );
    let again = post_ses(&api, &bounce).await;
    assert_eq!(again.body["result"], "duplicate");

    let shown = get(&api, &key, &format!("/v1/invitations/{invitation}")).await;
    assert_eq!(shown["email_delivery"], "bounced");
    assert_eq!(count(&event_types(&api, &key).await, "invitation.email_bounced"), 1);
    assert_eq!(
        count(&delivered_types(&api, &key, &hook).await, "invitation.email_bounced"),
        1
    );
    let listed = suppressions(&api, "bob@globex.test").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["reason"], "bounce");

    // A complaint matched by SES's own message id (no Message-ID header).
    let complaint = json!({"notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "bob@globex.test"}], "complaintFeedbackType": "abuse"},
        "mail": {"messageId": "0100018c-ses-id"}});
    let reply = post_ses(&api, &aws.notification("sns-0002", &complaint, now)).await;
    assert_eq!(reply.body["result"], "applied");
    let shown = get(&api, &key, &format!("/v1/invitations/{invitation}")).await;
    assert_eq!(shown["email_delivery"], "complained");
    // The certificate was fetched once for all of it.
    let fetched = aws.server.requests().iter().filter(|r| r.ends_with(".pem")).count();
    assert_eq!(fetched, 1, "{:?}", aws.server.requests());
}

async fn ses_refuses_unsigned_stale_and_foreign_messages_and_changes_nothing(api: Api) {
    let (api, aws) = with_ses(api).await;
    let (key, _, invitation, job) = sent_invitation(&api, "bob@globex.test", "0100018c-ses-id").await;
    let now = rsvp_app::Clock::now(api.clock.as_ref());
    let good = aws.notification("sns-0003", &ses_bounce(&job, "Permanent"), now);
    let events_before = event_types(&api, &key).await;

    let tampered = SnsMessage {
        message: ses_bounce(&job, "Transient").to_string(),
        ..good.clone()
    };
    let foreign_key = sns::signed(good.clone(), "2", sns::OTHER_KEY_PEM);
    let stale = aws.notification(
        "sns-0004",
        &ses_bounce(&job, "Permanent"),
        now - time::Duration::hours(2),
    );
    let foreign_topic = sns::signed(
        SnsMessage {
            topic_arn: "arn:aws:sns:us-east-1:999999999999:other".to_owned(),
            ..good.clone()
        },
        "2",
        sns::SIGNER_KEY_PEM,
    );
    let foreign_host = sns::signed(
        SnsMessage {
            signing_cert_url: "https://sns.us-east-1.amazonaws.com.evil.test/cert.pem".to_owned(),
            ..good.clone()
        },
        "2",
        sns::SIGNER_KEY_PEM,
    );
    for (name, message) in [
        ("tampered", &tampered),
        ("signed by another key", &foreign_key),
        ("two hours old", &stale),
        ("another topic", &foreign_topic),
        ("a certificate elsewhere", &foreign_host),
    ] {
        let reply = post_ses(&api, message).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}: {}", reply.body);
    }
    for (body, status) in [
        ("{not json".to_owned(), StatusCode::BAD_REQUEST),
        (r#"{"Type":"Notification"}"#.to_owned(), StatusCode::BAD_REQUEST),
        (
            format!(r#"{{"Type":"Notification","Message":"{}"}}"#, "x".repeat(600 * 1024)),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let request = TestRequest::default()
            .method(Method::POST)
            .uri("/v1/provider-events/ses")
            .insert_header((header::CONTENT_TYPE, "text/plain"))
            .set_payload(body);
        assert_eq!(api.raw(request).await.status, status);
    }
    assert_eq!(event_types(&api, &key).await, events_before);
    let shown = get(&api, &key, &format!("/v1/invitations/{invitation}")).await;
    assert_eq!(shown["email_delivery"], "sent");
    assert!(suppressions(&api, "bob@globex.test").await.is_empty());
    // The good one still applies afterwards: nothing above spent its id.
    assert_eq!(post_ses(&api, &good).await.body["result"], "applied");
}

async fn providers_not_configured_answer_404(api: Api) {
    let reply = post_postmark(&api, Some(&basic("postmark", "x")), r#"{"RecordType":"Open"}"#).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let request = TestRequest::default()
        .method(Method::POST)
        .uri("/v1/provider-events/ses")
        .set_payload(r#"{"Type":"Notification"}"#);
    assert_eq!(api.raw(request).await.status, StatusCode::NOT_FOUND);
}
