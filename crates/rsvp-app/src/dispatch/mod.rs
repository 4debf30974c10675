//! [`EmailDispatcher`]: drains the email outbox — claims due jobs, renders,
//! sends them with bounded concurrency (each send under its own timeout),
//! records the outcome, retries transient failures with exponential backoff
//! and jitter, gives up after a configured number of attempts, and gives
//! back at once the jobs it claimed but could not handle.

mod round;

use round::{Prepared, RoundContext};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use futures_channel::mpsc;
use futures_util::future::{self, Either};
use futures_util::stream::{self, StreamExt};
use rsvp_domain::{BusinessId, EmailAddress, EmailJobId, Invitation, InvitationId, InvitationStatus, User, UserId};
use time::{Duration, OffsetDateTime};

use crate::ports::{
    EmailJob, EmailOutcome, EmailRenderer, InvitationEmail, Locale, MailError, Mailer, NamedAddress, OutgoingEmail,
    SentEmail, StoreError, Timer,
};
use crate::{AppError, Ports, PublicLinks};

/// Tunables of the dispatcher.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchSettings {
    /// The links in the emails (`<public url>/invite/<token>`,
    /// `<public url>/unsubscribe/<token>`); the public URL's host is also
    /// the right side of the Message-ID.
    pub links: PublicLinks,
    /// Language of invitations that stored none (created before rsvp
    /// stored one).
    pub default_locale: Locale,
    /// The product's name in the sender's display name (`Ann Lee (Acme)
    /// via <product>`); default `rsvp`.
    pub product_name: String,
    /// Jobs claimed per round.
    pub batch_size: usize,
    /// How long a claimed job is reserved for this dispatcher: a crashed
    /// dispatcher's jobs come back after it. Kept at least `send_timeout +
    /// 5 s`; a job whose remaining lease is shorter than `send_timeout` is
    /// given back unsent rather than sent late.
    pub lease: Duration,
    /// Attempts before giving up (the first send counts).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles with each attempt.
    pub backoff_base: Duration,
    /// Longest delay between attempts.
    pub backoff_max: Duration,
    /// Sends in flight at once within a round.
    pub concurrency: usize,
    /// Longest one send may take before it counts as a transient failure
    /// (`timeout`); enforced when the dispatcher has a [`Timer`]
    /// ([`EmailDispatcher::with_timer`]).
    pub send_timeout: Duration,
    /// The transport's name in logs and metrics (`log`, `smtp`, `http`).
    pub transport: String,
}

/// What a dispatcher needs left of a job's lease after its send, to record
/// the outcome before another dispatcher may claim the job.
const RECORD_MARGIN: Duration = Duration::seconds(5);

impl DispatchSettings {
    /// Defaults: English, 200 per round (a round waits for its last send
    /// before the next claim: a batch of many times the concurrency keeps
    /// the sends busy; docs/DECISIONS.md), 16 sends at once, 30 s per send,
    /// a 45 s lease (the send timeout and a margin), 8 attempts, backoff
    /// from 30 s doubling up to 1 h.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            links: PublicLinks::new(public_url),
            default_locale: Locale::En,
            product_name: "rsvp".to_owned(),
            batch_size: 200,
            lease: Duration::seconds(45),
            max_attempts: 8,
            backoff_base: Duration::seconds(30),
            backoff_max: Duration::hours(1),
            concurrency: 16,
            send_timeout: Duration::seconds(30),
            transport: "mail".to_owned(),
        }
    }

    /// The lease a claim takes: `lease`, but never less than the send
    /// timeout and the margin to record the outcome.
    pub fn effective_lease(&self) -> Duration {
        self.lease.max(self.send_timeout + RECORD_MARGIN)
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
    /// Given back unsent (the store failed before the send, or too little
    /// of the lease was left): due again at once.
    pub released: usize,
}

