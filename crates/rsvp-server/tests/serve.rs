//! The `rsvp` binary itself, spawn_app style: started on port 0 with a fresh
//! database (SQLite file or PostgreSQL database), called over a real socket,
//! stopped with SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rsvp_store_diesel::testing::TestDatabase;
use serde_json::{Value, json};

const ADMIN: &str = "serve-test-operator-token";

struct Server {
    child: Child,
    addr: SocketAddr,
    data_dir: PathBuf,
    logs: mpsc::Receiver<String>,
    _database: Option<TestDatabase>,
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rsvp-serve-{}-{}", std::process::id(), uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

impl Server {
    fn start(database: TestDatabase) -> Self {
        Self::start_with(database, &[])
    }

    fn start_with(database: TestDatabase, settings: &[(&str, &str)]) -> Self {
        let mut server = Self::start_on(database.url(), settings);
        server._database = Some(database);
        server
    }

    /// A server on a database another server (which owns it) uses too.
    fn start_on(url: &str, settings: &[(&str, &str)]) -> Self {
        let data_dir = temp_dir();
        let mut child = Command::new(env!("CARGO_BIN_EXE_rsvp"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RSVP_BIND", "127.0.0.1:0")
            .env("RSVP_DATA_DIR", &data_dir)
            .env("RSVP_DATABASE_URL", url)
            .env("RSVP_ADMIN_TOKEN", ADMIN)
            .envs(settings.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, logs) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let addr = loop {
            let line = logs
                .recv_timeout(Duration::from_secs(60))
                .expect("the server logs that it listens");
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["fields"]["message"] == "rsvp listening" {
                break entry["fields"]["bind"].as_str().unwrap().parse().unwrap();
            }
        };
        Self {
            child,
            addr,
            data_dir,
            logs,
            _database: None,
        }
    }

    fn call(&self, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.send(method, path, key, "application/json", &body)
    }

    /// A form post, as the invitee page's browser sends it.
    fn post_form(&self, path: &str, form: &str) -> u16 {
        self.send("POST", path, None, "application/x-www-form-urlencoded", form)
            .0
    }

    fn send(&self, method: &str, path: &str, key: Option<&str>, content_type: &str, body: &str) -> (u16, Value) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(key) = key {
            request.push_str(&format!("Authorization: Bearer {key}\r\n"));
        }
        if !body.is_empty() {
            request.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, payload) = raw.split_once("\r\n\r\n").unwrap();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        let payload = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            dechunk(payload)
        } else {
            payload.to_owned()
        };
        (status, serde_json::from_str(&payload).unwrap_or(Value::Null))
    }

    fn stop(mut self) -> Vec<String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "a SIGTERM ends the server cleanly: {exit}");
        let _ = std::fs::remove_dir_all(&self.data_dir);
        let logs: Vec<String> = self.logs.try_iter().collect();
        logs
    }
}

impl Drop for Server {
    // A failing test must not leave its server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&tail[..size]);
        rest = &tail[size + 2..];
    }
    out
}

/// Runs the README's quick start; returns the invitation email.
fn quick_start(server: &Server) -> String {
    let (status, acme) = server.call(
        "POST",
        "/v1/admin/businesses",
        Some(ADMIN),
        Some(json!({"name": "Acme", "user": {"email": "ann@acme.test"}})),
    );
    assert_eq!(status, 201, "{acme}");
    let acme_key = acme["api_key"].as_str().unwrap();
    let (_, globex) = server.call(
        "POST",
        "/v1/admin/businesses",
        Some(ADMIN),
        Some(json!({"name": "Globex", "user": {"email": "bob@globex.test"}})),
    );
    let globex_key = globex["api_key"].as_str().unwrap();
    let (status, invitation) = server.call(
        "POST",
        "/v1/invitations",
        Some(acme_key),
        Some(json!({"email": "bob@globex.test", "roles": ["supplier"]})),
    );
    assert_eq!(status, 201, "{invitation}");
    let id = invitation["id"].as_str().unwrap();
    // The dispatcher sends only links that still work: wait for the email before answering.
    let email = wait_for_email(server);
    let (_, sent) = server.call("GET", "/v1/invitations/sent", Some(acme_key), None);
    assert_eq!(sent["data"][0]["id"], id);
    let (_, received) = server.call("GET", "/v1/invitations/received", Some(globex_key), None);
    assert_eq!(received["data"][0]["id"], id);
    let (status, accepted) = server.call(
        "PATCH",
        &format!("/v1/invitations/{id}"),
        Some(globex_key),
        Some(json!({"status": "accepted"})),
    );
    assert_eq!(
        (status, accepted["status"].as_str()),
        (200, Some("accepted")),
        "{accepted}"
    );
    let (_, connections) = server.call("GET", "/v1/connections", Some(acme_key), None);
    assert_eq!(connections["data"].as_array().unwrap().len(), 1);
    // Cross-tenant: a third business sees nothing and gets 404 for the id.
    let (_, initech) = server.call(
        "POST",
        "/v1/admin/businesses",
        Some(ADMIN),
        Some(json!({"name": "Initech", "user": {"email": "eve@initech.test"}})),
    );
    let initech_key = initech["api_key"].as_str().unwrap();
    assert_eq!(
        server
            .call("GET", &format!("/v1/invitations/{id}"), Some(initech_key), None)
            .0,
        404
    );
    assert_eq!(
        server.call("GET", "/v1/invitations/sent", Some("rsvp_wrong"), None).0,
        401
    );
    assert_eq!(server.call("GET", "/readyz", None, None).0, 200);
    email
}

