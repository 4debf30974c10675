//! The database's limit for the two hot paths, as the performance issue
//! defines it: the pgbench scripts of `crates/rsvp-bench/limit/` (copied
//! from the shared definition; see `limit/ORIGIN.md`) on a minimal schema of
//! their own, run for a fixed time.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};
use diesel::PgConnection;
use diesel::connection::SimpleConnection;

use crate::pgbench::{PgbenchReport, find_pgbench, parse};

/// The minimal tables (and the organizations A and B).
pub const SCHEMA: &str = include_str!("../limit/schema.sql");
/// 10,000 pending invitations in organization A, then `VACUUM ANALYZE`.
pub const SEED_10K: &str = include_str!("../limit/seed_10k.sql");
/// One create: BEGIN; INSERT invitation ON CONFLICT; INSERT outbox; COMMIT.
pub const CREATE_TX: &str = include_str!("../limit/create_tx.sql");
/// The first page of 50 of organization A's pending invitations.
pub const LIST_FIRST: &str = include_str!("../limit/list_first.sql");

/// Organization A of the schema: the one the seed fills and creates go to.
pub const ORG_A: &str = "00000000-0000-4000-8000-00000000000a";

/// The statements of an SQL file, one by one: `--` comment lines dropped,
/// split at `;` (the limit files hold no `;` inside a literal). `VACUUM`
/// refuses to run in the implicit transaction of a multi-statement query,
/// hence one statement at a time.
pub fn statements(sql: &str) -> Vec<String> {
    let uncommented: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .map(|l| format!("{l}\n"))
        .collect();
    uncommented
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Runs each statement of `sql` on `conn`.
pub fn execute(conn: &mut PgConnection, sql: &str) -> anyhow::Result<()> {
    for statement in statements(sql) {
        conn.batch_execute(&statement)
            .with_context(|| format!("running {statement}"))?;
    }
    Ok(())
}

/// One timed pgbench run of a limit script: `pgbench -n -M prepared
/// -c<clients> -j<min(jobs, clients)> -T<seconds> -D org=<ORG_A> -f <script>`.
pub fn run_timed(url: &str, script: &Path, clients: usize, jobs: usize, seconds: u64) -> anyhow::Result<PgbenchReport> {
    let pgbench = find_pgbench()?;
    let clients = clients.max(1);
    let output = Command::new(&pgbench)
        .args(["-n", "-M", "prepared"])
        .arg(format!("-c{clients}"))
        .arg(format!("-j{}", jobs.clamp(1, clients)))
        .arg(format!("-T{}", seconds.max(1)))
        .arg("-D")
        .arg(format!("org={ORG_A}"))
        .arg("-f")
        .arg(script)
        .arg(url)
        .output()
        .with_context(|| format!("running {}", pgbench.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("pgbench failed ({}):\n{stdout}\n{stderr}", output.status);
    }
    let report = parse(&stdout).with_context(|| format!("reading pgbench's output:\n{stdout}\n{stderr}"))?;
    if report.failed.unwrap_or(0) > 0 {
        bail!("pgbench reported failed transactions:\n{stdout}\n{stderr}");
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_files_split_into_their_statements() {
        let schema = statements(SCHEMA);
        assert_eq!(schema.len(), 9, "{schema:#?}");
        assert!(schema[0].starts_with("DROP TABLE IF EXISTS outbox"));
        assert!(schema[8].starts_with("INSERT INTO organizations"));
        let seed = statements(SEED_10K);
        let kinds: Vec<&str> = seed.iter().map(|s| s.split_whitespace().next().unwrap()).collect();
        assert_eq!(kinds, ["TRUNCATE", "INSERT", "INSERT", "VACUUM", "VACUUM"]);
        assert_eq!(statements("-- only a comment\n\n"), Vec::<String>::new());
    }

    #[test]
    fn the_scripts_work_on_organization_a_of_the_schema() {
        assert!(SCHEMA.contains(&format!("('{ORG_A}', 'Organization A')")));
        assert!(SEED_10K.contains(&format!("SELECT gen_random_uuid(), '{ORG_A}'")));
        assert!(SEED_10K.contains("generate_series(1, 10000)"));
        assert!(CREATE_TX.contains("VALUES (gen_random_uuid(), :org,"));
        assert!(LIST_FIRST.contains("WHERE org_id = :org AND status = 'pending'"));
        assert!(LIST_FIRST.contains("LIMIT 50"));
    }
}
