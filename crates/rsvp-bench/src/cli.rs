//! The command line: the benchmarks and their sizes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "rsvp-bench",
    about = "Benchmarks of rsvp on PostgreSQL (each on a fresh database)"
)]
pub(crate) struct Cli {
    /// A database on the PostgreSQL server to benchmark on, used only to
    /// create and drop the benchmark databases.
    #[arg(
        long,
        global = true,
        env = "RSVP_BENCH_SERVER",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub(crate) server: String,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Creates per second with concurrent tasks, each invitation a distinct email.
    Creates(CreatesArgs),
    /// `InvitationStore::list_sent` latency for one business with a million invitations.
    List(ListArgs),
    /// pgbench replaying the SQL of `create_invitation`; the ratio rsvp ÷ pgbench.
    Pgbench(PgbenchArgs),
    /// Outbox drain rate of the email dispatcher (real HTTP mailer, local Postmark stand-in).
    Drain(DrainArgs),
    /// 201 to email provider latency at low load, through the release `rsvp serve` binary.
    Latency(LatencyArgs),
    /// Everything above, then a summary table.
    All(AllArgs),
    /// The release `rsvp` binary over HTTP (wrk) against the pgbench limit
    /// scripts, alternating rounds; or creates on the SQLite default.
    Http(HttpArgs),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct HttpArgs {
    /// The database rsvp runs on: `postgres` (a fresh database per round on
    /// `--server`, compared with pgbench) or `sqlite` (the zero-config
    /// default, creates only).
    #[arg(long, value_enum, default_value = "postgres")]
    pub(crate) backend: crate::http::Backend,
    /// The `rsvp` binary (default: the `rsvp` next to this executable; build
    /// it with `cargo build --release --workspace`).
    #[arg(long)]
    pub(crate) rsvp: Option<PathBuf>,
    /// Seconds of each measurement (wrk `-d`, pgbench `-T`, the concurrent bulk run).
    #[arg(long, default_value_t = 10)]
    pub(crate) seconds: u64,
    /// Rounds, each pgbench then rsvp; the figures are the medians.
    #[arg(long, default_value_t = 3)]
    pub(crate) rounds: usize,
    /// wrk threads and pgbench jobs.
    #[arg(long, default_value_t = 2)]
    pub(crate) threads: usize,
    /// Connections of the creates runs, one run each (default: 16,64 on
    /// PostgreSQL, 1,16 on SQLite).
    #[arg(long, value_delimiter = ',')]
    pub(crate) connections: Option<Vec<usize>>,
    /// Consecutive creates runs at each connection count, all into one
    /// business, each printed: a cost that grows with the volume shows as
    /// falling runs.
    #[arg(long, default_value_t = 5)]
    pub(crate) create_runs: usize,
    /// Connections of the list run.
    #[arg(long, default_value_t = 16)]
    pub(crate) list_connections: usize,
    /// Concurrent clients sending bulks of 1,000 (0: skip that run).
    #[arg(long, default_value_t = 2)]
    pub(crate) bulk_clients: usize,
    /// The server's log filter (`RSVP_LOG`; its default `info` logs every request).
    #[arg(long, default_value = "info")]
    pub(crate) log: String,
    /// A setting for the server, `RSVP_KEY=VALUE` (repeatable), applied
    /// after the benchmark's own (e.g. `RSVP_EMAILS_PER_HOUR=0` turns
    /// the email cap off, `RSVP_DB_POOL_SIZE=16`).
    #[arg(long = "env", value_parser = crate::server::parse_env)]
    pub(crate) env: Vec<(String, String)>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct CreatesArgs {
    /// Invitations to create in all.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) invitations: usize,
    /// Concurrent tasks (the store's pool has 16 connections).
    #[arg(long, default_value_t = 16)]
    pub(crate) tasks: usize,
    /// Also measure `App::invite` (the checks that read first, then the same insert).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) app: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ListArgs {
    /// Invitations of the one big sender.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) rows: usize,
    /// Calls measured per list shape.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) calls: usize,
    /// Pages per cursor walk in the deep-pages shape.
    #[arg(long, default_value_t = 200)]
    pub(crate) pages: usize,
    /// Page size (1..=200).
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: u16,
    /// After seeding, print the database URL and wait for Enter before
    /// measuring (to look at query plans with psql meanwhile).
    #[arg(long)]
    pub(crate) inspect: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct PgbenchArgs {
    /// Transactions in all (split over the clients); rsvp creates as many.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) transactions: usize,
    /// pgbench clients, and rsvp tasks.
    #[arg(long, default_value_t = 16)]
    pub(crate) clients: usize,
    /// pgbench threads (`-j`).
    #[arg(long, default_value_t = 2)]
    pub(crate) jobs: usize,
    /// pgbench query protocol: `prepared` (as diesel, which prepares and
    /// caches its statements), `extended` or `simple`.
    #[arg(long, default_value = "prepared")]
    pub(crate) protocol: String,
    /// The pgbench script (default: the committed
    /// crates/rsvp-bench/pgbench/create_invitation.sql).
    #[arg(long)]
    pub(crate) script: Option<PathBuf>,
    /// Pairs of runs (pgbench, then rsvp), alternating; the ratio is of the medians.
    #[arg(long, default_value_t = 5)]
    pub(crate) rounds: usize,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct DrainArgs {
    /// Queued invitations (emails) to drain.
    #[arg(long, default_value_t = 5_000)]
    pub(crate) emails: usize,
    /// Dispatchers run at once, one drain each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    pub(crate) dispatchers: Vec<usize>,
    /// Jobs each `run_once` claims (the dispatcher's default is 200).
    #[arg(long, default_value_t = 200)]
    pub(crate) batch: usize,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct LatencyArgs {
    /// Invitations created (and emails awaited).
    #[arg(long, default_value_t = 200)]
    pub(crate) creates: usize,
    /// Creates per second.
    #[arg(long, default_value_t = 20.0)]
    pub(crate) rate: f64,
    /// The `rsvp` binary (default: the one next to rsvp-bench).
    #[arg(long)]
    pub(crate) binary: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct AllArgs {
    /// As `creates --invitations` and `pgbench --transactions`.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) invitations: usize,
    /// As `list --rows`.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) rows: usize,
    /// As `list --calls`.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) calls: usize,
    /// As `drain --emails`.
    #[arg(long, default_value_t = 5_000)]
    pub(crate) emails: usize,
    /// As `pgbench --rounds`.
    #[arg(long, default_value_t = 5)]
    pub(crate) rounds: usize,
}
