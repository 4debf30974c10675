//! A real SMTP server for the tests: `tests/support/smtp_server.py`
//! (aiosmtpd) in a child process, killed on drop.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::TempDir;
use super::eml::Eml;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
const INSTALL_HINT: &str = "the SMTP tests need python3 with aiosmtpd: run them through ./scripts/test, which makes a venv with it, or set RSVP_TEST_PYTHON to a python that has it";

/// One message the server accepted.
#[derive(Debug)]
pub struct Received {
    /// MAIL FROM.
    pub mail_from: String,
    /// RCPT TO, in order.
    pub rcpt_to: Vec<String>,
    /// The message as received.
    pub raw: Vec<u8>,
}

impl Received {
    pub fn eml(&self) -> Eml {
        Eml::parse(&self.raw)
    }
}

/// The running server.
#[derive(Debug)]
pub struct SmtpServer {
    child: Child,
    // Held open: the server exits when it reads EOF here.
    _stdin: Option<ChildStdin>,
    pub port: u16,
    out: TempDir,
    logs: TempDir,
}

impl SmtpServer {
    /// Starts the server and returns once it accepts connections. Panics,
    /// naming `pip install aiosmtpd`, when it cannot start.
    pub fn start() -> Self {
        let out = TempDir::new("smtp-out");
        let logs = TempDir::new("smtp-log");
        let stderr_path = logs.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        // `./scripts/test` makes a venv with aiosmtpd and names its python here.
        let python = std::env::var("RSVP_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let mut child = Command::new(&python)
            .arg(SCRIPT)
            .arg(out.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python} ({e}): {INSTALL_HINT}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();

        // The script prints its port once it listens; wait for that line,
        // bounded, in a thread (a read cannot time out by itself).
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = tx.send(read);
        });
        let port = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(line)) => line.trim().parse::<u16>().ok(),
            _ => None,
        };
        let Some(port) = port else {
            let _ = child.kill();
            let status = child.wait().ok();
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!(
                "the test SMTP server did not start (exit status {status:?}): {INSTALL_HINT}\n--- its stderr ---\n{stderr}"
            );
        };

        // Belt and braces: the port accepts connections (bounded polling).
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the test SMTP server on port {port} does not accept connections"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            _stdin: stdin,
            port,
            out,
            logs,
        }
    }

    /// The messages accepted so far, in order.
    pub fn received(&self) -> Vec<Received> {
        super::entries(self.out.path())
            .into_iter()
            .filter_map(|name| name.strip_suffix(".eml").map(str::to_owned))
            .filter(|stem| !stem.starts_with('.'))
            .map(|stem| {
                let envelope = std::fs::read_to_string(self.out.path().join(format!("{stem}.envelope"))).unwrap();
                let mut lines = envelope.lines().map(str::to_owned);
                let mail_from = lines.next().unwrap_or_default();
                Received {
                    mail_from,
                    rcpt_to: lines.collect(),
                    raw: std::fs::read(self.out.path().join(format!("{stem}.eml"))).unwrap(),
                }
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
