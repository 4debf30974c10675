//! The log transport on a real directory.

use rsvp_app::{EmailRenderer, Locale, MailError, Mailer};
use rsvp_mail::{ConfigError, LogMailer, TemplateRenderer};

use crate::support::eml::Eml;
use crate::support::{
    ACCEPT_URL, FROM, JOB_ID, TempDir, UNSUBSCRIBE_URL, entries, invitation, invitation_outgoing, outgoing,
};

#[tokio::test]
async fn the_log_mailer_writes_a_complete_multipart_message_into_a_new_directory() {
    let root = TempDir::new("log");
    let dir = root.path().join("data").join("outbox");
    let mailer = LogMailer::new(&dir, FROM).unwrap();
    let content = TemplateRenderer::new().render(&invitation(Locale::En)).unwrap();

    mailer
        .send(&outgoing(JOB_ID, "Bob@Example.com", content.clone()))
        .await
        .unwrap();

    assert_eq!(
        entries(&dir),
        [format!("{JOB_ID}.eml")],
        "one file, no temporary leftovers"
    );
    assert_eq!(mailer.path_for(JOB_ID), dir.join(format!("{JOB_ID}.eml")));
    // The brief names the file <id>.eml: the domain part of a Message-ID is not in the name.
    assert_eq!(
        mailer.path_for(&format!("{JOB_ID}@rsvp.example.com")),
        dir.join(format!("{JOB_ID}.eml"))
    );
    let eml = Eml::parse(&std::fs::read(mailer.path_for(JOB_ID)).unwrap());
    assert_eq!(eml.header("From"), Some("rsvp <no-reply@rsvp.example>"));
    assert_eq!(eml.header("To"), Some("Bob@Example.com"));
    assert_eq!(eml.header("Subject"), Some(content.subject.as_str()));
    assert_eq!(
        eml.header("Message-ID"),
        Some(format!("<{JOB_ID}@rsvp.example>").as_str())
    );
    assert_eq!(eml.header("MIME-Version"), Some("1.0"));
    let date = eml.header("Date").expect("a Date header");
    assert!(date.contains("20") && date.contains(':'), "{date}");

    assert_eq!(eml.parts.len(), 2);
    let text = eml.part("text/plain");
    assert_eq!(text.body.trim_end(), content.text.trim_end());
    let html = eml.part("text/html");
    assert_eq!(html.body.trim_end(), content.html.trim_end());
    assert!(text.body.contains(ACCEPT_URL) && html.body.contains(ACCEPT_URL));
    for part in &eml.parts {
        assert_eq!(
            part.header("Content-Transfer-Encoding"),
            Some("7bit"),
            "English is ASCII"
        );
    }
    let raw = std::fs::read_to_string(mailer.path_for(JOB_ID)).unwrap();
    assert!(
        raw.contains(&format!("href=\"{ACCEPT_URL}\"")),
        "the link is in the file verbatim"
    );
}

#[tokio::test]
async fn a_body_with_an_overlong_line_is_encoded_and_still_reads_back() {
    let root = TempDir::new("log");
    let mailer = LogMailer::new(root.path(), FROM).unwrap();
    let mut content = TemplateRenderer::new().render(&invitation(Locale::En)).unwrap();
    content.html = format!("<p>{}</p><a href=\"{ACCEPT_URL}\">ö</a>", "x".repeat(2000));
    mailer
        .send(&outgoing(JOB_ID, "bob@example.com", content.clone()))
        .await
        .unwrap();
    let eml = Eml::parse(&std::fs::read(mailer.path_for(JOB_ID)).unwrap());
    let html = eml.part("text/html");
    assert!(matches!(
        html.header("Content-Transfer-Encoding"),
        Some("quoted-printable" | "base64")
    ));
    assert_eq!(html.body.trim_end(), content.html);
    assert_eq!(eml.part("text/plain").header("Content-Transfer-Encoding"), Some("7bit"));
}

#[tokio::test]
async fn a_german_subject_survives_header_encoding() {
    let root = TempDir::new("log");
    let mailer = LogMailer::new(root.path(), FROM).unwrap();
    let content = TemplateRenderer::new().render(&invitation(Locale::De)).unwrap();
    mailer
        .send(&outgoing(JOB_ID, "bob@example.com", content))
        .await
        .unwrap();
    let eml = Eml::parse(&std::fs::read(mailer.path_for(JOB_ID)).unwrap());
    assert_eq!(eml.header("Subject"), Some("Acme Ltd lädt Sie zur Vernetzung ein"));
    assert!(eml.part("text/plain").body.contains("Über diesen Link"));
    assert_eq!(eml.part("text/plain").header("Content-Transfer-Encoding"), Some("8bit"));
    let raw = std::fs::read_to_string(mailer.path_for(JOB_ID)).unwrap();
    assert!(
        raw.contains("Über diesen Link"),
        "the German text is in the file as it is"
    );
}

