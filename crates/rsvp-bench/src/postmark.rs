//! A stand-in for Postmark's email API, in-process: a minimal HTTP/1.1
//! server on `127.0.0.1` that answers every request with 200 and
//! `{"ErrorCode":0,"Message":"OK","MessageID":"..."}`, keeping connections
//! alive, and counts the messages it took (and, if asked, when each
//! recipient's arrived).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The running stand-in; stops when dropped.
#[derive(Debug)]
pub struct FakePostmark {
    address: SocketAddr,
    received: Arc<AtomicU64>,
    arrivals: Option<Arrivals>,
    server: JoinHandle<()>,
}

/// When the first email to each recipient arrived.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

impl FakePostmark {
    /// Listens on a free port of `127.0.0.1`.
    pub async fn start() -> anyhow::Result<Self> {
        Self::listen(None).await
    }

    /// As [`start`](Self::start), also noting when each recipient's first
    /// email arrived ([`arrived`](Self::arrived)).
    pub async fn start_recording() -> anyhow::Result<Self> {
        Self::listen(Some(Arrivals::default())).await
    }

    async fn listen(arrivals: Option<Arrivals>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the Postmark stand-in")?;
        let address = listener.local_addr()?;
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        let noted = arrivals.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (counter, noted) = (counter.clone(), noted.clone());
                tokio::spawn(async move {
                    // A connection that breaks simply ends.
                    let _ = serve(stream, &counter, noted.as_ref()).await;
                });
            }
        });
        Ok(Self {
            address,
            received,
            arrivals,
            server,
        })
    }

    /// When the first email to `to` arrived (if recording and it has).
    pub fn arrived(&self, to: &str) -> Option<Instant> {
        let arrivals = self.arrivals.as_ref()?;
        arrivals.lock().ok()?.get(to).copied()
    }

    /// The base URL to give `PostmarkConfig::base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `POST /email` requests answered so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for FakePostmark {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Answers the requests of one connection until the client closes it.
async fn serve(stream: TcpStream, received: &AtomicU64, arrivals: Option<&Arrivals>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut body = Vec::new();
    loop {
        // Request line.
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let is_email = line.starts_with("POST ") && line.contains("/email");
        let mut content_length = 0usize;
        let mut close = line.ends_with("HTTP/1.0\r\n");
        // Headers.
        loop {
            line.clear();
            if reader.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.eq_ignore_ascii_case("close");
                }
            }
        }
        body.resize(content_length, 0);
        reader.read_exact(&mut body).await?;
        if let (true, Some(arrivals)) = (is_email, arrivals) {
            let at = Instant::now();
            if let Some(to) = recipient(&body)
                && let Ok(mut arrivals) = arrivals.lock()
            {
                arrivals.entry(to).or_insert(at);
            }
        }
        let (status, answer) = if is_email {
            let n = received.fetch_add(1, Ordering::Relaxed) + 1;
            (
                "200 OK",
                format!(
                    "{{\"To\":\"invitee@example.com\",\"SubmittedAt\":\"2025-06-01T00:00:00Z\",\
                     \"MessageID\":\"00000000-0000-4000-8000-{n:012}\",\"ErrorCode\":0,\"Message\":\"OK\"}}"
                ),
            )
        } else {
            (
                "404 Not Found",
                "{\"ErrorCode\":404,\"Message\":\"not found\"}".to_owned(),
            )
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{answer}",
            answer.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        reader.get_mut().write_all(response.as_bytes()).await?;
        if close {
            return Ok(());
        }
    }
}

/// The `To` of a Postmark `POST /email` body (`"To":"..."`, as
/// `HttpMailer` writes it: no escapes in an address).
fn recipient(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("\"To\":\"")? + 6;
    let end = text[start..].find('"')?;
    Some(text[start..start + end].to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_recipient_is_read_from_a_postmark_body() {
        assert_eq!(
            super::recipient(br#"{"From":"a@b.test","To":"guest-1@bench.example","Subject":"x"}"#).as_deref(),
            Some("guest-1@bench.example")
        );
        assert_eq!(super::recipient(b"{}"), None);
    }
}
