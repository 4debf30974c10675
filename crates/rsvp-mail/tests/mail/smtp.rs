//! The SMTP transport against a real SMTP server (aiosmtpd).

use std::time::Duration;

use rsvp_app::{EmailRenderer, Locale, MailError, Mailer, RenderedEmail, SentEmail};
use rsvp_mail::{ConfigError, SmtpConfig, SmtpMailer, SmtpTls, TemplateRenderer};

use crate::support::smtp_server::SmtpServer;
use crate::support::{
    ACCEPT_URL, FROM, JOB_ID, UNSUBSCRIBE_URL, closed_port, invitation, invitation_outgoing, outgoing,
};

fn config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".to_owned(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: FROM.to_owned(),
        timeout: Duration::from_secs(10),
    }
}

fn content() -> RenderedEmail {
    TemplateRenderer::new().render(&invitation(Locale::En)).unwrap()
}

#[tokio::test]
async fn the_smtp_mailer_delivers_a_multipart_message_to_a_real_server() {
    let server = SmtpServer::start();
    let mailer = SmtpMailer::new(config(server.port)).unwrap();
    let content = content();

    let sent = mailer
        .send(&outgoing(JOB_ID, "bob@example.com", content.clone()))
        .await
        .unwrap();

    assert_eq!(sent, SentEmail::default(), "a plain `250 2.0.0` answer carries no id");
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].mail_from, "no-reply@rsvp.example");
    assert_eq!(received[0].rcpt_to, ["bob@example.com"]);
    let eml = received[0].eml();
    assert_eq!(eml.header("From"), Some("rsvp <no-reply@rsvp.example>"));
    assert_eq!(eml.header("To"), Some("bob@example.com"));
    assert_eq!(eml.header("Subject"), Some(content.subject.as_str()));
    assert_eq!(
        eml.header("Message-ID"),
        Some(format!("<{JOB_ID}@rsvp.example>").as_str())
    );
    assert_eq!(eml.header("MIME-Version"), Some("1.0"));
    assert!(eml.header("Date").is_some());
    assert_eq!(eml.part("text/plain").body.trim_end(), content.text.trim_end());
    assert_eq!(eml.part("text/html").body.trim_end(), content.html.trim_end());
    assert!(eml.part("text/html").body.contains(ACCEPT_URL));
}