#[tokio::test]
async fn a_retry_of_the_same_message_replaces_its_file() {
    let root = TempDir::new("log");
    let mailer = LogMailer::new(root.path(), FROM).unwrap();
    let mut content = TemplateRenderer::new().render(&invitation(Locale::En)).unwrap();
    mailer
        .send(&outgoing(JOB_ID, "bob@example.com", content.clone()))
        .await
        .unwrap();
    content.subject = "second attempt".to_owned();
    mailer
        .send(&outgoing(JOB_ID, "bob@example.com", content))
        .await
        .unwrap();

    assert_eq!(root.entries(), [format!("{JOB_ID}.eml")]);
    let eml = Eml::parse(&std::fs::read(mailer.path_for(JOB_ID)).unwrap());
    assert_eq!(eml.header("Subject"), Some("second attempt"));
}

#[tokio::test]
async fn a_message_id_that_is_not_a_safe_file_name_is_a_permanent_failure() {
    let root = TempDir::new("log");
    let dir = root.path().join("outbox");
    let mailer = LogMailer::new(&dir, FROM).unwrap();
    let content = TemplateRenderer::new().render(&invitation(Locale::En)).unwrap();
    for id in ["../escaped", "a/b", ".hidden", ""] {
        let result = mailer.send(&outgoing(id, "bob@example.com", content.clone())).await;
        assert!(matches!(result, Err(MailError::Permanent(_))), "{id:?}: {result:?}");
    }
    assert_eq!(root.entries(), Vec::<String>::new(), "nothing was written anywhere");
}

#[tokio::test]
async fn an_unwritable_directory_is_a_transient_failure() {
    let root = TempDir::new("log");
    let blocker = root.path().join("not-a-directory");
    std::fs::write(&blocker, "a file where the directory should be").unwrap();
    let mailer = LogMailer::new(&blocker, FROM).unwrap();
    let content = TemplateRenderer::new().render(&invitation(Locale::En)).unwrap();
    let result = mailer.send(&outgoing(JOB_ID, "bob@example.com", content)).await;
    assert!(
        matches!(&result, Err(MailError::Transient(e)) if e.contains("not-a-directory")),
        "{result:?}"
    );
}

#[test]
fn a_sender_that_is_not_an_address_is_refused() {
    assert!(matches!(
        LogMailer::new("/tmp/unused", "rsvp"),
        Err(ConfigError::InvalidFrom { .. })
    ));
}

#[tokio::test]
async fn an_invitation_email_says_who_invites_replies_to_them_and_carries_one_click_unsubscribe() {
    let root = TempDir::new("log-headers");
    let mailer = LogMailer::new(root.path(), FROM).unwrap();
    let content = TemplateRenderer::new().render(&invitation(Locale::En)).unwrap();
    mailer
        .send(&invitation_outgoing(JOB_ID, "bob@example.com", content))
        .await
        .unwrap();
    let eml = Eml::parse(&std::fs::read(mailer.path_for(JOB_ID)).unwrap());
    assert_eq!(
        eml.header("From"),
        // Written as an RFC 2047 encoded word (the parentheses are not a comment); shown decoded.
        Some("Ann Lee (Acme Ltd) via rsvp <no-reply@rsvp.example>"),
        "the configured address, the inviter's name"
    );
    assert_eq!(eml.header("Reply-To"), Some("\"Ann Lee\" <ann@acme.example>"));
    assert_eq!(
        eml.header("List-Unsubscribe"),
        Some(format!("<{UNSUBSCRIBE_URL}>").as_str())
    );
    assert_eq!(eml.header("List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
    assert!(eml.part("text/plain").body.contains(UNSUBSCRIBE_URL));
}

#[tokio::test]
async fn a_german_and_an_english_email_go_through_the_log_transport_in_their_language() {
    let root = TempDir::new("log-locales");
    let mailer = LogMailer::new(root.path(), FROM).unwrap();
    let renderer = TemplateRenderer::new();
    for (locale, id, subject, body) in [
        (
            Locale::De,
            "job-de",
            "Acme Ltd lädt Sie zur Vernetzung ein",
            "Keine Einladungen mehr von Acme Ltd",
        ),
        (
            Locale::En,
            "job-en",
            "Acme Ltd invites you to connect",
            "To stop invitations from Acme Ltd",
        ),
    ] {
        let content = renderer.render(&invitation(locale)).unwrap();
        mailer
            .send(&invitation_outgoing(id, "bob@example.com", content))
            .await
            .unwrap();
        let eml = Eml::parse(&std::fs::read(mailer.path_for(id)).unwrap());
        assert_eq!(eml.header("Subject"), Some(subject), "{locale:?}");
        assert!(eml.part("text/plain").body.contains(body), "{locale:?}");
        assert!(
            eml.part("text/html")
                .body
                .contains(&format!("lang=\"{}\"", locale.as_str()))
        );
        assert_eq!(eml.header("List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
    }
}
