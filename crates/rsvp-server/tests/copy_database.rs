//! Moving from SQLite to PostgreSQL with `rsvp copy-database`: a server's
//! whole state (tenants, keys, invitations in every status, connections,
//! events, email jobs, webhook endpoints) answers the same on PostgreSQL, keeps
//! working there, and the copy refuses what would lose or mix data.

mod support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rsvp_store_diesel::testing::TestDatabase;
use serde_json::{Value, json};
use support::{Server, poll_until, temp_dir};

const ADMIN: &str = "copy-test-operator-token";
/// A webhook endpoint on a closed local port: its deliveries queue up.
const HOOKS: &[(&str, &str)] = &[
    ("RSVP_WEBHOOK_ALLOW_HTTP", "true"),
    ("RSVP_WEBHOOK_ALLOW_PRIVATE", "true"),
];

fn rsvp(database_url: &str, data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rsvp"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RSVP_DATA_DIR", data_dir)
        .env("RSVP_DATABASE_URL", database_url)
        .env("RSVP_LOG", "warn")
        .output()
        .unwrap()
}

fn ok(server: &Server, method: &str, path: &str, key: &str, body: Option<Value>) -> Value {
    let (status, _, body, _) = server.call(method, path, key, body);
    assert!((200..300).contains(&status), "{method} {path}: {status} {body}");
    body
}

/// What a user sees of the state, through the API.
fn views(server: &Server, acme: &str, globex: &str) -> Vec<Value> {
    [
        ("/v1/invitations/sent?limit=100", acme),
        ("/v1/invitations/received?limit=100", globex),
        ("/v1/connections", acme),
        ("/v1/events?limit=100", acme),
        ("/v1/events?limit=100", globex),
        ("/v1/webhook-endpoints", acme),
        ("/v1/join-links", acme),
        ("/v1/connection-requests/received", acme),
        ("/v1/me", globex),
    ]
    .into_iter()
    .map(|(path, key)| ok(server, "GET", path, key, None))
    .collect()
}

