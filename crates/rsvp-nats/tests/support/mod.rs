//! A real NATS server for the tests: the one `RSVP_TEST_NATS_URL` names,
//! or one of the test's own (`nats-server -js` on a free port with a
//! temporary store directory), stopped and removed at the end; and what a
//! test reads back from a stream. Nothing waits on a fixed sleep: every
//! wait polls until a deadline.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream;
use serde_json::Value;

/// A name no other test (in this or another process) uses: letters and
/// digits only, so it can be a subject token.
pub fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!(
        "t{}x{}x{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// A NATS server with JetStream for one test.
#[derive(Debug)]
pub struct NatsServer {
    url: String,
    /// Our own server: its port, store directory and process.
    own: Option<Own>,
}

#[derive(Debug)]
struct Own {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// The nats-server the tests start: `RSVP_TEST_NATS_SERVER` (which
/// `scripts/test` sets, providing one in its venv on a machine without it),
/// else `nats-server` on the `PATH` or in `/usr/sbin` (Debian's package).
/// Also read by rsvp-server's `nats_serve` test.
pub fn binary() -> PathBuf {
    let given = std::env::var_os("RSVP_TEST_NATS_SERVER")
        .map(PathBuf::from)
        .filter(|p| p.is_file());
    let on_path = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("nats-server"))
                .find(|candidate| candidate.is_file())
        })
    };
    given
        .or_else(on_path)
        .or_else(|| Some(PathBuf::from("/usr/sbin/nats-server")).filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "no nats-server for the tests: run them through ./scripts/test (which provides one), \
                 set RSVP_TEST_NATS_SERVER to a nats-server binary or RSVP_TEST_NATS_URL=nats://host:port \
                 (JetStream on), or install it (Debian/Ubuntu: `apt-get install nats-server`)"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn(port: u16, dir: &Path) -> Child {
    Command::new(binary())
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting nats-server")
}

impl NatsServer {
    /// The server of `RSVP_TEST_NATS_URL` when set, else one of our own.
    pub async fn shared_or_own() -> Self {
        match std::env::var("RSVP_TEST_NATS_URL") {
            Ok(url) if !url.is_empty() => {
                let server = Self { url, own: None };
                server.wait_until_ready().await;
                server
            }
            _ => Self::own().await,
        }
    }

    /// A server of our own (a test that stops and starts it needs one).
    pub async fn own() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("rsvp-nats-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = spawn(port, &dir);
        let server = Self {
            url: format!("nats://127.0.0.1:{port}"),
            own: Some(Own {
                port,
                dir,
                child: Some(child),
            }),
        };
        server.wait_until_ready().await;
        server
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops our server (the bus goes down); its stored streams stay.
    pub fn stop(&mut self) {
        let own = self.own.as_mut().expect("only a server of our own is stopped");
        if let Some(mut child) = own.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", own.port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "nats-server still answers after being stopped"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts our server again on the same port and store directory.
    pub async fn start_again(&mut self) {
        let own = self.own.as_mut().expect("only a server of our own is started");
        assert!(own.child.is_none(), "already running");
        own.child = Some(spawn(own.port, &own.dir));
        self.wait_until_ready().await;
    }

    /// Waits until JetStream answers (10 s at most).
    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(client) = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_millis(500))
                .connect(self.url.as_str())
                .await
                && client.request("$JS.API.INFO", "".into()).await.is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "nats-server at {} is not ready", self.url);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A JetStream client of the server, for reading streams back.
    pub async fn jetstream(&self) -> jetstream::Context {
        jetstream::new(async_nats::connect(self.url.as_str()).await.unwrap())
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(own) = &mut self.own {
            if let Some(mut child) = own.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            let _ = std::fs::remove_dir_all(&own.dir);
        }
    }
}

/// One message as a stream stored it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Its subject.
    pub subject: String,
    /// Its `Nats-Msg-Id` header.
    pub msg_id: String,
    /// Its body, parsed.
    pub body: Value,
}

/// Every message of the stream `name`, in stream order, once it holds at
/// least `count` (20 s at most; fewer then fail the caller's assertions).
pub async fn stored(jetstream: &jetstream::Context, name: &str, count: u64) -> Vec<Stored> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut stream = loop {
        match jetstream.get_stream(name).await {
            Ok(stream) => break stream,
            Err(error) => {
                assert!(Instant::now() < deadline, "no stream {name}: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    loop {
        let state = stream.info().await.unwrap().state.clone();
        if state.messages >= count || Instant::now() >= deadline {
            let mut messages = Vec::new();
            for sequence in state.first_sequence..=state.last_sequence {
                if state.messages == 0 {
                    break;
                }
                let message = stream.get_raw_message(sequence).await.unwrap();
                let msg_id = message
                    .headers
                    .get("Nats-Msg-Id")
                    .map(|value| value.as_str().to_owned())
                    .unwrap_or_default();
                messages.push(Stored {
                    subject: message.subject.to_string(),
                    msg_id,
                    body: serde_json::from_slice(&message.payload).unwrap(),
                });
            }
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
