//! Every statement the store runs is served by an index, on both backends:
//! the statements are captured while every port method runs, then
//! explained.

#![allow(clippy::wildcard_imports)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use diesel::connection::InstrumentationEvent;

use crate::store::port_walk::exercise_every_query;
use crate::store::test_support::migrated_store;
use crate::store::*;
use crate::testing::TestDatabase;

/// Every SQL statement the store sends while `exercise_every_query`
/// runs, without its binds. The store must have a pool of one.
async fn statements_of_every_query(store: &DieselStore) -> Vec<String> {
    let statements = Arc::new(Mutex::new(BTreeSet::new()));
    let sink = Arc::clone(&statements);
    store
        .on_every_connection(move |conn: &mut DbConnection| {
            let sink = Arc::clone(&sink);
            conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                if let InstrumentationEvent::StartQuery { query, .. } = event {
                    let text = query.to_string();
                    let sql = text.split(" -- binds: ").next().unwrap_or_default().trim().to_owned();
                    sink.lock().unwrap().insert(sql);
                }
            });
        })
        .await;
    exercise_every_query(store).await;
    store
        .on_every_connection(|conn: &mut DbConnection| {
            conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
        })
        .await;
    let statements = statements.lock().unwrap();
    let explained: Vec<String> = statements
        .iter()
        .filter(|sql| {
            ["SELECT", "UPDATE", "DELETE", "WITH"]
                .iter()
                .any(|verb| sql.starts_with(verb))
        })
        .filter(|sql| sql.as_str() != "SELECT 1")
        .cloned()
        .collect();
    assert!(explained.len() >= 20, "too few statements captured: {statements:#?}");
    explained
}

#[derive(QueryableByName)]
struct SqlitePlanStep {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanLine {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

/// The plan of each statement: on SQLite `EXPLAIN QUERY PLAN` (unbound
/// parameters read as NULL, and the plan does not depend on them); on
/// PostgreSQL the generic plan (the one a prepared statement gets,
/// whatever its parameters) with sequential scans priced out, so that
/// one shows only where no index can serve the query.
async fn plans(store: &DieselStore, statements: Vec<String>) -> Vec<(String, Vec<String>)> {
    let pool = store.pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().unwrap();
        statements
            .into_iter()
            .map(|sql| {
                let steps = match &mut **conn {
                    DbConnection::Sqlite(lite) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                        .load::<SqlitePlanStep>(lite)
                        .unwrap_or_else(|e| panic!("explaining {sql}: {e}"))
                        .into_iter()
                        .map(|step| step.detail)
                        .collect(),
                    DbConnection::Pg(pg) => {
                        let params = (1..=64).take_while(|n| sql.contains(&format!("${n}"))).count();
                        let nulls = vec!["NULL"; params].join(", ");
                        pg.batch_execute(&format!(
                            "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; \
                             PREPARE rsvp_plan AS {sql}"
                        ))
                        .unwrap_or_else(|e| panic!("preparing {sql}: {e}"));
                        let explain = if params == 0 {
                            "EXPLAIN EXECUTE rsvp_plan".to_owned()
                        } else {
                            format!("EXPLAIN EXECUTE rsvp_plan({nulls})")
                        };
                        let lines = diesel::sql_query(explain)
                            .load::<PgPlanLine>(pg)
                            .unwrap_or_else(|e| panic!("explaining {sql}: {e}"));
                        pg.batch_execute("DEALLOCATE rsvp_plan").unwrap();
                        lines.into_iter().map(|l| l.line.trim().to_owned()).collect()
                    }
                };
                (sql, steps)
            })
            .collect()
    })
    .await
    .unwrap()
}

const EXPECTED_INDEXES: [&str; 13] = [
    "invitations_one_pending_per_email",
    "invitations_sent_keyset_idx",
    "invitations_sent_pending_keyset_idx",
    "invitations_received_keyset_idx",
    "invitations_pending_expiry_idx",
    "email_jobs_queued_idx",
    "events_business_keyset_idx",
    "events_invitee_keyset_idx",
    "connections_inviter_keyset_idx",
    "connections_invitee_keyset_idx",
    "connections_one_per_pair",
    "users_email_normalized_key",
    "api_keys_key_hash_key",
];

