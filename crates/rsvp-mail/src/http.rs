//! The `http` transport: Postmark's email API over reqwest.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{StatusCode, Url};
use rsvp_app::{MailError, Mailer, OutgoingEmail, SentEmail};
use serde::{Deserialize, Serialize};

use crate::ConfigError;
use crate::message::{
    DEFAULT_TIMEOUT, ONE_CLICK, list_unsubscribe, message_id_header, one_line, parse_from, parse_to, provider_id,
    reply_to, sender,
};
use rsvp_app::error_chain;

/// Postmark's API address, the default [`PostmarkConfig::base_url`].
pub const DEFAULT_POSTMARK_URL: &str = "https://api.postmarkapp.com";

/// The header carrying the Postmark server token.
const TOKEN_HEADER: &str = "X-Postmark-Server-Token";

/// How much of an answer is read, at most (Postmark's are a few hundred bytes).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The `Metadata` key carrying the email job's id; Postmark echoes the
/// email's metadata in its bounce, spam complaint and delivery webhooks.
pub const POSTMARK_JOB_METADATA_KEY: &str = "rsvp_email_job";

/// Postmark's limit on a metadata value: a longer job reference is not sent.
const MAX_METADATA_VALUE: usize = 80;

/// Settings of [`HttpMailer`]. Its `Debug` output never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct PostmarkConfig {
    /// The API's base URL, without `/email`: [`DEFAULT_POSTMARK_URL`], or a
    /// stand-in in tests.
    pub base_url: String,
    /// The Postmark *server* API token (sent as `X-Postmark-Server-Token`).
    /// Never printed, never part of an error message.
    pub server_token: String,
    /// The sender of every message, a Postmark sender signature:
    /// `no-reply@example.com` or `Acme <no-reply@example.com>`. Its domain
    /// completes bare message ids.
    pub from: String,
    /// The Postmark message stream: `outbound` (the default transactional
    /// stream) or the id of another transactional stream.
    pub message_stream: String,
    /// Limit for the whole request (connecting, sending, reading the answer).
    pub timeout: Duration,
}

