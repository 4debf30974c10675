//! The email dispatcher under faults: a hung provider call, a store that
//! goes away mid-round, too little lease left; what it logs and counts.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use rsvp_app::*;
use rsvp_domain::*;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

const LEASE: Duration = Duration::seconds(45);

fn invitation() -> Invitation {
    let request = InvitationInput {
        email: Some("bob@globex.test".into()),
        ..Default::default()
    }
    .validate()
    .unwrap();
    Invitation::new(
        InvitationId::from_uuid(Uuid::from_u128(100)),
        BusinessId::from_uuid(Uuid::from_u128(1)),
        UserId::from_uuid(Uuid::from_u128(10)),
        request,
        t0(),
    )
}

/// Job `n`, to `p<n>@globex.test`, as a claim at `t0` returns it.
fn job(n: u128) -> EmailJob {
    EmailJob {
        id: EmailJobId::from_uuid(Uuid::from_u128(1000 + n)),
        invitation_id: InvitationId::from_uuid(Uuid::from_u128(100)),
        to: EmailAddress::parse(&format!("p{n}@globex.test")).unwrap(),
        link_token: Some(Secret::new(format!("secret-token-{n}"))),
        attempts: 1,
        status: EmailJobStatus::Queued,
        next_attempt_at: t0() + LEASE,
        last_error: None,
        created_at: t0(),
        kind: rsvp_app::EmailKind::Invitation,
    }
}

/// A clock the test (or the mailer) moves.
#[derive(Debug)]
struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

struct TokioTimer;

