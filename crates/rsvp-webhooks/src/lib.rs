//! # rsvp-webhooks
//!
//! The [`WebhookSender`] port over reqwest ([`HttpWebhookSender`]) and the
//! [`HostResolver`] port over the system resolver ([`SystemResolver`]).
//!
//! The SSRF guard at delivery: the URL is checked again
//! (`WebhookUrl::parse` under the operator's [`UrlPolicy`]); a literal
//! address must be allowed; a host name is resolved by *our* resolver, whose
//! addresses are checked before reqwest may connect to them — so the
//! address connected to is the address checked, and a name that now
//! resolves to a private address (DNS rebinding) is refused. Redirects are
//! not followed, proxies from the environment are not used, and at most
//! [`MAX_RESPONSE_BYTES`] of an answer are read.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rsvp_app::{HostResolver, WebhookRequest, WebhookSendError, WebhookSender};
use rsvp_domain::webhook::{UrlError, UrlPolicy, WebhookHost, WebhookUrl};

/// Most bytes of an endpoint's answer read (the rest is dropped unread).
pub const MAX_RESPONSE_BYTES: usize = 4096;

/// Resolves with the operating system's resolver (`getaddrinfo`, on tokio's
/// blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl HostResolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        let addresses = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("{host} does not resolve: {e}"))?;
        Ok(addresses.map(|a| a.ip()).collect())
    }
}

/// A resolved address the policy forbids: the error reqwest carries back.
#[derive(Debug)]
struct Forbidden(String);

impl fmt::Display for Forbidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Forbidden {}

/// Resolves through the port, then refuses any forbidden address: reqwest
/// connects only to what this returns.
struct CheckedResolver {
    inner: Arc<dyn HostResolver>,
    policy: UrlPolicy,
}

/// The addresses of `host` that a delivery may connect to, or why none.
async fn checked_addresses(
    resolver: &dyn HostResolver,
    policy: UrlPolicy,
    host: &str,
) -> Result<Vec<IpAddr>, Box<dyn StdError + Send + Sync>> {
    let addresses = resolver.resolve(host, 0).await.map_err(std::io::Error::other)?;
    if addresses.is_empty() {
        return Err(Box::new(std::io::Error::other(format!("{host} has no address"))));
    }
    // One forbidden address refuses the name: connecting to "the others"
    // would let a rebinding name pick its moment.
    if let Some(ip) = addresses.iter().find(|ip| !policy.allows_address(**ip)) {
        return Err(Box::new(Forbidden(format!(
            "{host} resolves to {ip}, a loopback, private, link-local or otherwise non-public address"
        ))));
    }
    Ok(addresses)
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let inner = self.inner.clone();
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = checked_addresses(inner.as_ref(), policy, &host).await?;
            let addrs: Addrs = Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Why the sender could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client: {0}")]
pub struct BuildError(String);

/// Sends webhooks over HTTP(S) with reqwest.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    policy: UrlPolicy,
}

fn forbidden_in(error: &(dyn StdError + 'static)) -> Option<String> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(forbidden) = e.downcast_ref::<Forbidden>() {
            return Some(forbidden.0.clone());
        }
        current = e.source();
    }
    None
}

