//! `list`: `InvitationStore::list_sent` latency for one business holding a million
//! invitations.
//!
//! The seeder writes the rows on the server in one `INSERT ... SELECT` over
//! `generate_series` (no row crosses the network), with the secondary
//! indexes of `invitations` dropped during the load and rebuilt after it
//! from their own definitions (`pg_indexes`), then `ANALYZE`. The rows are
//! what two years of a busy sender look like: `created_at` spread evenly
//! over 730 days, UUIDv7-shaped ids of that time, distinct emails (some in
//! mixed case), 80 % expiring after 14 days and 20 % after 30, pending only
//! while not expired, otherwise accepted / expired / rejected / cancelled,
//! optional message, names, external id, custom data and roles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use diesel::connection::SimpleConnection;
use diesel::{PgConnection, QueryableByName, RunQueryDsl};
use rsvp_app::{Cursor, InvitationFilter, InvitationQuery, PageSize, Store as _};
use rsvp_domain::{BusinessId, EmailAddress, InvitationStatus};
use rsvp_store_diesel::DieselStore;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::BenchDatabase;
use crate::fixture;
use crate::stats::{Summary, ms, thousands};

/// Nanoseconds in a day.
const DAY: i64 = 86_400 * 1_000_000_000;
/// The seeded history.
const HISTORY_DAYS: i64 = 730;
/// Businesses that accepted invitations (the accepted rows point at them).
const INVITEES: usize = 20;
/// Other senders, with a few rows each, so that the statistics see more
/// than one business.
const OTHER_SENDERS: usize = 10;
/// Rows of each other sender.
const OTHER_ROWS: usize = 2_000;

/// Settings of the list benchmark.
#[derive(Debug, Clone, Copy)]
pub struct ListSettings {
    /// Invitations of the one big sender.
    pub rows: usize,
    /// Calls measured per list shape.
    pub calls: usize,
    /// Pages per cursor walk of the deep-page shape.
    pub pages_per_walk: usize,
    /// Page size.
    pub limit: u16,
    /// Print the database's URL after seeding and wait for a line on stdin
    /// before measuring (to look at plans with psql meanwhile).
    pub inspect: bool,
}

/// The figures of one list shape.
#[derive(Debug, Clone)]
pub struct ShapeReport {
    /// What was listed.
    pub shape: &'static str,
    /// Latency of each call.
    pub latency: Summary,
    /// Rows returned in all.
    pub rows: usize,
}

/// What the list benchmark measured.
#[derive(Debug, Clone)]
pub struct ListReport {
    /// Invitations of the big sender.
    pub rows: usize,
    /// Time to write them (rows + indexes + ANALYZE).
    pub seeding: Duration,
    /// Of which: the INSERT ... SELECT.
    pub inserting: Duration,
    /// Of which: rebuilding the secondary indexes.
    pub indexing: Duration,
    /// Of which: ANALYZE.
    pub analyzing: Duration,
    /// Rows by stored status, largest first.
    pub statuses: Vec<(String, i64)>,
    /// Per shape.
    pub shapes: Vec<ShapeReport>,
}

impl ListReport {
    /// Prints the figures.
    pub fn print(&self) {
        println!(
            "  seeded {} invitations of one business in {:.1} s (insert {:.1} s, indexes {:.1} s, analyze {:.1} s)",
            thousands(self.rows as u64),
            self.seeding.as_secs_f64(),
            self.inserting.as_secs_f64(),
            self.indexing.as_secs_f64(),
            self.analyzing.as_secs_f64()
        );
        let mix: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, n)| format!("{status} {}", thousands(u64::try_from(*n).unwrap_or(0))))
            .collect();
        println!("  stored statuses: {}", mix.join(", "));
        println!(
            "  {:<48} {:>6} {:>8} {:>9} {:>9} {:>9}",
            "list_sent shape", "calls", "rows", "p50 ms", "p99 ms", "max ms"
        );
        for shape in &self.shapes {
            println!(
                "  {:<48} {:>6} {:>8} {:>9} {:>9} {:>9}",
                shape.shape,
                shape.latency.count,
                shape.rows,
                ms(shape.latency.p50),
                ms(shape.latency.p99),
                ms(shape.latency.max)
            );
        }
    }
}

