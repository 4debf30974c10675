//! The `log` transport: each message as an `.eml` file in a directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use lettre::message::Mailbox;
use rsvp_app::{MailError, Mailer, OutgoingEmail, SentEmail};

use crate::ConfigError;
use crate::message::{Bodies, build_message, check_message_id, parse_from};

/// Tells temporary files of concurrent writes apart.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The default transport: writes each message as `<dir>/<message_id>.eml`,
/// a complete RFC 5322 `multipart/alternative` message (CRLF line ends), as
/// an SMTP server would receive it. Its parts hold the text as it is
/// (`7bit` or `8bit`: readable, the accept link verbatim) unless a line
/// exceeds 998 octets, when they are quoted-printable or base64.
///
/// The directory is created when missing. Each message is written to a
/// hidden temporary file (`.<message_id>.eml.<n>.tmp`) in the same
/// directory, synced, then renamed, so a reader never sees half a file; a
/// retry of the same message replaces the file.
#[derive(Debug, Clone)]
pub struct LogMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl LogMailer {
    /// A mailer writing into `dir` (for the server: `<data dir>/outbox`),
    /// with `from` as the sender, e.g. `rsvp <no-reply@localhost>`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidFrom`] when `from` is not an address.
    pub fn new(dir: impl Into<PathBuf>, from: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            dir: dir.into(),
            from: parse_from(from)?,
        })
    }

    /// The directory the messages go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the message with this id is (or would be) written:
    /// `<dir>/<id>.eml`, where `<id>` is the Message-ID's part before `@`
    /// (the outbox job's id, as the brief names the file).
    pub fn path_for(&self, message_id: &str) -> PathBuf {
        let id = message_id.split('@').next().unwrap_or(message_id);
        self.dir.join(format!("{id}.eml"))
    }
}

#[async_trait]
impl Mailer for LogMailer {
    /// Writes the message file; there is no provider, so no provider
    /// message id.
    ///
    /// # Errors
    /// [`MailError::Permanent`] when the message cannot be built (a message
    /// id that is not a safe file name, an invalid recipient);
    /// [`MailError::Transient`] for I/O errors.
    async fn send(&self, email: &OutgoingEmail) -> Result<SentEmail, MailError> {
        check_message_id(&email.message_id)?;
        let bytes = build_message(&self.from, email, Bodies::Verbatim)?.formatted();
        let dir = self.dir.clone();
        let final_path = self.path_for(&email.message_id);
        let temp_path = dir.join(format!(
            ".{}.eml.{}-{}.tmp",
            email.message_id,
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let shown = final_path.display().to_string();
        let result = tokio::task::spawn_blocking(move || write_atomically(&dir, &temp_path, &final_path, &bytes))
            .await
            .map_err(|e| MailError::Transient(format!("the file writer task failed: {e}")))?;
        result
            .map(|()| SentEmail::default())
            .map_err(|e| MailError::Transient(format!("cannot write {shown}: {e}")))
    }
}

/// Writes `bytes` to `final_path` through a temporary file and a rename, so
/// a reader never sees half a message. Not flushed to the disk (no fsync):
/// a file survives the process being killed (it is in the kernel's page
/// cache), not a power loss. The log transport is for development and
/// tests; an fsync per email contended with the database's own commits on
/// the same disk (creates over HTTP: ~1,000 → ~1,350/s, docs/BENCHMARKS.md).
fn write_atomically(dir: &Path, temp_path: &Path, final_path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let written = (|| {
        let mut file = std::fs::File::create(temp_path)?;
        file.write_all(bytes)?;
        std::fs::rename(temp_path, final_path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(temp_path);
    }
    written
}