fn wait_for_email(server: &Server) -> String {
    let outbox = server.data_dir.join("outbox");
    for _ in 0..200 {
        if let Some(entry) = std::fs::read_dir(&outbox).ok().and_then(|mut d| d.next()) {
            return std::fs::read_to_string(entry.unwrap().path()).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let logs: Vec<String> = server.logs.try_iter().collect();
    panic!("no email reached {}: {logs:#?}", outbox.display());
}

#[test]
fn the_binary_serves_the_quick_start_on_sqlite_and_stops_on_sigterm() {
    let server = Server::start(TestDatabase::sqlite());
    let email = quick_start(&server);
    assert!(
        email.contains(&format!("http://{}/invite/", server.addr)),
        "links use the bound address"
    );
    let logs = server.stop();
    assert!(logs.iter().any(|l| l.contains("rsvp stopped")), "{logs:?}");
}

#[test]
fn the_binary_serves_the_quick_start_on_postgresql_and_stops_on_sigterm() {
    let server = Server::start(TestDatabase::postgres());
    let email = quick_start(&server);
    assert!(email.contains("Message-ID: <"), "{email}");
    let logs = server.stop();
    assert!(
        logs.iter().any(|l| l.contains("\"request_id\"")),
        "JSON logs carry the request id"
    );
}

/// The variables of the serving process, as the kernel holds them.
fn environment_of(server: &Server) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{}/environ", server.child.id())).unwrap();
    raw.split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn serve_runs_with_two_malloc_arenas_unless_the_operator_sets_another_number() {
    let server = Server::start(TestDatabase::sqlite());
    let environment = environment_of(&server);
    assert!(environment.iter().any(|v| v == "MALLOC_ARENA_MAX=2"), "{environment:?}");
    // Still the same process, still serving, and it stops as before.
    assert_eq!(server.call("GET", "/healthz", None, None).0, 200);
    let logs = server.stop();
    assert!(logs.iter().any(|l| l.contains("rsvp stopped")), "{logs:?}");

    let server = Server::start_with(TestDatabase::sqlite(), &[("MALLOC_ARENA_MAX", "4")]);
    let environment = environment_of(&server);
    assert!(environment.iter().any(|v| v == "MALLOC_ARENA_MAX=4"), "{environment:?}");
    assert!(
        !environment.iter().any(|v| v == "MALLOC_ARENA_MAX=2"),
        "{environment:?}"
    );
}

#[test]
fn an_invalid_setting_stops_start_up_naming_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_rsvp"))
        .arg("serve")
        .env("RSVP_BIND", "nowhere")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("RSVP_BIND"), "{stderr}");
}