/// Seeds a fresh database and measures every list shape.
pub async fn run(server: &str, settings: ListSettings) -> anyhow::Result<ListReport> {
    let database = BenchDatabase::create(server)?;
    let store = Arc::new(database.migrated_store().await?);
    let app = fixture::app(store.clone());
    let sender = fixture::sender(&app, "Big Sender", "owner@big-sender.example").await?;
    let mut members = vec![sender.user.id.to_string()];
    for n in 1..5 {
        let added = app
            .add_user(
                sender.business.id,
                rsvp_app::NewUserInput {
                    email: Some(format!("member{n}@big-sender.example")),
                    first_name: None,
                    last_name: None,
                    external_id: None,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("adding a member: {e}"))?;
        members.push(added.user.id.to_string());
    }
    let mut invitees = Vec::new();
    for n in 0..INVITEES {
        let invitee = fixture::sender(&app, &format!("Invitee {n}"), &format!("owner@invitee{n}.example")).await?;
        invitees.push(invitee.business.id.to_string());
    }
    let mut others = Vec::new();
    for n in 0..OTHER_SENDERS {
        let other = fixture::sender(&app, &format!("Other {n}"), &format!("owner@other{n}.example")).await?;
        others.push((other.business.id.to_string(), other.user.id.to_string()));
    }

    let now = OffsetDateTime::now_utc();
    let now_ns = i64::try_from(now.unix_timestamp_nanos()).context("now")?;
    let rows = settings.rows;
    let plan = SeedPlan {
        now: now_ns,
        business: sender.business.id.to_string(),
        members,
        invitees,
    };
    let url = database.url().to_owned();
    let seeded = tokio::task::spawn_blocking(move || -> anyhow::Result<(Timings, Vec<(String, i64)>)> {
        let mut conn = diesel::Connection::establish(&url).context("connecting for the seeder")?;
        let timings = seed(&mut conn, &url, &plan, rows, &others)?;
        let statuses = status_mix(&mut conn, &plan.business)?;
        Ok((timings, statuses))
    })
    .await??;
    let (timings, statuses) = seeded;
    if settings.inspect {
        println!(
            "  seeded: {} (business_id {}); press Enter to measure",
            database.url(),
            sender.business.id
        );
        let mut line = String::new();
        tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await??;
    }

    let business = sender.business.id;
    let mut shapes = Vec::new();
    let limit = PageSize::new(i64::from(settings.limit)).context("page size 1..=200")?;
    shapes.push(first_pages(&store, business, limit, settings.calls).await?);
    shapes.push(deep_pages(&store, business, limit, settings, now_ns).await?);
    shapes.push(
        walks(
            &store,
            business,
            limit,
            settings.calls,
            "status=pending, every page (cursor walks)",
            filter_statuses(&[InvitationStatus::Pending]),
        )
        .await?,
    );
    shapes.push(email_lists(&store, business, limit, settings.calls, rows).await?);
    shapes.push(
        walks(
            &store,
            business,
            limit,
            settings.calls,
            "status=cancelled, every page from the top",
            filter_statuses(&[InvitationStatus::Cancelled]),
        )
        .await?,
    );
    shapes.push(
        walks(
            &store,
            business,
            limit,
            settings.calls,
            "status=expired, every page from the top",
            filter_statuses(&[InvitationStatus::Expired]),
        )
        .await?,
    );
    drop(app);
    drop(store);
    Ok(ListReport {
        rows,
        seeding: timings.inserting + timings.indexing + timings.analyzing,
        inserting: timings.inserting,
        indexing: timings.indexing,
        analyzing: timings.analyzing,
        statuses,
        shapes,
    })
}

fn filter_statuses(statuses: &[InvitationStatus]) -> InvitationFilter {
    InvitationFilter {
        statuses: statuses.to_vec(),
        email: None,
    }
}

fn query(filter: InvitationFilter, limit: PageSize, after: Option<Cursor>) -> InvitationQuery {
    InvitationQuery {
        filter,
        limit,
        after,
        now: OffsetDateTime::now_utc(),
    }
}

/// The first page, unfiltered, `calls` times.
async fn first_pages(
    store: &DieselStore,
    business: BusinessId,
    limit: PageSize,
    calls: usize,
) -> anyhow::Result<ShapeReport> {
    let mut latencies = Vec::with_capacity(calls);
    let mut rows = 0;
    for _ in 0..calls {
        let q = query(InvitationFilter::default(), limit, None);
        let started = Instant::now();
        let page = store.invitations().list_sent(business, &q).await.context("list_sent")?;
        latencies.push(started.elapsed());
        rows += page.items.len();
    }
    Ok(ShapeReport {
        shape: "first page (no filter)",
        latency: Summary::of(latencies).context("no samples")?,
        rows,
    })
}

/// Unfiltered cursor walks of `pages_per_walk` pages, each starting at a
/// random point of the history, until `calls` pages.
async fn deep_pages(
    store: &DieselStore,
    business: BusinessId,
    limit: PageSize,
    settings: ListSettings,
    now_ns: i64,
) -> anyhow::Result<ShapeReport> {
    let mut latencies = Vec::with_capacity(settings.calls);
    let mut rows = 0;
    let mut walk = 0u64;
    while latencies.len() < settings.calls {
        // A start spread over the history (a cheap deterministic sequence).
        walk += 1;
        let fraction = ((walk * 0x9E37_79B9) % 1000) as f64 / 1000.0;
        let start_ns = now_ns - (fraction * (HISTORY_DAYS * DAY) as f64) as i64;
        let mut after = Some(Cursor {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(start_ns)).context("cursor time")?,
            id: Uuid::max(),
        });
        for _ in 0..settings.pages_per_walk {
            if latencies.len() >= settings.calls {
                break;
            }
            let q = query(InvitationFilter::default(), limit, after);
            let started = Instant::now();
            let page = store.invitations().list_sent(business, &q).await.context("list_sent")?;
            latencies.push(started.elapsed());
            rows += page.items.len();
            after = page.next;
            if after.is_none() {
                break;
            }
        }
    }
    Ok(ShapeReport {
        shape: "deep pages (no filter, cursor walks)",
        latency: Summary::of(latencies).context("no samples")?,
        rows,
    })
}

