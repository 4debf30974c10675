//! The Postmark transport against a local HTTP server standing in for it.

use std::time::{Duration, Instant};

use rsvp_app::{EmailRenderer, Locale, MailError, Mailer, RenderedEmail, SentEmail};
use rsvp_mail::{
    ConfigError, DEFAULT_POSTMARK_URL, HttpMailer, POSTMARK_JOB_METADATA_KEY, PostmarkConfig, TemplateRenderer,
};
use serde_json::json;

use crate::support::postmark::{PostmarkStub, Reply};
use crate::support::{
    ACCEPT_URL, FROM, JOB_ID, UNSUBSCRIBE_URL, closed_port, invitation, invitation_outgoing, outgoing,
};

const TOKEN: &str = "server-token-5ec4e7";

fn config(base_url: &str) -> PostmarkConfig {
    PostmarkConfig {
        base_url: base_url.to_owned(),
        timeout: Duration::from_secs(10),
        ..PostmarkConfig::new(TOKEN, FROM)
    }
}

fn content() -> RenderedEmail {
    TemplateRenderer::new().render(&invitation(Locale::En)).unwrap()
}

async fn send_with_reply(reply: Reply) -> (PostmarkStub, Result<SentEmail, MailError>) {
    let stub = PostmarkStub::start(reply).await;
    let mailer = HttpMailer::new(config(&stub.base_url)).unwrap();
    let result = mailer.send(&outgoing(JOB_ID, "bob@example.com", content())).await;
    (stub, result)
}

#[tokio::test]
async fn the_http_mailer_posts_the_message_to_postmarks_email_api() {
    let content = content();
    let stub = PostmarkStub::start(Reply::ok()).await;
    let mailer = HttpMailer::new(config(&stub.base_url)).unwrap();

    let sent = mailer
        .send(&outgoing(JOB_ID, "bob@example.com", content.clone()))
        .await
        .unwrap();

    assert_eq!(
        sent,
        SentEmail::with_provider_id(Reply::OK_MESSAGE_ID),
        "the provider message id is Postmark's MessageID"
    );
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/email"));
    assert_eq!(request.header("X-Postmark-Server-Token"), Some(TOKEN));
    assert_eq!(request.header("Accept"), Some("application/json"));
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    assert_eq!(
        request.json(),
        json!({
            "From": "rsvp <no-reply@rsvp.example>",
            "To": "bob@example.com",
            "Subject": content.subject,
            "TextBody": content.text,
            "HtmlBody": content.html,
            "MessageStream": "outbound",
            "Headers": [{"Name": "Message-ID", "Value": format!("<{JOB_ID}@rsvp.example>")}],
            "Metadata": {"rsvp_email_job": JOB_ID},
        })
    );
    assert_eq!(POSTMARK_JOB_METADATA_KEY, "rsvp_email_job");
    assert!(request.json()["HtmlBody"].as_str().unwrap().contains(ACCEPT_URL));
}

