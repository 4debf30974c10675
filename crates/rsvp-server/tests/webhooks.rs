//! Webhooks end to end: the real `rsvp` binary delivers to a local receiver
//! (`webhook_receiver.py`) that verifies EVERY delivery with the official
//! Standard Webhooks library from PyPI (`standardwebhooks`; `./scripts/test`
//! puts it in its venv and names the python in `RSVP_TEST_PYTHON`). The
//! receiver answers 500, then refuses connections, then hangs past the
//! timeout, then recovers: every event arrives, each `webhook-id` verified,
//! none lost.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rsvp_store_diesel::testing::TestDatabase;
use serde_json::{Value, json};

const ADMIN: &str = "webhook-test-operator-token";
const RECEIVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webhook_receiver.py");
const INSTALL_HINT: &str = "the webhook test needs python3 with standardwebhooks: run it through ./scripts/test, \
     which makes a venv with it, or set RSVP_TEST_PYTHON to a python that has it";
const DEADLINE: Duration = Duration::from_secs(120);

fn temp_dir(what: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("rsvp-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A child process killed when dropped, its output lines on a channel.
struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Process {
    fn spawn(mut command: Command, stdout: bool) -> Self {
        let mut child = command
            .stdout(if stdout { Stdio::piped() } else { Stdio::null() })
            .stderr(if stdout { Stdio::inherit() } else { Stdio::piped() })
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stream: Box<dyn Read + Send> = if stdout {
            Box::new(child.stdout.take().unwrap())
        } else {
            Box::new(child.stderr.take().unwrap())
        };
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next JSON line, waiting up to `wait`.
    fn next_json(&self, wait: Duration) -> Option<Value> {
        let line = self.lines.recv_timeout(wait).ok()?;
        Some(serde_json::from_str(&line).unwrap_or(Value::String(line)))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn call(addr: SocketAddr, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {key}\r\n");
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, payload) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let payload = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = String::new();
        let mut rest = payload;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            out.push_str(&tail[..size]);
            rest = &tail[size + 2..];
        }
        out
    } else {
        payload.to_owned()
    };
    (status, serde_json::from_str(&payload).unwrap_or(Value::Null))
}

fn set_mode(control: &Path, mode: &str, secret: &str) {
    let temp = control.with_extension("tmp");
    std::fs::write(&temp, json!({"mode": mode, "secret": secret}).to_string()).unwrap();
    std::fs::rename(&temp, control).unwrap();
}

/// What the receiver saw, request by request.
#[derive(Default)]
struct Seen {
    requests: Vec<Value>,
}

impl Seen {
    fn drain(&mut self, receiver: &Process) {
        while let Some(line) = receiver.next_json(Duration::from_millis(20)) {
            if line.get("headers").is_some() {
                self.requests.push(line);
            }
        }
    }

    /// webhook-id → modes of the requests carrying it.
    fn by_id(&self) -> BTreeMap<String, Vec<String>> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for request in &self.requests {
            map.entry(request["headers"]["webhook-id"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push(request["mode"].as_str().unwrap_or_default().to_owned());
        }
        map
    }
}

/// Polls `check` until it holds, draining the receiver meanwhile.
fn until(what: &str, seen: &mut Seen, receiver: &Process, mut check: impl FnMut(&Seen) -> bool) {
    let started = Instant::now();
    loop {
        seen.drain(receiver);
        if check(seen) {
            return;
        }
        assert!(started.elapsed() < DEADLINE, "timed out waiting for: {what}");
    }
}

fn deliveries(addr: SocketAddr, key: &str, endpoint: &str) -> Vec<Value> {
    let (status, body) = call(
        addr,
        "GET",
        &format!("/v1/webhook-endpoints/{endpoint}/deliveries?limit=200"),
        key,
        None,
    );
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

fn every_event_arrives_verified_through_500s_refusals_and_hangs(database: TestDatabase) {
    let python = std::env::var("RSVP_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let work = temp_dir("webhooks");
    let control = work.join("control.json");
    set_mode(&control, "500", "");
    let mut command = Command::new(&python);
    command.arg(RECEIVER).arg(&control);
    let receiver = Process::spawn(command, true);
    let port = receiver
        .next_json(Duration::from_secs(30))
        .and_then(|line| line["port"].as_u64())
        .unwrap_or_else(|| panic!("the receiver did not start: {INSTALL_HINT}"));

    let mut command = Command::new(env!("CARGO_BIN_EXE_rsvp"));
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RSVP_BIND", "127.0.0.1:0")
        .env("RSVP_DATA_DIR", &work)
        .env("RSVP_DATABASE_URL", database.url())
        .env("RSVP_ADMIN_TOKEN", ADMIN)
        .env("RSVP_WEBHOOK_ALLOW_HTTP", "true")
        .env("RSVP_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("RSVP_WEBHOOK_TIMEOUT_SECS", "1")
        // 5 s, 5 min, 30 min, 2 h... become 5 ms, 300 ms, 1.8 s, 7.2 s...
        .env("RSVP_WEBHOOK_RETRY_SCALE", "0.001");
    let server = Process::spawn(command, false);
    let addr: SocketAddr = loop {
        let line = server
            .next_json(Duration::from_secs(60))
            .expect("the server logs that it listens");
        if line["fields"]["message"] == "rsvp listening" {
            break line["fields"]["bind"].as_str().unwrap().parse().unwrap();
        }
    };

    let (status, acme) = call(
        addr,
        "POST",
        "/v1/admin/businesses",
        ADMIN,
        Some(json!({"name": "Acme", "user": {"email": "ann@acme.test"}})),
    );
    assert_eq!(status, 201, "{acme}");
    let key = acme["api_key"].as_str().unwrap().to_owned();
    let (status, endpoint) = call(
        addr,
        "POST",
        "/v1/webhook-endpoints",
        &key,
        Some(json!({"url": format!("http://127.0.0.1:{port}/hooks/rsvp"), "description": "e2e"})),
    );
    assert_eq!(status, 201, "{endpoint}");
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    set_mode(&control, "500", &secret);

    let mut invitation_ids = Vec::new();
    for n in 0..3 {
        let (status, invitation) = call(
            addr,
            "POST",
            "/v1/invitations",
            &key,
            Some(json!({"email": format!("p{n}@partner.test"), "send_email": false})),
        );
        assert_eq!(status, 201, "{invitation}");
        invitation_ids.push(invitation["id"].as_str().unwrap().to_owned());
    }
    let (status, _) = call(
        addr,
        "PATCH",
        &format!("/v1/invitations/{}", invitation_ids[0]),
        &key,
        Some(json!({"status": "cancelled"})),
    );
    assert_eq!(status, 200);
    let (_, events) = call(addr, "GET", "/v1/events", &key, None);
    let event_ids: BTreeSet<String> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(event_ids.len(), 4, "three creations and a cancellation");

    // 1. The receiver answers 500: every event is tried at least twice.
    let mut seen = Seen::default();
    until("two 500s for every event", &mut seen, &receiver, |seen| {
        let by_id = seen.by_id();
        event_ids.iter().all(|id| {
            by_id
                .get(id)
                .is_some_and(|modes| modes.iter().filter(|m| *m == "500").count() >= 2)
        })
    });

    // 2. Connections are refused: every delivery records an attempt without an answer.
    let before: BTreeMap<String, u64> = deliveries(addr, &key, &endpoint_id)
        .iter()
        .map(|d| {
            (
                d["event_id"].as_str().unwrap().to_owned(),
                d["attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    set_mode(&control, "down", &secret);
    until("a refused attempt for every event", &mut seen, &receiver, |_| {
        deliveries(addr, &key, &endpoint_id).iter().all(|d| {
            let id = d["event_id"].as_str().unwrap();
            d["attempt"].as_u64().unwrap() > before[id] && d["response_status"].is_null() && d["status"] == "pending"
        })
    });

    // 3. The receiver hangs past the 1 s timeout.
    set_mode(&control, "hang", &secret);
    until("a hung attempt for every event", &mut seen, &receiver, |seen| {
        let by_id = seen.by_id();
        event_ids
            .iter()
            .all(|id| by_id.get(id).is_some_and(|modes| modes.iter().any(|m| m == "hang")))
    });

    // 4. It recovers: every event arrives.
    set_mode(&control, "ok", &secret);
    until("every event delivered", &mut seen, &receiver, |seen| {
        let by_id = seen.by_id();
        event_ids
            .iter()
            .all(|id| by_id.get(id).is_some_and(|modes| modes.iter().any(|m| m == "ok")))
    });
    until("every delivery recorded as succeeded", &mut seen, &receiver, |_| {
        deliveries(addr, &key, &endpoint_id)
            .iter()
            .all(|d| d["status"] == "succeeded")
    });

    let log = deliveries(addr, &key, &endpoint_id);
    assert_eq!(log.len(), 4, "one delivery per event: {log:?}");
    for delivery in &log {
        assert!(
            delivery["attempt"].as_u64().unwrap() >= 4,
            "500, 500, refused, hang, ok: {delivery}"
        );
        assert_eq!(delivery["response_status"], 204);
    }
    for request in &seen.requests {
        assert_eq!(
            request["verified"], true,
            "standardwebhooks verified every delivery, every attempt: {request}"
        );
        assert!(event_ids.contains(request["headers"]["webhook-id"].as_str().unwrap()));
    }
    let by_id = seen.by_id();
    assert_eq!(
        by_id.keys().cloned().collect::<BTreeSet<_>>(),
        event_ids,
        "none lost, none invented"
    );
    for id in &event_ids {
        let modes = &by_id[id];
        assert!(modes.iter().any(|m| m == "hang"), "{id}: {modes:?}");
        assert!(modes.iter().filter(|m| *m == "500").count() >= 2, "{id}: {modes:?}");
    }

    // One real delivery, as the receiver captured it (shown with --nocapture).
    let sample = seen
        .requests
        .iter()
        .find(|r| r["mode"] == "ok" && r["body"].as_str().unwrap().contains("invitation.cancelled"))
        .expect("the cancellation was delivered");
    let body: Value = serde_json::from_str(sample["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], "invitation.cancelled");
    assert_eq!(body["data"]["invitation_id"], invitation_ids[0].as_str());
    assert_eq!(body["data"]["id"], sample["headers"]["webhook-id"]);
    println!(
        "captured delivery:\n{}",
        serde_json::to_string_pretty(&json!({
            "headers": {
                "content-type": sample["headers"]["content-type"],
                "webhook-id": sample["headers"]["webhook-id"],
                "webhook-timestamp": sample["headers"]["webhook-timestamp"],
                "webhook-signature": sample["headers"]["webhook-signature"],
                "user-agent": sample["headers"]["user-agent"],
            },
            "body": sample["body"],
        }))
        .unwrap()
    );
    drop(server);
    drop(receiver);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn every_event_arrives_verified_by_standardwebhooks_through_failures_on_sqlite() {
    every_event_arrives_verified_through_500s_refusals_and_hangs(TestDatabase::sqlite());
}

#[test]
fn every_event_arrives_verified_by_standardwebhooks_through_failures_on_postgres() {
    every_event_arrives_verified_through_500s_refusals_and_hangs(TestDatabase::postgres());
}
