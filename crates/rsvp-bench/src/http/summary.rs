//! The figures of a run as the tables people read: medians of the rounds
//! (of each round's last creates run, the one with the most volume behind
//! it), each round's rate, ratios to pgbench, and every consecutive run.

use super::*;

/// A latency as the issues write it: `0.85 ms`, `28.7 ms`, `663 ms`, `1.54 s`.
pub fn latency(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

pub(super) fn median_of<T>(items: &[T], value: impl Fn(&T) -> Option<f64>) -> Option<f64> {
    let values: Vec<f64> = items.iter().filter_map(value).collect();
    (!values.is_empty()).then(|| median(values))
}

pub(super) fn median_duration<T>(items: &[T], value: impl Fn(&T) -> Option<Duration>) -> Option<Duration> {
    median_of(items, |item| value(item).map(|d| d.as_secs_f64())).map(Duration::from_secs_f64)
}

pub(super) fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| thousands(v.round() as u64))
}

pub(super) fn opt_latency(value: Option<Duration>) -> String {
    value.map_or_else(|| "—".to_owned(), latency)
}

/// The medians of each workload's wrk figures over the rounds.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct WrkMedians {
    rate: Option<f64>,
    p50: Option<Duration>,
    p90: Option<Duration>,
    p99: Option<Duration>,
    max: Option<Duration>,
    errors: u64,
    /// Requests/s of each round, in order.
    per_round: Vec<Option<f64>>,
}

pub(super) fn wrk_medians(reports: &[Option<&WrkReport>]) -> WrkMedians {
    WrkMedians {
        rate: median_of(reports, |r| r.map(|r| r.requests_per_second)),
        p50: median_duration(reports, |r| r.map(|r| r.p50)),
        p90: median_duration(reports, |r| r.map(|r| r.p90)),
        p99: median_duration(reports, |r| r.map(|r| r.p99)),
        max: median_duration(reports, |r| r.map(|r| r.max)),
        errors: reports.iter().flatten().map(|r| r.errors()).sum(),
        per_round: reports.iter().map(|r| r.map(|r| r.requests_per_second)).collect(),
    }
}

/// Each round's rate: `2,169 / 2,274 / 269` (a median can hide a bad round).
pub(super) fn per_round(values: &[Option<f64>]) -> String {
    values.iter().map(|v| rate(*v)).collect::<Vec<_>>().join(" / ")
}

