//! The connection enum over both backends, the choice of backend by URL, and
//! the r2d2 pool with SQLite's per-connection pragmas.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::r2d2::R2D2Connection;
use diesel::{Connection, PgConnection, SqliteConnection};

use crate::SetupError;
use crate::wake::OwnBackends;

/// One database connection: PostgreSQL or SQLite. Queries written once
/// against this enum run on both; backend-only SQL matches on the variant.
#[derive(diesel::MultiConnection)]
pub(crate) enum DbConnection {
    /// PostgreSQL, the production store.
    Pg(PgConnection),
    /// SQLite, the embedded default.
    Sqlite(SqliteConnection),
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// PostgreSQL (`postgres://` or `postgresql://` URLs).
    Postgres,
    /// SQLite (`sqlite://path`, `sqlite:path` or a bare file path).
    Sqlite,
}

impl Backend {
    /// `postgres` or `sqlite`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where to connect, decided from the URL's scheme (never by trying each
/// backend in turn, which hides the real error).
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A libpq connection string.
    Postgres(String),
    /// A file path (or a `file:` URI) for SQLite.
    Sqlite(String),
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A PostgreSQL URL may carry a password: print only what it is.
        match self {
            Self::Postgres(_) => f.write_str("Postgres(<url>)"),
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
        }
    }
}

impl DatabaseUrl {
    /// Reads a database URL:
    ///
    /// * `postgres://...`, `postgresql://...` → PostgreSQL;
    /// * `sqlite://path`, `sqlite:path`, `file:...` or a bare path → SQLite
    ///   (`sqlite:///abs/path` is the absolute `/abs/path`).
    ///
    /// In-memory SQLite (`:memory:`) is refused: every pooled connection
    /// would be its own empty database.
    /// # Errors
    /// [`SetupError::InvalidUrl`] naming what is wrong.
    pub fn parse(url: &str) -> Result<Self, SetupError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(SetupError::InvalidUrl("the database URL is empty".into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            rest
        } else if let Some((scheme, _)) = url.split_once("://") {
            return Err(SetupError::InvalidUrl(format!(
                "unsupported database URL scheme '{scheme}://': use postgres://, postgresql://, sqlite:// or a file path"
            )));
        } else {
            url
        };
        if path.is_empty() {
            return Err(SetupError::InvalidUrl("the SQLite database URL names no file".into()));
        }
        if path == ":memory:" || path.contains("mode=memory") {
            return Err(SetupError::InvalidUrl(
                "in-memory SQLite is not supported (each pooled connection would be its own empty database): use a file path"
                    .into(),
            ));
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    /// The SQLite file, for a SQLite URL.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match self {
            Self::Sqlite(path) => Some(std::path::Path::new(path)),
            Self::Postgres(_) => None,
        }
    }

    /// The backend the URL selects.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Opens one connection of the target's backend (SQLite pragmas are set
    /// by [`SqlitePragmas`], when the pool hands the connection out).
    pub(crate) fn establish(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match self {
            Self::Postgres(url) => PgConnection::establish(&with_connect_timeout(url)).map(DbConnection::Pg),
            Self::Sqlite(path) => SqliteConnection::establish(path).map(DbConnection::Sqlite),
        }
    }
}

/// libpq's `connect_timeout` added to a PostgreSQL URL without one, in
/// seconds (libpq's minimum): opening a connection to a server that does
/// not answer gives up instead of holding a pool thread forever.
pub(crate) const PG_CONNECT_TIMEOUT_SECS: u32 = 2;

/// `url` with `connect_timeout` set, unless it sets one already.
pub(crate) fn with_connect_timeout(url: &str) -> std::borrow::Cow<'_, str> {
    if url.contains("connect_timeout=") {
        return url.into();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={PG_CONNECT_TIMEOUT_SECS}").into()
}

/// Busy timeout of SQLite connections: how long a writer waits for the lock.
pub(crate) const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;

/// Makes a connection ready: on SQLite, WAL (readers never block the
/// writer), a busy timeout (writers queue instead of failing with
/// `SQLITE_BUSY`) and enforced foreign keys, on every connection.
pub(crate) fn prepare(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Pg(_) => Ok(()),
        DbConnection::Sqlite(conn) => conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;"
        )),
    }
}

/// A pooled connection, with what the pool knows of its health. Derefs to
/// the [`DbConnection`].
pub(crate) struct Tracked {
    conn: DbConnection,
    /// When the server last answered on it: opened, pinged, or given back
    /// by a unit of work that did not lose it.
    answered_at: Instant,
    /// A unit of work lost the connection (the server closed it, or it
    /// could not be written to): the pool drops it when it comes back.
    lost: bool,
}

impl Tracked {
    fn new(conn: DbConnection) -> Self {
        Self {
            conn,
            answered_at: Instant::now(),
            lost: false,
        }
    }

    /// Marks the connection as lost if `error` says it is.
    pub(crate) fn note(&mut self, error: &diesel::result::Error) {
        use diesel::result::{DatabaseErrorKind, Error};
        if matches!(
            error,
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _
            )
        ) {
            self.lost = true;
        }
    }
}

