//! What the tests share: a real JWKS HTTP server on 127.0.0.1 (counting its
//! requests), a clock the tests move, the fixture keys and token minting.

#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use rsvp_app::Clock;
use rsvp_jwt::{JwtSettings, JwtVerifier};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const ISSUER: &str = "https://id.example.test/realms/acme";
pub const AUDIENCE: &str = "rsvp";

/// What the server answers (changed while it runs).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub cache_control: Option<String>,
    /// Waited before answering.
    pub delay: Duration,
}

#[derive(Debug)]
struct Shared {
    requests: AtomicUsize,
    answer: Mutex<Answer>,
}

/// A tiny HTTP/1.1 server answering every request with the current
/// [`Answer`], one request per connection.
#[derive(Debug)]
pub struct JwksServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl JwksServer {
    /// Serves `jwks` (a JSON document) with no `Cache-Control`.
    pub async fn start(jwks: &Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            requests: AtomicUsize::new(0),
            answer: Mutex::new(Answer {
                status: 200,
                body: jwks.to_string(),
                cache_control: None,
                delay: Duration::ZERO,
            }),
        });
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = serving.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    shared.requests.fetch_add(1, Ordering::SeqCst);
                    let answer = shared.answer.lock().unwrap().clone();
                    tokio::time::sleep(answer.delay).await;
                    let mut head = format!(
                        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                        answer.status,
                        answer.body.len()
                    );
                    if let Some(cache_control) = &answer.cache_control {
                        head.push_str(&format!("cache-control: {cache_control}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(answer.body.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self {
            addr,
            shared,
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    pub fn set(&self, change: impl FnOnce(&mut Answer)) {
        change(&mut self.shared.answer.lock().unwrap());
    }

    pub fn serve(&self, jwks: &Value) {
        self.set(|a| a.body = jwks.to_string());
    }

    /// Stops listening: a connection is refused from now on.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        // Polled rather than assumed: the port refuses once the listener is gone.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(self.addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the JWKS server still accepts connections");
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A clock the test moves by hand (drives the JWKS cache only).
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(OffsetDateTime::now_utc())))
    }

    pub fn advance(&self, seconds: i64) {
        *self.0.lock().unwrap() += time::Duration::seconds(seconds);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// A fixture key (tests/fixtures, made with the openssl CLI).
pub fn rsa_a() -> EncodingKey {
    EncodingKey::from_rsa_pem(include_bytes!("../fixtures/rsa_a.pem")).unwrap()
}

pub fn rsa_b() -> EncodingKey {
    EncodingKey::from_rsa_pem(include_bytes!("../fixtures/rsa_b.pem")).unwrap()
}

pub fn rsa_1024() -> EncodingKey {
    EncodingKey::from_rsa_pem(include_bytes!("../fixtures/rsa_1024.pem")).unwrap()
}

pub fn ec_p256() -> EncodingKey {
    EncodingKey::from_ec_pem(include_bytes!("../fixtures/ec_p256.pem")).unwrap()
}

pub const RSA_A_PUBLIC_PEM: &[u8] = include_bytes!("../fixtures/rsa_a.pub.pem");

/// The public JWK of `key` for `alg`, named `kid` (with `"alg"` unless
/// `with_alg` is false).
pub fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str, with_alg: bool) -> Value {
    let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    if !with_alg {
        jwk.common.key_algorithm = None;
    }
    serde_json::to_value(jwk).unwrap()
}

pub fn jwks(keys: Vec<Value>) -> Value {
    json!({ "keys": keys })
}

/// The usual JWKS: RSA key A as `rsa-a` (RS256) and the P-256 key as
/// `ec-1` (no `alg`).
pub fn standard_jwks() -> Value {
    jwks(vec![
        jwk(&rsa_a(), Algorithm::RS256, "rsa-a", true),
        jwk(&ec_p256(), Algorithm::ES256, "ec-1", false),
    ])
}

/// Valid claims: five minutes to live, org `org-42`, user `user-7`.
pub fn claims() -> Value {
    let now = get_current_timestamp();
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-7",
        "org_id": "org-42",
        "iat": now,
        "exp": now + 300,
    })
}

/// `claims()` changed by `change`.
pub fn claims_with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut claims = claims();
    change(claims.as_object_mut().unwrap());
    claims
}

pub fn sign_with(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    encode(header, claims, key).unwrap()
}

/// A token of `claims` signed with `key` under `alg`, its header naming `kid`.
pub fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    sign_with(&header, claims, key)
}

pub fn settings(url: &str) -> JwtSettings {
    let mut settings = JwtSettings::new(ISSUER, AUDIENCE, url);
    settings.fetch_timeout = Duration::from_secs(2);
    settings
}

/// A verifier of `url` on `clock`.
pub fn verifier(settings: JwtSettings, clock: &Arc<ManualClock>) -> JwtVerifier {
    JwtVerifier::with_clock(settings, clock.clone()).unwrap()
}

/// A URL on 127.0.0.1 nobody listens on.
pub async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/jwks.json")
}