impl PostmarkConfig {
    /// Settings for Postmark itself, stream `outbound`, [`DEFAULT_TIMEOUT`].
    pub fn new(server_token: impl Into<String>, from: impl Into<String>) -> Self {
        Self {
            base_url: DEFAULT_POSTMARK_URL.to_owned(),
            server_token: server_token.into(),
            from: from.into(),
            message_stream: "outbound".to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl fmt::Debug for PostmarkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostmarkConfig")
            .field("base_url", &self.base_url)
            .field("server_token", &"[redacted]")
            .field("from", &self.from)
            .field("message_stream", &self.message_stream)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Sends messages through the [Postmark email API](https://postmarkapp.com/developer/api/email-api):
/// `POST {base_url}/email` with the `X-Postmark-Server-Token` header and a
/// JSON body (`From`, `To`, `ReplyTo`, `Subject`, `TextBody`, `HtmlBody`,
/// `MessageStream`, the `Message-ID`, `List-Unsubscribe` and
/// `List-Unsubscribe-Post` in `Headers`, and `Metadata` with
/// [`POSTMARK_JOB_METADATA_KEY`] set to the email job's id,
/// [`OutgoingEmail::job_reference`], which Postmark's webhooks echo).
/// A send returns the answer's `MessageID` as the provider message id.
///
/// Errors: a 2xx answer with `"ErrorCode": 0` is success; 408, 429, 5xx,
/// redirects, timeouts and connection errors are [`MailError::Transient`];
/// any other 4xx (401 bad token, 422 with Postmark's `ErrorCode`) and a
/// 2xx with a non-zero `ErrorCode` are [`MailError::Permanent`].
#[derive(Clone)]
pub struct HttpMailer {
    client: reqwest::Client,
    endpoint: Url,
    token: HeaderValue,
    token_text: String,
    from: Mailbox,
    message_stream: String,
    timeout: Duration,
}

impl fmt::Debug for HttpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMailer")
            .field("endpoint", &self.endpoint.as_str())
            .field("token", &"[redacted]")
            .field("from", &self.from.to_string())
            .field("message_stream", &self.message_stream)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpMailer {
    /// Builds the mailer (and its HTTP client). Installs rustls' `ring`
    /// provider as the process default unless one is installed already.
    ///
    /// # Errors
    /// [`ConfigError::InvalidBaseUrl`], [`ConfigError::InvalidToken`],
    /// [`ConfigError::InvalidFrom`], [`ConfigError::EmptyMessageStream`],
    /// [`ConfigError::ZeroTimeout`], [`ConfigError::HttpClient`].
    pub fn new(config: PostmarkConfig) -> Result<Self, ConfigError> {
        // Idempotent: fails (harmlessly) when a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let invalid_url = |reason: &str| ConfigError::InvalidBaseUrl {
            value: config.base_url.clone(),
            reason: reason.to_owned(),
        };
        let base = Url::parse(config.base_url.trim()).map_err(|e| invalid_url(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid_url("expected an http:// or https:// URL"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid_url("the base URL must not have a query or a fragment"));
        }
        let endpoint_text = format!("{}/email", base.as_str().trim_end_matches('/'));
        let endpoint = Url::parse(&endpoint_text).map_err(|e| invalid_url(&e.to_string()))?;

        let token_text = config.server_token.trim().to_owned();
        if token_text.is_empty() {
            return Err(ConfigError::InvalidToken);
        }
        let mut token = HeaderValue::from_str(&token_text).map_err(|_| ConfigError::InvalidToken)?;
        token.set_sensitive(true);

        let from = parse_from(&config.from)?;
        let message_stream = config.message_stream.trim().to_owned();
        if message_stream.is_empty() {
            return Err(ConfigError::EmptyMessageStream);
        }
        if config.timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("rsvp-mail/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::HttpClient(error_chain(&e)))?;
        Ok(Self {
            client,
            endpoint,
            token,
            token_text,
            from,
            message_stream,
            timeout: config.timeout,
        })
    }

    /// `text` without the token, should anything ever echo it.
    fn redact(&self, text: String) -> String {
        if text.contains(&self.token_text) {
            text.replace(&self.token_text, "[redacted]")
        } else {
            text
        }
    }

    async fn post(&self, email: &OutgoingEmail) -> Result<SentEmail, MailError> {
        let to = parse_to(email)?;
        let message_id = message_id_header(&email.message_id, &self.from)?;
        let from = sender(&self.from, email).to_string();
        let to = to.to_string();
        let reply_to = reply_to(email).map(|m| m.to_string());
        let subject = one_line(&email.content.subject);
        let unsubscribe = list_unsubscribe(email);
        let mut headers = vec![Header {
            name: "Message-ID",
            value: &message_id,
        }];
        if let Some(value) = &unsubscribe {
            headers.push(Header {
                name: "List-Unsubscribe",
                value,
            });
            headers.push(Header {
                name: "List-Unsubscribe-Post",
                value: ONE_CLICK,
            });
        }
        let job = email.job_reference();
        let metadata = (job.len() <= MAX_METADATA_VALUE).then_some(Metadata { rsvp_email_job: job });
        let body = SendEmail {
            from: &from,
            to: &to,
            reply_to: reply_to.as_deref(),
            subject: &subject,
            text_body: &email.content.text,
            html_body: &email.content.html,
            message_stream: &self.message_stream,
            headers,
            metadata,
        };
        let response = self
            .client
            .post(self.endpoint.clone())
            .header(TOKEN_HEADER, self.token.clone())
            .header(ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| self.request_error(&e))?;
        let status = response.status();
        let answer = read_answer(response).await;
        let answer = match answer {
            Ok(answer) => answer,
            // The answer was lost on the way: whether Postmark took the
            // message is unknown; a retry carries the same Message-ID.
            Err(e) if status.is_success() => return Err(self.request_error(&e)),
            Err(_) => Vec::new(),
        };
        classify(status, &answer)
    }

    fn request_error(&self, error: &reqwest::Error) -> MailError {
        let text = if error.is_timeout() {
            format!(
                "Postmark did not answer within {:?}: {}",
                self.timeout,
                error_chain(error)
            )
        } else {
            format!("cannot reach Postmark: {}", error_chain(error))
        };
        if error.is_builder() {
            MailError::Permanent(text)
        } else {
            MailError::Transient(text)
        }
    }
}

#[async_trait]
impl Mailer for HttpMailer {
    /// Posts the message to Postmark.
    ///
    /// # Errors
    /// See [`HttpMailer`] for which answers are transient and which
    /// permanent.
    async fn send(&self, email: &OutgoingEmail) -> Result<SentEmail, MailError> {
        self.post(email).await.map_err(|e| match e {
            MailError::Transient(text) => MailError::Transient(self.redact(text)),
            MailError::Permanent(text) => MailError::Permanent(self.redact(text)),
        })
    }
}

/// Postmark's `POST /email` body.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SendEmail<'a> {
    from: &'a str,
    to: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<&'a str>,
    subject: &'a str,
    text_body: &'a str,
    html_body: &'a str,
    message_stream: &'a str,
    headers: Vec<Header<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata<'a>>,
}

/// Postmark's `Metadata`: what its webhooks echo about the email.
#[derive(Serialize)]
struct Metadata<'a> {
    rsvp_email_job: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Header<'a> {
    name: &'static str,
    value: &'a str,
}

/// The parts of Postmark's answer that matter here.
#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "ErrorCode", default)]
    error_code: i64,
    #[serde(rename = "Message", default)]
    message: String,
    /// The id Postmark gave the message; its webhooks name it by this.
    #[serde(rename = "MessageID", default)]
    message_id: Option<String>,
}

async fn read_answer(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_ANSWER_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ANSWER_BYTES {
            break;
        }
    }
    Ok(body)
}

/// Success (with Postmark's `MessageID`, when the answer has a usable one),
/// transient or permanent, from the status and Postmark's answer.
fn classify(status: StatusCode, answer: &[u8]) -> Result<SentEmail, MailError> {
    let parsed = serde_json::from_slice::<Answer>(answer).ok();
    let detail = match &parsed {
        Some(a) => format!("ErrorCode {}: {}", a.error_code, one_line(&a.message)),
        None => one_line(&String::from_utf8_lossy(&answer[..answer.len().min(300)])),
    };
    let text = format!("Postmark answered {status} ({detail})");
    if status.is_success() {
        return match parsed {
            Some(a) if a.error_code != 0 => Err(MailError::Permanent(text)),
            Some(a) => Ok(SentEmail {
                provider_message_id: a.message_id.as_deref().and_then(provider_id),
            }),
            // Taken, but the answer is not Postmark's JSON: no id to keep.
            None => Ok(SentEmail::default()),
        };
    }
    if status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return Err(MailError::Transient(text));
    }
    if status.is_client_error() {
        return Err(MailError::Permanent(text));
    }
    // 1xx/3xx: not an answer Postmark gives; most likely a base URL that
    // redirects. Retrying after the operator fixes it will work.
    Err(MailError::Transient(format!("{text}; check the Postmark base URL")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(status: u16, body: &str) -> Result<SentEmail, MailError> {
        classify(StatusCode::from_u16(status).unwrap(), body.as_bytes())
    }

    #[test]
    fn answers_are_classified_by_status_and_error_code() {
        assert_eq!(
            class(200, r#"{"ErrorCode":0,"Message":"OK"}"#),
            Ok(SentEmail::default())
        );
        assert!(matches!(
            class(200, r#"{"ErrorCode":406,"Message":"Inactive"}"#),
            Err(MailError::Permanent(_))
        ));
        for status in [400, 401, 403, 404, 422] {
            assert!(matches!(class(status, "{}"), Err(MailError::Permanent(_))), "{status}");
        }
        for status in [408, 429, 500, 502, 503, 504, 301] {
            assert!(
                matches!(class(status, "oops"), Err(MailError::Transient(_))),
                "{status}"
            );
        }
    }

    #[test]
    fn the_error_names_postmarks_error_code_and_message() {
        let Err(MailError::Permanent(text)) = class(422, r#"{"ErrorCode":300,"Message":"Invalid 'To' address"}"#)
        else {
            panic!("expected a permanent error");
        };
        assert!(text.contains("422") && text.contains("ErrorCode 300") && text.contains("Invalid 'To' address"));
    }

    #[test]
    fn a_success_answer_gives_postmarks_message_id_when_it_is_usable() {
        let sent = |message_id: &str| {
            class(
                200,
                &format!(r#"{{"ErrorCode":0,"Message":"OK","MessageID":{message_id}}}"#),
            )
        };
        assert_eq!(
            sent(r#""b7bc2f4a-e38e-4336-af7d-e6c392c2f817""#),
            Ok(SentEmail::with_provider_id("b7bc2f4a-e38e-4336-af7d-e6c392c2f817"))
        );
        for unusable in [
            r#""""#,
            r#"" ""#,
            r#""a b""#,
            "null",
            &format!(r#""{}""#, "x".repeat(256)),
        ] {
            assert_eq!(sent(unusable), Ok(SentEmail::default()), "{unusable}");
        }
        assert_eq!(class(200, "not json"), Ok(SentEmail::default()));
    }
}
