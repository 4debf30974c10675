//! `http`: rsvp as users get it — the release binary over HTTP, loaded by
//! wrk — next to the database's own limit (pgbench running the limit
//! scripts of `limit/` on the same server), in alternating rounds.
//!
//! A PostgreSQL round of rsvp, on a fresh database and a fresh `rsvp serve`:
//! 1. a business seeded with 10,000 pending invitations through
//!    `POST /v1/invitations/bulk` (10 × 1,000; each bulk timed), then, once
//!    the dispatcher has sent their emails (the outbox depth of `/metrics`
//!    at 0) and with no `ANALYZE` (the "right after a bulk load" case), wrk
//!    on `GET /v1/invitations/sent?status=pending&limit=50`;
//! 2. wrk on `POST /v1/invitations`, a distinct email per request, for each
//!    connection count (16 and 64);
//! 3. bulks of 1,000 from 2 concurrent clients for the same time;
//! 4. the server's peak RSS (`VmHWM`).
//!
//! A pgbench round, on another fresh database with the limit schema:
//! `seed_10k.sql`, then `list_first.sql` and `create_tx.sql` for the same
//! time and connection counts.
//!
//! On SQLite (`--backend sqlite`): the zero-config default (no database URL,
//! a fresh data directory), creates only, no pgbench.

mod summary;

pub use summary::latency;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};

use crate::db::BenchDatabase;
use crate::limit;
use crate::median;
use crate::pgbench::PgbenchReport;
use crate::server::{self, RsvpProcess};
use crate::stats::thousands;
use crate::wrk::{self, WrkReport, WrkRun};

/// Invitations per bulk request (the API's maximum).
pub const BULK_SIZE: usize = 1_000;
/// Bulk requests seeding the list's business: 10,000 pending invitations.
pub const SEED_BULKS: usize = 10;
/// The list request: the first page of 50 pending invitations.
pub const LIST_PATH: &str = "/v1/invitations/sent?status=pending&limit=50";

/// The database rsvp runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// A fresh PostgreSQL database per round, compared with pgbench.
    Postgres,
    /// The zero-config SQLite default in a fresh data directory.
    Sqlite,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The database rsvp runs on.
    pub backend: Backend,
    /// The `rsvp` binary.
    pub rsvp: PathBuf,
    /// Length of each measurement (wrk `-d`, pgbench `-T`, the 2-client bulk run).
    pub seconds: u64,
    /// Rounds (pgbench then rsvp, alternating).
    pub rounds: usize,
    /// wrk threads and pgbench jobs.
    pub threads: usize,
    /// Connections of the creates workload.
    pub create_connections: Vec<usize>,
    /// Consecutive creates runs at each connection count, into one business.
    pub create_runs: usize,
    /// Connections of the list workload.
    pub list_connections: usize,
    /// Concurrent clients of the bulk throughput run.
    pub bulk_clients: usize,
    /// The server's log filter (`RSVP_LOG`).
    pub log: String,
    /// More settings for the server (`RSVP_...`), applied last.
    pub env: Vec<(String, String)>,
}

/// One round of rsvp.
#[derive(Debug, Clone, Default)]
pub struct RsvpRound {
    /// The list workload (PostgreSQL only).
    pub list: Option<WrkReport>,
    /// Whether the planner had statistics on `invitations` after the list
    /// run (autovacuum may analyze meanwhile); `None` on SQLite.
    pub list_statistics: Option<bool>,
    /// The creates workload: each run, with its connection count, in order
    /// (`create_runs` consecutive runs per count, into one business).
    pub creates: Vec<(usize, WrkReport)>,
    /// Each seeding bulk of 1,000, one client.
    pub bulk_times: Vec<Duration>,
    /// The concurrent bulk run: invitations created and its wall time.
    pub bulk_concurrent: Option<(usize, Duration)>,
    /// Peak RSS of the server at the end of the round, KiB.
    pub peak_rss_kib: u64,
    /// Warnings and errors the server logged.
    pub problems_logged: usize,
}

impl RsvpRound {
    /// Invitations per second of the one-client seeding.
    pub fn bulk_one_client_rate(&self) -> Option<f64> {
        let total: Duration = self.bulk_times.iter().sum();
        (!self.bulk_times.is_empty())
            .then(|| (self.bulk_times.len() * BULK_SIZE) as f64 / total.as_secs_f64().max(f64::EPSILON))
    }

