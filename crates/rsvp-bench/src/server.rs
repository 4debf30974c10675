//! The `rsvp` binary as the `http` benchmark runs it: a child process on a
//! fresh database (or the zero-config SQLite default), listening on a port
//! the system picks, its JSON log in a temporary data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The email cap the benchmark's server runs with (`RSVP_EMAILS_PER_HOUR`):
/// on, and never reached by a run.
pub const BENCH_EMAILS_PER_HOUR: u32 = 100_000_000;

/// The operator token the benchmark gives the server (`RSVP_ADMIN_TOKEN`).
pub const ADMIN_TOKEN: &str = "rsvp-bench-operator-token";

/// How long start-up (migrations included) may take.
const START_DEADLINE: Duration = Duration::from_secs(120);

/// The children and directories alive in this process, for the Ctrl-C handler.
static LIVE: Mutex<Vec<(u32, PathBuf)>> = Mutex::new(Vec::new());

/// The directories of stopped servers, removed when the benchmark ends
/// ([`remove_finished`]). Removing one as its server stops would free tens
/// of thousands of inodes (the `log` transport's `.eml` files) seconds
/// before the next server creates its own: ext4 then skips the recently
/// freed inodes one by one (`recently_deleted`), and that allocator walk
/// was a fifth of the next server's create samples.
static FINISHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The `rsvp` next to the running executable (`target/release/rsvp` when
/// this is `target/release/rsvp-bench`).
pub fn default_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("finding the running executable")?;
    Ok(me.with_file_name("rsvp"))
}

/// Checks that `binary` exists, and warns when it is not a release build.
pub fn check_binary(binary: &Path) -> anyhow::Result<()> {
    if !binary.is_file() {
        bail!(
            "{} not found: build it first with `cargo build --release --workspace` (with the same \
             CARGO_TARGET_DIR as rsvp-bench), or pass --rsvp PATH",
            binary.display()
        );
    }
    if binary.components().any(|c| c.as_os_str() == "debug") {
        eprintln!(
            "warning: {} looks like a debug build: the figures mean little",
            binary.display()
        );
    }
    Ok(())
}

/// A running `rsvp serve`, killed and its directory removed when dropped.
#[derive(Debug)]
pub struct RsvpProcess {
    child: Child,
    dir: PathBuf,
    address: SocketAddr,
}

impl RsvpProcess {
    /// Starts `binary serve` on `database_url` (`None`: the zero-config
    /// SQLite file in the data directory) with `RSVP_BIND=127.0.0.1:0`, the
    /// operator API on ([`ADMIN_TOKEN`]), the log mail transport, the log
    /// filter `log` and the per-business email cap on at
    /// [`BENCH_EMAILS_PER_HOUR`] (on, as users run it, so its cost is
    /// measured; high, as one business here creates more than the default
    /// 10,000 an hour within seconds), then `env` (which
    /// may override any of these); every other `RSVP_*` variable (and
    /// `RUST_LOG`) of this environment removed. Blocks until the server
    /// logs the address it listens on.
    pub fn start(
        binary: &Path,
        database_url: Option<&str>,
        log: &str,
        env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rsvp-bench-http-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let log_path = dir.join("rsvp.log");
        let log_file = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new(binary);
        command.arg("serve");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("RSVP_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        command
            .env("RSVP_BIND", "127.0.0.1:0")
            .env("RSVP_DATA_DIR", dir.join("data"))
            .env("RSVP_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RSVP_MAIL_TRANSPORT", "log")
            .env("RSVP_LOG", log)
            .env("RSVP_EMAILS_PER_HOUR", BENCH_EMAILS_PER_HOUR.to_string());
        if let Some(url) = database_url {
            command.env("RSVP_DATABASE_URL", url);
        }
        command.envs(env.iter().map(|(k, v)| (k, v)));
        // The log goes to a file: a pipe nobody reads fast enough would
        // stall the server (it logs every request at `info`).
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        if let Ok(mut live) = LIVE.lock() {
            live.push((child.id(), dir.clone()));
        }
        let mut process = Self {
            child,
            dir,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        process.address = process.wait_for_address(&log_path)?;
        Ok(process)
    }

    fn wait_for_address(&mut self, log_path: &Path) -> anyhow::Result<SocketAddr> {
        let started = Instant::now();
        loop {
            let log = std::fs::read_to_string(log_path).unwrap_or_default();
            if let Some(address) = log.lines().find_map(listening_address) {
                return Ok(address);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("rsvp stopped during start-up ({status}); its log:\n{}", tail(&log, 20));
            }
            if started.elapsed() > START_DEADLINE {
                bail!(
                    "rsvp did not log \"rsvp listening\" within {} s; its log:\n{}",
                    START_DEADLINE.as_secs(),
                    tail(&log, 20)
                );
            }
            // Polling a file: the only wait in this tool, with a deadline.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://<address>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's peak resident set size so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).context("reading /proc/<rsvp>/status")?;
        vm_hwm_kib(&status).context("no VmHWM line in /proc/<rsvp>/status")
    }

    /// Error and warning lines of the log so far.
    pub fn problems_logged(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join("rsvp.log")).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("\"level\":\"ERROR\"") || l.contains("\"level\":\"WARN\""))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for RsvpProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        FINISHED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(self.dir.clone());
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|(pid, _)| *pid != self.child.id());
        }
    }
}

