//! What the operator configures ([`SnsSettings`]), the test-only endpoint
//! ([`TestEndpoint`]) and why a configuration is refused ([`SnsSetupError`]).

use std::fmt;
use std::time::Duration;

/// How long a fetch (the certificate, the `SubscribeURL`) may take by
/// default: connection and answer.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a fetched signing certificate is kept by default.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How many signing certificates (by URL) are kept by default.
pub const DEFAULT_MAX_CACHED: usize = 16;

/// How SNS messages are verified.
///
/// [`SnsSettings::default`] is right for production; change fields, then
/// [`crate::AwsSnsVerifier::new`] checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsSettings {
    /// The bound of one fetch (connection and answer). Default
    /// [`DEFAULT_FETCH_TIMEOUT`].
    pub fetch_timeout: Duration,
    /// How long a signing certificate is kept after its fetch. Default
    /// [`DEFAULT_CACHE_TTL`].
    pub cache_ttl: Duration,
    /// The most signing certificates kept (the oldest goes first). Default
    /// [`DEFAULT_MAX_CACHED`].
    pub max_cached: usize,
    /// Tests only: the one host allowed instead of `sns.<region>.amazonaws.com`,
    /// and the CA its https certificate is trusted under. Refused unless
    /// [`SnsSettings::allow_test_endpoint`] is set too. Default none.
    pub test_endpoint: Option<TestEndpoint>,
    /// The flag that lets [`SnsSettings::test_endpoint`] be used (local
    /// setups and tests only, as `RSVP_WEBHOOK_ALLOW_PRIVATE` for webhooks).
    /// Default false.
    pub allow_test_endpoint: bool,
}

impl Default for SnsSettings {
    fn default() -> Self {
        Self {
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            cache_ttl: DEFAULT_CACHE_TTL,
            max_cached: DEFAULT_MAX_CACHED,
            test_endpoint: None,
            allow_test_endpoint: false,
        }
    }
}

/// Tests only: a local https server standing in for
/// `sns.<region>.amazonaws.com`.
///
/// With it, certificate and confirmation URLs must name exactly this host
/// and port (AWS's hosts are refused), still over https, and the https
/// fetch trusts [`TestEndpoint::root_ca_pem`] only.
#[derive(Clone, PartialEq, Eq)]
pub struct TestEndpoint {
    /// `host:port`, exactly as the URLs write it (`127.0.0.1:8443`,
    /// `localhost:8443`); the port is required.
    pub authority: String,
    /// The PEM certificate of the CA that issued the server's certificate
    /// (the only root trusted then).
    pub root_ca_pem: String,
}

impl TestEndpoint {
    /// A test endpoint at `authority` (`host:port`) trusted under the CA
    /// `root_ca_pem`.
    pub fn new(authority: impl Into<String>, root_ca_pem: impl Into<String>) -> Self {
        Self {
            authority: authority.into(),
            root_ca_pem: root_ca_pem.into(),
        }
    }

    /// The host and port of [`TestEndpoint::authority`], normalized as URLs
    /// are (lower case, IPv6 in brackets).
    pub(crate) fn host_and_port(&self) -> Result<(String, u16), SnsSetupError> {
        let bad = |why: &str| SnsSetupError::TestEndpoint(format!("authority {:?}: {why}", self.authority));
        let authority = self.authority.trim();
        if authority.is_empty() || authority.contains(['/', '@', '?', '#']) {
            return Err(bad("not a host:port"));
        }
        let url = reqwest::Url::parse(&format!("https://{authority}/")).map_err(|e| bad(&e.to_string()))?;
        let host = url.host_str().ok_or_else(|| bad("no host"))?;
        // The explicit port of the text (the URL forgets a written `:443`).
        let port = match url.port() {
            Some(port) => port,
            None if authority.ends_with(":443") => 443,
            None => return Err(bad("no port")),
        };
        Ok((host.to_owned(), port))
    }
}

impl fmt::Debug for TestEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestEndpoint")
            .field("authority", &self.authority)
            .field("root_ca_pem_bytes", &self.root_ca_pem.len())
            .finish()
    }
}

/// Why settings are refused, or the verifier cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsSetupError {
    /// A test endpoint was configured without the flag that allows it.
    #[error("SNS settings: a test endpoint is refused unless the test flag (allow_test_endpoint) is set")]
    TestEndpointNotAllowed,
    /// The test endpoint's authority or CA is unusable.
    #[error("SNS settings: test endpoint: {0}")]
    TestEndpoint(String),
    /// A setting is out of range.
    #[error("SNS settings: {0}")]
    Invalid(&'static str),
    /// The HTTP client could not be built.
    #[error("SNS verifier: {0}")]
    Setup(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authority_needs_a_host_and_a_port() {
        let endpoint = |a: &str| TestEndpoint::new(a, "").host_and_port();
        assert_eq!(endpoint("127.0.0.1:8443"), Ok(("127.0.0.1".to_owned(), 8443)));
        assert_eq!(endpoint("LocalHost:9000"), Ok(("localhost".to_owned(), 9000)));
        assert_eq!(endpoint("[::1]:8443"), Ok(("[::1]".to_owned(), 8443)));
        assert_eq!(endpoint("localhost:443"), Ok(("localhost".to_owned(), 443)));
        for bad in [
            "",
            "localhost",
            "https://localhost:1",
            "a@localhost:1",
            "localhost:1/x",
            "localhost:x",
        ] {
            assert!(
                matches!(endpoint(bad), Err(SnsSetupError::TestEndpoint(_))),
                "{bad:?} accepted"
            );
        }
    }
}