    /// Invitations per second of the concurrent bulk run.
    pub fn bulk_concurrent_rate(&self) -> Option<f64> {
        self.bulk_concurrent
            .map(|(count, took)| count as f64 / took.as_secs_f64().max(f64::EPSILON))
    }

    /// The last run at `connections`: the one with the most volume behind it.
    fn creates_at(&self, connections: usize) -> Option<&WrkReport> {
        self.creates
            .iter()
            .rev()
            .find(|(c, _)| *c == connections)
            .map(|(_, r)| r)
    }

    /// Every run at `connections`, in order.
    fn creates_runs(&self, connections: usize) -> Vec<&WrkReport> {
        self.creates
            .iter()
            .filter(|(c, _)| *c == connections)
            .map(|(_, r)| r)
            .collect()
    }
}

/// One round of pgbench.
#[derive(Debug, Clone, Default)]
pub struct PgbenchRound {
    /// `list_first.sql` after `seed_10k.sql`.
    pub list: Option<PgbenchReport>,
    /// `create_tx.sql` per client count.
    pub creates: Vec<(usize, PgbenchReport)>,
}

impl PgbenchRound {
    fn creates_at(&self, connections: usize) -> Option<&PgbenchReport> {
        self.creates.iter().find(|(c, _)| *c == connections).map(|(_, r)| r)
    }
}

/// Everything one `http` run measured.
#[derive(Debug, Clone)]
pub struct HttpReport {
    /// The settings it ran with.
    pub settings: HttpSettings,
    /// rsvp's rounds.
    pub rsvp: Vec<RsvpRound>,
    /// pgbench's rounds (none on SQLite).
    pub pgbench: Vec<PgbenchRound>,
}

