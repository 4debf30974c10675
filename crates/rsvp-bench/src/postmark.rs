//! A stand-in for Postmark's email API, in-process: a minimal HTTP/1.1
//! server on `127.0.0.1` that answers every request with 200 and
//! `{"ErrorCode":0,"Message":"OK","MessageID":"..."}`, keeping connections
//! alive, and counts the messages it took.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The running stand-in; stops when dropped.
#[derive(Debug)]
pub struct FakePostmark {
    address: SocketAddr,
    received: Arc<AtomicU64>,
    server: JoinHandle<()>,
}

impl FakePostmark {
    /// Listens on a free port of `127.0.0.1`.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the Postmark stand-in")?;
        let address = listener.local_addr()?;
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    // A connection that breaks simply ends.
                    let _ = serve(stream, &counter).await;
                });
            }
        });
        Ok(Self {
            address,
            received,
            server,
        })
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
async fn serve(stream: TcpStream, received: &AtomicU64) -> std::io::Result<()> {
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
