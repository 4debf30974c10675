//! Reminders before expiry and the expiry's notice to the sender, end to
//! end on every backend: invitations made over the API, the clock moved,
//! the use cases' rounds run, and the real templates rendered by the email
//! dispatcher into a recording mailer, in English and German.

mod common;

use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::{Method, StatusCode};
use async_trait::async_trait;
use common::Api;
use rsvp_app::{DispatchSettings, EmailDispatcher, MailError, Mailer, OutgoingEmail, SentEmail};
use serde_json::json;
use time::Duration;

/// Keeps every email handed to it.
#[derive(Default)]
struct Outbox(Mutex<Vec<OutgoingEmail>>);

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, email: &OutgoingEmail) -> Result<SentEmail, MailError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(email.clone());
        Ok(SentEmail::default())
    }
}

impl Outbox {
    /// The emails sent since the last call, by recipient then subject.
    fn take(&self) -> Vec<OutgoingEmail> {
        let mut sent = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        sent.sort_by(|a, b| (a.to.as_str(), &a.content.subject).cmp(&(b.to.as_str(), &b.content.subject)));
        sent
    }
}

fn dispatcher(api: &Api, outbox: &Arc<Outbox>) -> EmailDispatcher {
    EmailDispatcher::new(
        api.ports.clone(),
        Arc::new(rsvp_mail::TemplateRenderer::new()),
        outbox.clone(),
        DispatchSettings::new("https://rsvp.test"),
    )
}

