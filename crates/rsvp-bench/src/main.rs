//! `rsvp-bench`: figures of rsvp on PostgreSQL. Every benchmark runs on its
//! own fresh database (created on the `--server`, dropped at the end, on
//! Ctrl-C, or by the next run if this one was killed).
//!
//! ```text
//! cargo run --release -p rsvp-bench -- creates   # creates/s, 16 tasks
//! cargo run --release -p rsvp-bench -- list      # list_sent latency at 1M rows
//! cargo run --release -p rsvp-bench -- pgbench   # the same inserts in pgbench; rsvp ÷ pgbench
//! cargo run --release -p rsvp-bench -- drain     # outbox drain rate, 1 and 3 dispatchers
//! cargo run --release -p rsvp-bench -- latency   # 201 -> email provider, rsvp serve at 20 creates/s
//! cargo run --release -p rsvp-bench -- all       # everything, then a summary table
//!
//! cargo build --release --workspace               # the `http` benchmark runs target/release/rsvp
//! target/release/rsvp-bench http                  # over HTTP (wrk) vs the pgbench limit, 3 rounds
//! target/release/rsvp-bench http --backend sqlite # creates over HTTP on the zero-config SQLite
//! ```
//!
//! `http` starts the release `rsvp` binary next to `rsvp-bench` (or
//! `--rsvp PATH`) on a fresh database per round, loads it with wrk (Debian
//! package `wrk`; installed with `apt-get install -y wrk` when missing and
//! running as root) and alternates with pgbench running the limit scripts
//! of `crates/rsvp-bench/limit/` on the same server.
//!
//! See docs/BENCHMARKS.md for what each measures and the figures.

mod cli;
mod creates;
mod db;
mod drain;
mod fixture;
mod http;
mod latency;
mod limit;
mod list;
mod pgbench;
mod postmark;
mod server;
mod stats;
mod wrk;

use std::time::Instant;

use clap::Parser as _;

use crate::cli::{AllArgs, Cli, Command, CreatesArgs, DrainArgs, HttpArgs, ListArgs, PgbenchArgs};
use crate::creates::{CreatesReport, Path};
use crate::drain::DrainReport;
use crate::list::{ListReport, ListSettings};
use crate::pgbench::PgbenchReport;
use crate::stats::{ms, thousands};

/// What the pgbench comparison measured.
#[derive(Debug, Clone)]
struct Comparison {
    pgbench: Vec<PgbenchReport>,
    rsvp: Vec<CreatesReport>,
    protocol: String,
}

impl Comparison {
    fn pgbench_tps(&self) -> f64 {
        median(self.pgbench.iter().map(|r| r.tps).collect())
    }

    fn rsvp_per_second(&self) -> f64 {
        median(self.rsvp.iter().map(CreatesReport::per_second).collect())
    }

    fn ratio(&self) -> f64 {
        self.rsvp_per_second() / self.pgbench_tps()
    }

    fn print(&self) {
        for (round, (pg, rsvp)) in self.pgbench.iter().zip(&self.rsvp).enumerate() {
            println!(
                "  round {}: pgbench {:>8.0} tps (latency avg {} ms)   rsvp {:>8.0} creates/s (p50 {} ms, p99 {} ms)   ratio {:.2}",
                round + 1,
                pg.tps,
                pg.latency_average.map_or_else(|| "?".to_owned(), ms),
                rsvp.per_second(),
                ms(rsvp.latency.p50),
                ms(rsvp.latency.p99),
                rsvp.per_second() / pg.tps
            );
        }
        println!(
            "  median: pgbench {:.0} tps ({} protocol), rsvp {:.0} creates/s: ratio {:.2} (target >= 0.80)",
            self.pgbench_tps(),
            self.protocol,
            self.rsvp_per_second(),
            self.ratio()
        );
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    db::check_server_url(&cli.server)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = run(cli) => result,
            interrupted = tokio::signal::ctrl_c() => {
                interrupted?;
                eprintln!("interrupted: stopping rsvp, dropping the benchmark databases");
                server::stop_all_live();
                db::drop_all_live();
                std::process::exit(130);
            }
        }
    });
    server::remove_finished();
    outcome
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let server = cli.server;
    let on_sqlite = matches!(&cli.command, Command::Http(args) if args.backend == http::Backend::Sqlite);
    if !on_sqlite {
        let stale = tokio::task::spawn_blocking({
            let server = server.clone();
            move || db::drop_stale(&server)
        })
        .await??;
        for name in stale {
            eprintln!("dropped {name}, left behind by a killed run");
        }
    }
    print_machine();
    match cli.command {
        Command::Creates(args) => {
            run_creates(&server, &args).await?;
        }
        Command::List(args) => {
            run_list(&server, &args).await?;
        }
        Command::Pgbench(args) => {
            run_pgbench(&server, &args).await?;
        }
        Command::Drain(args) => {
            run_drain(&server, &args).await?;
        }
        Command::Latency(args) => {
            let binary = args.binary.clone().unwrap_or_else(latency::default_binary);
            println!(
                "\n== latency: {} creates at {}/s over HTTP, {} serve with RSVP_MAIL_TRANSPORT=http to a local stand-in ==",
                args.creates,
                args.rate,
                binary.display()
            );
            latency::run(&server, &binary, args.creates, args.rate).await?.print();
        }
        Command::All(args) => run_all(&server, &args).await?,
        Command::Http(args) => run_http(&server, args).await?,
    }
    Ok(())
}