#[test]
fn admin_commands_print_the_operator_apis_json() {
    let database = TestDatabase::sqlite();
    let data_dir = temp_dir();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_rsvp"))
            .args(args)
            .env("RSVP_DATA_DIR", &data_dir)
            .env("RSVP_DATABASE_URL", database.url())
            .env("RSVP_LOG", "warn")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let migrated = run(&["migrate"]);
    assert_eq!(migrated["backend"], "sqlite");
    let made = run(&["admin", "create-business", "--name", "Acme", "--email", "ann@acme.test"]);
    assert!(made["api_key"].as_str().unwrap().starts_with("rsvp_"));
    assert_eq!(made["business"]["name"], "Acme");
    let business = made["business"]["id"].as_str().unwrap();
    let added = run(&[
        "admin",
        "add-user",
        "--business-id",
        business,
        "--email",
        "carl@acme.test",
    ]);
    assert_eq!(added["user"]["business_id"], business);
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn a_key_revoked_through_one_server_is_refused_by_a_second_server_on_the_same_postgresql_within_a_second() {
    let first = Server::start(TestDatabase::postgres());
    let url = first._database.as_ref().unwrap().url().to_owned();
    let second = Server::start_on(&url, &[]);
    let (status, acme) = first.call(
        "POST",
        "/v1/admin/businesses",
        Some(ADMIN),
        Some(json!({"name": "Acme", "user": {"email": "ann@acme.test"}})),
    );
    assert_eq!(status, 201, "{acme}");
    let key = acme["api_key"].as_str().unwrap();
    let key_id = acme["api_key_id"].as_str().unwrap();
    assert_eq!(
        second.call("GET", "/v1/me", Some(key), None).0,
        200,
        "the second server knows the key"
    );

    let (status, _) = first.call("DELETE", &format!("/v1/admin/api-keys/{key_id}"), Some(ADMIN), None);
    assert_eq!(status, 204);
    let revoked_at = std::time::Instant::now();
    // Polled with a deadline: the brief allows up to 1 s (what a key leads
    // to is cached for RSVP_CREDENTIAL_CACHE_MS, 500 ms by default).
    loop {
        let status = second.call("GET", "/v1/me", Some(key), None).0;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "the second server still accepted the revoked key after 1 s"
        );
    }
    drop(second);
    drop(first);
}

#[test]
fn lifecycle_admin_commands_print_the_operator_apis_json() {
    let database = TestDatabase::sqlite();
    let data_dir = temp_dir();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_rsvp"))
            .args(args)
            .env("RSVP_DATA_DIR", &data_dir)
            .env("RSVP_DATABASE_URL", database.url())
            .env("RSVP_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let made = run(&[
        "admin",
        "create-business",
        "--name",
        "Acme Corp",
        "--email",
        "ann@acme.test",
    ]);
    let business = made["business"]["id"].as_str().unwrap().to_owned();
    let user = made["user"]["id"].as_str().unwrap().to_owned();
    assert!(made["api_key_id"].is_string(), "{made}");
    let globex = run(&[
        "admin",
        "create-business",
        "--name",
        "Globex",
        "--external-id",
        "org_globex",
        "--email",
        "bob@globex.test",
        "--user-external-id",
        "idp|bob",
    ]);
    assert_eq!(globex["business"]["external_id"], "org_globex", "{globex}");
    assert_eq!(globex["user"]["external_id"], "idp|bob", "{globex}");
    let by_id = run(&["admin", "list-businesses", "--external-id", "org_globex"]);
    assert_eq!(by_id["data"][0]["id"], globex["business"]["id"], "{by_id}");
    let found = run(&["admin", "find-user", "--external-id", "idp|bob"]);
    assert_eq!(found["data"][0]["id"], globex["user"]["id"], "{found}");
    let bob = globex["user"]["id"].as_str().unwrap();
    let cleared = run(&["admin", "update-user", "--id", bob, "--external-id", ""]);
    assert_eq!(cleared["external_id"], Value::Null, "{cleared}");
    let none = run(&["admin", "find-user", "--external-id", "idp|bob"]);
    assert_eq!(none["data"], json!([]), "{none}");
    let moved = run(&[
        "admin",
        "update-business",
        "--id",
        &business,
        "--external-id",
        "org_acme",
    ]);
    assert_eq!(moved["external_id"], "org_acme", "{moved}");

    let listed = run(&["admin", "list-businesses", "--name", "acme"]);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["next_cursor"], Value::Null);
    let detail = run(&["admin", "get-business", "--id", &business]);
    assert_eq!(detail["business"]["name"], "Acme Corp");
    assert_eq!(detail["users"][0]["id"].as_str(), Some(user.as_str()));
    let suspended = run(&["admin", "suspend-business", "--id", &business]);
    assert_eq!(suspended["suspended"], true);
    let reinstated = run(&["admin", "unsuspend-business", "--id", &business]);
    assert_eq!(reinstated["suspended"], false);
    let renamed = run(&["admin", "update-business", "--id", &business, "--name", "Acme Holding"]);
    assert_eq!(renamed["name"], "Acme Holding");
    let users = run(&["admin", "list-users", "--business-id", &business]);
    assert_eq!(users["data"].as_array().unwrap().len(), 1);
    let updated = run(&["admin", "update-user", "--id", &user, "--first-name", "Anna"]);
    assert_eq!(updated["first_name"], "Anna");

    let key = run(&[
        "admin",
        "create-api-key",
        "--user-id",
        &user,
        "--name",
        "ci",
        "--expires-at",
        "2031-01-01T00:00:00Z",
    ]);
    assert!(key["api_key"].as_str().unwrap().starts_with("rsvp_"));
    assert_eq!(key["expires_at"], "2031-01-01T00:00:00Z");
    let keys = run(&["admin", "list-api-keys", "--user-id", &user]);
    assert_eq!(keys["data"].as_array().unwrap().len(), 2);
    assert!(keys["data"][0].get("api_key").is_none());
    let key_id = key["id"].as_str().unwrap();
    let revoked = run(&["admin", "revoke-api-key", "--id", key_id]);
    assert_eq!(revoked, json!({"id": key_id, "revoked": true}));
    let keys = run(&["admin", "list-api-keys", "--user-id", &user]);
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);

    let erased = run(&["admin", "erase", "--email", "nobody@person.test"]);
    assert_eq!(
        erased,
        json!({"invitations_erased": 0, "invitations_cancelled": 0, "emails_dropped": 0, "users_deactivated": 0})
    );
    let deactivated = run(&["admin", "deactivate-user", "--id", &user]);
    assert_eq!(deactivated["deactivated"], true);

    let refused = Command::new(env!("CARGO_BIN_EXE_rsvp"))
        .args(["admin", "revoke-api-key", "--id", key_id])
        .env("RSVP_DATA_DIR", &data_dir)
        .env("RSVP_DATABASE_URL", database.url())
        .env("RSVP_LOG", "warn")
        .output()
        .unwrap();
    assert!(!refused.status.success(), "revoking twice fails");
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// Every `<public url>/invite/<token>` link in `text` (an email or an answer).
fn link_tokens(text: &str) -> Vec<String> {
    text.split("/invite/")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect::<String>()
        })
        .filter(|token| token.len() >= 20)
        .fold(Vec::new(), |mut tokens, token| {
            if !tokens.contains(&token) {
                tokens.push(token);
            }
            tokens
        })
}