impl HttpWebhookSender {
    /// A sender under `policy`, each request bounded by `timeout`, names
    /// resolved by `resolver` (the [`SystemResolver`] in production).
    /// Installs rustls' `ring` provider as the process default unless one is
    /// installed already.
    ///
    /// # Errors
    /// [`BuildError`] when the HTTP client cannot be built.
    pub fn new(policy: UrlPolicy, timeout: Duration, resolver: Arc<dyn HostResolver>) -> Result<Self, BuildError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver {
                inner: resolver,
                policy,
            }))
            .user_agent(concat!("rsvp-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BuildError(rsvp_app::error_chain(&e)))?;
        Ok(Self { client, policy })
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, request: &WebhookRequest) -> Result<u16, WebhookSendError> {
        // Checked again at each delivery: the policy may have changed since
        // the endpoint was registered.
        let url = WebhookUrl::parse(&request.url, self.policy).map_err(|e| match e {
            UrlError::NotAllowed(reason) | UrlError::Invalid(reason) => WebhookSendError::NotAllowed(reason),
        })?;
        if let WebhookHost::Ip(ip) = url.host()
            && !self.policy.allows_address(*ip)
        {
            return Err(WebhookSendError::NotAllowed(format!("{ip} is not a public address")));
        }
        let mut builder = self.client.post(url.as_str()).body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut response = builder.send().await.map_err(|e| {
            if let Some(reason) = forbidden_in(&e) {
                WebhookSendError::NotAllowed(reason)
            } else if e.is_timeout() {
                WebhookSendError::Timeout
            } else {
                WebhookSendError::Connection(rsvp_app::error_chain(&e))
            }
        })?;
        let status = response.status().as_u16();
        // Read a little of the answer (some servers want it read), never more.
        let mut read = 0usize;
        while read < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A resolver stand-in answering one fixed address for every name.
    struct FixedResolver(IpAddr);

    #[async_trait]
    impl HostResolver for FixedResolver {
        async fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, String> {
            Ok(vec![self.0])
        }
    }

    fn request(url: String) -> WebhookRequest {
        WebhookRequest {
            url,
            headers: vec![("webhook-id".into(), "evt_1".into())],
            body: b"{}".to_vec(),
        }
    }

    /// A one-shot HTTP server answering `status_line`; how many requests it got.
    async fn server(status_line: &'static str) -> (u16, tokio::task::JoinHandle<usize>) {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut served = 0;
            while let Ok(Ok((mut socket, _))) =
                tokio::time::timeout(Duration::from_millis(1500), listener.accept()).await
            {
                let mut buffer = vec![0u8; 8192];
                let _ = socket.read(&mut buffer).await;
                let answer = format!(
                    "HTTP/1.1 {status_line}\r\nlocation: /elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                served += 1;
            }
            served
        });
        (port, task)
    }

    #[tokio::test]
    async fn a_delivery_is_refused_when_the_name_now_resolves_to_a_private_address() {
        let policy = UrlPolicy {
            allow_http: true,
            allow_private: false,
        };
        let rebound = Arc::new(FixedResolver(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))));
        let sender = HttpWebhookSender::new(policy, Duration::from_secs(2), rebound).unwrap();
        let error = sender
            .send(&request("http://hooks.example.com/rsvp".into()))
            .await
            .unwrap_err();
        match error {
            WebhookSendError::NotAllowed(reason) => assert!(reason.contains("10.0.0.7"), "{reason}"),
            other => panic!("expected NotAllowed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_checked_address_is_the_one_connected_to() {
        // The stand-in resolves every name to the local test server: the
        // request reaches it, so reqwest connected to what our resolver gave.
        let (port, served) = server("204 No Content").await;
        let policy = UrlPolicy {
            allow_http: true,
            allow_private: true,
        };
        let local = Arc::new(FixedResolver(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let sender = HttpWebhookSender::new(policy, Duration::from_secs(2), local).unwrap();
        let status = sender
            .send(&request(format!("http://receiver.invalid:{port}/hook")))
            .await
            .unwrap();
        assert_eq!(status, 204);
        assert_eq!(served.await.unwrap(), 1);
    }

    #[tokio::test]
    async fn literal_private_addresses_and_http_are_refused_at_delivery_without_the_switches() {
        let sender =
            HttpWebhookSender::new(UrlPolicy::default(), Duration::from_secs(2), Arc::new(SystemResolver)).unwrap();
        for url in [
            "https://127.0.0.1/h",
            "https://[::1]/h",
            "http://hooks.example.com/h",
            "https://localhost/h",
        ] {
            let error = sender.send(&request(url.into())).await.unwrap_err();
            assert!(matches!(error, WebhookSendError::NotAllowed(_)), "{url}: {error:?}");
        }
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_but_reported_as_the_answer() {
        let (port, served) = server("302 Found").await;
        let policy = UrlPolicy {
            allow_http: true,
            allow_private: true,
        };
        let sender = HttpWebhookSender::new(policy, Duration::from_secs(2), Arc::new(SystemResolver)).unwrap();
        let status = sender
            .send(&request(format!("http://127.0.0.1:{port}/hook")))
            .await
            .unwrap();
        assert_eq!(status, 302);
        assert_eq!(served.await.unwrap(), 1, "the Location was not requested");
    }
}

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