/// Filtered cursor walks from the top, following `next_cursor` to the end
/// of the list and starting again, until `calls` pages.
async fn walks(
    store: &DieselStore,
    business: BusinessId,
    limit: PageSize,
    calls: usize,
    shape: &'static str,
    filter: InvitationFilter,
) -> anyhow::Result<ShapeReport> {
    let mut latencies = Vec::with_capacity(calls);
    let mut rows = 0;
    let mut after = None;
    while latencies.len() < calls {
        let q = query(filter.clone(), limit, after);
        let started = Instant::now();
        let page = store.invitations().list_sent(business, &q).await.context("list_sent")?;
        latencies.push(started.elapsed());
        rows += page.items.len();
        after = page.next;
    }
    Ok(ShapeReport {
        shape,
        latency: Summary::of(latencies).context("no samples")?,
        rows,
    })
}

/// The list filtered by one seeded email (a different one each call).
async fn email_lists(
    store: &DieselStore,
    business: BusinessId,
    limit: PageSize,
    calls: usize,
    seeded: usize,
) -> anyhow::Result<ShapeReport> {
    let mut latencies = Vec::with_capacity(calls);
    let mut rows = 0;
    for call in 0..calls {
        let g = 1 + (call * 7919) % seeded;
        let email = EmailAddress::parse(&seeded_email(g)).map_err(|e| anyhow::anyhow!("seeded email: {e}"))?;
        let filter = InvitationFilter {
            statuses: Vec::new(),
            email: Some(email),
        };
        let q = query(filter, limit, None);
        let started = Instant::now();
        let page = store.invitations().list_sent(business, &q).await.context("list_sent")?;
        latencies.push(started.elapsed());
        rows += page.items.len();
    }
    anyhow::ensure!(
        rows == calls,
        "each seeded email should list exactly once, got {rows} rows for {calls} calls"
    );
    Ok(ShapeReport {
        shape: "email=<one address> (a different one each call)",
        latency: Summary::of(latencies).context("no samples")?,
        rows,
    })
}

/// The email of seeded row `g` as the sender typed it (normalized: lowercase).
fn seeded_email(g: usize) -> String {
    if g.is_multiple_of(10) {
        format!("Contact.{g}@Company{}.Example", g % 9973)
    } else {
        format!("contact.{g}@company{}.example", g % 9973)
    }
}