#[tokio::test]
async fn over_postmark_an_invitation_email_says_who_invites_replies_to_them_and_carries_one_click_unsubscribe() {
    let stub = PostmarkStub::start(Reply::ok()).await;
    let mailer = HttpMailer::new(config(&stub.base_url)).unwrap();
    let german = TemplateRenderer::new().render(&invitation(Locale::De)).unwrap();
    mailer
        .send(&invitation_outgoing(JOB_ID, "bob@example.com", german.clone()))
        .await
        .unwrap();
    let body = stub.requests()[0].json();
    assert_eq!(body["From"], "\"Ann Lee (Acme Ltd) via rsvp\" <no-reply@rsvp.example>");
    assert_eq!(body["ReplyTo"], "Ann Lee <ann@acme.example>");
    assert_eq!(body["Subject"], german.subject);
    assert_eq!(
        body["Headers"],
        json!([
            {"Name": "Message-ID", "Value": format!("<{JOB_ID}@rsvp.example>")},
            {"Name": "List-Unsubscribe", "Value": format!("<{UNSUBSCRIBE_URL}>")},
            {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
        ])
    );
}

#[tokio::test]
async fn the_base_url_may_carry_a_path_and_a_trailing_slash_and_the_stream_is_configurable() {
    let stub = PostmarkStub::start(Reply::ok()).await;
    let mut config = config(&format!("{}/postmark/", stub.base_url));
    config.message_stream = "invitations".to_owned();
    let mailer = HttpMailer::new(config).unwrap();
    mailer
        .send(&outgoing("job-7@mail.rsvp.example", "bob@example.com", content()))
        .await
        .unwrap();
    let request = &stub.requests()[0];
    assert_eq!(request.path, "/postmark/email");
    assert_eq!(request.json()["MessageStream"], "invitations");
    assert_eq!(request.json()["Headers"][0]["Value"], "<job-7@mail.rsvp.example>");
    assert_eq!(
        request.json()["Metadata"],
        json!({"rsvp_email_job": "job-7"}),
        "the metadata holds the Message-ID's part before '@'"
    );
}

#[tokio::test]
async fn each_send_returns_the_message_id_postmark_gave_it() {
    let stub = PostmarkStub::start(Reply::Numbered).await;
    let mailer = HttpMailer::new(config(&stub.base_url)).unwrap();
    let mut ids = Vec::new();
    for (job, to) in [("job-1", "ann@example.com"), ("job-2", "bob@example.com")] {
        ids.push(
            mailer
                .send(&outgoing(job, to, content()))
                .await
                .unwrap()
                .provider_message_id,
        );
    }
    assert_eq!(ids, [Some("pm-message-1".to_owned()), Some("pm-message-2".to_owned())]);
    let jobs: Vec<_> = stub.requests().iter().map(|r| r.json()["Metadata"].clone()).collect();
    assert_eq!(
        jobs,
        [json!({"rsvp_email_job": "job-1"}), json!({"rsvp_email_job": "job-2"})]
    );
}

#[tokio::test]
async fn a_success_answer_without_a_message_id_sends_with_no_provider_id() {
    let (_stub, result) = send_with_reply(Reply::Json(200, r#"{"ErrorCode":0,"Message":"OK"}"#.to_owned())).await;
    assert_eq!(result, Ok(SentEmail::default()));
}

#[tokio::test]
async fn a_422_answer_is_a_permanent_failure_naming_postmarks_error_code() {
    let (_stub, result) = send_with_reply(Reply::Json(
        422,
        r#"{"ErrorCode":300,"Message":"Invalid 'To' address: 'bob@example'."}"#.to_owned(),
    ))
    .await;
    match result {
        Err(MailError::Permanent(e)) => {
            assert!(
                e.contains("422") && e.contains("ErrorCode 300") && e.contains("Invalid 'To' address"),
                "{e}"
            )
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_401_answer_is_permanent_and_the_token_never_shows_in_the_error() {
    let (_stub, result) = send_with_reply(Reply::Json(
        401,
        format!(r#"{{"ErrorCode":10,"Message":"Bad or missing Server API token: {TOKEN}"}}"#),
    ))
    .await;
    match result {
        Err(MailError::Permanent(e)) => assert!(e.contains("401") && !e.contains(TOKEN), "{e}"),
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_success_status_with_a_postmark_error_code_is_a_permanent_failure() {
    let (_stub, result) = send_with_reply(Reply::Json(
        200,
        r#"{"ErrorCode":406,"Message":"You tried to send to a recipient that has been marked as inactive."}"#
            .to_owned(),
    ))
    .await;
    assert!(
        matches!(&result, Err(MailError::Permanent(e)) if e.contains("406")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_500_answer_is_a_transient_failure() {
    let (stub, result) = send_with_reply(Reply::Json(500, r#"{"ErrorCode":0,"Message":"oops"}"#.to_owned())).await;
    assert!(
        matches!(&result, Err(MailError::Transient(e)) if e.contains("500")),
        "{result:?}"
    );
    assert_eq!(stub.requests().len(), 1, "no hidden retries");
}

#[tokio::test]
async fn a_429_answer_is_a_transient_failure() {
    let (_stub, result) = send_with_reply(Reply::Json(
        429,
        r#"{"ErrorCode":429,"Message":"Rate limit exceeded"}"#.to_owned(),
    ))
    .await;
    assert!(
        matches!(&result, Err(MailError::Transient(e)) if e.contains("429")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_transient_failure_after_the_timeout() {
    let stub = PostmarkStub::start(Reply::Silent).await;
    let mut config = config(&stub.base_url);
    config.timeout = Duration::from_millis(300);
    let mailer = HttpMailer::new(config).unwrap();
    let started = Instant::now();
    let result = mailer.send(&outgoing(JOB_ID, "bob@example.com", content())).await;
    assert!(
        matches!(&result, Err(MailError::Transient(e)) if e.contains("did not answer")),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout was not applied"
    );
    assert_eq!(stub.requests().len(), 1, "the request did reach the server");
}

#[tokio::test]
async fn a_refused_connection_is_a_transient_failure() {
    let mailer = HttpMailer::new(config(&format!("http://127.0.0.1:{}", closed_port()))).unwrap();
    let result = mailer.send(&outgoing(JOB_ID, "bob@example.com", content())).await;
    assert!(
        matches!(&result, Err(MailError::Transient(e)) if !e.contains(TOKEN)),
        "{result:?}"
    );
}

#[test]
fn the_token_is_never_printed() {
    let config = PostmarkConfig::new(TOKEN, FROM);
    assert_eq!(config.base_url, DEFAULT_POSTMARK_URL);
    assert!(!format!("{config:?}").contains(TOKEN));
    let mailer = HttpMailer::new(config).unwrap();
    assert!(!format!("{mailer:?}").contains(TOKEN));
}

#[test]
fn bad_settings_are_refused_when_the_mailer_is_built() {
    for url in ["ftp://example.com", "not a url", "https://example.com/?q=1"] {
        let result = HttpMailer::new(config(url));
        assert!(matches!(result, Err(ConfigError::InvalidBaseUrl { .. })), "{url}");
    }
    let mut empty_token = config(DEFAULT_POSTMARK_URL);
    empty_token.server_token = " ".to_owned();
    assert!(matches!(HttpMailer::new(empty_token), Err(ConfigError::InvalidToken)));

    let mut bad_token = config(DEFAULT_POSTMARK_URL);
    bad_token.server_token = "line\nbreak".to_owned();
    let error = HttpMailer::new(bad_token).unwrap_err();
    assert!(matches!(error, ConfigError::InvalidToken) && !error.to_string().contains("line"));

    let mut bad_from = config(DEFAULT_POSTMARK_URL);
    bad_from.from = "nobody".to_owned();
    assert!(matches!(
        HttpMailer::new(bad_from),
        Err(ConfigError::InvalidFrom { .. })
    ));
}
