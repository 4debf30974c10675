//! Three `rsvp serve` replicas on one PostgreSQL database, under create
//! load spread over all three, every one running the dispatcher and the
//! sweeper, sending to an HTTP provider stand-in that records every
//! Message-ID. Then a fault mid-load: one replica killed with SIGKILL, or
//! PostgreSQL restarted. Every acknowledged invitation must exist once and
//! get its email within 60 s, no email may go out twice except those the
//! killed replica had in flight, and every invitation already due to expire
//! must expire exactly once although three sweepers race for it.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rsvp_store_diesel::testing::{Cluster, TestDatabase};
use serde_json::json;
use support::{Client, Provider, Server, counts, execute, poll_until, temp_dir};

const ADMIN: &str = "replicas-test-operator-token";
/// Sends one replica makes at once.
const CONCURRENCY: usize = 8;
/// Jobs a dispatcher claims per round (its default): a killed replica can
/// leave at most these sent but not recorded as sent (those running, those
/// waiting to be recorded); typically only the few in flight.
const ROUND: usize = 200;
/// Invitations seeded already expired, for the sweepers to race on.
const TO_EXPIRE: usize = 20;
/// Acknowledged creates before the fault, and after it.
const CREATES_PER_PHASE: usize = 80;

/// What the load threads share.
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    next: AtomicUsize,
    /// Acknowledged creates: (invitation id, email).
    acknowledged: Mutex<Vec<(String, String)>>,
    /// Answers other than 201 (503 while PostgreSQL is away), per replica.
    refused: Mutex<HashMap<usize, usize>>,
}

impl Load {
    fn acknowledged(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }
}

/// Creates invitations on `client` until told to stop or the replica is gone.
fn drive(replica: usize, client: Client, key: String, load: Arc<Load>) {
    while !load.stop.load(Ordering::Relaxed) {
        let n = load.next.fetch_add(1, Ordering::Relaxed);
        let email = format!("guest-{n}@example.test");
        match client.try_call("POST", "/v1/invitations", &key, Some(json!({ "email": email }))) {
            Ok((201, _, body, _)) => {
                let id = body["id"].as_str().unwrap().to_owned();
                load.acknowledged.lock().unwrap().push((id, email));
            }
            Ok((status, _, body, _)) => {
                assert!(
                    status == 503,
                    "only an unavailable database refuses a create: {status} {body}"
                );
                *load.refused.lock().unwrap().entry(replica).or_default() += 1;
            }
            // Killed: the create in flight is not acknowledged.
            Err(_) => return,
        }
    }
}

/// The job id in a Message-ID (`<job-id@host>`).
fn job_id(message_id: &str) -> &str {
    let inner = message_id.trim_start_matches('<');
    inner.split_once('@').map_or(inner, |(id, _)| id)
}

fn wait_for(what: &str, deadline: Duration, done: impl FnMut() -> bool) {
    assert!(
        poll_until(Instant::now() + deadline, done),
        "{what}: not within {deadline:?}"
    );
}

/// The fault played in the middle of the load.
enum Fault<'a> {
    /// `kill -9` of replica 1.
    KillReplica,
    /// `pg_ctl stop -m fast`, then start again.
    RestartPostgres(&'a Cluster),
}

