//! Fresh databases for tests (feature `testing`): one per test, removed when
//! the [`TestDatabase`] is dropped, so tests never share state and run in
//! parallel.
//!
//! * SQLite: a new file in the system's temporary directory (a pooled
//!   `:memory:` database would be one empty database per connection).
//! * PostgreSQL: a new uniquely named database, created from a maintenance
//!   connection and dropped with `DROP DATABASE ... WITH (FORCE)`. The
//!   server is found, in this order:
//!   1. `DATABASE_URL`, when it is a `postgres://` or `postgresql://` URL
//!      (its database is used as the maintenance database);
//!   2. a local server on `127.0.0.1:5432` accepting user `postgres` without
//!      a password (checked with a real connection);
//!   3. a throwaway cluster started from the installed server binaries
//!      (`/usr/lib/postgresql/*/bin/initdb` and `pg_ctl`, as user `postgres`
//!      via `runuser` when running as root) in a temporary directory on a
//!      free port, stopped and removed when its last database is dropped.
//!
//!   With none of these, [`TestDatabase::postgres`] panics with a message
//!   saying how to install PostgreSQL: a test never skips silently.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::{DieselStore, StoreOptions};

/// What to do when no PostgreSQL can be found.
pub const INSTALL_HINT: &str = "no PostgreSQL server for the tests: set DATABASE_URL=postgres://user:password@host:port/db, \
     or run a server on 127.0.0.1:5432 that lets user postgres in without a password, \
     or install the server binaries so that a throwaway cluster can be started \
     (Debian/Ubuntu: `apt-get install postgresql`; the tests then run initdb and pg_ctl themselves)";

/// A name no other test (in this or another process) is using.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!(
        "{}_{}_{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// A database made for one test, removed on drop.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        name: String,
        maintenance_url: String,
        // Keeps a throwaway cluster running while the database lives.
        _cluster: Option<Arc<Cluster>>,
    },
}

impl TestDatabase {
    /// A new SQLite file in the temporary directory (not yet created: the
    /// first connection creates it).
    pub fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("rsvp-test-{}.db", unique_suffix()));
        Self {
            url: format!("sqlite://{}", path.display()),
            kind: Kind::Sqlite { path },
        }
    }

    /// A new, empty PostgreSQL database on the server found as the module
    /// doc says.
    ///
    /// # Panics
    /// When no server can be found or started (with [`INSTALL_HINT`]), or
    /// when the database cannot be created.
    pub fn postgres() -> Self {
        match Self::try_postgres() {
            Ok(database) => database,
            Err(message) => panic!("{message}"),
        }
    }

    /// As [`postgres`](Self::postgres), returning the reason instead of
    /// panicking.
    ///
    /// # Errors
    /// Why no database could be made.
    pub fn try_postgres() -> Result<Self, String> {
        let server = PostgresServer::find()?;
        let name = format!("rsvp_test_{}", unique_suffix());
        let mut maintenance = PgConnection::establish(&server.maintenance_url)
            .map_err(|e| format!("cannot connect to the PostgreSQL maintenance database: {e}"))?;
        maintenance
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .map_err(|e| format!("cannot create the test database {name}: {e}"))?;
        Ok(Self {
            url: with_database(&server.maintenance_url, &name),
            kind: Kind::Postgres {
                name,
                maintenance_url: server.maintenance_url,
                _cluster: server.cluster,
            },
        })
    }

    /// The database's URL, for [`DieselStore::connect`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A store on this database with every migration applied.
    ///
    /// # Panics
    /// When connecting or migrating fails.
    pub async fn migrated_store(&self) -> DieselStore {
        let mut options = StoreOptions::new(self.url.clone());
        // Lazy connections: tests run many databases at once.
        options.min_idle = Some(0);
        options.max_connections = 8;
        let store = match DieselStore::connect_with(options).await {
            Ok(store) => store,
            Err(e) => panic!("connecting to the test database: {e}"),
        };
        if let Err(e) = store.run_migrations().await {
            panic!("migrating the test database: {e}");
        }
        store
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.kind {
            Kind::Sqlite { path } => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    // Absent files are fine: SQLite creates some only when needed.
                    let _ = std::fs::remove_file(PathBuf::from(file));
                }
            }
            Kind::Postgres {
                name, maintenance_url, ..
            } => {
                // WITH (FORCE) ends connections the test left open.
                let dropped = PgConnection::establish(maintenance_url)
                    .map_err(|e| e.to_string())
                    .and_then(|mut conn| {
                        conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .map_err(|e| e.to_string())
                    });
                if let Err(e) = dropped {
                    eprintln!("warning: could not drop the test database {name}: {e}");
                }
            }
        }
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
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

/// A PostgreSQL server the tests may create databases on.
struct PostgresServer {
    maintenance_url: String,
    cluster: Option<Arc<Cluster>>,
}

/// The server found last in this process.
enum Known {
    External(String),
    Cluster(Weak<Cluster>),
}

static KNOWN: Mutex<Option<Known>> = Mutex::new(None);

