//! The template renderer: built-in templates, escaping, operator overrides.

use rsvp_app::{EmailRenderer, Locale, RenderedEmail};
use rsvp_mail::{TEMPLATE_FILES, TemplateError, TemplateRenderer};
use time::macros::datetime;

use crate::support::{ACCEPT_URL, TempDir, UNSUBSCRIBE_URL, invitation};

fn render(renderer: &TemplateRenderer, email: &rsvp_app::InvitationEmail) -> RenderedEmail {
    renderer.render(email).unwrap()
}

fn assert_no_external_assets(html: &str) {
    for needle in ["<img", "<link", "<script", "src=", "url(", "@import"] {
        assert!(
            !html.contains(needle),
            "the HTML must not load anything ({needle} found)"
        );
    }
}

#[test]
fn an_english_invitation_names_the_sender_the_invitee_the_message_the_expiry_and_the_link() {
    let out = render(&TemplateRenderer::new(), &invitation(Locale::En));
    assert_eq!(out.subject, "Acme Ltd invites you to connect");
    assert!(out.text.starts_with("Hello Bob Stone,\n"), "{}", out.text);
    for body in [&out.text, &out.html] {
        for needle in [
            "Acme Ltd",
            "Ann Lee",
            "Bob Stone",
            "Looking forward to trading with you.",
            "22 November 2026",
            ACCEPT_URL,
        ] {
            assert!(body.contains(needle), "{needle:?} missing from:\n{body}");
        }
        assert!(!body.contains("Reminder") && !body.contains("reminder"));
    }
    assert!(out.html.contains(&format!(r#"href="{ACCEPT_URL}""#)));
    assert!(out.html.contains(r#"<html lang="en">"#));
    assert!(out.html.contains(r#"name="viewport""#));
    assert_no_external_assets(&out.html);
    assert!(out.text.ends_with('\n') && !out.text.ends_with("\n\n"));
}

#[test]
fn a_german_invitation_says_the_same_in_german_with_a_german_date() {
    let out = render(&TemplateRenderer::new(), &invitation(Locale::De));
    assert_eq!(out.subject, "Acme Ltd lädt Sie zur Vernetzung ein");
    assert!(out.text.starts_with("Guten Tag Bob Stone,\n"), "{}", out.text);
    for body in [&out.text, &out.html] {
        for needle in [
            "Acme Ltd",
            "Ann Lee",
            "Bob Stone",
            "Looking forward to trading with you.",
            "22. November 2026",
            ACCEPT_URL,
        ] {
            assert!(body.contains(needle), "{needle:?} missing from:\n{body}");
        }
        assert!(!body.contains("Erinnerung"));
    }
    assert!(
        out.text.contains("bis zum 22. November 2026 (UTC) gültig"),
        "{}",
        out.text
    );
    assert!(out.text.contains("annehmen oder ablehnen") && out.html.contains("anzunehmen oder abzulehnen"));
    assert!(out.html.contains(r#"<html lang="de">"#));
    assert_no_external_assets(&out.html);
}

#[test]
fn a_resend_is_worded_as_a_reminder_in_both_languages() {
    let renderer = TemplateRenderer::new();
    for (locale, subject_prefix, wording) in [
        (Locale::En, "Reminder: ", "still waiting for your answer"),
        (Locale::De, "Erinnerung: ", "wartet noch auf Ihre Antwort"),
    ] {
        let mut email = invitation(locale);
        email.is_reminder = true;
        let out = render(&renderer, &email);
        assert!(out.subject.starts_with(subject_prefix), "{}", out.subject);
        assert!(out.text.contains(wording), "{}", out.text);
        assert!(out.html.contains(wording), "{}", out.html);
        assert!(out.text.contains(ACCEPT_URL) && out.html.contains(ACCEPT_URL));
    }
}

#[test]
fn without_the_optional_values_the_email_greets_generically_and_leaves_them_out() {
    let renderer = TemplateRenderer::new();
    for (locale, greeting, message_label, sender_line) in [
        (Locale::En, "Hello,\n", "Message from", "comes from"),
        (Locale::De, "Guten Tag,\n", "Nachricht von", "kommt von"),
    ] {
        let mut email = invitation(locale);
        email.invitee_name = None;
        email.message = Some("   ".to_owned()); // blank counts as none
        email.sender_user = String::new();
        let out = render(&renderer, &email);
        assert!(out.text.starts_with(greeting), "{}", out.text);
        for body in [&out.text, &out.html] {
            assert!(!body.contains(message_label), "{body}");
            assert!(!body.contains(sender_line), "{body}");
            assert!(!body.contains("None") && !body.contains("undefined"), "{body}");
            assert!(body.contains("Acme Ltd") && body.contains(ACCEPT_URL));
        }
    }
}

#[test]
fn every_value_is_escaped_in_html_and_verbatim_in_text() {
    let hostile = r#"<script>alert("x&y")</script> 'q'"#;
    let escaped = "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt; &#x27;q&#x27;";
    for locale in [Locale::En, Locale::De] {
        let mut email = invitation(locale);
        email.sender_business = format!("Biz {hostile}");
        email.sender_user = format!("User {hostile}");
        email.invitee_name = Some(format!("Invitee {hostile}"));
        email.message = Some(format!("Message {hostile}"));
        email.accept_url = r#"https://rsvp.example/invite/a"b'c<d>&e"#.to_owned();
        let out = render(&TemplateRenderer::new(), &email);

        assert!(!out.html.contains("<script"), "{}", out.html);
        assert!(!out.html.contains(hostile));
        for label in ["Biz", "User", "Invitee", "Message"] {
            assert!(
                out.html.contains(&format!("{label} {escaped}")),
                "{label} not escaped:\n{}",
                out.html
            );
        }
        assert!(
            out.html
                .contains(r#"href="https://rsvp.example/invite/a&quot;b&#x27;c&lt;d&gt;&amp;e""#),
            "{}",
            out.html
        );

        for label in ["Biz", "User", "Invitee", "Message"] {
            assert!(out.text.contains(&format!("{label} {hostile}")), "{}", out.text);
        }
        assert!(out.subject.contains(&format!("Biz {hostile}")));
    }
}

#[test]
fn the_subject_is_one_line_even_when_a_name_holds_line_breaks() {
    let mut email = invitation(Locale::En);
    email.sender_business = "Acme\r\nBcc: victim@example.com".to_owned();
    let out = render(&TemplateRenderer::new(), &email);
    assert_eq!(out.subject, "Acme Bcc: victim@example.com invites you to connect");
}

#[test]
fn the_expiry_date_is_the_utc_date() {
    let mut email = invitation(Locale::En);
    // 02:00 on the 23rd at +05:00 is 21:00 on the 22nd in UTC.
    email.expires_at = datetime!(2026-11-23 02:00 +05:00);
    let out = render(&TemplateRenderer::new(), &email);
    assert!(out.text.contains("22 November 2026 (UTC)"), "{}", out.text);
}

fn write(dir: &TempDir, name: &str, source: &str) {
    std::fs::write(dir.path().join(name), source).unwrap();
}

#[test]
fn override_files_replace_their_built_in_templates_and_the_others_stay_built_in() {
    let dir = TempDir::new("templates");
    write(&dir, "invitation.en.subject.txt", "Custom: {{ sender_business }}\n");
    write(
        &dir,
        "invitation.en.html",
        r#"<p class="custom">{{ message }}</p><a href="{{ accept_url }}">{{ expires_on }}</a>"#,
    );
    write(&dir, "README.md", "notes for the operator; not a template\n");
    let renderer = TemplateRenderer::from_dir(dir.path()).unwrap();
    assert_eq!(
        renderer.overridden(),
        ["invitation.en.subject.txt", "invitation.en.html"]
    );

    let mut email = invitation(Locale::En);
    email.message = Some("<b>hi</b>".to_owned());
    let out = render(&renderer, &email);
    assert_eq!(out.subject, "Custom: Acme Ltd");
    assert_eq!(
        out.html,
        format!(r#"<p class="custom">&lt;b&gt;hi&lt;/b&gt;</p><a href="{ACCEPT_URL}">22 November 2026</a>"#)
    );
    let builtin = render(&TemplateRenderer::new(), &email);
    assert_eq!(out.text, builtin.text, "the English text stays built-in");

    let german = render(&renderer, &invitation(Locale::De));
    assert_eq!(german, render(&TemplateRenderer::new(), &invitation(Locale::De)));
}

#[test]
fn every_documented_template_file_name_is_read() {
    let dir = TempDir::new("templates");
    for name in TEMPLATE_FILES {
        // Each family's bodies must carry its one required value.
        let required = if name.starts_with("expiry_notice.") {
            "invitee_email"
        } else {
            "accept_url"
        };
        write(&dir, name, &format!("{name} {{{{ {required} }}}}"));
    }
    let renderer = TemplateRenderer::from_dir(dir.path()).unwrap();
    assert_eq!(renderer.overridden().len(), 12);
    let out = render(&renderer, &invitation(Locale::De));
    assert_eq!(out.subject, format!("invitation.de.subject.txt {ACCEPT_URL}"));
    assert_eq!(out.text, format!("invitation.de.txt {ACCEPT_URL}\n"));
    assert_eq!(out.html, format!("invitation.de.html {ACCEPT_URL}"));
    let notice = renderer.render_expiry_notice(&expiry_notice(Locale::En)).unwrap();
    assert_eq!(notice.subject, "expiry_notice.en.subject.txt bob@globex.test");
    assert_eq!(notice.text, "expiry_notice.en.txt bob@globex.test\n");
}

fn expiry_notice(locale: Locale) -> rsvp_app::ExpiryNoticeEmail {
    rsvp_app::ExpiryNoticeEmail {
        locale,
        sender_business: "Acme <Ltd>".to_owned(),
        sender_user: "Ann Lee".to_owned(),
        invitee_email: "bob@globex.test".to_owned(),
        invitee_name: Some("Bob Stone".to_owned()),
        sent_at: datetime!(2026-11-08 09:30 UTC),
        expired_at: datetime!(2026-11-22 09:30 UTC),
    }
}

#[test]
fn the_expiry_notice_names_the_address_that_did_not_answer_in_both_languages_without_links_or_images() {
    let renderer = TemplateRenderer::new();
    let english = renderer.render_expiry_notice(&expiry_notice(Locale::En)).unwrap();
    assert_eq!(english.subject, "Your invitation to bob@globex.test expired unanswered");
    let german = renderer.render_expiry_notice(&expiry_notice(Locale::De)).unwrap();
    assert_eq!(
        german.subject,
        "Ihre Einladung an bob@globex.test ist unbeantwortet abgelaufen"
    );
    for (out, dates) in [
        (&english, ["8 November 2026", "22 November 2026"]),
        (&german, ["8. November 2026", "22. November 2026"]),
    ] {
        for body in [&out.text, &out.html] {
            for needle in ["bob@globex.test", "Bob Stone", "Ann Lee", dates[0], dates[1]] {
                assert!(body.contains(needle), "{needle:?} missing from:\n{body}");
            }
        }
        assert!(out.text.contains("Acme <Ltd>"), "verbatim in text");
        assert!(out.html.contains("Acme &lt;Ltd&gt;"), "escaped in HTML");
        assert_no_external_assets(&out.html);
        assert!(!out.html.contains("href="), "the notice links to nothing");
    }
}

#[test]
fn an_expiry_notice_template_is_overridden_and_one_without_the_address_is_refused() {
    let dir = TempDir::new("templates");
    write(&dir, "expiry_notice.de.txt", "Abgelaufen: {{ invitee_email }}");
    let renderer = TemplateRenderer::from_dir(dir.path()).unwrap();
    assert_eq!(renderer.overridden(), ["expiry_notice.de.txt"]);
    let german = renderer.render_expiry_notice(&expiry_notice(Locale::De)).unwrap();
    assert_eq!(german.text, "Abgelaufen: bob@globex.test\n");
    let builtin = TemplateRenderer::new();
    let english = renderer.render_expiry_notice(&expiry_notice(Locale::En)).unwrap();
    assert_eq!(
        english,
        builtin.render_expiry_notice(&expiry_notice(Locale::En)).unwrap()
    );

    let error = refused("expiry_notice.en.html", "<p>{{ sender_business }}</p>");
    assert_invalid(error, "expiry_notice.en.html", "invitee_email");
    let error = refused("expiry_notice.fr.txt", "{{ invitee_email }}");
    assert!(matches!(&error, TemplateError::UnknownFile { path, .. } if path.ends_with("expiry_notice.fr.txt")));
}

fn refused(name: &str, source: &str) -> TemplateError {
    let dir = TempDir::new("templates");
    write(&dir, name, source);
    match TemplateRenderer::from_dir(dir.path()) {
        Ok(_) => panic!("{name} with {source:?} was accepted"),
        Err(e) => e,
    }
}

fn assert_invalid(error: TemplateError, file: &str, reason_part: &str) {
    match &error {
        TemplateError::Invalid { path, reason } => {
            assert!(path.ends_with(file), "{}", path.display());
            assert!(reason.contains(reason_part), "{reason}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(error.to_string().contains(file), "{error}");
}

#[test]
fn a_template_with_a_syntax_error_is_refused_when_loaded() {
    let error = refused("invitation.de.txt", "{{ accept_url }}\n{% if message %}\nno endif\n");
    assert_invalid(error, "invitation.de.txt", "syntax error");
}

#[test]
fn a_template_using_an_unknown_variable_is_refused_when_loaded() {
    let error = refused("invitation.en.html", "{{ sender_bussiness }} {{ accept_url }}");
    assert_invalid(error, "invitation.en.html", "undefined");
}

#[test]
fn a_body_without_the_accept_link_is_refused_when_loaded() {
    let error = refused("invitation.en.txt", "Hello {{ sender_business }}");
    assert_invalid(error, "invitation.en.txt", "accept_url");
}

#[test]
fn an_empty_subject_is_refused_when_loaded() {
    let error = refused("invitation.de.subject.txt", "{% if false %}x{% endif %}\n");
    assert_invalid(error, "invitation.de.subject.txt", "empty");
}

#[test]
fn an_unknown_invitation_template_file_is_refused_when_loaded() {
    let error = refused("invitation.fr.html", "{{ accept_url }}");
    assert!(matches!(&error, TemplateError::UnknownFile { path, .. } if path.ends_with("invitation.fr.html")));
    assert!(
        error.to_string().contains("invitation.en.subject.txt"),
        "the error lists the known names"
    );
}

#[test]
fn a_missing_template_directory_is_an_error() {
    let dir = TempDir::new("templates");
    let missing = dir.path().join("nope");
    assert!(matches!(
        TemplateRenderer::from_dir(&missing),
        Err(TemplateError::Io { .. })
    ));
}

#[test]
fn a_byte_order_mark_at_the_start_of_a_template_is_ignored() {
    let dir = TempDir::new("templates");
    write(
        &dir,
        "invitation.en.subject.txt",
        "\u{feff}Custom: {{ sender_business }}",
    );
    let renderer = TemplateRenderer::from_dir(dir.path()).unwrap();
    assert_eq!(render(&renderer, &invitation(Locale::En)).subject, "Custom: Acme Ltd");
}

#[test]
fn a_template_including_another_is_refused_when_loaded() {
    let error = refused(
        "invitation.en.txt",
        "{% include 'invitation.de.txt' %} {{ accept_url }}",
    );
    assert_invalid(error, "invitation.en.txt", "");
}

#[test]
fn both_languages_link_to_the_opt_out_page_and_name_the_invited_address() {
    let renderer = TemplateRenderer::new();
    for (locale, words) in [
        (Locale::En, "Stop invitations from Acme Ltd or from everyone"),
        (Locale::De, "Keine Einladungen mehr von Acme Ltd oder von allen"),
    ] {
        let email = render(&renderer, &invitation(locale));
        assert!(
            email.html.contains(&format!("href=\"{UNSUBSCRIBE_URL}\"")),
            "{locale:?}"
        );
        assert!(email.html.contains(words), "{locale:?}: {}", email.html);
        assert!(email.text.contains(UNSUBSCRIBE_URL), "{locale:?}");
        assert!(email.text.contains("bob@example.com"), "{locale:?}");
    }
}

#[test]
fn a_brand_sets_the_product_name_colour_and_logo_of_both_languages() {
    let brand = rsvp_app::Branding::new(
        "Acme Network",
        Some("#0f766e"),
        Some("https://cdn.acme.example/logo.png"),
    )
    .unwrap();
    let renderer = TemplateRenderer::new().with_branding(brand);
    for locale in [Locale::En, Locale::De] {
        let email = render(&renderer, &invitation(locale));
        assert!(email.html.contains("background-color:#0f766e"), "{locale:?}");
        assert!(!email.html.contains(rsvp_mail::DEFAULT_BRAND_COLOR), "{locale:?}");
        // An https logo is the page's: an email loads nothing remote.
        assert!(!email.html.contains("<img"), "{locale:?}");
        assert!(email.text.contains("Acme Network"), "{locale:?}");
    }
    let inline = "data:image/png;base64,iVBORw0KGgo=";
    let brand = rsvp_app::Branding::new("Acme Network", None, Some(inline)).unwrap();
    let renderer = TemplateRenderer::new().with_branding(brand);
    for locale in [Locale::En, Locale::De] {
        let email = render(&renderer, &invitation(locale));
        assert!(
            email
                .html
                .contains(&format!("<img src=\"{inline}\" alt=\"Acme Network\"")),
            "{locale:?}"
        );
    }
    let plain = render(&TemplateRenderer::new(), &invitation(Locale::En));
    assert!(!plain.html.contains("<img"), "no logo unless configured");
    assert!(plain.html.contains(rsvp_mail::DEFAULT_BRAND_COLOR));
}