fn all_emails(server: &Server) -> String {
    std::fs::read_dir(server.data_dir.join("outbox"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Waits until the outbox holds `count` emails.
fn wait_for_emails(server: &Server, count: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let outbox = server.data_dir.join("outbox");
    while std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0) < count {
        assert!(std::time::Instant::now() < deadline, "{count} emails did not arrive");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The whole life of two invitations, and a webhook endpoint whose secret
/// is rotated, with logs at `debug`: every line the server wrote is searched
/// for every secret it handed out or was given.
fn no_secret_reaches_the_logs(server: Server) {
    let mut secrets = vec![ADMIN.to_owned(), "metrics-token-kept-secret".to_owned()];
    let (status, acme) = server.call(
        "POST",
        "/v1/admin/businesses",
        Some(ADMIN),
        Some(json!({"name": "Acme", "user": {"email": "ann@acme.test"}})),
    );
    assert_eq!(status, 201, "{acme}");
    let acme_key = acme["api_key"].as_str().unwrap().to_owned();
    let (_, globex) = server.call(
        "POST",
        "/v1/admin/businesses",
        Some(ADMIN),
        Some(json!({"name": "Globex", "user": {"email": "bob@globex.test"}})),
    );
    let globex_key = globex["api_key"].as_str().unwrap().to_owned();
    let business = acme["business"]["id"].as_str().unwrap();
    let (_, added) = server.call(
        "POST",
        &format!("/v1/admin/businesses/{business}/users"),
        Some(ADMIN),
        Some(json!({"email": "bea@acme.test"})),
    );
    secrets.extend([
        acme_key.clone(),
        globex_key,
        added["api_key"].as_str().unwrap().to_owned(),
    ]);

    // An emailed invitation, resent (a second link), answered by the page.
    let (status, emailed) = server.call(
        "POST",
        "/v1/invitations",
        Some(&acme_key),
        Some(json!({"email": "bob@globex.test"})),
    );
    assert_eq!(status, 201, "{emailed}");
    wait_for_emails(&server, 1);
    let id = emailed["id"].as_str().unwrap();
    let (status, resent) = server.call("POST", &format!("/v1/invitations/{id}/resend"), Some(&acme_key), None);
    assert_eq!(status, 200, "{resent}");
    wait_for_emails(&server, 2);
    let emailed_tokens = link_tokens(&all_emails(&server));
    assert_eq!(emailed_tokens.len(), 2, "two emails, one link each");
    let first = &emailed_tokens[0];
    assert_eq!(
        server
            .call("GET", &format!("/v1/invitation-links/{first}"), None, None)
            .0,
        200
    );
    assert_eq!(server.send("GET", &format!("/invite/{first}"), None, "", "").0, 200);
    assert_eq!(server.post_form(&format!("/invite/{first}/accept"), ""), 200);

    // A shared link (no email), answered through the JSON API.
    let (_, shared) = server.call(
        "POST",
        "/v1/invitations",
        Some(&acme_key),
        Some(json!({"email": "carl@initech.test", "send_email": false})),
    );
    let shared_tokens = link_tokens(shared["accept_url"].as_str().unwrap());
    let token = &shared_tokens[0];
    assert_eq!(
        server
            .call("GET", &format!("/v1/invitation-links/{token}"), None, None)
            .0,
        200
    );
    assert_eq!(
        server
            .call("POST", &format!("/v1/invitation-links/{token}/decline"), None, None)
            .0,
        200
    );
    // A webhook endpoint (its secret, then a rotated one) with a delivery attempted.
    let (status, endpoint) = server.call(
        "POST",
        "/v1/webhook-endpoints",
        Some(&acme_key),
        Some(json!({"url": "http://127.0.0.1:9/hooks"})),
    );
    assert_eq!(status, 201, "{endpoint}");
    secrets.push(endpoint["secret"].as_str().unwrap().to_owned());
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let (status, rotated) = server.call(
        "POST",
        &format!("/v1/webhook-endpoints/{endpoint_id}/rotate-secret"),
        Some(&acme_key),
        None,
    );
    assert_eq!(status, 200, "{rotated}");
    secrets.push(rotated["secret"].as_str().unwrap().to_owned());
    let (status, _) = server.call(
        "POST",
        "/v1/invitations",
        Some(&acme_key),
        Some(json!({"email": "dora@hooli.test", "send_email": false})),
    );
    assert_eq!(status, 201);

    // Refusals log too: answered links, mistyped paths, wrong keys.
    assert_eq!(server.call("GET", &format!("/invite/{token}/typo"), None, None).0, 404);
    assert_eq!(
        server
            .call("POST", &format!("/v1/invitation-links/{token}/accept"), None, None)
            .0,
        409
    );
    assert_eq!(
        server
            .call("GET", "/v1/invitations/sent", Some("rsvp_guessed-key"), None)
            .0,
        401
    );
    assert_eq!(
        server
            .call("GET", "/metrics", Some("metrics-token-kept-secret"), None)
            .0,
        200
    );
    secrets.extend(emailed_tokens);
    secrets.extend(shared_tokens);
    secrets.push("rsvp_guessed-key".to_owned());

    let logs = server.stop();
    assert!(
        logs.iter().filter(|l| l.contains("\"DEBUG\"")).count() > 0,
        "the logs are at debug level"
    );
    assert!(
        logs.iter().any(|l| l.contains("/invite/{token}")),
        "the page's requests are logged under their template"
    );
    for secret in &secrets {
        let leaks: Vec<&String> = logs.iter().filter(|line| line.contains(secret.as_str())).collect();
        assert!(leaks.is_empty(), "a secret reached the logs: {leaks:#?}");
    }
}

#[test]
fn no_token_key_or_admin_token_reaches_the_debug_logs_on_sqlite() {
    no_secret_reaches_the_logs(Server::start_with(
        TestDatabase::sqlite(),
        &[
            ("RSVP_LOG", "debug"),
            ("RSVP_RESEND_COOLDOWN_SECS", "0"),
            ("RSVP_METRICS_TOKEN", "metrics-token-kept-secret"),
            ("RSVP_WEBHOOK_ALLOW_HTTP", "true"),
            ("RSVP_WEBHOOK_ALLOW_PRIVATE", "true"),
        ],
    ));
}

#[test]
fn no_token_key_or_admin_token_reaches_the_debug_logs_on_postgresql() {
    no_secret_reaches_the_logs(Server::start_with(
        TestDatabase::postgres(),
        &[
            ("RSVP_LOG", "debug"),
            ("RSVP_RESEND_COOLDOWN_SECS", "0"),
            ("RSVP_METRICS_TOKEN", "metrics-token-kept-secret"),
            ("RSVP_WEBHOOK_ALLOW_HTTP", "true"),
            ("RSVP_WEBHOOK_ALLOW_PRIVATE", "true"),
        ],
    ));
}
