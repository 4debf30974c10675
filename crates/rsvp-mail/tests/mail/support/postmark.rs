//! A local HTTP/1.1 server standing in for Postmark: records every request
//! and gives one fixed answer, a numbered one, or none at all. Stopped on
//! drop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How the stand-in answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status with this JSON body.
    Json(u16, String),
    /// Postmark's success answer with `MessageID` `pm-message-<n>`, `n`
    /// counting the requests from 1.
    Numbered,
    /// Read the request, then never answer (holds the connection open).
    Silent,
}

impl Reply {
    /// The `MessageID` of [`Reply::ok`].
    pub const OK_MESSAGE_ID: &str = "b7bc2f4a-e38e-4336-af7d-e6c392c2f817";

    /// Postmark's success answer.
    pub fn ok() -> Self {
        Self::Json(200, success(Self::OK_MESSAGE_ID))
    }
}

/// Postmark's answer to a message it took, as `POST /email` gives it.
fn success(message_id: &str) -> String {
    format!(
        r#"{{"To":"bob@example.com","SubmittedAt":"2026-11-08T10:00:00Z","MessageID":"{message_id}","ErrorCode":0,"Message":"OK"}}"#
    )
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is not JSON")
    }
}

/// The running stand-in.
#[derive(Debug)]
pub struct PostmarkStub {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    task: JoinHandle<()>,
}

impl PostmarkStub {
    /// Listens on a free local port; answers every request with `reply`.
    pub async fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let counter = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts the
            // connections, silent ones included.
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(serve(
                    stream,
                    reply.clone(),
                    Arc::clone(&recorded),
                    Arc::clone(&counter),
                ));
            }
        });
        Self {
            base_url,
            requests,
            task,
        }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for PostmarkStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(stream: TcpStream, reply: Reply, requests: Arc<Mutex<Vec<Request>>>, counter: Arc<AtomicU64>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
        return;
    }
    let mut request_line = line.split_whitespace();
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).await.is_err() {
        return;
    }
    requests.lock().unwrap().push(Request {
        method,
        path,
        headers,
        body,
    });
    let (status, json) = match reply {
        Reply::Silent => return std::future::pending().await,
        Reply::Json(status, json) => (status, json),
        Reply::Numbered => {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            (200, success(&format!("pm-message-{n}")))
        }
    };
    let response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        reason(status),
        json.len()
    );
    let mut stream = reader.into_inner();
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
