//! The https client: rustls on `ring`, the platform's roots (or, for tests,
//! the test endpoint's CA only), no redirects, no proxy, a timeout and a
//! cap on what is read.

use reqwest::Url;

use crate::settings::{SnsSettings, SnsSetupError};

/// The most bytes of a certificate answer read (AWS's are about 2 KiB).
pub(crate) const MAX_CERT_BYTES: usize = 64 * 1024;
/// The most bytes of a `SubscribeURL` answer read (it is discarded).
pub(crate) const MAX_CONFIRM_BYTES: usize = 64 * 1024;

/// GETs over https.
#[derive(Debug, Clone)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    /// A client under `settings`. Installs rustls' `ring` provider as the
    /// process default unless one is installed already.
    pub(crate) fn new(settings: &SnsSettings) -> Result<Self, SnsSetupError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .timeout(settings.fetch_timeout)
            .connect_timeout(settings.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(endpoint) = &settings.test_endpoint {
            let pem = endpoint.root_ca_pem.as_bytes();
            let bad = || SnsSetupError::TestEndpoint("root CA: not a PEM certificate".to_owned());
            // Read here first: reqwest accepts text without a certificate.
            if x509_cert::Certificate::load_pem_chain(pem)
                .map_err(|_| bad())?
                .is_empty()
            {
                return Err(bad());
            }
            let roots = reqwest::Certificate::from_pem_bundle(pem).map_err(|_| bad())?;
            builder = builder.tls_certs_only(roots);
        }
        let client = builder
            .build()
            .map_err(|e| SnsSetupError::Setup(format!("cannot build the HTTPS client: {e}")))?;
        Ok(Self { client })
    }

    /// The body of a GET of `url` (checked by the caller), at most `cap`
    /// bytes.
    ///
    /// # Errors
    /// Why not, in words (never the URL: a `SubscribeURL` carries a token):
    /// the connection, a timeout, a status other than 2xx (a redirect is not
    /// followed), a body over `cap`.
    pub(crate) async fn get(&self, url: &Url, cap: usize) -> Result<Vec<u8>, String> {
        let mut response = self.client.get(url.clone()).send().await.map_err(|e| describe(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(if status.is_redirection() {
                format!("answered {} (redirects are not followed)", status.as_u16())
            } else {
                format!("answered {}", status.as_u16())
            });
        }
        if response.content_length().is_some_and(|length| length > cap as u64) {
            return Err(format!("the answer is larger than {cap} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > cap {
                return Err(format!("the answer is larger than {cap} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// What went wrong with a request, in words: its kind and its causes (not
/// the error's own text, which names the URL).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_redirect() {
        "redirected (not followed)"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    };
    match std::error::Error::source(error) {
        Some(cause) => format!("{what}: {}", rsvp_app::error_chain(cause)),
        None => what.to_owned(),
    }
}