/// What the seeder needs to know.
#[derive(Debug)]
struct SeedPlan {
    now: i64,
    business: String,
    members: Vec<String>,
    invitees: Vec<String>,
}

#[derive(Debug, Default)]
struct Timings {
    inserting: Duration,
    indexing: Duration,
    analyzing: Duration,
}

#[derive(QueryableByName)]
struct IndexDef {
    #[diesel(sql_type = diesel::sql_types::Text)]
    indexname: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    indexdef: String,
}

/// A SQL array literal of ids (UUID text made here: nothing to escape).
fn text_array(ids: &[String]) -> String {
    let quoted: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
    format!("ARRAY[{}]::text[]", quoted.join(","))
}

/// The `INSERT ... SELECT` of rows `part` (numbers `g`, emails
/// `contact.<g>@...`) of the `rows` invitations of `business` numbered from
/// `first`, sent by one of `members`; row `first` is the oldest.
fn insert_sql(
    plan: &SeedPlan,
    business: &str,
    members: &[String],
    first: usize,
    rows: usize,
    part: std::ops::RangeInclusive<usize>,
) -> String {
    let now = plan.now;
    let span = HISTORY_DAYS * DAY;
    let step = span / i64::try_from(rows.max(1)).unwrap_or(i64::MAX);
    let (from, to) = part.into_inner();
    let member_count = members.len().max(1);
    let members = text_array(members);
    let invitees = text_array(&plan.invitees);
    // Per row: r1 picks the status, r2 the expiry, r3 the answer time, r4
    // the optional fields. Columns are those of the migrations, in order.
    format!(
        "INSERT INTO invitations (id, business_id, sent_by_user_id, email, email_normalized, status, message, \
             custom_data, roles, first_name, last_name, phone, external_id, source_is_invitee, invitee_business_id, \
             expires_at, created_at, updated_at, resolved_at, email_delivery, last_sent_at) \
         SELECT \
             substr(t.h, 1, 8) || '-' || substr(t.h, 9, 4) || '-7' || substr(t.m, 1, 3) || '-8' || substr(t.m, 4, 3) \
                 || '-' || substr(t.m, 7, 12), \
             '{business}', \
             ({members})[1 + t.g % {member_count}], \
             t.email, lower(t.email), t.status, \
             CASE WHEN t.r4 < 0.7 THEN 'Hello from Big Sender: we would like to add you to our network (' || t.g || ').' END, \
             CASE WHEN t.r4 < 0.2 THEN '{{\"crm_id\":\"' || t.g || '\",\"tier\":\"gold\",\"score\":' || (t.g % 100) || '}}' ELSE '{{}}' END, \
             CASE WHEN t.r4 < 0.5 THEN '[\"supplier\"]' WHEN t.r4 < 0.6 THEN '[\"supplier\",\"orders:read\"]' ELSE '[]' END, \
             CASE WHEN t.r4 < 0.5 THEN 'Bob' END, \
             CASE WHEN t.r4 < 0.5 THEN 'Builder' END, \
             CASE WHEN t.r4 < 0.05 THEN '+49 30 1234567' END, \
             CASE WHEN t.r4 < 0.3 THEN 'crm-' || t.g END, \
             t.r4 < 0.25, \
             CASE WHEN t.status = 'accepted' THEN ({invitees})[1 + t.g % {invitee_count}] END, \
             t.expires_at, t.created_at, \
             CASE WHEN t.status = 'pending' THEN t.created_at ELSE t.resolved_at END, \
             CASE WHEN t.status = 'pending' THEN NULL ELSE t.resolved_at END, \
             CASE WHEN t.r4 < 0.02 THEN 'failed' ELSE 'sent' END, \
             t.created_at \
         FROM ( \
             SELECT s.*, \
                 CASE \
                     WHEN s.expires_at > {now} THEN \
                         CASE WHEN s.r1 < 0.60 THEN 'pending' WHEN s.r1 < 0.82 THEN 'accepted' \
                              WHEN s.r1 < 0.90 THEN 'rejected' ELSE 'cancelled' END \
                     ELSE \
                         CASE WHEN s.r1 < 0.45 THEN 'accepted' WHEN s.r1 < 0.80 THEN 'expired' \
                              WHEN s.r1 < 0.92 THEN 'rejected' ELSE 'cancelled' END \
                 END AS status, \
                 CASE WHEN s.r1 >= 0.45 AND s.r1 < 0.80 AND s.expires_at <= {now} THEN s.expires_at \
                      ELSE s.created_at + (s.r3 * (LEAST(s.expires_at, {now}) - s.created_at))::bigint END \
                     AS resolved_at \
             FROM ( \
                 SELECT g, created_at, r1, r2, r3, r4, \
                     CASE WHEN g % 10 = 0 THEN 'Contact.' || g || '@Company' || (g % 9973) || '.Example' \
                          ELSE 'contact.' || g || '@company' || (g % 9973) || '.example' END AS email, \
                     lpad(to_hex(created_at / 1000000), 12, '0') AS h, \
                     md5(g::text || '{business}') AS m, \
                     created_at + (CASE WHEN r2 < 0.8 THEN 14 ELSE 30 END) * {DAY}::bigint AS expires_at \
                 FROM ( \
                     SELECT g, {start}::bigint + (g - {first})::bigint * {step} + (random() * {step})::bigint AS created_at, \
                         random() AS r1, random() AS r2, random() AS r3, random() AS r4 \
                     FROM generate_series({from}, {to}) AS g \
                 ) AS base \
             ) AS s \
         ) AS t",
        invitee_count = plan.invitees.len().max(1),
        start = now - span,
    )
}