/// Files the run writes (Lua and SQL scripts), removed at the end.
#[derive(Debug)]
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("rsvp-bench-scripts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }

    fn write(&self, name: &str, text: &str) -> anyhow::Result<PathBuf> {
        let path = self.0.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the benchmark: `rounds` × (pgbench round, rsvp round), printing
/// each figure as it comes.
pub async fn run(server_url: &str, settings: &HttpSettings) -> anyhow::Result<HttpReport> {
    server::check_binary(&settings.rsvp)?;
    let wrk_binary = tokio::task::spawn_blocking(wrk::find_or_install).await??;
    if settings.backend == Backend::Postgres {
        crate::pgbench::find_pgbench()?;
    }
    // reqwest is built without a default TLS provider; the client needs one
    // even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let scratch = Scratch::new()?;
    let mut report = HttpReport {
        settings: settings.clone(),
        rsvp: Vec::new(),
        pgbench: Vec::new(),
    };
    let bench = Bench {
        settings,
        wrk: wrk_binary,
        scratch: &scratch,
        server_url,
    };
    for round in 1..=settings.rounds.max(1) {
        if settings.backend == Backend::Postgres {
            println!("round {round}: pgbench");
            report.pgbench.push(bench.pgbench_round().await?);
        }
        println!("round {round}: rsvp ({:?})", settings.backend);
        report.rsvp.push(bench.rsvp_round(round).await?);
    }
    Ok(report)
}

struct Bench<'a> {
    settings: &'a HttpSettings,
    wrk: PathBuf,
    scratch: &'a Scratch,
    server_url: &'a str,
}

impl Bench<'_> {
    async fn pgbench_round(&self) -> anyhow::Result<PgbenchRound> {
        let server_url = self.server_url.to_owned();
        let database = tokio::task::spawn_blocking(move || -> anyhow::Result<BenchDatabase> {
            let database = BenchDatabase::create(&server_url)?;
            let mut conn = database.connect()?;
            limit::execute(&mut conn, limit::SCHEMA).context("loading limit/schema.sql")?;
            limit::execute(&mut conn, limit::SEED_10K).context("loading limit/seed_10k.sql")?;
            Ok(database)
        })
        .await??;
        let list_script = self.scratch.write("list_first.sql", limit::LIST_FIRST)?;
        let create_script = self.scratch.write("create_tx.sql", limit::CREATE_TX)?;
        let mut round = PgbenchRound::default();
        let list = self
            .pgbench(&database, list_script, self.settings.list_connections)
            .await?;
        println!(
            "  pgbench list_first.sql, c={}: {:.0} tps",
            self.settings.list_connections, list.tps
        );
        round.list = Some(list);
        for &connections in &self.settings.create_connections {
            let creates = self.pgbench(&database, create_script.clone(), connections).await?;
            println!("  pgbench create_tx.sql, c={connections}: {:.0} tps", creates.tps);
            round.creates.push((connections, creates));
        }
        tokio::task::spawn_blocking(move || drop(database)).await?;
        Ok(round)
    }

    async fn pgbench(
        &self,
        database: &BenchDatabase,
        script: PathBuf,
        connections: usize,
    ) -> anyhow::Result<PgbenchReport> {
        let url = database.url().to_owned();
        let (jobs, seconds) = (self.settings.threads, self.settings.seconds);
        tokio::task::spawn_blocking(move || limit::run_timed(&url, &script, connections, jobs, seconds)).await?
    }

    async fn wrk(&self, url: String, script: PathBuf, connections: usize) -> anyhow::Result<WrkReport> {
        let run = WrkRun {
            wrk: self.wrk.clone(),
            url,
            script,
            connections,
            threads: self.settings.threads,
            seconds: self.settings.seconds,
        };
        tokio::task::spawn_blocking(move || run.run()).await?
    }

    async fn rsvp_round(&self, round_number: usize) -> anyhow::Result<RsvpRound> {
        let database = match self.settings.backend {
            Backend::Postgres => {
                let server_url = self.server_url.to_owned();
                Some(tokio::task::spawn_blocking(move || BenchDatabase::create(&server_url)).await??)
            }
            Backend::Sqlite => None,
        };
        let binary = self.settings.rsvp.clone();
        let database_url = database.as_ref().map(|d| d.url().to_owned());
        let (log, env) = (self.settings.log.clone(), self.settings.env.clone());
        let process =
            tokio::task::spawn_blocking(move || RsvpProcess::start(&binary, database_url.as_deref(), &log, &env))
                .await??;
        let result = self.rsvp_workloads(&process, database.as_ref(), round_number).await;
        let stopped = tokio::task::spawn_blocking(move || {
            drop(process);
            drop(database);
        })
        .await;
        let round = result?;
        stopped?;
        Ok(round)
    }

    async fn rsvp_workloads(
        &self,
        process: &RsvpProcess,
        database: Option<&BenchDatabase>,
        round_number: usize,
    ) -> anyhow::Result<RsvpRound> {
        let api = Api::new(process.base_url())?;
        let mut round = RsvpRound::default();
        if let Some(database) = database {
            let key = api.provision("List Sender", "owner@list.example").await?;
            for bulk in 0..SEED_BULKS {
                let emails = (0..BULK_SIZE).map(|i| format!("seed-{bulk}-{i}@invitee.example"));
                round.bulk_times.push(api.bulk(&key, emails).await?);
            }
            let times = round.bulk_times.iter().map(|d| d.as_secs_f64()).collect();
            println!(
                "  rsvp seeded {} pending through {SEED_BULKS} bulks of {}: median {:.0} ms per bulk, {:.0} invitations/s",
                thousands((SEED_BULKS * BULK_SIZE) as u64),
                thousands(BULK_SIZE as u64),
                median(times) * 1000.0,
                round.bulk_one_client_rate().unwrap_or(f64::NAN)
            );
            // The list is measured on its own: the dispatcher first sends
            // the seeded emails (a list during a drain shares the cores with it).
            let drained = api.wait_for_empty_outbox(Duration::from_secs(120)).await?;
            println!("  rsvp sent the seeded emails in {:.1} s", drained.as_secs_f64());
            let first_page = api.list_len(&key).await?;
            ensure!(
                first_page == 50,
                "the first page should hold 50 invitations, not {first_page}"
            );
            let script = self.scratch.write("list.lua", &wrk::get_script(&key))?;
            let list = self
                .wrk(
                    format!("{}{LIST_PATH}", process.base_url()),
                    script,
                    self.settings.list_connections,
                )
                .await?;
            print_wrk(&format!("list, c={}", self.settings.list_connections), &list);
            round.list = Some(list);
            let url = database.url().to_owned();
            let statistics = tokio::task::spawn_blocking(move || has_statistics(&url)).await??;
            println!(
                "  planner statistics on invitations after the list run: {}",
                if statistics {
                    "present (autovacuum analyzed meanwhile)"
                } else {
                    "none (as right after a bulk load)"
                }
            );
            round.list_statistics = Some(statistics);
        }
        let key = api.provision("Create Sender", "owner@create.example").await?;
        let runs = self.settings.create_runs.max(1);
        for &connections in &self.settings.create_connections {
            for run in 1..=runs {
                let label = format!("r{round_number}-c{connections}-{run}");
                let script = self
                    .scratch
                    .write(&format!("create-{label}.lua"), &wrk::create_script(&key, &label))?;
                let creates = self
                    .wrk(format!("{}/v1/invitations", process.base_url()), script, connections)
                    .await?;
                print_wrk(&format!("creates, c={connections}, run {run}/{runs}"), &creates);
                round.creates.push((connections, creates));
            }
        }
        if database.is_some() && self.settings.bulk_clients > 0 {
            let (count, took) = bulk_concurrently(
                &api,
                &key,
                self.settings.bulk_clients,
                Duration::from_secs(self.settings.seconds),
            )
            .await?;
            println!(
                "  rsvp bulks of {} with {} clients: {} invitations in {:.1} s, {:.0} invitations/s",
                thousands(BULK_SIZE as u64),
                self.settings.bulk_clients,
                thousands(count as u64),
                took.as_secs_f64(),
                count as f64 / took.as_secs_f64()
            );
            round.bulk_concurrent = Some((count, took));
        }
        round.peak_rss_kib = process.peak_rss_kib()?;
        let problems = process.problems_logged();
        round.problems_logged = problems.len();
        println!(
            "  rsvp peak RSS (VmHWM): {:.1} MB; warnings and errors logged: {}",
            round.peak_rss_kib as f64 / 1024.0,
            problems.len()
        );
        for line in problems.iter().take(3) {
            println!("    {line}");
        }
        Ok(round)
    }
}

