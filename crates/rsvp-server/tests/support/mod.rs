//! What the tests of the `rsvp` binary share: a server process started on
//! port 0 ([`Server`]), one-shot HTTP calls to it, an HTTP email provider
//! stand-in recording what it receives ([`Provider`]), and SQL counts of
//! what a PostgreSQL test database holds ([`counts`]).

// Each test file uses part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One `rsvp serve` process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub logs: mpsc::Receiver<String>,
}

/// An answer: status, `Retry-After` (if any), JSON body (`Null` if none),
/// how long the call took.
pub type Answer = (u16, Option<String>, Value, Duration);

impl Server {
    /// Starts `rsvp serve` on `127.0.0.1:0` with `database_url`, `data_dir`,
    /// admin token `admin` and the extra `settings`; waits until it listens.
    pub fn start(database_url: &str, data_dir: &std::path::Path, admin: &str, settings: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rsvp"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RSVP_BIND", "127.0.0.1:0")
            .env("RSVP_DATA_DIR", data_dir)
            .env("RSVP_DATABASE_URL", database_url)
            .env("RSVP_ADMIN_TOKEN", admin)
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
        Self { child, addr, logs }
    }

    /// One request; panics (with the server's last logs) if the server does
    /// not answer.
    pub fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Answer {
        match self.try_call(method, path, key, body) {
            Ok(answer) => answer,
            Err(error) => {
                let logs: Vec<String> = self.logs.try_iter().collect();
                panic!("the server does not answer ({error}); its last logs: {logs:#?}")
            }
        }
    }

    /// One request over a new connection (`Connection: close`).
    ///
    /// # Errors
    /// When the server cannot be reached or breaks the connection.
    pub fn try_call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> std::io::Result<Answer> {
        self.client().try_call(method, path, key, body)
    }

    /// A handle to call the server from another thread.
    pub fn client(&self) -> Client {
        Client { addr: self.addr }
    }

    /// `kill -9`: no shutdown, no last writes. Returns once the process is gone.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls a [`Server`]; `Send`, for load from several threads.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub addr: SocketAddr,
}

impl Client {
    /// As [`Server::try_call`].
    ///
    /// # Errors
    /// When the server cannot be reached or breaks the connection.
    pub fn try_call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> std::io::Result<Answer> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let authorization = format!("Bearer {key}");
        self.send(
            method,
            path,
            &[("Authorization", &authorization), ("Content-Type", "application/json")],
            &body,
        )
    }

    /// One request with these headers (and `Content-Length` when `body`
    /// is not empty), over a new connection.
    ///
    /// # Errors
    /// When the server cannot be reached or breaks the connection.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> std::io::Result<Answer> {
        let started = Instant::now();
        let mut stream = TcpStream::connect(self.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (name, value) in headers {
            if body.is_empty() && name.eq_ignore_ascii_case("content-type") {
                continue;
            }
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes())?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw)?;
        let took = started.elapsed();
        let Some((head, payload)) = raw.split_once("\r\n\r\n") else {
            return Err(std::io::Error::other(format!("no HTTP answer: {raw:?}")));
        };
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no status: {head:?}")))?;
        let retry_after = head.lines().find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("retry-after:")
                .map(|v| v.trim().to_owned())
        });
        // Our bodies are small: a chunked body is one chunk.
        let payload = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            payload.split_once("\r\n").map_or("", |(_, rest)| rest).to_owned()
        } else {
            payload.to_owned()
        };
        let json = serde_json::Deserializer::from_str(&payload)
            .into_iter::<Value>()
            .next()
            .and_then(Result::ok)
            .unwrap_or(Value::Null);
        Ok((status, retry_after, json, took))
    }
}

/// A fresh directory under the system's temporary directory.
pub fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One `POST /email` the provider stand-in took.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `Message-ID` header the sender set.
    pub message_id: String,
    /// The recipient.
    pub to: String,
    /// The `X-Postmark-Server-Token`: tells the replicas apart.
    pub token: String,
    /// The `Metadata` object sent with it.
    pub metadata: Value,
    /// The `MessageID` the stand-in answered (`pm-<n>`, unique), as
    /// Postmark answers its own id.
    pub provider_message_id: String,
    /// When it was taken.
    pub at: Instant,
}

