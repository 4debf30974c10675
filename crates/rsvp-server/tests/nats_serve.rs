//! `rsvp serve` with `RSVP_EVENTS_NATS_URL`: the binary relays what the API
//! records to a real nats-server (the test's own, on a free port), as
//! CloudEvents with `Nats-Msg-Id`; with the bus stopped the API still
//! answers, `/readyz` stays ready and `/metrics` shows the lag rising and
//! the failures counted; started again, the lag drains.

mod support;
// The nats-server binary is found as rsvp-nats's tests find it.
#[path = "../../rsvp-nats/tests/support/mod.rs"]
mod nats_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, poll_until, temp_dir};

const ADMIN: &str = "nats-test-operator-token";

/// Our own nats-server with JetStream, killed when dropped.
struct Nats {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Nats {
    fn start(port: u16, dir: &Path) -> Self {
        let child = Command::new(nats_support::binary())
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nats-server ({e}): `apt-get install nats-server`"));
        let up = poll_until(Instant::now() + Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "nats-server does not listen");
        Self {
            port,
            dir: dir.to_owned(),
            child: Some(child),
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `GET /metrics` as text.
fn metrics(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    raw
}

/// The value of the metric line starting with `name ` (`None`: absent).
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
}

/// Every message of the stream `stream` (waits up to 30 s for `count`).
async fn messages(port: u16, stream: &str, count: u64) -> Vec<(String, String, Value)> {
    let client = async_nats::connect(format!("nats://127.0.0.1:{port}")).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut found) = jetstream.get_stream(stream).await {
            let state = found.info().await.unwrap().state.clone();
            if state.messages >= count {
                let mut read = Vec::new();
                for sequence in state.first_sequence..=state.last_sequence {
                    let message = found.get_raw_message(sequence).await.unwrap();
                    let id = message.headers.get("Nats-Msg-Id").map(|v| v.as_str().to_owned());
                    read.push((
                        message.subject.to_string(),
                        id.unwrap_or_default(),
                        serde_json::from_slice(&message.payload).unwrap(),
                    ));
                }
                return read;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the stream {stream} does not hold {count} messages"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsvp_serve_relays_events_to_nats_and_the_bus_down_never_fails_the_api() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nats_dir = temp_dir("nats");
    let mut nats = Nats::start(port, &nats_dir);
    let data_dir = temp_dir("nats-serve");
    let database = format!("sqlite://{}", data_dir.join("rsvp.db").display());
    let subject = format!("rsvptest.serve{}", std::process::id());
    let nats_url = format!("nats://127.0.0.1:{port}");
    let server = tokio::task::spawn_blocking({
        let (data_dir, subject) = (data_dir.clone(), subject.clone());
        move || {
            Server::start(
                &database,
                &data_dir,
                ADMIN,
                &[
                    ("RSVP_EVENTS_NATS_URL", nats_url.as_str()),
                    ("RSVP_EVENTS_NATS_SUBJECT", subject.as_str()),
                    ("RSVP_PUBLIC_URL", "https://rsvp.example.test"),
                ],
            )
        }
    })
    .await
    .unwrap();
    let (status, _, acme, _) = server.call(
        "POST",
        "/v1/admin/businesses",
        ADMIN,
        Some(json!({"name": "Acme", "user": {"email": "ann@acme.test"}})),
    );
    assert_eq!(status, 201, "{acme}");
    let key = acme["api_key"].as_str().unwrap().to_owned();
    let invite = |email: &str| {
        let (status, _, body, took) = server.call("POST", "/v1/invitations", &key, Some(json!({ "email": email })));
        assert_eq!(status, 201, "{body}");
        took
    };
    invite("bob@globex.test");

    let stream = subject.to_uppercase().replace('.', "_");
    let stored = messages(port, &stream, 1).await;
    let (_, _, events, _) = server.call("GET", "/v1/events", &key, None);
    let event = &events["data"][0];
    let (message_subject, msg_id, body) = &stored[0];
    eprintln!("captured NATS message on {message_subject} (Nats-Msg-Id {msg_id}):\n{body:#}");
    assert_eq!(stored.len(), 1);
    assert_eq!(msg_id, event["id"].as_str().unwrap());
    let business = acme["business"]["id"].as_str().unwrap();
    assert_eq!(message_subject, &format!("{subject}.{business}.invitation.created"));
    assert_eq!(body["specversion"], "1.0");
    assert_eq!(body["type"], "rsvp.invitation.created");
    assert_eq!(body["source"], "https://rsvp.example.test");
    assert_eq!(body["data"], *event, "data as GET /v1/events shows it");

    // The bus goes down: the API answers, readiness holds, the lag rises.
    nats.stop();
    let before = metric(&metrics(server.addr), "rsvp_event_relay_publish_failures_total").unwrap();
    for n in 0..5 {
        let took = invite(&format!("p{n}@partner.test"));
        assert!(
            took < Duration::from_secs(1),
            "a create took {took:?} with the bus down"
        );
    }
    let (ready, _, _, _) = server.call("GET", "/readyz", "", None);
    assert_eq!(ready, 200, "readiness does not depend on the bus");
    let counted = poll_until(Instant::now() + Duration::from_secs(30), || {
        let text = metrics(server.addr);
        metric(&text, "rsvp_event_relay_lag_events") == Some(5.0)
            && metric(&text, "rsvp_event_relay_publish_failures_total").unwrap_or(0.0) > before
    });
    assert!(counted, "{}", metrics(server.addr));

    // Back up: the lag drains, each event stored once.
    let _nats = Nats::start(nats.port, &nats.dir);
    let drained = poll_until(Instant::now() + Duration::from_secs(60), || {
        metric(&metrics(server.addr), "rsvp_event_relay_lag_events") == Some(0.0)
    });
    assert!(drained, "{}", metrics(server.addr));
    let stored = messages(port, &stream, 6).await;
    let mut ids: Vec<&str> = stored.iter().map(|(_, id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((stored.len(), ids.len()), (6, 6));
    drop(server);
    let _ = std::fs::remove_dir_all(&data_dir);
    let _ = std::fs::remove_dir_all(&nats_dir);
}