impl HttpReport {
    /// The summary as Markdown tables: the table (PostgreSQL) or
    /// the creates table (SQLite), then rsvp's latencies in detail.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let rounds = self.rsvp.len();
        let peak_rss = self.rsvp.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0) as f64 / 1024.0;
        let workloads = self.workloads();
        match self.settings.backend {
            Backend::Postgres => {
                let _ = writeln!(
                    out,
                    "| workload | rsvp over HTTP (median of {rounds}) | pgbench limit (median of {}) | ratio |",
                    self.pgbench.len()
                );
                let _ = writeln!(out, "|---|---|---|---|");
                for (name, medians, pgbench) in &workloads {
                    let pgbench = &median_of(pgbench, |tps| *tps);
                    let ratio = match (medians.rate, pgbench) {
                        (Some(rsvp), Some(pg)) => format!("{:.2}", rsvp / pg),
                        _ => "—".to_owned(),
                    };
                    let _ = writeln!(
                        out,
                        "| {name} | {} rps, p99 {} | {} tps | {ratio} |",
                        rate(medians.rate),
                        opt_latency(medians.p99),
                        rate(*pgbench)
                    );
                }
                let bulk = median_duration(&self.rsvp, |r| {
                    (!r.bulk_times.is_empty()).then(|| {
                        Duration::from_secs_f64(median(r.bulk_times.iter().map(Duration::as_secs_f64).collect()))
                    })
                });
                let _ = writeln!(
                    out,
                    "| bulk of {} | {} each; {} invitations/s ({} with {} clients) | — | — |",
                    thousands(BULK_SIZE as u64),
                    opt_latency(bulk),
                    rate(median_of(&self.rsvp, RsvpRound::bulk_one_client_rate)),
                    rate(median_of(&self.rsvp, RsvpRound::bulk_concurrent_rate)),
                    self.settings.bulk_clients
                );
                let _ = writeln!(
                    out,
                    "| peak RSS of rsvp (VmHWM, max of rounds) | {peak_rss:.1} MB | — | — |"
                );
                let _ = writeln!(out);
                let _ = writeln!(
                    out,
                    "| workload | rsvp requests/s per round | p50 | p90 | p99 | max | errors | pgbench tps per round |"
                );
                let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
                for (name, medians, pgbench) in &workloads {
                    let _ = writeln!(
                        out,
                        "| {name} | {} | {} | {} | {} | {} | {} | {} |",
                        per_round(&medians.per_round),
                        opt_latency(medians.p50),
                        opt_latency(medians.p90),
                        opt_latency(medians.p99),
                        opt_latency(medians.max),
                        medians.errors,
                        per_round(pgbench)
                    );
                }
            }
            Backend::Sqlite => {
                let _ = writeln!(
                    out,
                    "| load (median of {rounds}; each round's last run) | creates/s | per round | p50 | p90 | p99 | max | errors |"
                );
                let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
                for (name, medians, _) in &workloads {
                    let _ = writeln!(
                        out,
                        "| {name} | {} | {} | {} | {} | {} | {} | {} |",
                        rate(medians.rate),
                        per_round(&medians.per_round),
                        opt_latency(medians.p50),
                        opt_latency(medians.p90),
                        opt_latency(medians.p99),
                        opt_latency(medians.max),
                        medians.errors
                    );
                }
                let _ = writeln!(
                    out,
                    "| peak RSS of rsvp (VmHWM, max of rounds) | {peak_rss:.1} MB | | | | | | |"
                );
            }
        }
        if self.settings.create_runs > 1 {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "| consecutive creates runs into one business | requests/s per run | p99 per run | worst ÷ best |"
            );
            let _ = writeln!(out, "|---|---|---|---|");
            for (index, round) in self.rsvp.iter().enumerate() {
                for &connections in &self.settings.create_connections {
                    let runs = round.creates_runs(connections);
                    let rates: Vec<f64> = runs.iter().map(|r| r.requests_per_second).collect();
                    let best = rates.iter().copied().fold(0.0_f64, f64::max);
                    let worst = rates.iter().copied().fold(f64::INFINITY, f64::min);
                    let _ = writeln!(
                        out,
                        "| round {}, c={connections} | {} | {} | {:.2} |",
                        index + 1,
                        rates
                            .iter()
                            .map(|r| thousands(r.round() as u64))
                            .collect::<Vec<_>>()
                            .join(" / "),
                        runs.iter().map(|r| latency(r.p99)).collect::<Vec<_>>().join(" / "),
                        if best > 0.0 { worst / best } else { 0.0 }
                    );
                }
            }
        }
        out
    }

    /// Each workload: its name, rsvp's medians, pgbench's tps per round.
    fn workloads(&self) -> Vec<(String, WrkMedians, Vec<Option<f64>>)> {
        let mut rows = Vec::new();
        for &connections in &self.settings.create_connections {
            let name = match self.settings.backend {
                Backend::Postgres => format!("create, c={connections}"),
                Backend::Sqlite if connections == 1 => "1 connection".to_owned(),
                Backend::Sqlite => format!("{connections} connections"),
            };
            let reports: Vec<Option<&WrkReport>> = self.rsvp.iter().map(|r| r.creates_at(connections)).collect();
            let pgbench = self
                .pgbench
                .iter()
                .map(|p| p.creates_at(connections).map(|r| r.tps))
                .collect();
            rows.push((name, wrk_medians(&reports), pgbench));
        }
        if self.settings.backend == Backend::Postgres {
            let reports: Vec<Option<&WrkReport>> = self.rsvp.iter().map(|r| r.list.as_ref()).collect();
            let pgbench = self.pgbench.iter().map(|p| p.list.as_ref().map(|r| r.tps)).collect();
            let statistics = match self.rsvp.iter().filter(|r| r.list_statistics == Some(true)).count() {
                0 => "no statistics".to_owned(),
                n => format!("statistics by autovacuum in {n} of {} rounds", self.rsvp.len()),
            };
            rows.insert(
                self.settings.create_connections.len(),
                (
                    format!(
                        "list first 50 of {} pending, c={} ({statistics})",
                        thousands((SEED_BULKS * BULK_SIZE) as u64),
                        self.settings.list_connections
                    ),
                    wrk_medians(&reports),
                    pgbench,
                ),
            );
        }
        rows
    }
}
