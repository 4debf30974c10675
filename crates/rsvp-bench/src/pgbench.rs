//! `pgbench`: the rows `InvitationStore::create_invitation` writes (the four
//! INSERTs of invitation, link token, event and email job, as in the
//! procedure `rsvp_create_invitation`, without its reads and the cap),
//! replayed by pgbench with as many clients as rsvp
//! has tasks: the ceiling the database itself puts on creates/s here. The
//! ratio rsvp ÷ pgbench tells what rsvp's own layers cost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::db::BenchDatabase;
use crate::fixture;

/// The script, as committed at `crates/rsvp-bench/pgbench/create_invitation.sql`.
pub const SCRIPT: &str = include_str!("../pgbench/create_invitation.sql");

/// Where the committed script lives in the source tree.
pub fn committed_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pgbench/create_invitation.sql")
}

/// What pgbench reported.
#[derive(Debug, Clone, PartialEq)]
pub struct PgbenchReport {
    /// Transactions per second (without the initial connection time).
    pub tps: f64,
    /// Mean latency of a transaction, as pgbench reports it.
    pub latency_average: Option<Duration>,
    /// Transactions processed.
    pub transactions: Option<u64>,
    /// Failed transactions (pgbench 15 reports them).
    pub failed: Option<u64>,
}

/// Finds the pgbench binary: on PATH, or in the server's own directory.
pub fn find_pgbench() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("pgbench");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/pgbench"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
        .pop()
        .context("pgbench not found: install the PostgreSQL client tools (Debian: postgresql-contrib or postgresql)")
}

/// Runs pgbench with `script` on a fresh migrated database holding one
/// sender business: `clients` clients on `threads` threads, `transactions`
/// in all (split evenly over the clients), with the query `protocol`
/// (`simple`, `extended` or `prepared`).
pub async fn run(
    server: &str,
    script: &Path,
    transactions: usize,
    clients: usize,
    threads: usize,
    protocol: &str,
) -> anyhow::Result<PgbenchReport> {
    let database = BenchDatabase::create(server)?;
    let store = Arc::new(database.migrated_store().await?);
    let app = fixture::app(store.clone());
    let sender = fixture::sender(&app, "Bench Sender", "owner@sender.example").await?;
    drop(app);
    drop(store);
    let per_client = transactions.div_ceil(clients).max(1);
    let pgbench = find_pgbench()?;
    let url = database.url().to_owned();
    let script = script.to_owned();
    let protocol = protocol.to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&pgbench)
            .args(["--no-vacuum", "--client"])
            .arg(clients.to_string())
            .arg("--jobs")
            .arg(threads.to_string())
            .arg("--transactions")
            .arg(per_client.to_string())
            .arg("--protocol")
            .arg(&protocol)
            .arg("--file")
            .arg(&script)
            .arg("--define")
            .arg(format!("business_id={}", sender.business.id))
            .arg("--define")
            .arg(format!("user_id={}", sender.user.id))
            .arg("--define")
            .arg(format!("now={now}"))
            .arg(&url)
            .output()
            .with_context(|| format!("running {}", pgbench.display()))
    })
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("pgbench failed ({}):\n{stdout}\n{stderr}", output.status);
    }
    let report = parse(&stdout).with_context(|| format!("reading pgbench's output:\n{stdout}\n{stderr}"))?;
    if report.failed.unwrap_or(0) > 0 {
        bail!("pgbench reported failed transactions:\n{stdout}\n{stderr}");
    }
    let mut conn = database.connect()?;
    let stored = fixture::count(&mut conn, "SELECT count(*) AS n FROM email_jobs")?;
    let expected = per_client * clients;
    anyhow::ensure!(
        usize::try_from(stored).ok() == Some(expected),
        "pgbench should have written {expected} invitations with their email jobs, found {stored}"
    );
    Ok(report)
}

