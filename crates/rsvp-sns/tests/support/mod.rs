//! What the tests share: a throwaway CA, a real https server on 127.0.0.1
//! (serving a signing certificate, recording every request), a clock the
//! tests move, and messages signed as AWS signs them.

#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rsa::pkcs8::DecodePrivateKey;
use rsvp_app::Clock;
use rsvp_app::ports::{SnsMessage, SnsMessageType};
use rsvp_sns::{AwsSnsVerifier, SnsSettings, TestEndpoint};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

pub const SIGNER_KEY_PEM: &str = include_str!("../fixtures/signer_rsa_2048.pem");
pub const OTHER_KEY_PEM: &str = include_str!("../fixtures/other_rsa_2048.pem");

/// The tests' CA (P-256, made now) and what it issues.
pub struct Pki {
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    pub fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name.push(DnType::CommonName, "rsvp-sns test CA");
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Self {
            ca_pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// The https server's certificate (for 127.0.0.1 and localhost) and key.
    pub fn server_identity(&self) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }

    /// A signing certificate (PEM) for the RSA key `key_pem`, valid from
    /// `not_before` to `not_after`, issued by the CA (as AWS's are by a
    /// public CA).
    pub fn signing_cert(&self, key_pem: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> String {
        let key = KeyPair::from_pem(key_pem).unwrap();
        let mut params = CertificateParams::new(vec!["sns.us-east-1.amazonaws.com".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "sns.us-east-1.amazonaws.com");
        params.not_before = not_before;
        params.not_after = not_after;
        params.signed_by(&key, &self.issuer).unwrap().pem()
    }

    /// A signing certificate valid from a day ago for a year.
    pub fn current_signing_cert(&self, key_pem: &str) -> String {
        let now = OffsetDateTime::now_utc();
        self.signing_cert(key_pem, now - time::Duration::DAY, now + time::Duration::days(365))
    }
}

/// What the server answers: `cert_pem` for paths ending in `.pem`, a
/// confirmation document otherwise.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub cert_pem: String,
    /// Extra header lines (`name: value`).
    pub headers: Vec<String>,
    /// Waited before answering.
    pub delay: Duration,
}

#[derive(Debug, Default)]
struct Shared {
    /// TCP connections accepted (whatever happened next).
    connections: AtomicUsize,
    /// Request lines' targets (path and query), in order.
    requests: Mutex<Vec<String>>,
    answer: Mutex<Option<Answer>>,
}

/// A tiny HTTPS/1.1 server on 127.0.0.1, one request per connection.
#[derive(Debug)]
pub struct SnsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl SnsServer {
    /// Serves `cert_pem` over TLS with a certificate of `pki`'s CA.
    pub async fn start(pki: &Pki, cert_pem: &str) -> Self {
        let (cert, key) = pki.server_identity();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        *shared.answer.lock().unwrap() = Some(Answer {
            status: 200,
            cert_pem: cert_pem.to_owned(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        });
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                serving.connections.fetch_add(1, Ordering::SeqCst);
                let shared = serving.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&request);
                    let target = text.split(' ').nth(1).unwrap_or_default().to_owned();
                    shared.requests.lock().unwrap().push(target.clone());
                    let answer = shared.answer.lock().unwrap().clone().unwrap();
                    tokio::time::sleep(answer.delay).await;
                    let body = if target.split('?').next().unwrap_or_default().ends_with(".pem") {
                        answer.cert_pem.clone()
                    } else {
                        "<ConfirmSubscriptionResponse/>".to_owned()
                    };
                    let mut head = format!(
                        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                        answer.status,
                        body.len()
                    );
                    for header in &answer.headers {
                        head.push_str(header);
                        head.push_str("\r\n");
                    }
                    head.push_str("\r\n");
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(body.as_bytes()).await;
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

    /// `host:port`.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// `https://host:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// The usual certificate URL.
    pub fn cert_url(&self) -> String {
        self.url("/SimpleNotificationService-test.pem")
    }

    /// Requests received so far (path and query of each).
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    pub fn set(&self, change: impl FnOnce(&mut Answer)) {
        change(self.shared.answer.lock().unwrap().as_mut().unwrap());
    }

    /// Stops listening: a connection is refused from now on.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(self.addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the server still accepts connections");
    }
}

impl Drop for SnsServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(OffsetDateTime::now_utc())))
    }

    pub fn advance(&self, by: time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// Settings pointing the host rule at `server`, with the test flag.
pub fn test_settings(pki: &Pki, server: &SnsServer) -> SnsSettings {
    SnsSettings {
        fetch_timeout: Duration::from_secs(2),
        test_endpoint: Some(TestEndpoint::new(server.authority(), pki.ca_pem.clone())),
        allow_test_endpoint: true,
        ..SnsSettings::default()
    }
}

/// A verifier of `server`, on `clock`.
pub fn verifier(pki: &Pki, server: &SnsServer, clock: &Arc<ManualClock>) -> AwsSnsVerifier {
    AwsSnsVerifier::with_clock(test_settings(pki, server), clock.clone()).unwrap()
}

/// A notification (unsigned) whose certificate is at `cert_url`.
pub fn notification(cert_url: &str, subject: Option<&str>) -> SnsMessage {
    SnsMessage {
        kind: SnsMessageType::Notification,
        message_id: "165545c9-2a5c-472c-8df2-7ff2be2b3b1b".to_owned(),
        topic_arn: "arn:aws:sns:us-east-1:123456789012:ses-feedback".to_owned(),
        subject: subject.map(str::to_owned),
        message: r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent"},"mail":{"messageId":"m-1"}}"#
            .to_owned(),
        timestamp: "2026-12-06T10:00:00.000Z".to_owned(),
        token: None,
        subscribe_url: None,
        signature_version: "2".to_owned(),
        signature: String::new(),
        signing_cert_url: cert_url.to_owned(),
    }
}

/// A subscription confirmation (unsigned) for `subscribe_url`.
pub fn confirmation(cert_url: &str, subscribe_url: &str) -> SnsMessage {
    SnsMessage {
        kind: SnsMessageType::SubscriptionConfirmation,
        message: "You have chosen to subscribe to the topic arn:aws:sns:us-east-1:123456789012:ses-feedback."
            .to_owned(),
        token: Some("2336412f37fb687f5d51e6e2425dacbba".to_owned()),
        subscribe_url: Some(subscribe_url.to_owned()),
        ..notification(cert_url, None)
    }
}

/// The string AWS signs, written out here from AWS's documentation (not
/// the crate's builder).
pub fn aws_string_to_sign(m: &SnsMessage) -> String {
    let mut fields: Vec<(&str, &str)> = vec![("Message", &m.message), ("MessageId", &m.message_id)];
    if m.kind == SnsMessageType::Notification {
        if let Some(subject) = &m.subject {
            fields.push(("Subject", subject));
        }
        fields.extend([("Timestamp", m.timestamp.as_str()), ("TopicArn", m.topic_arn.as_str())]);
    } else {
        fields.extend([
            ("SubscribeURL", m.subscribe_url.as_deref().unwrap()),
            ("Timestamp", m.timestamp.as_str()),
            ("Token", m.token.as_deref().unwrap()),
            ("TopicArn", m.topic_arn.as_str()),
        ]);
    }
    fields.push(("Type", m.kind.as_str()));
    fields
        .iter()
        .map(|(name, value)| format!("{name}\n{value}\n"))
        .collect()
}

/// `message` signed with the RSA key `key_pem` under `version` ("1":
/// SHA1withRSA, "2": SHA256withRSA).
pub fn signed(mut message: SnsMessage, version: &str, key_pem: &str) -> SnsMessage {
    let der = KeyPair::from_pem(key_pem).unwrap().serialize_der();
    let key = rsa::PrivateKey::from_pkcs8_der(&der).unwrap();
    let text = aws_string_to_sign(&message);
    let signature = match version {
        "1" => key.pkcs1v15_sign::<sha1::Sha1>(text.as_bytes()).unwrap(),
        _ => key.pkcs1v15_sign::<rsa::sha2::Sha256>(text.as_bytes()).unwrap(),
    };
    message.signature_version = version.to_owned();
    message.signature = STANDARD.encode(signature);
    message
}