/// The local server's maintenance database (a server that accepts the TCP
/// connection but never answers must not hang the tests), without TLS: a
/// test process ends while pooled and listener connections close on other
/// threads, and OpenSSL's exit handlers racing libpq's TLS shutdown there
/// crashed one such process after its test had passed (SIGSEGV in a
/// clean-clone CI run). A `DATABASE_URL` given keeps its own `sslmode`.
const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres?connect_timeout=5&sslmode=disable";

impl PostgresServer {
    fn find() -> Result<Self, String> {
        let mut known = KNOWN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*known {
            Some(Known::External(url)) => {
                return Ok(Self {
                    maintenance_url: url.clone(),
                    cluster: None,
                });
            }
            Some(Known::Cluster(weak)) => {
                if let Some(cluster) = weak.upgrade() {
                    return Ok(Self {
                        maintenance_url: cluster.url.clone(),
                        cluster: Some(cluster),
                    });
                }
            }
            None => {}
        }
        let server = Self::discover()?;
        *known = Some(match &server.cluster {
            Some(cluster) => Known::Cluster(Arc::downgrade(cluster)),
            None => Known::External(server.maintenance_url.clone()),
        });
        Ok(server)
    }

    fn discover() -> Result<Self, String> {
        if let Ok(url) = std::env::var("DATABASE_URL")
            && (url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            PgConnection::establish(&url).map_err(|e| format!("DATABASE_URL is set but does not connect: {e}"))?;
            return Ok(Self {
                maintenance_url: url,
                cluster: None,
            });
        }
        if PgConnection::establish(LOCAL_URL).is_ok() {
            return Ok(Self {
                maintenance_url: LOCAL_URL.to_owned(),
                cluster: None,
            });
        }
        let cluster = Arc::new(Cluster::start()?);
        Ok(Self {
            maintenance_url: cluster.url.clone(),
            cluster: Some(cluster),
        })
    }
}

/// A throwaway PostgreSQL cluster, stopped and deleted on drop.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    url: String,
    as_postgres_user: bool,
    /// The server's options (port, socket directory...), to start it again.
    options: String,
}

impl Cluster {
    /// Starts a new cluster from the newest installed server binaries, in a
    /// temporary directory, on a free port of 127.0.0.1, with user
    /// `postgres` and trust authentication. Most tests need not call this:
    /// [`TestDatabase::postgres`] does when no server is running.
    ///
    /// # Errors
    /// Why it could not start, with [`INSTALL_HINT`] when the binaries are
    /// missing.
    pub fn start() -> Result<Self, String> {
        let bin = installed_server_bin().ok_or_else(|| INSTALL_HINT.to_owned())?;
        let as_postgres_user = running_as_root();
        let dir = std::env::temp_dir().join(format!("rsvp-pg-{}", unique_suffix()));
        std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut cluster = Self {
            url: String::new(),
            dir,
            bin,
            as_postgres_user,
            options: String::new(),
        };
        if as_postgres_user {
            // initdb refuses to run as root: the cluster belongs to postgres.
            cluster.run("chown", Command::new("chown").arg("postgres").arg(&cluster.dir))?;
        }
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            cluster.command("initdb").arg("-D").arg(&data).args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]),
        )?;
        let port = free_port()?;
        cluster.options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c full_page_writes=off",
            cluster.dir.display()
        );
        cluster.start_server()?;
        cluster.url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        Ok(cluster)
    }

    /// Stops the server (`pg_ctl stop -m fast`: open connections are ended),
    /// keeping its data, as an operator restarting PostgreSQL would.
    ///
    /// # Errors
    /// Why `pg_ctl` failed.
    pub fn stop_server(&self) -> Result<(), String> {
        self.run(
            "pg_ctl stop",
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "fast", "-w", "stop"]),
        )
    }

    /// Starts the server again on the same port, with the same data, and
    /// waits until it accepts connections.
    ///
    /// # Errors
    /// Why `pg_ctl` failed.
    pub fn start_server(&self) -> Result<(), String> {
        self.run(
            "pg_ctl start",
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-o", &self.options, "-w", "-t", "60", "start"]),
        )
    }

    /// The maintenance database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, what: &str, command: &mut Command) -> Result<(), String> {
        let output = command
            .current_dir(&self.dir)
            .output()
            .map_err(|e| format!("cannot run {what}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            Err(format!(
                "{what} failed ({}): {}{}\n{log}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        if !self.url.is_empty() {
            let stopped = self.run(
                "pg_ctl stop",
                self.command("pg_ctl")
                    .arg("-D")
                    .arg(&data)
                    .args(["-m", "immediate", "-w", "stop"]),
            );
            if let Err(e) = stopped {
                eprintln!("warning: could not stop the throwaway PostgreSQL cluster: {e}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `bin` directory of the newest `/usr/lib/postgresql/<version>` that
/// has both `initdb` and `pg_ctl`.
fn installed_server_bin() -> Option<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| format!("no free port: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_name_replaces_the_one_in_the_url() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(
            with_database("postgresql://h/db?sslmode=disable", "x"),
            "postgresql://h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }

    #[test]
    fn unique_suffixes_differ() {
        assert_ne!(unique_suffix(), unique_suffix());
    }
}
