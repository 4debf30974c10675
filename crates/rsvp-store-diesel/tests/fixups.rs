//! A database an older rsvp wrote — emails normalized by lowercasing only,
//! names with invisible format characters — is brought to today's rules by
//! running the migrations, on SQLite and on PostgreSQL.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::{PgConnection, SqliteConnection};
use rsvp_app::Store;
use rsvp_domain::{BusinessId, EmailAddress, InvitationId, UserId};
use rsvp_store_diesel::DieselStore;
use rsvp_store_diesel::testing::TestDatabase;
use uuid::Uuid;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

/// The rows as the previous version stored them: `email_normalized` is the
/// address lowercased, nothing more.
fn old_rows() -> String {
    let business = |n: u128, name: &str| {
        format!(
            "INSERT INTO businesses (id, name, created_at) VALUES ('{}', '{name}', 0);",
            id(n)
        )
    };
    let user = |n: u128, b: u128, email: &str, first: &str| {
        format!(
            "INSERT INTO users (id, business_id, email, email_normalized, first_name, last_name, created_at) \
             VALUES ('{}', '{}', '{email}', '{}', {first}, NULL, 0);",
            id(n),
            id(b),
            email.to_lowercase()
        )
    };
    let invitation = |n: u128, status: &str, email: &str, message: &str, first: &str| {
        format!(
            "INSERT INTO invitations (id, business_id, sent_by_user_id, email, email_normalized, status, message, \
             custom_data, roles, first_name, last_name, phone, external_id, source_is_invitee, invitee_business_id, \
             expires_at, created_at, updated_at, resolved_at, email_delivery, last_sent_at) VALUES \
             ('{}', '{}', '{}', '{email}', '{}', '{status}', {message}, '{{}}', '[]', {first}, NULL, NULL, \
             'crm-\u{2060}{n}', FALSE, NULL, 9000000000000000000, {n}, {n}, NULL, NULL, NULL);",
            id(n),
            id(1),
            id(10),
            email.to_lowercase()
        )
    };
    [
        business(1, "Acme"),
        business(2, "Glob\u{200B}ex"),
        business(3, "\u{FEFF}\u{202E}"),
        user(10, 1, "Ann@Bücher.test", "'Ann\u{00AD}'"),
        // Already in today's form: it keeps the mailbox ...
        user(11, 2, "bob@xn--bcher-kva.test", "NULL"),
        // ... which this one, one mailbox spelled another way, cannot take.
        user(12, 3, "BOB@BÜCHER.test", "NULL"),
        // Two spellings, neither in today's form: the first in id order takes it.
        user(13, 2, "carl@bu\u{0308}cher.test", "'\u{200B}'"),
        user(14, 3, "carl@bücher.test", "NULL"),
        invitation(20, "pending", "user@xn--bcher-kva.test", "NULL", "NULL"),
        invitation(21, "pending", "user@BÜCHER.test", "'hi \u{202E}there'", "'\u{200B}'"),
        invitation(22, "accepted", "user@bu\u{0308}cher.test", "NULL", "NULL"),
        invitation(23, "pending", "Other@Bücher.test", "'ok\u{200F}'", "'Nia\u{2066}'"),
    ]
    .concat()
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Normalized {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    email_normalized: String,
}

enum Raw {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl Raw {
    fn open(url: &str) -> Self {
        match url.strip_prefix("sqlite://") {
            Some(path) => Self::Sqlite(SqliteConnection::establish(path).unwrap()),
            None => Self::Pg(PgConnection::establish(url).unwrap()),
        }
    }

    fn execute(&mut self, sql: &str) {
        match self {
            Self::Pg(c) => c.batch_execute(sql).unwrap(),
            Self::Sqlite(c) => c.batch_execute(sql).unwrap(),
        }
    }

    fn normalized(&mut self, table: &str) -> Vec<(u128, String)> {
        let query = diesel::sql_query(format!("SELECT id, email_normalized FROM {table} ORDER BY id"));
        let rows: Vec<Normalized> = match self {
            Self::Pg(c) => query.load(c).unwrap(),
            Self::Sqlite(c) => query.load(c).unwrap(),
        };
        rows.into_iter()
            .map(|r| {
                (
                    Uuid::parse_str(&r.id).unwrap().as_u128() - id(0).as_u128(),
                    r.email_normalized,
                )
            })
            .collect()
    }

    fn pending_fixups(&mut self) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let query = diesel::sql_query("SELECT COUNT(*) AS n FROM pending_fixups");
        let rows: Vec<Count> = match self {
            Self::Pg(c) => query.load(c).unwrap(),
            Self::Sqlite(c) => query.load(c).unwrap(),
        };
        rows[0].n
    }
}

/// The version of the migration that queues the fix-up
/// (`2025-06-02-000001_input_means_one_thing`); later migrations may follow it.
fn fixup_version(applied: &[String]) -> String {
    applied
        .iter()
        .find(|v| v.starts_with("20250602000001"))
        .unwrap_or_else(|| panic!("the fix-up migration is applied: {applied:?}"))
        .clone()
}

async fn an_old_database_is_renormalized_by_the_migrations(database: &TestDatabase) {
    let store = DieselStore::connect(database.url()).await.unwrap();
    let applied = store.run_migrations().await.unwrap();
    // The migration that queues the fix-up (2025-06-02-000001_input_means_one_thing).
    let newest = fixup_version(&applied);
    let mut raw = Raw::open(database.url());
    // Back to the schema before the fix-up migration (its down.sql,
    // unrecorded), then the rows an older version wrote.
    raw.execute(&format!(
        "DROP TABLE pending_fixups; DELETE FROM __diesel_schema_migrations WHERE version = '{newest}';"
    ));
    raw.execute(&old_rows());

    assert_eq!(store.run_migrations().await.unwrap(), std::slice::from_ref(&newest));

    assert_eq!(
        raw.normalized("users"),
        [
            (10, "ann@xn--bcher-kva.test".to_owned()),
            (11, "bob@xn--bcher-kva.test".to_owned()),
            (12, "bob@bücher.test".to_owned()),
            (13, "carl@xn--bcher-kva.test".to_owned()),
            (14, "carl@bücher.test".to_owned()),
        ],
        "the holder of the new form keeps it, else the first; the other keeps its old value"
    );
    assert_eq!(
        raw.normalized("invitations"),
        [
            (20, "user@xn--bcher-kva.test".to_owned()),
            (21, "user@bücher.test".to_owned()),
            (22, "user@xn--bcher-kva.test".to_owned()),
            (23, "other@xn--bcher-kva.test".to_owned()),
        ],
        "a second pending invitation to one mailbox keeps its old value; a settled one is renormalized"
    );
    assert_eq!(raw.pending_fixups(), 0);

    // Every row reads back under today's rules, and lookups by any spelling work.
    let ann = store
        .operator()
        .find_user_by_email(&EmailAddress::parse("ANN@bu\u{0308}cher.TEST").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ann.id, UserId::from_uuid(id(10)));
    assert_eq!(ann.email.as_str(), "Ann@Bücher.test", "the spelling is kept");
    assert_eq!(ann.first_name.map(|n| n.as_str().to_owned()).as_deref(), Some("Ann"));
    let carl = store
        .operator()
        .get_user(UserId::from_uuid(id(13)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(carl.first_name, None, "a name of nothing but format characters is gone");
    let name = |b: u128| {
        let store = &store;
        async move {
            store
                .operator()
                .get_business(BusinessId::from_uuid(id(b)))
                .await
                .unwrap()
                .unwrap()
                .name
                .as_str()
                .to_owned()
        }
    };
    assert_eq!(name(2).await, "Globex");
    assert_eq!(name(3).await, "Unnamed business");
    let other = rsvp_store_contract::fixtures::pending_invitation(
        &store,
        BusinessId::from_uuid(id(1)),
        &EmailAddress::parse("other@xn--bcher-kva.test").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(other.id(), InvitationId::from_uuid(id(23)));
    assert_eq!(
        other.message().map(|m| m.as_str().to_owned()).as_deref(),
        Some("ok\u{200F}")
    );
    assert_eq!(
        other.first_name().map(|n| n.as_str().to_owned()).as_deref(),
        Some("Nia")
    );
    assert_eq!(
        other.external_id().map(|x| x.as_str().to_owned()).as_deref(),
        Some("crm-23")
    );
    let hidden = store
        .invitations()
        .get_invitation(InvitationId::from_uuid(id(21)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        hidden.message().map(|m| m.as_str().to_owned()).as_deref(),
        Some("hi there")
    );
    assert_eq!(hidden.first_name(), None);

    // Idempotent: queued again, it changes nothing.
    let before = (raw.normalized("users"), raw.normalized("invitations"));
    raw.execute("INSERT INTO pending_fixups (name) VALUES ('input_means_one_thing');");
    assert_eq!(store.run_migrations().await.unwrap(), Vec::<String>::new());
    assert_eq!((raw.normalized("users"), raw.normalized("invitations")), before);
    assert_eq!(raw.pending_fixups(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_old_database_is_renormalized_by_the_migrations() {
    let database = TestDatabase::sqlite();
    an_old_database_is_renormalized_by_the_migrations(&database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_old_database_is_renormalized_by_the_migrations() {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
    an_old_database_is_renormalized_by_the_migrations(&database).await;
}

/// Over one batch of rows: the keyset walk reaches every row.
async fn every_batch_is_fixed(database: &TestDatabase) {
    let store = DieselStore::connect(database.url()).await.unwrap();
    let applied = store.run_migrations().await.unwrap();
    let newest = fixup_version(&applied);
    let mut raw = Raw::open(database.url());
    raw.execute(&format!(
        "DROP TABLE pending_fixups; DELETE FROM __diesel_schema_migrations WHERE version = '{newest}';"
    ));
    let mut sql = format!(
        "INSERT INTO businesses (id, name, created_at) VALUES ('{}', 'Acme', 0);",
        id(1)
    );
    for n in 0..1001_u128 {
        sql.push_str(&format!(
            "INSERT INTO users (id, business_id, email, email_normalized, first_name, last_name, created_at) \
             VALUES ('{}', '{}', 'u{n}@Bücher.test', 'u{n}@bücher.test', NULL, NULL, 0);",
            id(1000 + n),
            id(1)
        ));
    }
    raw.execute(&sql);
    store.run_migrations().await.unwrap();
    let users = raw.normalized("users");
    assert_eq!(users.len(), 1001);
    assert!(
        users.iter().all(|(_, email)| email.ends_with("@xn--bcher-kva.test")),
        "{users:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_fixup_reaches_every_batch() {
    every_batch_is_fixed(&TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_fixup_reaches_every_batch() {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
    every_batch_is_fixed(&database).await;
}
