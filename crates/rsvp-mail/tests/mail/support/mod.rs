//! Helpers shared by the tests: sample emails, temporary directories, a
//! small MIME reader, the SMTP server and the Postmark stand-in.

#![allow(dead_code)]

pub mod eml;
pub mod postmark;
pub mod smtp_server;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rsvp_app::{InvitationEmail, Locale, NamedAddress, OutgoingEmail, RenderedEmail};
use rsvp_domain::EmailAddress;
use time::macros::datetime;

/// The sender every transport test uses.
pub const FROM: &str = "rsvp <no-reply@rsvp.example>";
/// A job id as the dispatcher passes it (no domain).
pub const JOB_ID: &str = "0190f3a2-7b1c-7def-8000-0123456789ab";
/// The accept link of [`invitation`].
pub const ACCEPT_URL: &str = "https://rsvp.example/invite/tok_abc123";

/// An invitation email with every optional value set.
pub fn invitation(locale: Locale) -> InvitationEmail {
    InvitationEmail {
        locale,
        sender_business: "Acme Ltd".to_owned(),
        sender_user: "Ann Lee".to_owned(),
        invitee_name: Some("Bob Stone".to_owned()),
        message: Some("Looking forward to trading with you.".to_owned()),
        expires_at: datetime!(2026-11-22 10:00 UTC),
        accept_url: ACCEPT_URL.to_owned(),
        unsubscribe_url: UNSUBSCRIBE_URL.to_owned(),
        invitee_email: "bob@example.com".to_owned(),
        is_reminder: false,
    }
}

/// The one-click unsubscribe link of [`invitation`].
pub const UNSUBSCRIBE_URL: &str = "https://rsvp.example/unsubscribe/tok_abc123";

/// An outgoing invitation email as the dispatcher hands it over: the
/// inviter's display name, `Reply-To` the inviter, the one-click link.
pub fn invitation_outgoing(message_id: &str, to: &str, content: RenderedEmail) -> OutgoingEmail {
    OutgoingEmail {
        from_name: Some("Ann Lee (Acme Ltd) via rsvp".to_owned()),
        reply_to: Some(NamedAddress {
            name: Some("Ann Lee".to_owned()),
            email: EmailAddress::parse("ann@acme.example").unwrap(),
        }),
        list_unsubscribe: Some(UNSUBSCRIBE_URL.to_owned()),
        ..outgoing(message_id, to, content)
    }
}

/// An outgoing email to `to` with `content`.
pub fn outgoing(message_id: &str, to: &str, content: RenderedEmail) -> OutgoingEmail {
    OutgoingEmail::new(message_id, EmailAddress::parse(to).unwrap(), content)
}

/// A directory under the system's temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "rsvp-mail-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The names of the entries, sorted.
    pub fn entries(&self) -> Vec<String> {
        entries(&self.0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The names of the entries of `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A local port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