fn seed(
    conn: &mut PgConnection,
    url: &str,
    plan: &SeedPlan,
    rows: usize,
    others: &[(String, String)],
) -> anyhow::Result<Timings> {
    let mut timings = Timings::default();
    // Secondary indexes are rebuilt after the load, from their own
    // definitions: one sort per index instead of a million insertions.
    let indexes: Vec<IndexDef> = diesel::sql_query(
        "SELECT indexname::text AS indexname, indexdef FROM pg_indexes \
         WHERE schemaname = 'public' AND tablename = 'invitations' AND indexname <> 'invitations_pkey'",
    )
    .load(conn)?;
    let started = Instant::now();
    for index in &indexes {
        conn.batch_execute(&format!("DROP INDEX \"{}\"", index.indexname))?;
    }
    // One INSERT ... SELECT per core, on its own connection, each over its
    // share of the rows (a statement runs on one core).
    let parts = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, 4);
    let share = rows.div_ceil(parts);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..parts)
            .map(|part| {
                let from = 1 + part * share;
                let to = rows.min((part + 1) * share);
                let sql = insert_sql(plan, &plan.business, &plan.members, 1, rows, from..=to);
                scope.spawn(move || -> anyhow::Result<()> {
                    if from > to {
                        return Ok(());
                    }
                    let mut conn: PgConnection = diesel::Connection::establish(url).context("connecting a seeder")?;
                    // Reproducible rows.
                    conn.batch_execute(&format!("SELECT setseed(0.{})", 42 + part))?;
                    conn.batch_execute(&sql).context("seeding the big sender")
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("a seeding thread panicked"))??;
        }
        Ok(())
    })?;
    for (n, (business, user)) in others.iter().enumerate() {
        let first = rows + 1 + n * OTHER_ROWS;
        let last = first + OTHER_ROWS - 1;
        let sql = insert_sql(
            plan,
            business,
            std::slice::from_ref(user),
            first,
            OTHER_ROWS,
            first..=last,
        );
        conn.batch_execute(&sql).context("seeding the other senders")?;
    }
    timings.inserting = started.elapsed();
    let started = Instant::now();
    conn.batch_execute("SET maintenance_work_mem = '256MB'")?;
    for index in &indexes {
        conn.batch_execute(&index.indexdef)
            .with_context(|| format!("rebuilding {}", index.indexname))?;
    }
    timings.indexing = started.elapsed();
    let started = Instant::now();
    conn.batch_execute("VACUUM (ANALYZE) invitations")?;
    timings.analyzing = started.elapsed();
    Ok(timings)
}

#[derive(QueryableByName)]
struct StatusCount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn status_mix(conn: &mut PgConnection, business: &str) -> anyhow::Result<Vec<(String, i64)>> {
    let rows: Vec<StatusCount> = diesel::sql_query(format!(
        "SELECT status::text AS status, count(*) AS n FROM invitations WHERE business_id = '{business}' \
         GROUP BY status ORDER BY n DESC"
    ))
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.status, r.n)).collect())
}