impl Deref for Tracked {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl DerefMut for Tracked {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// The r2d2 connection manager: connects by [`DatabaseUrl`], and checks a
/// connection before handing it out only when it has been idle for
/// `check_after_idle` (as HikariCP's `aliveBypassWindowMs`): a connection in
/// steady use saves the ping's round trip on every unit of work, and one
/// that fails during a unit is dropped at once ([`Tracked::note`]) rather
/// than handed out again.
///
/// On PostgreSQL it notes each new connection's backend process id, by
/// which the email job listener tells this store's notifications from
/// other replicas' (`wake.rs`).
#[derive(Debug, Clone)]
pub(crate) struct Manager {
    target: DatabaseUrl,
    check_after_idle: Duration,
    own_backends: Arc<OwnBackends>,
}

impl Manager {
    pub(crate) fn new(target: DatabaseUrl, check_after_idle: Duration, own_backends: Arc<OwnBackends>) -> Self {
        Self {
            target,
            check_after_idle,
            own_backends,
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Tracked;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Tracked, Self::Error> {
        let mut conn = self.target.establish().map_err(diesel::r2d2::Error::ConnectionError)?;
        if let DbConnection::Pg(pg) = &mut conn {
            use diesel::RunQueryDsl as _;
            let pid = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("pg_backend_pid()"))
                .get_result::<i32>(pg)
                .map_err(diesel::r2d2::Error::QueryError)?;
            self.own_backends.insert(pid);
        }
        Ok(Tracked::new(conn))
    }

    fn is_valid(&self, conn: &mut Tracked) -> Result<(), Self::Error> {
        if conn.answered_at.elapsed() < self.check_after_idle {
            return Ok(());
        }
        conn.conn.ping().map_err(diesel::r2d2::Error::QueryError)?;
        conn.answered_at = Instant::now();
        Ok(())
    }

    fn has_broken(&self, conn: &mut Tracked) -> bool {
        // A connection returned by a panicking thread may hold anything.
        if std::thread::panicking() || conn.lost || conn.conn.is_broken() {
            return true;
        }
        conn.answered_at = Instant::now();
        false
    }
}

/// Sets SQLite's pragmas on every connection the pool opens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqlitePragmas;

impl r2d2::CustomizeConnection<Tracked, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut Tracked) -> Result<(), diesel::r2d2::Error> {
        prepare(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The pool of connections.
pub(crate) type Pool = r2d2::Pool<Manager>;

/// How the pool is sized.
pub(crate) struct PoolShape {
    pub(crate) max_size: u32,
    pub(crate) min_idle: Option<u32>,
    pub(crate) connection_timeout: Duration,
    pub(crate) test_on_check_out: bool,
    pub(crate) check_after_idle: Duration,
}

/// Builds the pool after opening one connection directly, so that a wrong
/// URL, a server that is down or an unwritable file fails at once with the
/// database's own message (r2d2 alone would retry until its timeout).
pub(crate) fn build_pool(
    target: &DatabaseUrl,
    shape: &PoolShape,
    own_backends: Arc<OwnBackends>,
) -> Result<Pool, SetupError> {
    let backend = target.backend();
    // Name the file (a PostgreSQL URL is not repeated: it may hold a password).
    let failed = |message: String| SetupError::Connect {
        backend,
        message: match target {
            DatabaseUrl::Sqlite(path) => format!("{path}: {message}"),
            DatabaseUrl::Postgres(_) => message,
        },
    };
    let mut probe = target.establish().map_err(|e| failed(e.to_string()))?;
    prepare(&mut probe).map_err(|e| failed(e.to_string()))?;
    drop(probe);
    r2d2::Pool::builder()
        .max_size(shape.max_size)
        .min_idle(shape.min_idle)
        .connection_timeout(shape.connection_timeout)
        .test_on_check_out(shape.test_on_check_out)
        .connection_customizer(Box::new(SqlitePragmas))
        .build(Manager::new(target.clone(), shape.check_after_idle, own_backends))
        .map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_choose_postgres() {
        for url in ["postgres://u@h/db", "postgresql://u:p@h:5432/db?sslmode=disable"] {
            assert_eq!(DatabaseUrl::parse(url).unwrap(), DatabaseUrl::Postgres(url.into()));
        }
    }

    #[test]
    fn sqlite_urls_and_paths_choose_sqlite() {
        let cases = [
            ("sqlite://data/rsvp.db", "data/rsvp.db"),
            ("sqlite:///var/lib/rsvp.db", "/var/lib/rsvp.db"),
            ("sqlite:rsvp.db", "rsvp.db"),
            ("./data/rsvp.sqlite", "./data/rsvp.sqlite"),
            ("/tmp/x.db", "/tmp/x.db"),
        ];
        for (url, path) in cases {
            assert_eq!(
                DatabaseUrl::parse(url).unwrap(),
                DatabaseUrl::Sqlite(path.into()),
                "{url}"
            );
        }
    }

    #[test]
    fn other_schemes_memory_and_empty_urls_are_refused_with_a_reason() {
        for url in ["mysql://h/db", "", "  ", "sqlite://", ":memory:", "sqlite::memory:"] {
            let err = DatabaseUrl::parse(url).unwrap_err();
            assert!(matches!(err, SetupError::InvalidUrl(_)), "{url}: {err}");
        }
        let err = DatabaseUrl::parse("mysql://h/db").unwrap_err().to_string();
        assert!(err.contains("mysql://"), "{err}");
    }

    #[test]
    fn a_postgres_url_without_a_connect_timeout_gets_one() {
        assert_eq!(
            with_connect_timeout("postgres://u@h/db"),
            "postgres://u@h/db?connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout("postgres://u@h/db?sslmode=disable"),
            "postgres://u@h/db?sslmode=disable&connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout("postgres://u@h/db?connect_timeout=9"),
            "postgres://u@h/db?connect_timeout=9"
        );
    }

    #[test]
    fn a_postgres_target_never_prints_its_url() {
        let target = DatabaseUrl::parse("postgres://u:secret@h/db").unwrap();
        assert!(!format!("{target:?}").contains("secret"));
    }
}
