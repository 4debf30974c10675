//! `creates`: invitations created per second by concurrent tasks, each a
//! distinct email, on a fresh PostgreSQL database.
//!
//! Two paths, both measured:
//! * `store`: `InvitationStore::create_invitation` with records built as `App::invite`
//!   builds them, with the email cap on (one procedure call on PostgreSQL),
//!   compared with the pgbench script's rate;
//! * `app`: `App::invite`, what `POST /v1/invitations` costs without HTTP:
//!   the same insert plus the checks that read first (user by email,
//!   pending invitation).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rsvp_app::Store as _;
use time::OffsetDateTime;

use crate::db::BenchDatabase;
use crate::fixture;
use crate::stats::{Summary, ms, rate, thousands};

/// Which code path creates the invitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `InvitationStore::create_invitation`.
    Store,
    /// `App::invite`.
    App,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Store => "InvitationStore::create_invitation",
            Self::App => "App::invite",
        })
    }
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct CreatesReport {
    /// The path measured.
    pub path: Path,
    /// Invitations created.
    pub count: usize,
    /// Concurrent tasks.
    pub tasks: usize,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Latency of each call.
    pub latency: Summary,
}

impl CreatesReport {
    /// Creates per second.
    pub fn per_second(&self) -> f64 {
        rate(self.count, self.elapsed)
    }

    /// Prints the figures.
    pub fn print(&self) {
        println!(
            "  {:<26} {} creates, {} tasks: {:>8.0} creates/s   p50 {} ms   p99 {} ms   max {} ms",
            self.path.to_string(),
            thousands(self.count as u64),
            self.tasks,
            self.per_second(),
            ms(self.latency.p50),
            ms(self.latency.p99),
            ms(self.latency.max)
        );
    }
}

/// Creates `count` invitations through `path` with `tasks` concurrent tasks
/// on a fresh database, and checks they are all there.
pub async fn run(server: &str, path: Path, count: usize, tasks: usize) -> anyhow::Result<CreatesReport> {
    let database = BenchDatabase::create(server)?;
    let store = Arc::new(database.migrated_store().await?);
    let app = fixture::app(store.clone());
    let sender = fixture::sender(&app, "Bench Sender", "owner@sender.example").await?;
    let label = fixture::run_label();
    // Warm the pool up to its size, so that connecting is not measured.
    let warm: Vec<_> = (0..tasks)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.ping().await })
        })
        .collect();
    for task in warm {
        task.await?.context("warming the pool")?;
    }

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, app, sender, next, label) =
                (store.clone(), app.clone(), sender.clone(), next.clone(), label.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(count / tasks + 1);
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        break;
                    }
                    let request = fixture::request(&fixture::email(&label, n))?;
                    match path {
                        Path::Store => {
                            let now = OffsetDateTime::now_utc();
                            let record = fixture::new_record(sender.business.id, sender.user.id, request, now);
                            let call = Instant::now();
                            // The cap on, high enough never to refuse: its cost is measured.
                            let cap = Some(rsvp_app::EmailCap {
                                limit: crate::server::BENCH_EMAILS_PER_HOUR,
                            });
                            store
                                .invitations()
                                .create_invitation(&record, cap)
                                .await
                                .context("create_invitation")?;
                            latencies.push(call.elapsed());
                        }
                        Path::App => {
                            let call = Instant::now();
                            app.invite(&sender, request)
                                .await
                                .map_err(|e| anyhow::anyhow!("App::invite: {e}"))?;
                            latencies.push(call.elapsed());
                        }
                    }
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let elapsed = started.elapsed();

    let mut conn = database.connect()?;
    let stored = fixture::count(&mut conn, "SELECT count(*) AS n FROM email_jobs")?;
    anyhow::ensure!(
        usize::try_from(stored).ok() == Some(count),
        "expected {count} invitations with their email jobs, found {stored}"
    );
    drop(app);
    drop(store);
    Ok(CreatesReport {
        path,
        count,
        tasks,
        elapsed,
        latency: Summary::of(latencies).context("no samples")?,
    })
}
