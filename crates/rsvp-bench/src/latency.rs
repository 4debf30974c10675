//! `latency`: the time from a `201 Created` to the email provider receiving
//! the invitation's email, at low load, end to end: the real `rsvp serve`
//! binary (the release build next to `rsvp-bench`) on a fresh PostgreSQL
//! database, `RSVP_MAIL_TRANSPORT=http` pointed at the in-process Postmark
//! stand-in, creates over HTTP at a steady rate.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::db::BenchDatabase;
use crate::fixture;
use crate::postmark::FakePostmark;
use crate::stats::{Summary, ms};

const ADMIN: &str = "bench-operator-token";

/// What one latency run measured.
#[derive(Debug, Clone)]
pub struct LatencyReport {
    /// Creates per second asked for.
    pub rate: f64,
    /// 201 to provider, per invitation (an email that arrived before its
    /// 201 reached the client counts as 0).
    pub delivery: Summary,
    /// How many emails arrived before their 201 did.
    pub before_201: usize,
    /// The create calls themselves.
    pub create: Summary,
}

impl LatencyReport {
    /// Prints the figures.
    pub fn print(&self) {
        println!(
            "  {} creates at {:.0}/s: 201 -> provider p50 {} ms, p99 {} ms, max {} ms \
             ({} arrived before their 201); the create itself p50 {} ms, p99 {} ms",
            self.delivery.count,
            self.rate,
            ms(self.delivery.p50),
            ms(self.delivery.p99),
            ms(self.delivery.max),
            self.before_201,
            ms(self.create.p50),
            ms(self.create.p99),
        );
    }
}

/// `rsvp serve`, killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `rsvp` binary next to this one (`target/release/rsvp`).
pub fn default_binary() -> PathBuf {
    std::env::current_exe()
        .map(|exe| exe.with_file_name("rsvp"))
        .unwrap_or_else(|_| PathBuf::from("rsvp"))
}

/// Starts `rsvp serve` on a fresh database and the stand-in, creates
/// `creates` invitations at `rate` per second (after a few unmeasured
/// ones), and measures when each email reaches the stand-in.
pub async fn run(server: &str, binary: &Path, creates: usize, rate: f64) -> anyhow::Result<LatencyReport> {
    let database = BenchDatabase::create(server)?;
    let postmark = FakePostmark::start_recording().await?;
    let data_dir = std::env::temp_dir().join(format!("rsvp-bench-latency-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    let mut child = Command::new(binary)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RSVP_BIND", "127.0.0.1:0")
        .env("RSVP_DATA_DIR", &data_dir)
        .env("RSVP_DATABASE_URL", database.url())
        .env("RSVP_ADMIN_TOKEN", ADMIN)
        .env("RSVP_MAIL_TRANSPORT", "http")
        .env("RSVP_HTTP_MAIL_URL", postmark.base_url())
        .env("RSVP_HTTP_MAIL_TOKEN", "bench-server-token")
        .env("RSVP_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (build it: cargo build --release -p rsvp-server)",
                binary.display()
            )
        })?;
    let stderr = child.stderr.take().context("the server's stderr")?;
    let serve = Serve(child);
    let addr = tokio::task::spawn_blocking(move || listening_address(stderr)).await??;

    let (status, body) = call(
        addr,
        "/v1/admin/businesses",
        ADMIN,
        r#"{"name":"Latency","user":{"email":"owner@latency.example"}}"#,
    )?;
    anyhow::ensure!(status == 201, "creating the business: {status} {body}");
    let key = json_string(&body, "api_key").context("the business's api_key")?;

    let label = fixture::run_label();
    // Warm-up: connections opened, statements prepared, first send done.
    for n in 0..5 {
        create(addr, &key, &fixture::email(&format!("warm{label}"), n))?;
    }
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut created = Vec::with_capacity(creates);
    let mut create_times = Vec::with_capacity(creates);
    for n in 0..creates {
        interval.tick().await;
        let email = fixture::email(&label, n);
        let started = Instant::now();
        let acknowledged = {
            let (key, email) = (key.clone(), email.clone());
            tokio::task::spawn_blocking(move || create(addr, &key, &email)).await??
        };
        create_times.push(acknowledged - started);
        created.push((email, acknowledged));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut delivery = Vec::with_capacity(creates);
    let mut before_201 = 0;
    for (email, acknowledged) in &created {
        let arrived = loop {
            if let Some(at) = postmark.arrived(email) {
                break at;
            }
            anyhow::ensure!(Instant::now() < deadline, "no email to {email} within 30 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        if arrived < *acknowledged {
            before_201 += 1;
        }
        delivery.push(arrived.saturating_duration_since(*acknowledged));
    }
    drop(serve);
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(LatencyReport {
        rate,
        delivery: Summary::of(delivery).context("no samples")?,
        before_201,
        create: Summary::of(create_times).context("no samples")?,
    })
}

/// Reads the server's JSON log until it says where it listens.
fn listening_address(stderr: std::process::ChildStderr) -> anyhow::Result<SocketAddr> {
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .context("the server stopped before listening")?
            .context("reading the server's log")?;
        if line.contains("\"rsvp listening\"")
            && let Some(bind) = json_string(&line, "bind")
        {
            break bind.parse().context("the bound address")?;
        }
    };
    // Keep draining the log so that the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Ok(addr)
}

/// `POST /v1/invitations`; returns when the 201 arrived.
fn create(addr: SocketAddr, key: &str, email: &str) -> anyhow::Result<Instant> {
    let (status, body) = call(addr, "/v1/invitations", key, &format!(r#"{{"email":"{email}"}}"#))?;
    let at = Instant::now();
    anyhow::ensure!(status == 201, "creating an invitation: {status} {body}");
    Ok(at)
}

/// One JSON `POST` over a new connection: status and body.
fn call(addr: SocketAddr, path: &str, key: &str, body: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).context("connecting to the server")?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (head, payload) = raw.split_once("\r\n\r\n").context("no HTTP answer")?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    Ok((status, payload.to_owned()))
}

/// The string value of `"name":"..."` in flat JSON text (ours has no escapes there).
fn json_string(text: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\":\"");
    let start = text.find(&key)? + key.len();
    let end = text[start..].find('"')?;
    Some(text[start..start + end].to_owned())
}