/// Kills every server of this process and removes its directory (the
/// Ctrl-C path, where destructors do not run).
pub fn stop_all_live() {
    let live = LIVE
        .lock()
        .map(|mut live| std::mem::take(&mut *live))
        .unwrap_or_default();
    for (pid, dir) in live {
        // Ctrl-C in a terminal reaches the server too (same process group):
        // it may be gone already.
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("stopped rsvp (pid {pid})");
    }
    remove_finished();
}

/// Removes the directories of the servers stopped so far (see [`FINISHED`]),
/// unless `RSVP_BENCH_KEEP_DATA` is set: runs back to back then do not
/// start on a disk that has just freed a run's worth of inodes.
pub fn remove_finished() {
    let finished = std::mem::take(&mut *FINISHED.lock().unwrap_or_else(PoisonError::into_inner));
    let keep = std::env::var_os("RSVP_BENCH_KEEP_DATA").is_some();
    for dir in finished {
        if keep {
            eprintln!("kept {}", dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// The address of the JSON log line `"rsvp listening"` (its `bind` field).
pub fn listening_address(line: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    if fields.get("message")?.as_str()? != "rsvp listening" {
        return None;
    }
    fields.get("bind")?.as_str()?.parse().ok()
}

/// A `KEY=VALUE` of `--env`: the key an `RSVP_` setting.
pub fn parse_env(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    if !key.starts_with("RSVP_") || key.len() == "RSVP_".len() {
        return Err(format!("{key:?} is not an rsvp setting (RSVP_...)"));
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// `VmHWM` of a /proc/<pid>/status text, in KiB.
pub fn vm_hwm_kib(status: &str) -> Option<u64> {
    let rest = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let mut words = rest.split_whitespace();
    let value = words.next()?.parse().ok()?;
    (words.next()? == "kB").then_some(value)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from `rsvp serve` with RSVP_BIND=127.0.0.1:0.
    const LISTENING: &str = r#"{"timestamp":"2026-11-30T10:55:37.448974Z","level":"INFO","fields":{"message":"rsvp listening","bind":"127.0.0.1:42509","public_url":"http://127.0.0.1:42509"},"target":"rsvp::wiring"}"#;

    #[test]
    fn the_bound_address_is_read_from_the_listening_log_line_only() {
        assert_eq!(listening_address(LISTENING), Some("127.0.0.1:42509".parse().unwrap()));
        let ready = LISTENING.replace("rsvp listening", "database ready");
        assert_eq!(listening_address(&ready), None);
        assert_eq!(listening_address("rsvp listening on 127.0.0.1:1"), None);
        assert_eq!(listening_address(""), None);
    }

    #[test]
    fn env_settings_are_rsvp_keys_with_a_value_that_may_hold_equals_signs() {
        assert_eq!(
            parse_env("RSVP_DB_POOL_SIZE=16"),
            Ok(("RSVP_DB_POOL_SIZE".to_owned(), "16".to_owned()))
        );
        assert_eq!(
            parse_env("RSVP_LOG=info,rsvp=debug"),
            Ok(("RSVP_LOG".to_owned(), "info,rsvp=debug".to_owned()))
        );
        assert_eq!(
            parse_env("RSVP_PUBLIC_URL="),
            Ok(("RSVP_PUBLIC_URL".to_owned(), String::new()))
        );
        assert!(parse_env("RSVP_DB_POOL_SIZE").is_err());
        assert!(parse_env("PATH=/bin").is_err());
        assert!(parse_env("RSVP_=1").is_err());
    }

    #[test]
    fn the_peak_rss_is_the_vm_hwm_line_in_kib() {
        let status = "Name:\trsvp\nVmPeak:\t  900000 kB\nVmHWM:\t   23456 kB\nVmRSS:\t   20000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(23456));
        assert_eq!(vm_hwm_kib("Name:\trsvp\n"), None);
        let own = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(vm_hwm_kib(&own).unwrap() > 0);
    }
}