/// What came of one attempt, as told to a [`DispatchObserver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// The transport accepted the email.
    Sent,
    /// Failed transiently; another attempt is scheduled.
    Retried,
    /// Given up.
    Failed,
}

impl AttemptOutcome {
    /// `sent`, `retried` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retried => "retried",
            Self::Failed => "failed",
        }
    }
}

/// Why an attempt did not send: the class of the failure, for metrics and
/// alerts (the message itself goes to the log and the job's `last_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The send took longer than the send timeout.
    Timeout,
    /// The transport failed in a way worth retrying.
    Transient,
    /// The transport refused for good.
    Permanent,
    /// The template failed.
    Render,
    /// The invitation was answered, cancelled, expired or removed first.
    NotPending,
    /// The job had no link token to send.
    NoToken,
    /// The recipient opted out of the sender's invitations meanwhile.
    OptedOut,
}

impl FailureReason {
    /// `timeout`, `transient`, `permanent`, `render`, `not_pending`,
    /// `no_token`, `opted_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Transient => "transient",
            Self::Permanent => "permanent",
            Self::Render => "render",
            Self::NotPending => "not_pending",
            Self::NoToken => "no_token",
            Self::OptedOut => "opted_out",
        }
    }
}

/// Told of every attempt the dispatcher makes, e.g. to count them in
/// metrics. Called on the dispatcher's task: keep it quick.
pub trait DispatchObserver: Send + Sync {
    /// One attempt of `transport` ended with `outcome`; `reason` is set
    /// unless it was sent.
    fn attempted(&self, transport: &str, outcome: AttemptOutcome, reason: Option<FailureReason>);
}

/// Work a failed round left for the next: outcomes the store did not take,
/// claimed jobs it did not take back.
#[derive(Debug, Default)]
struct Backlog {
    unrecorded: Vec<(EmailJobId, EmailOutcome)>,
    unreleased: Vec<EmailJob>,
}

/// Drains the outbox. Run one per process; several processes may run at
/// once (claims never hand one job to two dispatchers).
///
/// A round: first what the last round could not write (outcomes, releases),
/// then a claim of up to `batch_size` due jobs, sent at most `concurrency`
/// at a time, each under `send_timeout`, so a hung provider call delays no
/// other job. A job the round claimed but could not handle because the
/// store failed is released (due again at once, the attempt uncounted); if
/// even that fails, the dispatcher keeps it and the outcomes it could not
/// record, and writes them before its next claim. A crashed dispatcher's
/// jobs come back when their lease ends.
#[derive(Clone)]
pub struct EmailDispatcher {
    ports: Ports,
    renderer: Arc<dyn EmailRenderer>,
    mailer: Arc<dyn Mailer>,
    settings: DispatchSettings,
    timer: Option<Arc<dyn Timer>>,
    observer: Option<Arc<dyn DispatchObserver>>,
    backlog: Arc<Mutex<Backlog>>,
}