#[test]
fn a_sqlite_server_moves_to_postgresql_whole_and_keeps_working_there() {
    let data_dir = temp_dir("copy");
    let sqlite_url = format!("sqlite://{}/rsvp.db", data_dir.display());
    let postgres = TestDatabase::postgres();

    // A server with some history on SQLite.
    let server = Server::start(&sqlite_url, &data_dir, ADMIN, HOOKS);
    let acme = ok(
        &server,
        "POST",
        "/v1/admin/businesses",
        ADMIN,
        Some(json!({"name": "Acme", "user": {"email": "ann@acme.test"}})),
    );
    let acme_key = acme["api_key"].as_str().unwrap().to_owned();
    let globex = ok(
        &server,
        "POST",
        "/v1/admin/businesses",
        ADMIN,
        Some(json!({"name": "Globex", "user": {"email": "bob@globex.test"}})),
    );
    let globex_key = globex["api_key"].as_str().unwrap().to_owned();
    let accepted = ok(
        &server,
        "POST",
        "/v1/invitations",
        &acme_key,
        Some(json!({"email": "bob@globex.test", "roles": ["supplier"], "custom_data": {"tier": 2}})),
    );
    ok(
        &server,
        "PATCH",
        &format!("/v1/invitations/{}", accepted["id"].as_str().unwrap()),
        &globex_key,
        Some(json!({"status": "accepted"})),
    );
    let cancelled = ok(
        &server,
        "POST",
        "/v1/invitations",
        &acme_key,
        Some(json!({"email": "carol@initech.test"})),
    );
    ok(
        &server,
        "PATCH",
        &format!("/v1/invitations/{}", cancelled["id"].as_str().unwrap()),
        &acme_key,
        Some(json!({"status": "cancelled"})),
    );
    let pending = ok(
        &server,
        "POST",
        "/v1/invitations/bulk",
        &acme_key,
        Some(json!({"invitations": [{"email": "dan@umbrella.test"}, {"email": "erin@hooli.test"}]})),
    );
    assert_eq!(pending["successful"].as_array().unwrap().len(), 2, "{pending}");
    ok(
        &server,
        "POST",
        "/v1/webhook-endpoints",
        &acme_key,
        Some(json!({"url": "http://127.0.0.1:9/hooks", "description": "moved"})),
    );
    // A join link with a pending request of a third business.
    let initech = ok(
        &server,
        "POST",
        "/v1/admin/businesses",
        ADMIN,
        Some(json!({"name": "Initech", "user": {"email": "peter@initech.test"}})),
    );
    let initech_key = initech["api_key"].as_str().unwrap().to_owned();
    let link = ok(
        &server,
        "POST",
        "/v1/join-links",
        &acme_key,
        Some(json!({"max_uses": 3, "requires_approval": true, "roles": ["supplier"]})),
    );
    let join_token = link["token"].as_str().unwrap().to_owned();
    let requested = ok(&server, "POST", &format!("/v1/join/{join_token}"), &initech_key, None);
    let request_id = requested["connection_request"]["id"].as_str().unwrap().to_owned();
    // Emails sent, so that the state is still (the dispatcher on PostgreSQL
    // would send what is queued and change `email_delivery`).
    let settled = poll_until(Instant::now() + Duration::from_secs(30), || {
        let sent = ok(&server, "GET", "/v1/invitations/sent?limit=100", &acme_key, None);
        !sent.to_string().contains("\"queued\"")
    });
    assert!(settled, "the emails are sent");
    let before = views(&server, &acme_key, &globex_key);
    drop(server);

    // The move.
    let copied = rsvp(&sqlite_url, &data_dir, &["copy-database", "--to", postgres.url()]);
    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    let report: Value = serde_json::from_slice(&copied.stdout).unwrap();
    assert_eq!(
        (report["from"].as_str(), report["to"].as_str()),
        (Some("sqlite"), Some("postgres"))
    );
    assert_eq!(report["tables"]["businesses"], 3, "{report}");
    assert_eq!(report["tables"]["invitations"], 4, "{report}");
    assert_eq!(report["tables"]["connections"], 1, "{report}");
    assert_eq!(report["tables"]["webhook_endpoints"], 1, "{report}");
    assert_eq!(report["tables"]["join_links"], 1, "{report}");
    assert_eq!(report["tables"]["connection_requests"], 1, "{report}");
    assert!(report["tables"]["events"].as_i64().unwrap() >= 6, "{report}");

    // The same answers on PostgreSQL, with the same keys.
    let server = Server::start(postgres.url(), &data_dir, ADMIN, HOOKS);
    assert_eq!(views(&server, &acme_key, &globex_key), before);
    // And it keeps working: the pending invitations are still one per email,
    // a new one goes in, a pending one can still be answered.
    let (status, _, again, _) = server.call(
        "POST",
        "/v1/invitations",
        &acme_key,
        Some(json!({"email": "dan@umbrella.test"})),
    );
    assert_eq!(status, 409, "{again}");
    ok(
        &server,
        "POST",
        "/v1/invitations",
        &acme_key,
        Some(json!({"email": "frank@initech.test"})),
    );
    let dan = pending["successful"][0]["id"].as_str().unwrap();
    let cancelled_now = ok(
        &server,
        "PATCH",
        &format!("/v1/invitations/{dan}"),
        &acme_key,
        Some(json!({"status": "cancelled"})),
    );
    assert_eq!(cancelled_now["status"], "cancelled");
    // The join link moved with its token's hash and its pending request.
    let preview = ok(&server, "GET", &format!("/v1/join/{join_token}"), &initech_key, None);
    assert_eq!(preview["status"], "active", "{preview}");
    let approved = ok(
        &server,
        "PATCH",
        &format!("/v1/connection-requests/{request_id}"),
        &acme_key,
        Some(json!({"status": "approved"})),
    );
    assert_eq!(approved["connection_request"]["status"], "approved", "{approved}");
    drop(server);

    // A second copy would mix two histories: refused, the target untouched.
    let twice = rsvp(&sqlite_url, &data_dir, &["copy-database", "--to", postgres.url()]);
    assert!(!twice.status.success());
    let stderr = String::from_utf8_lossy(&twice.stderr);
    assert!(stderr.contains("already holds rows in businesses"), "{stderr}");
    let server = Server::start(postgres.url(), &data_dir, ADMIN, HOOKS);
    let sent = ok(&server, "GET", "/v1/invitations/sent?limit=100", &acme_key, None);
    assert_eq!(sent["data"].as_array().unwrap().len(), 5);
}

#[test]
fn copy_database_refuses_a_source_that_is_not_sqlite() {
    let data_dir = temp_dir("copy-pg");
    let source = TestDatabase::postgres();
    let target = TestDatabase::postgres();
    let refused = rsvp(source.url(), &data_dir, &["copy-database", "--to", target.url()]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("copies the SQLite database into PostgreSQL"),
        "{stderr}"
    );
}