#[async_trait]
impl Timer for TokioTimer {
    async fn sleep(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// How the mailer stand-in treats a recipient.
#[derive(Clone, Copy)]
enum Behaviour {
    Accept,
    /// Moves the clock by this much (the time the call "took"), then never answers.
    Hang(Duration),
    Refuse(&'static str),
}

struct StandInMailer {
    clock: Arc<TestClock>,
    behaviour: Box<dyn Fn(&str) -> Behaviour + Send + Sync>,
    calls: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl StandInMailer {
    fn new(clock: Arc<TestClock>, behaviour: impl Fn(&str) -> Behaviour + Send + Sync + 'static) -> Self {
        Self {
            clock,
            behaviour: Box::new(behaviour),
            calls: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl Mailer for StandInMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<SentEmail, MailError> {
        self.calls.lock().unwrap().push(email.to.as_str().to_owned());
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        // Let the other sends of the round start meanwhile.
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        let result = match (self.behaviour)(email.to.as_str()) {
            Behaviour::Accept => Ok(SentEmail::default()),
            Behaviour::Hang(took) => {
                self.clock.advance(took);
                std::future::pending::<()>().await;
                Ok(SentEmail::default())
            }
            Behaviour::Refuse(error) => Err(MailError::Permanent(error.to_owned())),
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

/// What the store was asked, in order.
type Log = Arc<Mutex<Vec<String>>>;

/// Knobs of the store stand-in (a mockall mock).
#[derive(Default)]
struct StoreKnobs {
    /// What the first claim returns (later claims return nothing).
    jobs: Vec<EmailJob>,
    /// Reads fail as if the database went away.
    reads_fail: bool,
    /// How many `finish_email_jobs` calls fail before they succeed.
    finish_failures: usize,
    /// How many `release_email_jobs` calls fail before they succeed.
    release_failures: usize,
}

fn unavailable() -> StoreError {
    StoreError::Unavailable("the database went away".into())
}

/// The outcomes the store recorded, with when (real time) they arrived.
type Recorded = Arc<Mutex<Vec<(EmailJobId, EmailOutcome, Instant)>>>;

fn store(knobs: StoreKnobs, log: &Log, recorded: &Recorded) -> MockStore {
    let mut store = MockStore::new();
    let jobs = Mutex::new(Some(knobs.jobs));
    let claims = log.clone();
    store.outbox.expect_claim_email_jobs().returning(move |_, _, lease| {
        assert!(lease >= LEASE, "the lease fits a send: {lease}");
        let jobs = jobs.lock().unwrap().take().unwrap_or_default();
        claims.lock().unwrap().push(format!("claim {}", jobs.len()));
        Ok(jobs)
    });
    let reads_fail = knobs.reads_fail;
    store.invitations.expect_get_invitations().returning(move |_| {
        if reads_fail {
            Err(unavailable())
        } else {
            Ok(vec![invitation()])
        }
    });
    store.operator.expect_get_business().returning(|id| {
        Ok(Some(Business {
            id,
            name: BusinessName::parse("Acme").unwrap(),
            created_at: t0(),
            suspended_at: None,
            external_id: None,
        }))
    });
    store.operator.expect_get_user().returning(|_| Ok(None));
    store
        .opt_outs
        .expect_suppressions_for()
        .returning(|_, _| Ok(Vec::new()));
    let finish_failures = AtomicUsize::new(knobs.finish_failures);
    let finishes = log.clone();
    let recorded = recorded.clone();
    store.outbox.expect_finish_email_jobs().returning(move |outcomes, _| {
        let failing = finish_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let ids: Vec<String> = outcomes
            .iter()
            .map(|(id, _)| (id.as_uuid().as_u128() - 1000).to_string())
            .collect();
        finishes.lock().unwrap().push(format!(
            "finish {} {}",
            ids.join(","),
            if failing { "err" } else { "ok" }
        ));
        if failing {
            return Err(unavailable());
        }
        let mut recorded = recorded.lock().unwrap();
        for (id, outcome) in outcomes {
            recorded.push((*id, outcome.clone(), Instant::now()));
        }
        Ok(outcomes.len() as u64)
    });
    let release_failures = AtomicUsize::new(knobs.release_failures);
    let releases = log.clone();
    store.outbox.expect_release_email_jobs().returning(move |jobs, _| {
        let failing = release_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let mut ids: Vec<u128> = jobs.iter().map(|j| j.id.as_uuid().as_u128() - 1000).collect();
        ids.sort_unstable();
        releases
            .lock()
            .unwrap()
            .push(format!("release {ids:?} {}", if failing { "err" } else { "ok" }));
        if failing {
            Err(unavailable())
        } else {
            Ok(jobs.len() as u64)
        }
    });
    store
}

fn renderer() -> MockEmailRenderer {
    let mut renderer = MockEmailRenderer::new();
    renderer.expect_render().returning(|email| {
        Ok(RenderedEmail {
            subject: "invitation".into(),
            text: email.accept_url.clone(),
            html: email.accept_url.clone(),
        })
    });
    renderer
}

fn dispatcher(
    store: MockStore,
    clock: Arc<TestClock>,
    mailer: Arc<StandInMailer>,
    settings: DispatchSettings,
) -> EmailDispatcher {
    let ports = Ports {
        store: Arc::new(store),
        clock,
        ids: Arc::new(MockIdGenerator::new()),
        secrets: Arc::new(MockSecretGenerator::new()),
    };
    EmailDispatcher::new(ports, Arc::new(renderer()), mailer, settings).with_timer(Arc::new(TokioTimer))
}

fn settings() -> DispatchSettings {
    let mut settings = DispatchSettings::new("https://rsvp.test");
    settings.transport = "smtp".into();
    settings
}

fn clock() -> Arc<TestClock> {
    Arc::new(TestClock(Mutex::new(t0())))
}

#[tokio::test]
async fn one_hung_send_delays_no_other_email_of_its_round() {
    let (log, recorded) = (Log::default(), Recorded::default());
    let jobs: Vec<EmailJob> = (1..=6).map(job).collect();
    let hung = jobs[0].id;
    let clock = clock();
    let mailer = Arc::new(StandInMailer::new(clock.clone(), |to| {
        if to == "p1@globex.test" {
            Behaviour::Hang(Duration::ZERO)
        } else {
            Behaviour::Accept
        }
    }));
    let mut settings = settings();
    settings.send_timeout = Duration::seconds(2);
    let dispatcher = dispatcher(
        store(
            StoreKnobs {
                jobs,
                ..StoreKnobs::default()
            },
            &log,
            &recorded,
        ),
        clock,
        mailer,
        settings,
    );

    let started = Instant::now();
    let report = dispatcher.run_once().await.unwrap();
    assert_eq!((report.claimed, report.sent, report.retried), (6, 5, 1), "{report:?}");
    let recorded = recorded.lock().unwrap();
    for (id, outcome, at) in recorded.iter() {
        let took = *at - started;
        if *id == hung {
            assert!(matches!(outcome, EmailOutcome::Retry { .. }), "{outcome:?}");
            assert!(
                took >= std::time::Duration::from_secs(2),
                "the hung send ran to its timeout: {took:?}"
            );
        } else {
            assert_eq!(*outcome, EmailOutcome::sent());
            assert!(
                took < std::time::Duration::from_millis(500),
                "email {id} waited for the hung one: {took:?}"
            );
        }
    }
    assert_eq!(recorded.len(), 6);
}

#[tokio::test]
async fn a_round_sends_at_most_the_configured_number_of_emails_at_once() {
    let (log, recorded) = (Log::default(), Recorded::default());
    let clock = clock();
    let mailer = Arc::new(StandInMailer::new(clock.clone(), |_| Behaviour::Accept));
    let mut settings = settings();
    settings.concurrency = 4;
    let dispatcher = dispatcher(
        store(
            StoreKnobs {
                jobs: (1..=20).map(job).collect(),
                ..StoreKnobs::default()
            },
            &log,
            &recorded,
        ),
        clock,
        mailer.clone(),
        settings,
    );
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 20);
    assert_eq!(
        mailer.most_in_flight.load(Ordering::SeqCst),
        4,
        "sends overlap, and never more than the concurrency"
    );
}

#[tokio::test]
async fn a_retry_after_a_timeout_waits_its_backoff_counted_from_the_timeout() {
    let (log, recorded) = (Log::default(), Recorded::default());
    let clock = clock();
    // The provider holds the call for the whole send timeout (the clock
    // moves by 30 s while the call hangs); the dispatcher's timer fires.
    let mailer = Arc::new(StandInMailer::new(clock.clone(), |_| {
        Behaviour::Hang(Duration::seconds(30))
    }));
    let mut settings = settings();
    settings.send_timeout = Duration::milliseconds(100);
    let backoff_base = settings.backoff_base;
    let dispatcher = dispatcher(
        store(
            StoreKnobs {
                jobs: vec![job(1)],
                ..StoreKnobs::default()
            },
            &log,
            &recorded,
        ),
        clock.clone(),
        mailer.clone(),
        settings,
    );
    assert_eq!(dispatcher.run_once().await.unwrap().retried, 1);
    let timed_out_at = clock.now();
    let recorded = recorded.lock().unwrap();
    let EmailOutcome::Retry { retry_at, error } = &recorded[0].1 else {
        panic!("{recorded:?}")
    };
    assert!(error.contains("no answer"), "{error}");
    assert!(
        *retry_at >= timed_out_at + backoff_base / 2,
        "the retry at {retry_at} comes at least the backoff ({}) after the timeout at {timed_out_at}",
        backoff_base / 2
    );
    assert_eq!(mailer.calls.lock().unwrap().len(), 1, "the provider was called once");
}

#[tokio::test]
async fn a_round_that_loses_the_store_releases_the_jobs_it_claimed_at_once() {
    let (log, recorded) = (Log::default(), Recorded::default());
    let clock = clock();
    let mailer = Arc::new(StandInMailer::new(clock.clone(), |_| Behaviour::Accept));
    let dispatcher = dispatcher(
        store(
            StoreKnobs {
                jobs: vec![job(1), job(2), job(3)],
                reads_fail: true,
                ..StoreKnobs::default()
            },
            &log,
            &recorded,
        ),
        clock,
        mailer.clone(),
        settings(),
    );
    let error = dispatcher.run_once().await.unwrap_err();
    assert_eq!(error.code(), "unavailable");
    assert_eq!(*log.lock().unwrap(), ["claim 3", "release [1, 2, 3] ok"]);
    assert!(mailer.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn jobs_the_store_would_not_take_back_are_released_before_the_next_claim() {
    let (log, recorded) = (Log::default(), Recorded::default());
    let clock = clock();
    let mailer = Arc::new(StandInMailer::new(clock.clone(), |_| Behaviour::Accept));
    let dispatcher = dispatcher(
        store(
            StoreKnobs {
                jobs: vec![job(1), job(2)],
                reads_fail: true,
                release_failures: 2,
                ..StoreKnobs::default()
            },
            &log,
            &recorded,
        ),
        clock,
        mailer,
        settings(),
    );
    assert!(dispatcher.run_once().await.is_err());
    assert!(dispatcher.run_once().await.is_err(), "still down: no claim");
    assert_eq!(dispatcher.run_once().await.unwrap().claimed, 0);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "claim 2",
            "release [1, 2] err",
            "release [1, 2] err",
            "release [1, 2] ok",
            "claim 0"
        ]
    );
}

#[tokio::test]
async fn an_outcome_the_store_did_not_take_is_recorded_before_the_next_claim_and_not_sent_again() {
    let (log, recorded) = (Log::default(), Recorded::default());
    let clock = clock();
    let mailer = Arc::new(StandInMailer::new(clock.clone(), |_| Behaviour::Accept));
    let dispatcher = dispatcher(
        store(
            StoreKnobs {
                jobs: vec![job(1)],
                finish_failures: 1,
                ..StoreKnobs::default()
            },
            &log,
            &recorded,
        ),
        clock,
        mailer.clone(),
        settings(),
    );
    assert!(dispatcher.run_once().await.is_err());
    assert_eq!(dispatcher.run_once().await.unwrap().claimed, 0);
    assert_eq!(
        *log.lock().unwrap(),
        ["claim 1", "finish 1 err", "finish 1 ok", "claim 0"]
    );
    assert_eq!(recorded.lock().unwrap()[0].1, EmailOutcome::sent());
    assert_eq!(mailer.calls.lock().unwrap().len(), 1, "sent once");
}

#[tokio::test]
async fn a_job_with_less_lease_left_than_a_send_takes_is_given_back_unsent() {
    let (log, recorded) = (Log::default(), Recorded::default());
    let clock = clock();
    let mailer = Arc::new(StandInMailer::new(clock.clone(), |_| Behaviour::Accept));
    let mut late = job(2);
    late.next_attempt_at = t0() + Duration::seconds(10);
    let dispatcher = dispatcher(
        store(
            StoreKnobs {
                jobs: vec![job(1), late],
                ..StoreKnobs::default()
            },
            &log,
            &recorded,
        ),
        clock,
        mailer.clone(),
        settings(),
    );
    let report = dispatcher.run_once().await.unwrap();
    assert_eq!((report.sent, report.released), (1, 1), "{report:?}");
    assert_eq!(*mailer.calls.lock().unwrap(), ["p1@globex.test"]);
    assert!(log.lock().unwrap().contains(&"release [2] ok".to_owned()));
}

/// Collects what the tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Default)]
struct Counting(Mutex<Vec<(String, AttemptOutcome, Option<FailureReason>)>>);

impl DispatchObserver for Counting {
    fn attempted(&self, transport: &str, outcome: AttemptOutcome, reason: Option<FailureReason>) {
        self.0.lock().unwrap().push((transport.to_owned(), outcome, reason));
    }
}

#[tokio::test]
async fn every_failed_attempt_is_logged_at_warn_with_its_ids_and_reason_but_no_address_or_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (log, recorded) = (Log::default(), Recorded::default());
    let clock = clock();
    let mailer = Arc::new(StandInMailer::new(clock.clone(), |to| match to {
        "p1@globex.test" => Behaviour::Refuse("550 5.1.1 <P1@globex.test>: Recipient address rejected"),
        _ => Behaviour::Accept,
    }));
    let observer = Arc::new(Counting::default());
    let dispatcher = dispatcher(
        store(
            StoreKnobs {
                jobs: vec![job(1), job(2)],
                ..StoreKnobs::default()
            },
            &log,
            &recorded,
        ),
        clock,
        mailer,
        settings(),
    )
    .with_observer(observer.clone());
    dispatcher.run_once().await.unwrap();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &serde_json::Value| line["fields"]["message"] == "email attempt failed")
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let line = &lines[0];
    assert_eq!(line["level"], "WARN");
    let fields = &line["fields"];
    assert_eq!(fields["job_id"], job(1).id.to_string());
    assert_eq!(fields["invitation_id"], job(1).invitation_id.to_string());
    assert_eq!(fields["attempt"], 1);
    assert_eq!(fields["transport"], "smtp");
    assert_eq!(fields["reason"], "permanent");
    assert_eq!(fields["outcome"], "failed");
    assert_eq!(fields["recipient_domain"], "globex.test");
    assert!(
        fields["error"].as_str().unwrap().contains("<…@globex.test>"),
        "{fields}"
    );
    assert!(!text.to_ascii_lowercase().contains("p1@globex.test"), "{text}");
    assert!(!text.contains("secret-token"), "{text}");

    let mut seen = observer.0.lock().unwrap().clone();
    seen.sort_by_key(|(_, outcome, _)| outcome.as_str());
    assert_eq!(
        seen,
        [
            (
                "smtp".to_owned(),
                AttemptOutcome::Failed,
                Some(FailureReason::Permanent)
            ),
            ("smtp".to_owned(), AttemptOutcome::Sent, None),
        ]
    );
}