async fn run_http(server: &str, args: HttpArgs) -> anyhow::Result<()> {
    let rsvp = match args.rsvp {
        Some(path) => path,
        None => server::default_binary()?,
    };
    let create_connections = args.connections.unwrap_or_else(|| match args.backend {
        http::Backend::Postgres => vec![16, 64],
        http::Backend::Sqlite => vec![1, 16],
    });
    let settings = http::HttpSettings {
        backend: args.backend,
        rsvp,
        seconds: args.seconds,
        rounds: args.rounds,
        threads: args.threads,
        create_connections,
        create_runs: args.create_runs.max(1),
        list_connections: args.list_connections,
        bulk_clients: args.bulk_clients,
        log: args.log,
        env: args.env,
    };
    println!(
        "\n== http: {} on {:?}, {} round(s) of {} s per measurement, wrk -t{} --latency ==",
        settings.rsvp.display(),
        settings.backend,
        settings.rounds,
        settings.seconds,
        settings.threads
    );
    let extra: Vec<String> = settings.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!(
        "server: defaults, RSVP_LOG={}, RSVP_EMAILS_PER_HOUR={} (the cap on, never reached){}{}",
        settings.log,
        server::BENCH_EMAILS_PER_HOUR,
        if extra.is_empty() { "" } else { ", then " },
        extra.join(" ")
    );
    let report = http::run(server, &settings).await?;
    println!("\n== http: summary ==\n");
    print!("{}", report.table());
    print_machine();
    Ok(())
}

fn print_machine() {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "rsvp-bench: {cores} cores, load average {} (other work on the machine skews the figures)",
        load.join(" ")
    );
}

async fn run_creates(server: &str, args: &CreatesArgs) -> anyhow::Result<Vec<CreatesReport>> {
    println!(
        "\n== creates: {} invitations, {} concurrent tasks, fresh database each ==",
        thousands(args.invitations as u64),
        args.tasks
    );
    let mut paths = vec![Path::Store];
    if args.app {
        paths.push(Path::App);
    }
    let mut reports = Vec::new();
    for path in paths {
        let report = creates::run(server, path, args.invitations, args.tasks).await?;
        report.print();
        reports.push(report);
    }
    Ok(reports)
}

async fn run_list(server: &str, args: &ListArgs) -> anyhow::Result<ListReport> {
    println!(
        "\n== list: one business with {} invitations, {} calls per shape, limit {} ==",
        thousands(args.rows as u64),
        args.calls,
        args.limit
    );
    let report = list::run(
        server,
        ListSettings {
            rows: args.rows,
            calls: args.calls,
            pages_per_walk: args.pages,
            limit: args.limit,
            inspect: args.inspect,
        },
    )
    .await?;
    report.print();
    Ok(report)
}

async fn run_pgbench(server: &str, args: &PgbenchArgs) -> anyhow::Result<Comparison> {
    let script = match &args.script {
        Some(path) => path.clone(),
        None => {
            let committed = pgbench::committed_script();
            if committed.is_file() {
                committed
            } else {
                // Run outside the source tree: the copy built in.
                let copy = std::env::temp_dir().join(format!("rsvp-bench-{}.sql", std::process::id()));
                std::fs::write(&copy, pgbench::SCRIPT)?;
                copy
            }
        }
    };
    println!(
        "\n== pgbench: {} transactions of {}, {} clients, -j {}, --protocol {}; then rsvp, same count and tasks ==",
        thousands(args.transactions as u64),
        script.display(),
        args.clients,
        args.jobs,
        args.protocol
    );
    let mut comparison = Comparison {
        pgbench: Vec::new(),
        rsvp: Vec::new(),
        protocol: args.protocol.clone(),
    };
    for _ in 0..args.rounds.max(1) {
        comparison.pgbench.push(
            pgbench::run(
                server,
                &script,
                args.transactions,
                args.clients,
                args.jobs,
                &args.protocol,
            )
            .await?,
        );
        comparison
            .rsvp
            .push(creates::run(server, Path::Store, args.transactions, args.clients).await?);
    }
    comparison.print();
    Ok(comparison)
}

async fn run_drain(server: &str, args: &DrainArgs) -> anyhow::Result<Vec<DrainReport>> {
    println!(
        "\n== drain: {} queued emails, HttpMailer (Postmark API) to a local stand-in, batch {} ==",
        thousands(args.emails as u64),
        args.batch
    );
    let mut reports = Vec::new();
    for &dispatchers in &args.dispatchers {
        let report = drain::run(server, args.emails, dispatchers.max(1), args.batch).await?;
        report.print();
        reports.push(report);
    }
    Ok(reports)
}

