//! A bounce followed end to end through the real `rsvp` binary: the HTTP
//! mail transport sends the invitation to a Postmark-shaped stand-in, which
//! answers a `MessageID` (and receives rsvp's job id in `Metadata`); the
//! test posts Postmark's bounce record back to
//! `/v1/provider-events/postmark` with the webhook's Basic credentials; the
//! sender's webhook receiver (`webhook_receiver.py`, verifying with the
//! Standard Webhooks library) gets `invitation.email_bounced`; the
//! invitation reads `bounced`, the address is suppressed and a new
//! invitation to it is `422 recipient_suppressed`. On SQLite and on
//! PostgreSQL.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rsvp_store_diesel::testing::TestDatabase;
use serde_json::{Value, json};
use support::{Provider, Server, poll_until, temp_dir};

const ADMIN: &str = "provider-feedback-operator-token";
const RECEIVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webhook_receiver.py");
const DEADLINE: Duration = Duration::from_secs(60);

/// The webhook receiver, its JSON lines on a channel; killed when dropped.
struct Receiver {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Receiver {
    fn start(control: &std::path::Path) -> (Self, u64) {
        let python = std::env::var("RSVP_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let mut child = Command::new(&python)
            .arg(RECEIVER)
            .arg(control)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {python}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let receiver = Self { child, lines };
        let port = receiver
            .lines
            .recv_timeout(Duration::from_secs(30))
            .ok()
            .and_then(|line| line["port"].as_u64())
            .expect("the receiver prints its port (run through ./scripts/test: it needs standardwebhooks)");
        (receiver, port)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn a_bounce_reaches_the_senders_webhook_and_suppresses_the_address(database: TestDatabase) {
    let work = temp_dir("provider-feedback");
    let control = work.join("control.json");
    std::fs::write(&control, json!({"mode": "ok", "secret": ""}).to_string()).unwrap();
    let (receiver, port) = Receiver::start(&control);
    let provider = Provider::start(Duration::ZERO);
    let server = Server::start(
        database.url(),
        &work,
        ADMIN,
        &[
            ("RSVP_MAIL_TRANSPORT", "http"),
            ("RSVP_HTTP_MAIL_URL", &provider.url()),
            ("RSVP_HTTP_MAIL_TOKEN", "server-token"),
            ("RSVP_POSTMARK_WEBHOOK_USER", "postmark"),
            ("RSVP_POSTMARK_WEBHOOK_PASSWORD", "hook-s3cret"),
            ("RSVP_WEBHOOK_ALLOW_HTTP", "true"),
            ("RSVP_WEBHOOK_ALLOW_PRIVATE", "true"),
        ],
    );

    let (status, _, acme, _) = server.call(
        "POST",
        "/v1/admin/businesses",
        ADMIN,
        Some(json!({"name": "Acme", "user": {"email": "ann@acme.test"}})),
    );
    assert_eq!(status, 201, "{acme}");
    let key = acme["api_key"].as_str().unwrap().to_owned();
    let (status, _, endpoint, _) = server.call(
        "POST",
        "/v1/webhook-endpoints",
        &key,
        Some(
            json!({"url": format!("http://127.0.0.1:{port}/hooks/rsvp"), "event_types": ["invitation.email_bounced"]}),
        ),
    );
    assert_eq!(status, 201, "{endpoint}");
    let secret = endpoint["secret"].as_str().unwrap();
    std::fs::write(&control, json!({"mode": "ok", "secret": secret}).to_string()).unwrap();

    let (status, _, invitation, _) = server.call(
        "POST",
        "/v1/invitations",
        &key,
        Some(json!({"email": "bob@globex.test"})),
    );
    assert_eq!(status, 201, "{invitation}");
    let invitation_id = invitation["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/invitations/{invitation_id}");
    // The email goes out; the provider's MessageID is recorded with it.
    assert!(
        poll_until(Instant::now() + DEADLINE, || {
            server.call("GET", &path, &key, None).2["email_delivery"] == "sent"
        }),
        "the invitation's email is sent"
    );
    let sent = provider.received();
    assert_eq!(sent.len(), 1);
    let job = sent[0].metadata["rsvp_email_job"]
        .as_str()
        .expect("rsvp's job id in Metadata")
        .to_owned();
    assert!(
        sent[0].message_id.contains(&job),
        "the Message-ID {} names the job {job}",
        sent[0].message_id
    );
    eprintln!(
        "sent: Message-ID {}, Metadata {}, provider MessageID {}",
        sent[0].message_id, sent[0].metadata, sent[0].provider_message_id
    );

    // Postmark's bounce record, as its webhook posts it.
    let bounce = json!({"RecordType": "Bounce", "MessageStream": "outbound", "ID": 4_323_372_036_854_775_807_i64,
        "Type": "HardBounce", "TypeCode": 1, "Name": "Hard bounce", "Tag": "", "MessageID": sent[0].provider_message_id,
        "Metadata": sent[0].metadata, "ServerID": 23, "Description": "The server was unable to deliver your message",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "bob@globex.test", "From": "ann@acme.test", "BouncedAt": "2026-12-06T10:00:02Z",
        "DumpAvailable": false, "Inactive": true, "CanActivate": true, "Subject": "Acme invites you"})
    .to_string();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("postmark:hook-s3cret")
    );
    let headers = [("Authorization", basic.as_str()), ("Content-Type", "application/json")];
    let client = server.client();
    let wrong = [
        ("Authorization", "Basic cG9zdG1hcms6d3Jvbmc="),
        ("Content-Type", "application/json"),
    ];
    let (status, _, body, _) = client
        .send("POST", "/v1/provider-events/postmark", &wrong, &bounce)
        .unwrap();
    assert_eq!(status, 401, "{body}");
    let (status, _, body, _) = client
        .send("POST", "/v1/provider-events/postmark", &headers, &bounce)
        .unwrap();
    assert_eq!((status, &body["result"]), (200, &json!("applied")), "{body}");
    eprintln!("POST /v1/provider-events/postmark -> {status} {body}");
    let (status, _, body, _) = client
        .send("POST", "/v1/provider-events/postmark", &headers, &bounce)
        .unwrap();
    assert_eq!((status, &body["result"]), (200, &json!("duplicate")), "{body}");

    // The sender's webhook receives the event, signed.
    let started = Instant::now();
    let delivered = loop {
        assert!(started.elapsed() < DEADLINE, "the webhook of the bounce arrives");
        let Ok(line) = receiver.lines.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if line.get("headers").is_some() {
            break line;
        }
    };
    assert_eq!(delivered["verified"], true, "{delivered}");
    let event: Value = serde_json::from_str(delivered["body"].as_str().unwrap()).unwrap();
    assert_eq!(event["type"], "invitation.email_bounced", "{event}");
    assert_eq!(event["data"]["invitation_id"], invitation_id.as_str(), "{event}");
    eprintln!("webhook received (verified): {event}");

    assert_eq!(server.call("GET", &path, &key, None).2["email_delivery"], "bounced");
    let (_, _, listed, _) = server.call("GET", "/v1/admin/suppressions?email=bob@globex.test", ADMIN, None);
    assert_eq!(listed["data"][0]["reason"], "bounce", "{listed}");
    let (status, _, refused, _) = server.call(
        "POST",
        "/v1/invitations",
        &key,
        Some(json!({"email": "bob@globex.test"})),
    );
    assert_eq!(
        (status, &refused["code"]),
        (422, &json!("recipient_suppressed")),
        "{refused}"
    );
    drop(receiver);
}

#[test]
fn a_postmark_bounce_reaches_the_senders_webhook_on_sqlite() {
    a_bounce_reaches_the_senders_webhook_and_suppresses_the_address(TestDatabase::sqlite());
}

#[test]
fn a_postmark_bounce_reaches_the_senders_webhook_on_postgres() {
    a_bounce_reaches_the_senders_webhook_and_suppresses_the_address(TestDatabase::postgres());
}