/// Reads pgbench's summary.
pub fn parse(stdout: &str) -> anyhow::Result<PgbenchReport> {
    let mut tps = None;
    let mut latency_average = None;
    let mut transactions = None;
    let mut failed = None;
    for line in stdout.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("tps = ") {
            // pgbench 14+: one line "(without initial connection time)";
            // older: two lines, "excluding connections establishing" wins.
            let value = rest.split_whitespace().next().unwrap_or_default();
            let excludes_connecting =
                rest.contains("without initial connection time") || rest.contains("excluding connections");
            if excludes_connecting || tps.is_none() {
                tps = Some(value.parse::<f64>().with_context(|| format!("tps in {line:?}"))?);
            }
        } else if let Some(rest) = line.strip_prefix("latency average = ") {
            let value = rest.trim_end_matches(" ms").trim();
            latency_average = value.parse::<f64>().ok().map(|ms| Duration::from_secs_f64(ms / 1000.0));
        } else if let Some(rest) = line.strip_prefix("number of transactions actually processed: ") {
            transactions = rest.split('/').next().and_then(|n| n.trim().parse().ok());
        } else if let Some(rest) = line.strip_prefix("number of failed transactions: ") {
            failed = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        }
    }
    Ok(PgbenchReport {
        tps: tps.context("no 'tps = ' line")?,
        latency_average,
        transactions,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG15: &str = "pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: crates/rsvp-bench/pgbench/create_invitation.sql
scaling factor: 1
query mode: prepared
number of clients: 16
number of threads: 2
maximum number of tries: 1
number of transactions per client: 1250
number of transactions actually processed: 20000/20000
number of failed transactions: 0 (0.000%)
latency average = 5.123 ms
initial connection time = 21.337 ms
tps = 3123.456789 (without initial connection time)
";

    #[test]
    fn the_summary_of_pgbench_15_is_read() {
        let report = parse(PG15).unwrap();
        assert!((report.tps - 3123.456789).abs() < 1e-9);
        assert_eq!(report.transactions, Some(20000));
        assert_eq!(report.failed, Some(0));
        assert_eq!(report.latency_average, Some(Duration::from_secs_f64(0.005123)));
    }

    #[test]
    fn older_pgbench_reports_the_rate_without_connecting() {
        let old =
            "tps = 100.0 (including connections establishing)\ntps = 120.5 (excluding connections establishing)\n";
        assert!((parse(old).unwrap().tps - 120.5).abs() < 1e-9);
        assert!(parse("nothing here").is_err());
    }

    /// The column list of `INSERT INTO <table> (...)` in `text`, words only.
    fn columns(text: &str, table: &str) -> Vec<String> {
        let start = text
            .find(&format!("INSERT INTO {table} ("))
            .unwrap_or_else(|| panic!("no INSERT INTO {table}"))
            + format!("INSERT INTO {table} (").len();
        let end = start + text[start..].find(')').unwrap();
        text[start..end]
            .split(',')
            .map(|c| c.replace(['\\', '"'], "").trim().to_owned())
            .collect()
    }

    #[test]
    fn the_script_writes_the_rows_of_the_store_procedure_with_the_same_columns() {
        // What a create writes on PostgreSQL: the procedure `rsvp_create_invitation`.
        let store = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../rsvp-store-diesel/migrations/postgres/2026-12-06-000001_email_cap_minutes/up.sql"),
        )
        .unwrap();
        let script: Vec<&str> = SCRIPT
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("--") && !l.starts_with('\\'))
            .collect();
        assert_eq!(script.len(), 1, "one statement, no BEGIN/COMMIT: {script:#?}");
        assert!(script[0].starts_with("WITH new_invitation AS (INSERT INTO invitations ("));
        for table in ["invitations", "link_tokens", "events", "email_jobs"] {
            let expected = columns(&store, table);
            assert!(expected.len() >= 4, "{table}: {expected:?}");
            assert_eq!(columns(script[0], table), expected, "{table}");
        }
    }

    #[test]
    fn the_transaction_script_inserts_the_four_rows_in_one_transaction() {
        let script = include_str!("../pgbench/create_invitation_transaction.sql");
        let kinds: Vec<&str> = script
            .lines()
            .filter(|l| l.starts_with("BEGIN") || l.starts_with("INSERT") || l.starts_with("COMMIT"))
            .map(|s| s.split(" (").next().unwrap_or_default())
            .collect();
        assert_eq!(
            kinds,
            [
                "BEGIN ISOLATION LEVEL READ COMMITTED;",
                "INSERT INTO \"invitations\"",
                "INSERT INTO \"link_tokens\"",
                "INSERT INTO \"events\"",
                "INSERT INTO \"email_jobs\"",
                "COMMIT;"
            ]
        );
    }
}