impl std::fmt::Debug for EmailDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailDispatcher")
            .field("settings", &self.settings)
            .field("has_timer", &self.timer.is_some())
            .field("has_observer", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

/// What became of one claimed job within a round.
enum Handled {
    /// Attempted: the outcome to record.
    Done(EmailJobId, EmailOutcome, AttemptOutcome),
    /// Not attempted (too little of its lease left): to give back.
    Unsent(EmailJob),
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

/// The transport's message with the recipient's address cut to its domain:
/// logs never hold a full address.
fn redact(message: &str, to: &str) -> String {
    let domain = to.rsplit_once('@').map_or("", |(_, domain)| domain);
    // ASCII lowercasing keeps every byte where it was, so indexes carry over.
    let lower = message.to_ascii_lowercase();
    let needle = to.to_ascii_lowercase();
    if needle.is_empty() || !lower.contains(&needle) {
        return message.to_owned();
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = 0;
    for (at, _) in lower.match_indices(&needle) {
        out.push_str(&message[rest..at]);
        out.push_str("…@");
        out.push_str(domain);
        rest = at + needle.len();
    }
    out.push_str(&message[rest..]);
    out
}

impl EmailDispatcher {
    /// A dispatcher over the same ports as the [`App`](crate::App). Without
    /// [`with_timer`](Self::with_timer), a send is bounded only by the
    /// transport's own timeouts.
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
            timer: None,
            observer: None,
            backlog: Arc::new(Mutex::new(Backlog::default())),
        }
    }

    /// Bounds every send by `settings.send_timeout`, waiting with `timer`.
    #[must_use]
    pub fn with_timer(mut self, timer: Arc<dyn Timer>) -> Self {
        self.timer = Some(timer);
        self
    }

    /// Tells `observer` of every attempt.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn DispatchObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &DispatchSettings {
        &self.settings
    }

    /// The stable Message-ID of a job's email (read back by
    /// [`EmailDispatcher::job_of_message_id`]).
    pub fn message_id(&self, job: &EmailJob) -> String {
        format!("{}@{}", job.id, message_id_domain(self.settings.links.public_url()))
    }

    /// The email job a Message-ID [`EmailDispatcher::message_id`] made names
    /// (`job id@domain`, in angle brackets or not, as a provider's report
    /// quotes it); `None` for any other Message-ID.
    ///
    /// ```
    /// use rsvp_app::EmailDispatcher;
    ///
    /// let job = EmailDispatcher::job_of_message_id("<01a24d4a-8755-73ec-a20c-f3c15b91662a@rsvp.example.test>");
    /// assert_eq!(job.map(|id| id.to_string()).as_deref(), Some("01a24d4a-8755-73ec-a20c-f3c15b91662a"));
    /// assert_eq!(EmailDispatcher::job_of_message_id("<0100018c@email.amazonses.com>"), None);
    /// ```
    pub fn job_of_message_id(message_id: &str) -> Option<EmailJobId> {
        let inner = message_id.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, _) = inner.split_once('@')?;
        uuid::Uuid::parse_str(local).ok().map(EmailJobId::from_uuid)
    }

    fn backlog(&self) -> std::sync::MutexGuard<'_, Backlog> {
        self.backlog.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes what an earlier round could not: its outcomes, then its
    /// releases. Stops at the first store failure, keeping the rest.
    async fn settle_backlog(&self) -> Result<(), StoreError> {
        let (unrecorded, unreleased) = {
            let mut backlog = self.backlog();
            (
                std::mem::take(&mut backlog.unrecorded),
                std::mem::take(&mut backlog.unreleased),
            )
        };
        if !unrecorded.is_empty()
            && let Err(error) = self
                .ports
                .store
                .outbox()
                .finish_email_jobs(&unrecorded, self.ports.clock.now())
                .await
        {
            let mut backlog = self.backlog();
            backlog.unrecorded.extend(unrecorded);
            backlog.unreleased.extend(unreleased);
            return Err(error);
        }
        if !unreleased.is_empty()
            && let Err(error) = self
                .ports
                .store
                .outbox()
                .release_email_jobs(&unreleased, self.ports.clock.now())
                .await
        {
            self.backlog().unreleased.extend(unreleased);
            return Err(error);
        }
        Ok(())
    }

    /// Settles the last round's backlog, claims up to `batch_size` due jobs,
    /// reads what their emails need (in a few queries for the whole round),
    /// sends them `concurrency` at a time, and records the outcomes as they
    /// come, in groups (whatever finished while the last group was being
    /// written: one at a time at low load, many at once when busy).
    ///
    /// # Errors
    /// Store failures only (after giving back what it could); a failing
    /// email is recorded, not returned.
    pub async fn run_once(&self) -> Result<DispatchReport, AppError> {
        self.settle_backlog().await?;
        let now = self.ports.clock.now();
        let jobs = self
            .ports
            .store
            .outbox()
            .claim_email_jobs(now, self.settings.batch_size, self.settings.effective_lease())
            .await?;
        let mut report = DispatchReport {
            claimed: jobs.len(),
            ..DispatchReport::default()
        };
        if jobs.is_empty() {
            return Ok(report);
        }
        let context = match self.context(&jobs).await {
            Ok(context) => context,
            Err(error) => {
                // Nothing was attempted: all of it goes back at once.
                match self
                    .ports
                    .store
                    .outbox()
                    .release_email_jobs(&jobs, self.ports.clock.now())
                    .await
                {
                    Ok(_) => {}
                    Err(_) => self.backlog().unreleased.extend(jobs),
                }
                return Err(error.into());
            }
        };
        let concurrency = self.settings.concurrency.max(1);
        let mut first_error: Option<StoreError> = None;
        let mut unsent = Vec::new();
        // Sending and recording run side by side: a send that ends starts
        // the next at once, even while a group of outcomes is being written.
        let (finished, outcomes) = mpsc::unbounded::<Handled>();
        let sending = stream::iter(jobs)
            .map(|job| self.handle(job, &context))
            .buffer_unordered(concurrency)
            .for_each(move |handled| {
                // The receiver lives until every send is done: this cannot fail.
                let _ = finished.unbounded_send(handled);
                future::ready(())
            });
        let recording = async {
            // A group is whatever finished meanwhile: one at a time at low
            // load; when writes lag, the next takes up everything waiting.
            let mut groups = outcomes.ready_chunks(self.settings.batch_size.max(1));
            while let Some(group) = groups.next().await {
                let mut outcomes = Vec::with_capacity(group.len());
                for handled in group {
                    match handled {
                        Handled::Unsent(job) => unsent.push(job),
                        Handled::Done(id, outcome, kind) => {
                            match kind {
                                AttemptOutcome::Sent => report.sent += 1,
                                AttemptOutcome::Retried => report.retried += 1,
                                AttemptOutcome::Failed => report.failed += 1,
                            }
                            outcomes.push((id, outcome));
                        }
                    }
                }
                if outcomes.is_empty() {
                    continue;
                }
                if let Err(error) = self
                    .ports
                    .store
                    .outbox()
                    .finish_email_jobs(&outcomes, self.ports.clock.now())
                    .await
                {
                    self.backlog().unrecorded.extend(outcomes);
                    first_error.get_or_insert(error);
                }
            }
        };
        future::join(sending, recording).await;
        if !unsent.is_empty() {
            match self
                .ports
                .store
                .outbox()
                .release_email_jobs(&unsent, self.ports.clock.now())
                .await
            {
                Ok(_) => report.released = unsent.len(),
                Err(error) => {
                    self.backlog().unreleased.extend(unsent);
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error.into()),
            None => Ok(report),
        }
    }

    /// One claimed job: prepared, sent (unless too little of its lease is
    /// left); its outcome, for the caller to record.
    async fn handle(&self, job: EmailJob, context: &RoundContext) -> Handled {
        // Sending now could outlive the lease: give it back to be claimed afresh.
        if self.ports.clock.now() + self.settings.send_timeout > job.next_attempt_at {
            return Handled::Unsent(job);
        }
        let (outcome, kind, reason) = match self.prepare(&job, context) {
            Prepared::Closed(error, reason) => (EmailOutcome::Failed { error }, AttemptOutcome::Failed, Some(reason)),
            Prepared::Ready(email) => {
                let result = self.send(&email).await;
                // The backoff counts from the failure, not from the claim: a
                // send that timed out is not retried the moment it ends.
                let failed_at = self.ports.clock.now();
                match result {
                    Ok(sent) => (
                        EmailOutcome::Sent {
                            provider_message_id: sent.provider_message_id,
                        },
                        AttemptOutcome::Sent,
                        None,
                    ),
                    Err((error, reason)) if reason == FailureReason::Permanent => {
                        (EmailOutcome::Failed { error }, AttemptOutcome::Failed, Some(reason))
                    }
                    Err((error, reason)) if job.attempts >= self.settings.max_attempts => (
                        EmailOutcome::Failed {
                            error: format!("gave up after {} attempts: {error}", job.attempts),
                        },
                        AttemptOutcome::Failed,
                        Some(reason),
                    ),
                    Err((error, reason)) => (
                        EmailOutcome::Retry {
                            retry_at: failed_at
                                + self.settings.backoff(job.attempts.max(1), job.id.as_uuid().as_u128()),
                            error,
                        },
                        AttemptOutcome::Retried,
                        Some(reason),
                    ),
                }
            }
        };
        self.tell(&job, &outcome, kind, reason);
        Handled::Done(job.id, outcome, kind)
    }

    /// Logs a failed attempt at WARN (ids, attempt, transport, reason; the
    /// recipient only by domain, never the token) and tells the observer.
    fn tell(&self, job: &EmailJob, outcome: &EmailOutcome, kind: AttemptOutcome, reason: Option<FailureReason>) {
        let transport = self.settings.transport.as_str();
        if let (Some(reason), EmailOutcome::Retry { error, .. } | EmailOutcome::Failed { error }) = (reason, outcome) {
            let to = job.to.as_str();
            let retry_at = match outcome {
                EmailOutcome::Retry { retry_at, .. } => Some(retry_at.unix_timestamp()),
                _ => None,
            };
            tracing::warn!(
                job_id = %job.id,
                invitation_id = %job.invitation_id,
                attempt = job.attempts,
                transport,
                reason = reason.as_str(),
                outcome = kind.as_str(),
                recipient_domain = to.rsplit_once('@').map_or("", |(_, domain)| domain),
                retry_at,
                error = %redact(error, to),
                "email attempt failed"
            );
        }
        if let Some(observer) = &self.observer {
            observer.attempted(transport, kind, reason);
        }
    }

    /// Sends under the send timeout (when there is a timer).
    async fn send(&self, email: &OutgoingEmail) -> Result<SentEmail, (String, FailureReason)> {
        let send = self.mailer.send(email);
        let result = match &self.timer {
            None => send.await,
            Some(timer) => {
                let limit = self.settings.send_timeout.unsigned_abs();
                match future::select(send, timer.sleep(limit)).await {
                    Either::Left((result, _)) => result,
                    Either::Right(((), _)) => {
                        return Err((
                            format!("no answer from the transport within {} s", limit.as_secs_f64()),
                            FailureReason::Timeout,
                        ));
                    }
                }
            }
        };
        result.map_err(|error| match error {
            MailError::Transient(error) => (error, FailureReason::Transient),
            MailError::Permanent(error) => (error, FailureReason::Permanent),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{EmailDispatcher, redact};

    #[test]
    fn the_job_id_is_read_from_the_message_id_rsvp_set_and_nothing_else() {
        let id = "01a24d4a-8755-73ec-a20c-f3c15b91662a";
        for given in [format!("<{id}@rsvp.example.test>"), format!("{id}@rsvp.example.test")] {
            assert_eq!(
                EmailDispatcher::job_of_message_id(&given).map(|j| j.to_string()),
                Some(id.to_owned()),
                "{given}"
            );
        }
        for other in ["<0100018c@email.amazonses.com>", "", "<@x>", id] {
            assert_eq!(EmailDispatcher::job_of_message_id(other), None, "{other}");
        }
    }

    #[test]
    fn a_logged_transport_message_names_the_recipient_only_by_domain() {
        assert_eq!(
            redact("550 <Bob@Globex.test>: no such user", "bob@globex.test"),
            "550 <…@globex.test>: no such user"
        );
        assert_eq!(redact("451 try later", "bob@globex.test"), "451 try later");
    }
}