/// Invites `email` in `locale` for 5 days: the id.
async fn invite(api: &Api, key: &str, email: &str, locale: &str) -> String {
    let reply = api
        .invite(key, json!({"email": email, "locale": locale, "expires_in_days": 5}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn event_types(api: &Api, key: &str) -> Vec<String> {
    let reply = api.call(Method::GET, "/v1/events?limit=100", Some(key), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_reminder_and_an_expiry_notice_are_rendered_and_sent_in_each_language(api: Api) {
    let (_, key) = api.business("Acme", "ann@acme.test").await;
    let bob = invite(&api, &key, "bob@globex.test", "en").await;
    invite(&api, &key, "carl@globex.test", "de").await;
    let outbox = Arc::new(Outbox::default());
    let dispatcher = dispatcher(&api, &outbox);
    dispatcher.run_once().await.unwrap();
    let first = outbox.take();
    let subjects: Vec<&str> = first.iter().map(|e| e.content.subject.as_str()).collect();
    assert_eq!(
        subjects,
        ["Acme invites you to connect", "Acme lädt Sie zur Vernetzung ein"]
    );

    // Two days before expiry, inside the default 72 hours.
    api.clock.advance(Duration::days(3));
    let app = &api.state.app;
    assert_eq!(app.send_reminders(100).await, Ok(2));
    assert_eq!(app.send_reminders(100).await, Ok(0), "one reminder each");
    dispatcher.run_once().await.unwrap();
    let reminders = outbox.take();
    let sent: Vec<(&str, &str)> = reminders
        .iter()
        .map(|e| (e.to.as_str(), e.content.subject.as_str()))
        .collect();
    assert_eq!(
        sent,
        [
            ("bob@globex.test", "Reminder: Acme invites you to connect"),
            ("carl@globex.test", "Erinnerung: Acme lädt Sie zur Vernetzung ein"),
        ]
    );
    assert!(
        reminders[0]
            .content
            .text
            .contains("A reminder: Acme has invited your business")
    );
    assert!(
        reminders[1]
            .content
            .text
            .contains("Zur Erinnerung: Acme hat Ihr Unternehmen eingeladen")
    );
    for (reminder, original) in reminders.iter().zip(&first) {
        let link = |email: &OutgoingEmail| {
            let text = &email.content.text;
            let start = text.find("https://rsvp.test/invite/").unwrap();
            text[start..].split_whitespace().next().unwrap().to_owned()
        };
        assert_ne!(link(reminder), link(original), "a new link");
        let page = api
            .call(Method::GET, &link(reminder)["https://rsvp.test".len()..], None, None)
            .await;
        assert_eq!(page.status, StatusCode::OK, "the reminder's link opens the invitation");
    }

    api.clock.advance(Duration::days(3));
    assert_eq!(app.expire_due(100).await, Ok(2));
    dispatcher.run_once().await.unwrap();
    let notices = outbox.take();
    let sent: Vec<(&str, &str)> = notices
        .iter()
        .map(|e| (e.to.as_str(), e.content.subject.as_str()))
        .collect();
    assert_eq!(
        sent,
        [
            (
                "ann@acme.test",
                "Ihre Einladung an carl@globex.test ist unbeantwortet abgelaufen"
            ),
            ("ann@acme.test", "Your invitation to bob@globex.test expired unanswered"),
        ]
    );
    assert!(
        notices[0].content.text.starts_with("Guten Tag Ann Lee,"),
        "{}",
        notices[0].content.text
    );
    assert!(
        notices[1].content.text.starts_with("Hello Ann Lee,"),
        "{}",
        notices[1].content.text
    );
    for notice in &notices {
        assert_eq!(notice.list_unsubscribe, None, "to the business's own user");
        assert!(!notice.content.html.contains("href=") && !notice.content.html.contains("<img"));
    }
    assert_eq!(app.expire_due(100).await, Ok(0));
    dispatcher.run_once().await.unwrap();
    assert!(outbox.take().is_empty(), "one notice each");

    let types = event_types(&api, &key).await;
    let count = |t: &str| types.iter().filter(|e| *e == t).count();
    assert_eq!(
        (count("invitation.reminded"), count("invitation.expired")),
        (2, 2),
        "{types:?}"
    );
    let read = api
        .call(Method::GET, &format!("/v1/invitations/{bob}"), Some(&key), None)
        .await;
    assert_eq!(read.body["status"], "expired");
    assert_eq!(
        read.body["email_delivery"], "sent",
        "the reminder's fate, not the notice's"
    );
}

async fn a_business_at_its_email_cap_gets_its_reminders_once_the_hour_has_room(api: Api) {
    let (_, key) = api.business("Acme", "ann@acme.test").await;
    invite(&api, &key, "bob@globex.test", "en").await;
    invite(&api, &key, "carl@globex.test", "de").await;
    api.clock.advance(Duration::days(3));
    // The cap (2 an hour, below) is taken by two new invitations.
    invite(&api, &key, "dora@globex.test", "en").await;
    invite(&api, &key, "emil@globex.test", "en").await;
    let app = &api.state.app;
    assert_eq!(app.send_reminders(100).await, Ok(0), "no room this hour");
    let types = event_types(&api, &key).await;
    assert!(!types.iter().any(|t| t == "invitation.reminded"), "{types:?}");
    api.clock.advance(Duration::minutes(62));
    assert_eq!(
        app.send_reminders(100).await,
        Ok(2),
        "still due, sent once there is room"
    );
}

mod memory {
    #[actix_web::test]
    async fn a_reminder_and_an_expiry_notice_are_rendered_and_sent_in_each_language() {
        super::a_reminder_and_an_expiry_notice_are_rendered_and_sent_in_each_language(super::Api::memory().await).await;
    }

    #[actix_web::test]
    async fn a_business_at_its_email_cap_gets_its_reminders_once_the_hour_has_room() {
        let api = super::Api::memory_with(|_, settings| settings.emails_per_hour = 2).await;
        super::a_business_at_its_email_cap_gets_its_reminders_once_the_hour_has_room(api).await;
    }
}

mod sqlite {
    #[actix_web::test]
    async fn a_reminder_and_an_expiry_notice_are_rendered_and_sent_in_each_language() {
        super::a_reminder_and_an_expiry_notice_are_rendered_and_sent_in_each_language(super::Api::sqlite().await).await;
    }

    #[actix_web::test]
    async fn a_business_at_its_email_cap_gets_its_reminders_once_the_hour_has_room() {
        let api = super::Api::database_with(false, |_, settings| settings.emails_per_hour = 2).await;
        super::a_business_at_its_email_cap_gets_its_reminders_once_the_hour_has_room(api).await;
    }
}

mod postgres {
    #[actix_web::test]
    async fn a_reminder_and_an_expiry_notice_are_rendered_and_sent_in_each_language() {
        super::a_reminder_and_an_expiry_notice_are_rendered_and_sent_in_each_language(super::Api::postgres().await)
            .await;
    }

    #[actix_web::test]
    async fn a_business_at_its_email_cap_gets_its_reminders_once_the_hour_has_room() {
        let api = super::Api::database_with(true, |_, settings| settings.emails_per_hour = 2).await;
        super::a_business_at_its_email_cap_gets_its_reminders_once_the_hour_has_room(api).await;
    }
}