#[tokio::test]
async fn over_smtp_an_invitation_email_says_who_invites_replies_to_them_and_carries_one_click_unsubscribe() {
    let server = SmtpServer::start();
    let mailer = SmtpMailer::new(config(server.port)).unwrap();
    let german = TemplateRenderer::new().render(&invitation(Locale::De)).unwrap();
    mailer
        .send(&invitation_outgoing(JOB_ID, "bob@example.com", german))
        .await
        .unwrap();
    let received = server.received();
    assert_eq!(
        received[0].mail_from, "no-reply@rsvp.example",
        "the envelope keeps the configured sender"
    );
    let eml = received[0].eml();
    assert_eq!(
        eml.header("From"),
        // Written as an RFC 2047 encoded word (the parentheses are not a comment); shown decoded.
        Some("Ann Lee (Acme Ltd) via rsvp <no-reply@rsvp.example>")
    );
    assert_eq!(eml.header("Reply-To"), Some("\"Ann Lee\" <ann@acme.example>"));
    assert_eq!(
        eml.header("List-Unsubscribe"),
        Some(format!("<{UNSUBSCRIBE_URL}>").as_str())
    );
    assert_eq!(eml.header("List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
    assert!(eml.part("text/plain").body.contains("Keine Einladungen mehr"));
}

#[tokio::test]
async fn consecutive_messages_all_arrive_through_the_connection_pool() {
    let server = SmtpServer::start();
    let mailer = SmtpMailer::new(config(server.port)).unwrap();
    for (id, to) in [
        ("job-1", "ann@example.com"),
        ("job-2", "bob@example.com"),
        ("job-3", "cy@example.com"),
    ] {
        mailer.send(&outgoing(id, to, content())).await.unwrap();
    }
    let ids: Vec<String> = server
        .received()
        .iter()
        .map(|r| r.eml().header("Message-ID").unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        ["<job-1@rsvp.example>", "<job-2@rsvp.example>", "<job-3@rsvp.example>"]
    );
}

#[tokio::test]
async fn an_ses_style_answer_250_ok_id_gives_the_provider_message_id() {
    let server = SmtpServer::start();
    let mailer = SmtpMailer::new(config(server.port)).unwrap();
    let mut ids = Vec::new();
    for to in ["ses-answer@example.com", "bob@example.com", "ses-answer@example.org"] {
        ids.push(
            mailer
                .send(&outgoing(JOB_ID, to, content()))
                .await
                .unwrap()
                .provider_message_id,
        );
    }
    assert_eq!(
        ids,
        [
            Some("0100018c-ses-test-0001-000000".to_owned()),
            None,
            Some("0100018c-ses-test-0003-000000".to_owned()),
        ]
    );
    assert_eq!(server.received().len(), 3);
}

#[tokio::test]
async fn a_4xx_reply_is_a_transient_failure() {
    let server = SmtpServer::start();
    let mailer = SmtpMailer::new(config(server.port)).unwrap();
    let result = mailer.send(&outgoing(JOB_ID, "transient@example.com", content())).await;
    match result {
        Err(MailError::Transient(e)) => assert!(e.contains("451"), "{e}"),
        other => panic!("expected a transient failure, got {other:?}"),
    }
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_5xx_reply_is_a_permanent_failure() {
    let server = SmtpServer::start();
    let mailer = SmtpMailer::new(config(server.port)).unwrap();
    let result = mailer.send(&outgoing(JOB_ID, "permanent@example.com", content())).await;
    match result {
        Err(MailError::Permanent(e)) => assert!(e.contains("550"), "{e}"),
        other => panic!("expected a permanent failure, got {other:?}"),
    }
    assert!(server.received().is_empty());

    // The pooled connection stays usable after a refused recipient.
    mailer
        .send(&outgoing(JOB_ID, "bob@example.com", content()))
        .await
        .unwrap();
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_server_that_is_down_is_a_transient_failure() {
    let mailer = SmtpMailer::new(config(closed_port())).unwrap();
    let result = mailer.send(&outgoing(JOB_ID, "bob@example.com", content())).await;
    assert!(
        matches!(&result, Err(MailError::Transient(e)) if e.contains("127.0.0.1")),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_password_is_never_printed() {
    let mut config = config(closed_port());
    config.username = Some("mailer".to_owned());
    config.password = Some("hunter2-secret".to_owned());
    assert!(!format!("{config:?}").contains("hunter2-secret"));
    assert!(format!("{config:?}").contains("mailer"));
    let mailer = SmtpMailer::new(config).unwrap();
    assert!(!format!("{mailer:?}").contains("hunter2-secret"));
    let result = mailer.send(&outgoing(JOB_ID, "bob@example.com", content())).await;
    assert!(
        matches!(&result, Err(MailError::Transient(e)) if !e.contains("hunter2-secret")),
        "{result:?}"
    );
}

#[tokio::test]
async fn bad_settings_are_refused_when_the_mailer_is_built() {
    let mut half = config(25);
    half.username = Some("mailer".to_owned());
    assert!(matches!(SmtpMailer::new(half), Err(ConfigError::IncompleteCredentials)));

    let mut no_host = config(25);
    no_host.host = " ".to_owned();
    assert!(matches!(
        SmtpMailer::new(no_host),
        Err(ConfigError::InvalidSmtpHost { .. })
    ));

    let mut bad_from = config(25);
    bad_from.from = "not an address".to_owned();
    assert!(matches!(
        SmtpMailer::new(bad_from),
        Err(ConfigError::InvalidFrom { .. })
    ));

    let mut zero = config(25);
    zero.timeout = Duration::ZERO;
    assert!(matches!(SmtpMailer::new(zero), Err(ConfigError::ZeroTimeout)));
}

#[test]
fn smtp_config_new_defaults_to_starttls_on_the_submission_port() {
    let config = SmtpConfig::new("smtp.example.com", FROM);
    assert_eq!((config.tls, config.port), (SmtpTls::StartTls, 587));
    assert_eq!(SmtpTls::Tls.default_port(), 465);
    assert_eq!(SmtpTls::None.default_port(), 25);
}