fn print_wrk(what: &str, report: &WrkReport) {
    println!(
        "  rsvp {what}: {:.0} requests/s, p50 {} p90 {} p99 {} max {}{}",
        report.requests_per_second,
        latency(report.p50),
        latency(report.p90),
        latency(report.p99),
        latency(report.max),
        if report.errors() > 0 {
            format!(
                ", {} errors ({} non-2xx, {} socket)",
                report.errors(),
                report.non_success,
                report.socket_errors
            )
        } else {
            String::new()
        }
    );
}

/// Whether PostgreSQL has planner statistics on `invitations`.
fn has_statistics(url: &str) -> anyhow::Result<bool> {
    use diesel::{Connection as _, PgConnection};
    let mut conn = PgConnection::establish(url).context("connecting to the benchmark database")?;
    let n = crate::fixture::count(
        &mut conn,
        "SELECT count(*) AS n FROM pg_stats WHERE schemaname = 'public' AND tablename = 'invitations'",
    )?;
    Ok(n > 0)
}

/// rsvp's API, as the benchmark's own client sees it.
#[derive(Debug, Clone)]
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    fn new(base: String) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .context("building the HTTP client")?;
        Ok(Self { client, base })
    }

    /// Provisions a business through the operator API; returns its API key.
    async fn provision(&self, name: &str, email: &str) -> anyhow::Result<String> {
        let response = self
            .client
            .post(format!("{}/v1/admin/businesses", self.base))
            .bearer_auth(server::ADMIN_TOKEN)
            .json(&json!({"name": name, "user": {"email": email}}))
            .send()
            .await
            .context("provisioning a business")?;
        let status = response.status();
        let body: Value = response.json().await.context("reading the provisioning answer")?;
        ensure!(status.as_u16() == 201, "provisioning answered {status}: {body}");
        body.get("api_key")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .context("no api_key in the provisioning answer")
    }

    /// One `POST /v1/invitations/bulk` of `emails`; checks that each
    /// succeeded. Returns the time from sending to the whole answer read.
    async fn bulk(&self, key: &str, emails: impl Iterator<Item = String>) -> anyhow::Result<Duration> {
        let items: Vec<Value> = emails.map(|email| json!({"email": email})).collect();
        let count = items.len();
        let body = serde_json::to_vec(&json!({"invitations": items}))?;
        let started = Instant::now();
        let response = self
            .client
            .post(format!("{}/v1/invitations/bulk", self.base))
            .bearer_auth(key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .context("sending a bulk")?;
        let status = response.status();
        let answer = response.bytes().await.context("reading a bulk's answer")?;
        let took = started.elapsed();
        let answer: Value = serde_json::from_slice(&answer).context("a bulk's answer is not JSON")?;
        let successful = answer.get("successful").and_then(Value::as_array).map_or(0, Vec::len);
        if status.as_u16() != 200 || successful != count {
            let failed = answer.get("failed").map(|f| f.to_string()).unwrap_or_default();
            bail!(
                "a bulk of {count} answered {status} with {successful} created; failed: {}",
                failed.chars().take(500).collect::<String>()
            );
        }
        Ok(took)
    }

    /// Waits until `GET /metrics` reads an empty email outbox; returns how
    /// long that took.
    async fn wait_for_empty_outbox(&self, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            let text = self
                .client
                .get(format!("{}/metrics", self.base))
                .send()
                .await
                .context("reading /metrics")?
                .text()
                .await
                .context("reading /metrics")?;
            let depth = text
                .lines()
                .find_map(|line| line.strip_prefix("rsvp_email_outbox_depth "))
                .and_then(|value| value.trim().parse::<u64>().ok())
                .context("no rsvp_email_outbox_depth in /metrics")?;
            if depth == 0 {
                return Ok(started.elapsed());
            }
            ensure!(
                started.elapsed() < limit,
                "{depth} emails still queued after {} s",
                limit.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The number of invitations on the list request's page.
    async fn list_len(&self, key: &str) -> anyhow::Result<usize> {
        let response = self
            .client
            .get(format!("{}{LIST_PATH}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .context("listing")?;
        let status = response.status();
        let body: Value = response.json().await.context("reading the list")?;
        ensure!(status.as_u16() == 200, "the list answered {status}: {body}");
        Ok(body.get("data").and_then(Value::as_array).map_or(0, Vec::len))
    }
}

/// `clients` clients sending bulks of [`BULK_SIZE`] back to back until
/// `length` has passed (each finishes the bulk it is in). Returns the
/// invitations created and the wall time.
async fn bulk_concurrently(
    api: &Api,
    key: &str,
    clients: usize,
    length: Duration,
) -> anyhow::Result<(usize, Duration)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (api, key) = (api.clone(), key.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut created = 0;
            let mut bulk = 0;
            while started.elapsed() < length {
                let emails = (0..BULK_SIZE).map(|i| format!("bulk-{client}-{bulk}-{i}@invitee.example"));
                api.bulk(&key, emails).await?;
                created += BULK_SIZE;
                bulk += 1;
            }
            anyhow::Ok(created)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok((total, started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::summary::*;
    use super::*;

    fn wrk(rps: f64, p99_ms: u64) -> WrkReport {
        WrkReport {
            requests: (rps * 10.0) as u64,
            elapsed: Duration::from_secs(10),
            requests_per_second: rps,
            p50: Duration::from_millis(p99_ms / 4),
            p90: Duration::from_millis(p99_ms / 2),
            p99: Duration::from_millis(p99_ms),
            max: Duration::from_millis(p99_ms * 2),
            non_success: 0,
            socket_errors: 0,
        }
    }

    fn pg(tps: f64) -> PgbenchReport {
        PgbenchReport {
            tps,
            latency_average: None,
            transactions: None,
            failed: Some(0),
        }
    }

    fn settings(backend: Backend, create_connections: Vec<usize>) -> HttpSettings {
        HttpSettings {
            backend,
            rsvp: PathBuf::from("rsvp"),
            seconds: 10,
            rounds: 3,
            threads: 2,
            create_connections,
            create_runs: 1,
            list_connections: 16,
            bulk_clients: 2,
            log: "info".to_owned(),
            env: Vec::new(),
        }
    }

    #[test]
    fn latencies_read_as_in_the_issues() {
        assert_eq!(latency(Duration::from_micros(850)), "0.85 ms");
        assert_eq!(latency(Duration::from_micros(28_660)), "28.7 ms");
        assert_eq!(latency(Duration::from_micros(663_210)), "663 ms");
        assert_eq!(latency(Duration::from_millis(1_540)), "1.54 s");
    }

    #[test]
    fn the_postgres_table_gives_the_medians_of_the_rounds_and_their_ratio() {
        let rsvp = [(1000.0, 30, 1500.0), (1400.0, 20, 1800.0), (1200.0, 40, 1700.0)]
            .into_iter()
            .enumerate()
            .map(|(i, (creates, p99, list))| RsvpRound {
                list: Some(wrk(list, 20)),
                list_statistics: Some(i == 1),
                creates: vec![(16, wrk(creates, p99))],
                bulk_times: vec![
                    Duration::from_millis(300),
                    Duration::from_millis(400),
                    Duration::from_millis(500),
                ],
                bulk_concurrent: Some((8_000, Duration::from_secs(2))),
                peak_rss_kib: 40_000 + 1024 * i as u64,
                problems_logged: 0,
            })
            .collect();
        let pgbench = [(4000.0, 20_000.0), (3000.0, 18_000.0), (3500.0, 19_000.0)]
            .into_iter()
            .map(|(creates, list)| PgbenchRound {
                list: Some(pg(list)),
                creates: vec![(16, pg(creates))],
            })
            .collect();
        let report = HttpReport {
            settings: settings(Backend::Postgres, vec![16]),
            rsvp,
            pgbench,
        };
        let table = report.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "| workload | rsvp over HTTP (median of 3) | pgbench limit (median of 3) | ratio |"
        );
        // 1,200 / 3,500 and 1,700 / 19,000; p99 the median of 30, 20, 40.
        assert_eq!(lines[2], "| create, c=16 | 1,200 rps, p99 30.0 ms | 3,500 tps | 0.34 |");
        assert_eq!(
            lines[3],
            "| list first 50 of 10,000 pending, c=16 (statistics by autovacuum in 1 of 3 rounds) | 1,700 rps, p99 20.0 ms | 19,000 tps | 0.09 |"
        );
        // 3 bulks of 1,000 in 1.2 s: 2,500/s; 8,000 in 2 s with two clients.
        assert_eq!(
            lines[4],
            "| bulk of 1,000 | 400 ms each; 2,500 invitations/s (4,000 with 2 clients) | — | — |"
        );
        assert_eq!(
            lines[5],
            "| peak RSS of rsvp (VmHWM, max of rounds) | 41.1 MB | — | — |"
        );
        assert_eq!(
            lines[9],
            "| create, c=16 | 1,000 / 1,400 / 1,200 | 7.00 ms | 15.0 ms | 30.0 ms | 60.0 ms | 0 | 4,000 / 3,000 / 3,500 |"
        );
        // Each round's rate is shown: a median can hide one bad round.
        assert!(
            lines[10].contains("| 1,500 / 1,800 / 1,700 | 5.00 ms |"),
            "{}",
            lines[10]
        );
        assert!(lines[10].ends_with("| 20,000 / 18,000 / 19,000 |"), "{}", lines[10]);
    }

    #[test]
    fn the_sqlite_table_is_the_creates_table_of_issue_15_and_counts_errors() {
        let mut troubled = wrk(900.0, 600);
        troubled.non_success = 2;
        troubled.socket_errors = 1;
        let report = HttpReport {
            settings: settings(Backend::Sqlite, vec![1, 16]),
            rsvp: vec![RsvpRound {
                creates: vec![(1, wrk(600.0, 4)), (16, troubled)],
                peak_rss_kib: 20 * 1024,
                ..RsvpRound::default()
            }],
            pgbench: Vec::new(),
        };
        let table = report.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "| load (median of 1; each round's last run) | creates/s | per round | p50 | p90 | p99 | max | errors |"
        );
        assert_eq!(
            lines[2],
            "| 1 connection | 600 | 600 | 1.00 ms | 2.00 ms | 4.00 ms | 8.00 ms | 0 |"
        );
        assert_eq!(
            lines[3],
            "| 16 connections | 900 | 900 | 150 ms | 300 ms | 600 ms | 1.20 s | 3 |"
        );
        assert_eq!(
            lines[4],
            "| peak RSS of rsvp (VmHWM, max of rounds) | 20.0 MB | | | | | | |"
        );
        assert!(!table.contains("pgbench"));
    }
}
