//! [`EmailDispatcher`]: drains the email outbox — claims due jobs, renders,
//! sends, records the outcome, retries transient failures with exponential
//! backoff and jitter, gives up after a configured number of attempts.

use std::sync::Arc;

use rsvp_domain::InvitationStatus;
use time::Duration;

use crate::ports::{
    EmailJob, EmailOutcome, EmailRenderer, InvitationEmail, Locale, MailError, Mailer, OutgoingEmail, StoreError,
};
use crate::{AppError, Ports};

/// Tunables of the dispatcher.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchSettings {
    /// Base of links: `<public_url>/invite/<token>`.
    pub public_url: String,
    /// Language when the invitee's is unknown.
    pub default_locale: Locale,
    /// Jobs claimed per round.
    pub batch_size: usize,
    /// How long a claimed job is reserved for this dispatcher (a crashed
    /// dispatcher's jobs come back after it).
    pub lease: Duration,
    /// Attempts before giving up (the first send counts).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles with each attempt.
    pub backoff_base: Duration,
    /// Longest delay between attempts.
    pub backoff_max: Duration,
}

impl DispatchSettings {
    /// Defaults: English, 50 per round, 5-minute lease, 8 attempts, backoff
    /// from 30 s doubling up to 1 h.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into(),
            default_locale: Locale::En,
            batch_size: 50,
            lease: Duration::minutes(5),
            max_attempts: 8,
            backoff_base: Duration::seconds(30),
            backoff_max: Duration::hours(1),
        }
    }

    /// The delay after failed attempt number `attempt` (1-based) of the job
    /// whose id gives `seed`: `base * 2^(attempt-1)`, capped, then scaled by
    /// a factor in [0.5, 1.0) so that jobs failing together do not retry
    /// together.
    pub fn backoff(&self, attempt: u32, seed: u128) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let raw = self.backoff_base * 2f64.powi(i32::try_from(exponent).unwrap_or(30));
        let capped = if raw > self.backoff_max { self.backoff_max } else { raw };
        // Spread by the job id (and attempt), deterministic so tests can predict it.
        let mix = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(u128::from(attempt))
            >> 64;
        let fraction = (mix % 1000) as f64 / 1000.0;
        capped * (0.5 + fraction / 2.0)
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Jobs claimed.
    pub claimed: usize,
    /// Sent.
    pub sent: usize,
    /// Failed transiently, scheduled again.
    pub retried: usize,
    /// Given up (permanent failure, last attempt, or nothing left to send).
    pub failed: usize,
}

/// Drains the outbox. Run one per process; several processes may run at
/// once (claims never hand one job to two dispatchers).
#[derive(Clone)]
pub struct EmailDispatcher {
    ports: Ports,
    renderer: Arc<dyn EmailRenderer>,
    mailer: Arc<dyn Mailer>,
    settings: DispatchSettings,
}

impl std::fmt::Debug for EmailDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailDispatcher")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn message_id_domain(public_url: &str) -> &str {
    let rest = public_url.split_once("://").map_or(public_url, |(_, rest)| rest);
    let host = rest.split(['/', ':', '?', '#']).next().unwrap_or_default();
    // A Message-ID's right side must be a plain ASCII domain: an IPv6
    // literal, an empty or an internationalized host falls back.
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        "rsvp.localhost"
    } else {
        host
    }
}

impl EmailDispatcher {
    /// A dispatcher over the same ports as the [`App`](crate::App).
    pub fn new(
        ports: Ports,
        renderer: Arc<dyn EmailRenderer>,
        mailer: Arc<dyn Mailer>,
        settings: DispatchSettings,
    ) -> Self {
        Self {
            ports,
            renderer,
            mailer,
            settings,
        }
    }

    /// The stable Message-ID of a job's email.
    pub fn message_id(&self, job: &EmailJob) -> String {
        format!("{}@{}", job.id, message_id_domain(&self.settings.public_url))
    }

    /// Claims up to `batch_size` due jobs and handles each.
    ///
    /// # Errors
    /// Store failures only; a failing email is recorded, not returned.
    pub async fn run_once(&self) -> Result<DispatchReport, AppError> {
        let now = self.ports.clock.now();
        let jobs = self
            .ports
            .store
            .claim_email_jobs(now, self.settings.batch_size, self.settings.lease)
            .await?;
        let mut report = DispatchReport {
            claimed: jobs.len(),
            ..DispatchReport::default()
        };
        for job in jobs {
            let outcome = self.attempt(&job).await?;
            match &outcome {
                EmailOutcome::Sent => report.sent += 1,
                EmailOutcome::Retry { .. } => report.retried += 1,
                // The reason is kept on the job (`last_error`) for operators.
                EmailOutcome::Failed { .. } => report.failed += 1,
            }
            match self
                .ports
                .store
                .finish_email_job(job.id, &outcome, self.ports.clock.now())
                .await
            {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Ok(report)
    }

    async fn attempt(&self, job: &EmailJob) -> Result<EmailOutcome, AppError> {
        let store = &self.ports.store;
        let now = self.ports.clock.now();
        let Some(invitation) = store.get_invitation(job.invitation_id).await? else {
            return Ok(EmailOutcome::Failed {
                error: "the invitation no longer exists".into(),
            });
        };
        let status = invitation.status_at(now);
        if status != InvitationStatus::Pending {
            return Ok(EmailOutcome::Failed {
                error: format!("not sent: the invitation is {status}"),
            });
        }
        let Some(token) = &job.link_token else {
            return Ok(EmailOutcome::Failed {
                error: "the job has no link token".into(),
            });
        };
        let sender = store.get_business(invitation.business_id).await?;
        let sender_name = sender.map(|b| b.name.to_string()).unwrap_or_default();
        let sender_user = store.get_user(invitation.sent_by_user_id).await?;
        let sender_user = sender_user.map_or_else(|| sender_name.clone(), |u| u.display_name());
        let invitee_name = match (&invitation.first_name, &invitation.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
            (None, None) => None,
        };
        let email = InvitationEmail {
            locale: self.settings.default_locale,
            sender_business: sender_name,
            sender_user,
            invitee_name,
            message: invitation.message.as_ref().map(ToString::to_string),
            expires_at: invitation.expires_at,
            accept_url: format!(
                "{}/invite/{}",
                self.settings.public_url.trim_end_matches('/'),
                token.expose()
            ),
            is_reminder: job.created_at > invitation.created_at,
        };
        let content = match self.renderer.render(&email) {
            Ok(content) => content,
            Err(error) => {
                return Ok(EmailOutcome::Failed {
                    error: error.to_string(),
                });
            }
        };
        let outgoing = OutgoingEmail {
            message_id: self.message_id(job),
            to: job.to.clone(),
            content,
        };
        Ok(match self.mailer.send(&outgoing).await {
            Ok(()) => EmailOutcome::Sent,
            Err(MailError::Permanent(error)) => EmailOutcome::Failed { error },
            Err(MailError::Transient(error)) if job.attempts >= self.settings.max_attempts => EmailOutcome::Failed {
                error: format!("gave up after {} attempts: {error}", job.attempts),
            },
            Err(MailError::Transient(error)) => EmailOutcome::Retry {
                retry_at: now + self.settings.backoff(job.attempts.max(1), job.id.as_uuid().as_u128()),
                error,
            },
        })
    }
}