fn replicas_under_load(database_url: &str, fault: Fault<'_>) {
    let provider = Provider::start(Duration::from_millis(10));
    let data_dir = temp_dir("rsvp-replicas");
    let provider_url = provider.url();
    let concurrency = CONCURRENCY.to_string();
    let start = |replica: usize| {
        let token = format!("replica-{replica}");
        Server::start(
            database_url,
            &data_dir.join(&token),
            ADMIN,
            &[
                ("RSVP_MAIL_TRANSPORT", "http"),
                ("RSVP_HTTP_MAIL_URL", &provider_url),
                ("RSVP_HTTP_MAIL_TOKEN", &token),
                // A lease of 2 + 15 s: a dead replica's emails come back quickly.
                ("RSVP_EMAIL_SEND_TIMEOUT_SECS", "2"),
                ("RSVP_EMAIL_CONCURRENCY", &concurrency),
            ],
        )
    };
    // The first replica migrates the database alone.
    let first = start(0);
    let (status, _, acme, _) = first.call(
        "POST",
        "/v1/admin/businesses",
        ADMIN,
        Some(json!({"name": "Acme", "user": {"email": "ann@acme.test"}})),
    );
    assert_eq!(status, 201, "{acme}");
    let key = acme["api_key"].as_str().unwrap().to_owned();

    // Invitations due to expire: created, then backdated, before the other
    // replicas (whose sweepers run at start) come up.
    for n in 0..TO_EXPIRE {
        let (status, _, body, _) = first.call(
            "POST",
            "/v1/invitations",
            &key,
            Some(json!({ "email": format!("expire-{n}@example.test") })),
        );
        assert_eq!(status, 201, "{body}");
    }
    let backdated = execute(
        database_url,
        "UPDATE invitations SET expires_at = (extract(epoch FROM now())::bigint - 60) * 1000000000 \
         WHERE email LIKE 'expire-%'",
    );
    assert_eq!(backdated, TO_EXPIRE);
    let mut servers = vec![first];
    let start = &start;
    servers.extend(std::thread::scope(|scope| {
        let started: Vec<_> = (1..3).map(|replica| scope.spawn(move || start(replica))).collect();
        started.into_iter().map(|s| s.join().unwrap()).collect::<Vec<_>>()
    }));

    let load = Arc::new(Load::default());
    let drivers: Vec<_> = servers
        .iter()
        .enumerate()
        .map(|(replica, server)| {
            let (client, key, load) = (server.client(), key.clone(), load.clone());
            std::thread::spawn(move || drive(replica, client, key, load))
        })
        .collect();
    wait_for("creates before the fault", Duration::from_secs(60), || {
        load.acknowledged() >= CREATES_PER_PHASE
    });

    let killed_token = "replica-1";
    let mut in_flight: Vec<String> = Vec::new();
    let recovered_at = match fault {
        Fault::KillReplica => {
            // Kill it with sends in flight: the stand-in took them, the
            // replica will never hear back nor record them as sent.
            provider.hold(killed_token);
            wait_for("replica 1 has sends in flight", Duration::from_secs(30), || {
                provider.held() >= 1
            });
            servers[1].kill();
            let killed_at = Instant::now();
            provider.release();
            // In flight: what the provider took from the dead replica and
            // the database does not know as sent (held unanswered, or
            // answered but not recorded yet). Read before any lease ends.
            let from_killed: Vec<String> = provider
                .received()
                .into_iter()
                .filter(|r| r.token == killed_token)
                .map(|r| r.message_id)
                .collect();
            let queued: HashSet<String> = counts(
                database_url,
                "SELECT id AS key, attempts::bigint AS n FROM email_jobs WHERE status = 'queued'",
            )
            .into_iter()
            .map(|(id, _)| id)
            .collect();
            in_flight = from_killed
                .into_iter()
                .filter(|id| queued.contains(job_id(id)))
                .collect();
            assert!(
                killed_at.elapsed() < Duration::from_secs(10),
                "read the jobs in flight before their lease ended"
            );
            killed_at
        }
        Fault::RestartPostgres(cluster) => {
            cluster.stop_server().unwrap();
            // Every replica notices before the database comes back.
            wait_for("every replica answers 503", Duration::from_secs(20), || {
                load.refused.lock().unwrap().len() == servers.len()
            });
            cluster.start_server().unwrap();
            Instant::now()
        }
    };
    let before = load.acknowledged();
    wait_for("creates after the fault", Duration::from_secs(60), || {
        load.acknowledged() >= before + CREATES_PER_PHASE
    });
    load.stop.store(true, Ordering::Relaxed);
    for driver in drivers {
        driver.join().unwrap();
    }
    let acknowledged = load.acknowledged.lock().unwrap().clone();

    // Every acknowledged invitation exists, once.
    let stored: HashMap<String, i64> = counts(
        database_url,
        "SELECT id || ' ' || email AS key, count(*) OVER (PARTITION BY email) AS n \
         FROM invitations WHERE email LIKE 'guest-%'",
    )
    .into_iter()
    .collect();
    for (id, email) in &acknowledged {
        assert_eq!(
            stored.get(&format!("{id} {email}")),
            Some(&1),
            "acknowledged {email} ({id}) is stored exactly once"
        );
    }

    // Every acknowledged invitation gets its email within 60 s. A send the
    // killed replica had in flight never got its answer: it does not count,
    // the email must go out again once the job's lease has run out.
    let wanted: HashSet<&str> = acknowledged.iter().map(|(_, email)| email.as_str()).collect();
    let mut missing = wanted.len();
    let delivered = poll_until(recovered_at + Duration::from_secs(60), || {
        let received: HashSet<String> = provider
            .received()
            .into_iter()
            .filter(|r| !(r.token == killed_token && in_flight.contains(&r.message_id)))
            .map(|r| r.to)
            .collect();
        missing = wanted.iter().filter(|email| !received.contains(**email)).count();
        missing == 0
    });
    assert!(
        delivered,
        "{missing} of {} acknowledged invitations got no email within 60 s of the fault",
        wanted.len()
    );
    eprintln!(
        "{} acknowledged invitations, all delivered {:?} after the fault",
        wanted.len(),
        recovered_at.elapsed()
    );

    // No email twice, except those the killed replica had in flight.
    let mut by_id: BTreeMap<String, Vec<support::Received>> = BTreeMap::new();
    for received in provider.received() {
        by_id.entry(received.message_id.clone()).or_default().push(received);
    }
    let twice: Vec<_> = by_id.iter().filter(|(_, copies)| copies.len() > 1).collect();
    eprintln!("Message-IDs received twice: {}", twice.len());
    match fault {
        Fault::KillReplica => {
            eprintln!("in flight at the kill: {}", in_flight.len());
            assert!((1..=ROUND).contains(&in_flight.len()), "{in_flight:?}");
            for (id, copies) in &twice {
                assert!(
                    in_flight.contains(id),
                    "{id} went out twice but was not in flight at the kill: {copies:#?}"
                );
                assert_eq!(copies.len(), 2, "{id}: {copies:#?}");
                assert!(copies.iter().any(|c| c.token == killed_token), "{copies:#?}");
            }
            // What the killed replica had in flight went out again, from
            // another replica once its lease ran out.
            let resent = poll_until(recovered_at + Duration::from_secs(60), || {
                let received = provider.received();
                in_flight
                    .iter()
                    .all(|id| received.iter().any(|r| &r.message_id == id && r.token != killed_token))
            });
            assert!(resent, "the emails in flight at the kill went out again within 60 s");
        }
        // The replicas keep an outcome the database did not take and
        // write it when it is back, well within the lease.
        Fault::RestartPostgres(_) => assert!(twice.is_empty(), "{twice:#?}"),
    }

    // Every invitation due expired exactly once, though three sweepers raced.
    let mut expired = Vec::new();
    let all_expired = poll_until(Instant::now() + Duration::from_secs(30), || {
        expired = counts(
            database_url,
            "SELECT i.email AS key, count(e.id) AS n FROM invitations AS i \
             LEFT JOIN events AS e ON e.invitation_id = i.id AND e.kind = 'invitation.expired' \
             WHERE i.email LIKE 'expire-%' AND i.status = 'expired' GROUP BY i.email",
        );
        expired.len() == TO_EXPIRE
    });
    assert!(all_expired, "expired so far: {expired:?}");
    for (email, events) in &expired {
        assert_eq!(*events, 1, "{email}: one invitation.expired event");
    }
    drop(servers);
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn with_three_replicas_a_killed_one_loses_no_invitation_and_its_emails_go_out_within_a_minute_at_most_once_more() {
    let database = TestDatabase::postgres();
    replicas_under_load(database.url(), Fault::KillReplica);
}

#[test]
fn with_three_replicas_a_postgres_restart_loses_no_invitation_and_every_email_goes_out_once_within_a_minute() {
    let cluster = Cluster::start().unwrap();
    replicas_under_load(cluster.url(), Fault::RestartPostgres(&cluster));
}