/// A Postmark-shaped HTTP email provider in the test: HTTP/1.1 keep-alive,
/// a thread per connection, 200 with `ErrorCode` 0 for every `POST /email`,
/// each recorded.
pub struct Provider {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    hold: Arc<Hold>,
}

/// Requests the stand-in records but does not answer yet: sends in flight.
#[derive(Default)]
struct Hold {
    state: Mutex<HoldState>,
    released: std::sync::Condvar,
}

#[derive(Default)]
struct HoldState {
    /// Hold the requests carrying this token.
    token: Option<String>,
    /// The Message-IDs held now.
    open: Vec<String>,
}

impl Provider {
    /// Listens on a free port; answers each email after `delay` (so that
    /// sends are in flight when something breaks).
    pub fn start(delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let hold: Arc<Hold> = Arc::default();
        let (log, held) = (received.clone(), hold.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, held) = (log.clone(), held.clone());
                std::thread::spawn(move || {
                    // A connection that breaks (its replica killed) just ends.
                    let _ = serve_provider(stream, &log, &held, delay);
                });
            }
        });
        Self { addr, received, hold }
    }

    /// From now on, records the emails sent with `token` but answers none
    /// of them until [`release`](Self::release): they stay in flight.
    pub fn hold(&self, token: &str) {
        self.hold.state.lock().unwrap().token = Some(token.to_owned());
    }

    /// How many emails are held unanswered now.
    pub fn held(&self) -> usize {
        self.hold.state.lock().unwrap().open.len()
    }

    /// Stops holding; answers the held requests (if their sender still
    /// listens) and returns their Message-IDs.
    pub fn release(&self) -> Vec<String> {
        let mut state = self.hold.state.lock().unwrap();
        state.token = None;
        let open = std::mem::take(&mut state.open);
        self.hold.released.notify_all();
        open
    }

    /// The base URL for `RSVP_HTTP_MAIL_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve_provider(stream: TcpStream, log: &Mutex<Vec<Received>>, hold: &Hold, delay: Duration) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let is_email = line.starts_with("POST ") && line.contains("/email");
        let mut headers = HashMap::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let answer = if is_email {
            let at = Instant::now();
            let email: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            // Taken once read in full, whether or not the answer reaches the sender.
            let mut taken = log.lock().unwrap();
            let received = Received {
                message_id: email["Headers"][0]["Value"].as_str().unwrap_or_default().to_owned(),
                to: email["To"].as_str().unwrap_or_default().to_owned(),
                token: headers.get("x-postmark-server-token").cloned().unwrap_or_default(),
                metadata: email["Metadata"].clone(),
                provider_message_id: format!("pm-{}", taken.len() + 1),
                at,
            };
            taken.push(received.clone());
            drop(taken);
            let mut state = hold.state.lock().unwrap();
            if state.token.as_deref() == Some(received.token.as_str()) {
                state.open.push(received.message_id);
                while state.token.is_some() {
                    state = hold.released.wait(state).unwrap();
                }
            }
            drop(state);
            std::thread::sleep(delay);
            format!(
                "{{\"To\":\"{}\",\"ErrorCode\":0,\"Message\":\"OK\",\"MessageID\":\"{}\"}}",
                received.to, received.provider_message_id
            )
        } else {
            "{\"ErrorCode\":404,\"Message\":\"not found\"}".to_owned()
        };
        let status = if is_email { "200 OK" } else { "404 Not Found" };
        writer.write_all(
            format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
                answer.len()
            )
            .as_bytes(),
        )?;
    }
}

/// Runs `sql`, which selects a text column `key` and a bigint column `n`,
/// on the PostgreSQL database at `url`.
pub fn counts(url: &str, sql: &str) -> Vec<(String, i64)> {
    use diesel::{Connection as _, PgConnection, QueryableByName, RunQueryDsl as _};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = PgConnection::establish(url).unwrap();
    diesel::sql_query(sql)
        .load::<Row>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|row| (row.key, row.n))
        .collect()
}

/// Runs `sql` (no results) on the PostgreSQL database at `url`.
pub fn execute(url: &str, sql: &str) -> usize {
    use diesel::{Connection as _, PgConnection, RunQueryDsl as _};
    let mut conn = PgConnection::establish(url).unwrap();
    diesel::sql_query(sql).execute(&mut conn).unwrap()
}

/// Polls `done` until it holds or `deadline` passes; returns whether it held.
pub fn poll_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