async fn run_all(server: &str, args: &AllArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let creates = run_creates(
        server,
        &CreatesArgs {
            invitations: args.invitations,
            tasks: 16,
            app: true,
        },
    )
    .await?;
    let comparison = run_pgbench(
        server,
        &PgbenchArgs {
            transactions: args.invitations,
            clients: 16,
            jobs: 2,
            protocol: "prepared".to_owned(),
            script: None,
            rounds: args.rounds,
        },
    )
    .await?;
    let list = run_list(
        server,
        &ListArgs {
            rows: args.rows,
            calls: args.calls,
            pages: 200,
            limit: 50,
            inspect: false,
        },
    )
    .await?;
    let drains = run_drain(
        server,
        &DrainArgs {
            emails: args.emails,
            dispatchers: vec![1, 4],
            batch: 50,
        },
    )
    .await?;

    println!("\n== summary ==");
    println!("  {:<62} {:>14}", "figure", "value");
    for report in &creates {
        println!(
            "  {:<62} {:>14}",
            format!("creates/s, 16 tasks, {}", report.path),
            format!("{:.0}", report.per_second())
        );
        println!(
            "  {:<62} {:>14}",
            format!("  p50 / p99 latency, {}", report.path),
            format!("{} / {} ms", ms(report.latency.p50), ms(report.latency.p99))
        );
    }
    println!(
        "  {:<62} {:>14}",
        format!("pgbench tps, same SQL, 16 clients ({})", comparison.protocol),
        format!("{:.0}", comparison.pgbench_tps())
    );
    println!(
        "  {:<62} {:>14}",
        "rsvp creates/s in the same rounds (InvitationStore::create_invitation)",
        format!("{:.0}", comparison.rsvp_per_second())
    );
    println!(
        "  {:<62} {:>14}",
        "ratio rsvp / pgbench (target >= 0.80)",
        format!("{:.2}", comparison.ratio())
    );
    println!(
        "  {:<62} {:>14}",
        format!("seeding {} invitations", thousands(list.rows as u64)),
        format!("{:.1} s", list.seeding.as_secs_f64())
    );
    for shape in &list.shapes {
        println!(
            "  {:<62} {:>14}",
            format!("list {}", shape.shape),
            format!("{} / {} ms", ms(shape.latency.p50), ms(shape.latency.p99))
        );
    }
    for drain in &drains {
        println!(
            "  {:<62} {:>14}",
            format!("drain emails/s, {} dispatcher(s)", drain.dispatchers),
            format!("{:.0}", drain.per_second())
        );
    }
    println!(
        "  {:<62} {:>14}",
        "run time of `all`",
        format!("{:.0} s", started.elapsed().as_secs_f64())
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn databases_of_this_process(server: &str) -> Vec<String> {
        use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            datname: String,
        }
        let mut conn = PgConnection::establish(server).unwrap();
        diesel::sql_query(format!(
            "SELECT datname FROM pg_database WHERE datname LIKE 'rsvp\\_bench\\_{}\\_%'",
            std::process::id()
        ))
        .load::<Name>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|n| n.datname)
        .collect()
    }

    // Small sizes: this checks that each benchmark runs, writes what it
    // says (each run verifies its row counts) and drops its databases; it
    // asserts nothing about time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_benchmark_runs_at_a_small_size_and_leaves_no_database_behind() {
        // The server the store's tests use (local, or a throwaway cluster);
        // this test's own database serves as the maintenance database.
        let holder = tokio::task::spawn_blocking(rsvp_store_diesel::testing::TestDatabase::postgres)
            .await
            .unwrap();
        let server = holder.url().to_owned();
        for path in [Path::Store, Path::App] {
            let report = creates::run(&server, path, 40, 4).await.unwrap();
            assert_eq!((report.count, report.latency.count), (40, 40));
        }
        let list = list::run(
            &server,
            ListSettings {
                rows: 3_000,
                calls: 20,
                pages_per_walk: 5,
                limit: 50,
                inspect: false,
            },
        )
        .await
        .unwrap();
        assert_eq!(list.shapes.len(), 6);
        assert!(list.shapes.iter().all(|s| s.latency.count == 20), "{:?}", list.shapes);
        let seeded: i64 = list.statuses.iter().map(|(_, n)| n).sum();
        assert_eq!(seeded, 3_000);
        let pgbench = pgbench::run(&server, &pgbench::committed_script(), 32, 4, 2, "prepared")
            .await
            .unwrap();
        assert!(pgbench.tps > 0.0);
        assert_eq!(pgbench.transactions, Some(32));
        let drain = drain::run(&server, 30, 2, 7).await.unwrap();
        assert_eq!(drain.emails, 30);
        let left = tokio::task::spawn_blocking(move || databases_of_this_process(&server))
            .await
            .unwrap();
        assert!(left.is_empty(), "left behind: {left:?}");
        tokio::task::spawn_blocking(move || drop(holder)).await.unwrap();
    }

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_two() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }
}