fn assert_every_query_uses_an_index(plans: &[(String, Vec<String>)], is_full_scan: impl Fn(&str) -> bool) {
    for (sql, steps) in plans {
        assert!(
            !steps.iter().any(|step| is_full_scan(step)),
            "full scan in the plan of\n{sql}\n{steps:#?}"
        );
    }
    for index in EXPECTED_INDEXES {
        assert!(
            plans.iter().any(|(_, steps)| steps.iter().any(|s| s.contains(index))),
            "no query used {index}: {plans:#?}"
        );
    }
}

#[tokio::test]
async fn every_query_on_sqlite_is_served_by_an_index_never_a_full_scan() {
    let database = TestDatabase::sqlite();
    let store = migrated_store(&database, 1).await;
    let statements = statements_of_every_query(&store).await;
    let plans = plans(&store, statements).await;
    // A scan is full unless it reads, in order and up to the limit, the
    // partial index that holds only the queued jobs (the outbox claim),
    // or the one constant row that the facts of a new invitation join
    // the invitee user to (`context.rs`).
    assert_every_query_uses_an_index(&plans, |step| {
        step.starts_with("SCAN ")
            && !step.starts_with("SCAN CONSTANT")
            && step != "SCAN one"
            && !step.ends_with("USING INDEX email_jobs_queued_idx")
    });
}

#[tokio::test]
async fn every_query_on_postgres_is_served_by_an_index_never_a_sequential_scan() {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
    let store = migrated_store(&database, 1).await;
    let statements = statements_of_every_query(&store).await;
    let plans = plans(&store, statements).await;
    assert_every_query_uses_an_index(&plans, |step| step.contains("Seq Scan"));
    // A page runs on its generic plan (it is prepared), and an index read
    // whole is a sequential scan by another name: every page seeks.
    let whole_index_reads: Vec<(&String, &String)> = plans
        .iter()
        .filter(|(sql, _)| is_page(sql))
        .flat_map(|(sql, steps)| {
            steps.iter().enumerate().filter_map(move |(at, step)| {
                let is_index_scan = step.contains("Index Scan using") || step.contains("Index Only Scan using");
                let seeks = steps.get(at + 1).is_some_and(|next| next.starts_with("Index Cond:"));
                (is_index_scan && !seeks).then_some((sql, step))
            })
        })
        .collect();
    assert!(whole_index_reads.is_empty(), "{whole_index_reads:#?}");
    // A lookup by a list of keys seeks each key: a key list applied as a
    // filter reads every row the rest of the condition matches (a bulk's
    // pending lookup read all of a business's pending invitations).
    let keys_filtered: Vec<(&String, &String)> = plans
        .iter()
        .flat_map(|(sql, steps)| {
            steps
                .iter()
                .filter(|step| step.starts_with("Filter:") && step.contains("= ANY ($"))
                .map(move |step| (sql, step))
        })
        // The idempotency prune's list filters the batch's own expiry range
        // (`expires_at BETWEEN` its first and last), which the index seeks.
        .filter(|(sql, _)| !sql.contains("\"idempotency_records\".\"expires_at\" BETWEEN"))
        .collect();
    assert!(keys_filtered.is_empty(), "{keys_filtered:#?}");
    let pending_for_emails = plans
        .iter()
        .find(|(sql, _)| sql.contains("AS wanted (email_normalized)"))
        .expect("the bulk's pending lookup");
    assert!(
        pending_for_emails
            .1
            .iter()
            .any(|step| step.starts_with("Index Cond:") && step.contains("email_normalized = wanted.email_normalized")),
        "{pending_for_emails:#?}"
    );
    // The sent list reads its index in order: no sort.
    let sent = plans
        .iter()
        .find(|(sql, steps)| {
            sql.contains("\"invitations\".\"business_id\" = $1") && steps.iter().any(|s| s.contains("sent_keyset"))
        })
        .expect("the sent list's plan");
    assert!(
        !sent.1.iter().any(|s| s.starts_with("Sort") || s.contains("-> Sort")),
        "{sent:#?}"
    );
    drop(store);
}

#[derive(QueryableByName)]
struct PreparedStatement {
    #[diesel(sql_type = Text)]
    statement: String,
}

