//! Benchmark databases: each a fresh, uniquely named PostgreSQL database,
//! created from a maintenance connection and dropped when its guard is
//! dropped, on Ctrl-C, or (if the process was killed) by the next run.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use rsvp_store_diesel::{DieselStore, StoreOptions};

/// Prefix of every database this tool creates: `rsvp_bench_<pid>_<n>_<nanos>`.
const PREFIX: &str = "rsvp_bench_";

/// Connections of every store the benchmarks open (16 tasks at once).
pub const POOL_SIZE: u32 = 16;

/// The databases alive in this process, for the Ctrl-C handler.
static LIVE: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// A database made for one benchmark, dropped with its guard.
#[derive(Debug)]
pub struct BenchDatabase {
    name: String,
    url: String,
    maintenance_url: String,
}

impl BenchDatabase {
    /// Creates a new empty database on the server of `maintenance_url`.
    pub fn create(maintenance_url: &str) -> anyhow::Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name = format!(
            "{PREFIX}{}_{}_{:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        let mut maintenance = PgConnection::establish(maintenance_url)
            .with_context(|| "connecting to the PostgreSQL maintenance database (--server)".to_owned())?;
        maintenance
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .with_context(|| format!("creating the database {name}"))?;
        if let Ok(mut live) = LIVE.lock() {
            live.push((name.clone(), maintenance_url.to_owned()));
        }
        Ok(Self {
            url: with_database(maintenance_url, &name),
            name,
            maintenance_url: maintenance_url.to_owned(),
        })
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A store on this database, migrated, with a pool of [`POOL_SIZE`]
    /// and otherwise the production defaults (a ping on checkout included).
    pub async fn migrated_store(&self) -> anyhow::Result<DieselStore> {
        let mut options = StoreOptions::new(self.url.clone());
        options.max_connections = POOL_SIZE;
        let store = DieselStore::connect_with(options)
            .await
            .context("connecting the store")?;
        store.run_migrations().await.context("migrating")?;
        Ok(store)
    }

    /// A plain connection, for seeding and statistics.
    pub fn connect(&self) -> anyhow::Result<PgConnection> {
        PgConnection::establish(&self.url).with_context(|| format!("connecting to {}", self.name))
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        drop_database(&self.maintenance_url, &self.name);
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|(name, _)| name != &self.name);
        }
    }
}

fn drop_database(maintenance_url: &str, name: &str) {
    // WITH (FORCE) ends the connections still open on it.
    let dropped = PgConnection::establish(maintenance_url)
        .map_err(|e| e.to_string())
        .and_then(|mut conn| {
            conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .map_err(|e| e.to_string())
        });
    if let Err(e) = dropped {
        eprintln!("warning: could not drop the benchmark database {name}: {e}");
    }
}

/// Drops every database of this process (the Ctrl-C path, where the guards'
/// destructors do not run).
pub fn drop_all_live() {
    let live = LIVE
        .lock()
        .map(|mut live| std::mem::take(&mut *live))
        .unwrap_or_default();
    for (name, maintenance_url) in live {
        drop_database(&maintenance_url, &name);
        eprintln!("dropped {name}");
    }
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

/// Drops the benchmark databases left behind by runs that were killed
/// (their process no longer exists). Returns their names.
pub fn drop_stale(maintenance_url: &str) -> anyhow::Result<Vec<String>> {
    let mut conn = PgConnection::establish(maintenance_url)
        .with_context(|| "connecting to the PostgreSQL maintenance database (--server)".to_owned())?;
    let names: Vec<Name> = diesel::sql_query(format!(
        "SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'"
    ))
    .load(&mut conn)?;
    let mut dropped = Vec::new();
    for Name { datname } in names {
        let Some(pid) = datname
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !is_running(pid) {
            drop_database(maintenance_url, &datname);
            dropped.push(datname);
        }
    }
    Ok(dropped)
}

/// Whether process `pid` runs (a zombie, killed but not yet reaped, does not).
fn is_running(pid: u32) -> bool {
    // /proc/<pid>/stat: "pid (name) state ...".
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Checks that the server URL is a PostgreSQL one.
pub fn check_server_url(url: &str) -> anyhow::Result<()> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("--server must be a postgres:// URL (the benchmarks run on PostgreSQL)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_a_pid_without_a_process_does_not() {
        assert!(is_running(std::process::id()));
        assert!(!is_running(u32::MAX));
    }

    #[test]
    fn the_database_name_replaces_the_maintenance_one_and_keeps_the_options() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "b"),
            "postgresql://u:p@h/b?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:5432", "b"), "postgres://h:5432/b");
    }
}