/// A page of a list, newest first: the statements that a user pages through
/// and that this crate keeps cacheable (`sql.rs`).
fn is_page(sql: &str) -> bool {
    sql.starts_with("SELECT") && sql.contains(" DESC") && sql.contains(" LIMIT ")
}

#[tokio::test]
async fn every_page_on_postgres_is_a_prepared_statement_so_it_is_planned_once_per_connection() {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
    let store = migrated_store(&database, 1).await;
    let statements = statements_of_every_query(&store).await;
    let pool = store.pool.clone();
    let prepared: Vec<String> = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().unwrap();
        let DbConnection::Pg(pg) = &mut **conn else {
            unreachable!("a PostgreSQL store")
        };
        diesel::sql_query("SELECT statement FROM pg_prepared_statements")
            .load::<PreparedStatement>(pg)
            .unwrap()
            .into_iter()
            .map(|p| p.statement)
            .collect()
    })
    .await
    .unwrap();
    let unprepared: Vec<&String> = statements
        .iter()
        .filter(|sql| is_page(sql))
        .filter(|sql| !prepared.iter().any(|p| p.trim() == sql.trim()))
        .collect();
    assert!(unprepared.is_empty(), "planned at every call: {unprepared:#?}");
    for page in [
        "(invitations.created_at, invitations.id) <",
        "invitations.status = 'pending'",
    ] {
        assert!(prepared.iter().any(|p| p.contains(page)), "{page}: {prepared:#?}");
    }
    drop(store);
}

/// The funnel's statement (both backends name its median `median_nanos`).
fn funnel_plan(plans: &[(String, Vec<String>)]) -> &(String, Vec<String>) {
    plans
        .iter()
        .find(|(sql, _)| sql.contains("AS median_nanos"))
        .expect("the funnel's statement")
}

#[tokio::test]
async fn the_funnel_seeks_the_range_of_the_sent_keyset_index_on_sqlite() {
    let database = TestDatabase::sqlite();
    let store = migrated_store(&database, 1).await;
    let statements = statements_of_every_query(&store).await;
    let plans = plans(&store, statements).await;
    let (sql, steps) = funnel_plan(&plans);
    // The outer count and both middle values (with their counts) read the
    // business's range, never the table.
    let seeks: Vec<&String> = steps
        .iter()
        .filter(|s| {
            s.contains("USING INDEX invitations_sent_keyset_idx (business_id=? AND created_at>? AND created_at<?)")
        })
        .collect();
    assert_eq!(seeks.len(), 5, "{sql}\n{steps:#?}");
    assert!(
        steps
            .iter()
            .filter(|s| s.starts_with("SEARCH") || s.starts_with("SCAN"))
            .all(|s| seeks.contains(&s)),
        "{sql}\n{steps:#?}"
    );
}

#[tokio::test]
async fn the_funnel_seeks_the_range_of_the_sent_keyset_index_on_postgres_with_its_generic_plan() {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
    let store = migrated_store(&database, 1).await;
    let statements = statements_of_every_query(&store).await;
    let plans = plans(&store, statements).await;
    let (sql, steps) = funnel_plan(&plans);
    assert!(sql.contains("percentile_disc"), "{sql}");
    // One pass: the index read once (a bitmap scan also reads the pages it
    // found), its range the condition (a seek, not the whole index), and
    // no other relation read.
    let reads: Vec<&String> = steps.iter().filter(|s| s.contains("Scan")).collect();
    assert!(
        (1..=2).contains(&reads.len())
            && reads
                .iter()
                .all(|s| s.contains("invitations_sent_keyset_idx") || s.contains("Bitmap Heap Scan on invitations")),
        "{sql}\n{steps:#?}"
    );
    let index = steps
        .iter()
        .position(|s| s.contains("invitations_sent_keyset_idx"))
        .unwrap_or_else(|| panic!("{sql}\n{steps:#?}"));
    let condition = steps.get(index + 1).map(String::as_str).unwrap_or_default();
    assert!(
        condition.starts_with("Index Cond:")
            && condition.contains("business_id = $1")
            && condition.contains("created_at >= $2")
            && condition.contains("created_at < $3"),
        "{sql}\n{steps:#?}"
    );
    drop(store);
}
