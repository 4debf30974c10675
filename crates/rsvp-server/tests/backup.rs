//! `rsvp backup` on a running SQLite server, and a restore from its file:
//! every invitation acknowledged (201) before the backup began is in it.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ADMIN: &str = "backup-test-operator-token";

fn temp_dir(what: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rsvp-backup-{what}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `rsvp serve` on the default embedded SQLite of `data_dir`.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(data_dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rsvp"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RSVP_BIND", "127.0.0.1:0")
            .env("RSVP_DATA_DIR", data_dir)
            .env("RSVP_ADMIN_TOKEN", ADMIN)
            .env("RSVP_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let addr = loop {
            let line = lines
                .recv_timeout(Duration::from_secs(60))
                .expect("the server logs that it listens");
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["fields"]["message"] == "rsvp listening" {
                break entry["fields"]["bind"].as_str().unwrap().parse().unwrap();
            }
        };
        Self { child, addr }
    }

    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(
            self.child.wait().unwrap().success(),
            "a SIGTERM ends the server cleanly"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on its own connection; the status and the JSON body.
fn call(addr: SocketAddr, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {key}\r\n");
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, payload) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(payload).unwrap_or(Value::Null))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::yield_now();
    }
}

#[test]
fn a_backup_taken_during_writes_restores_every_invitation_acknowledged_before_it_began() {
    let data = temp_dir("live");
    let server = Server::start(&data);
    let (status, acme) = call(
        server.addr,
        "POST",
        "/v1/admin/businesses",
        ADMIN,
        Some(json!({"name": "Acme", "user": {"email": "ann@acme.test"}})),
    );
    assert_eq!(status, 201, "{acme}");
    let key = acme["api_key"].as_str().unwrap().to_owned();

    // A writer creating invitations for as long as the test wants, keeping
    // the id of each one the server acknowledged.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acknowledged, stop, key, addr) = (acknowledged.clone(), stop.clone(), key.clone(), server.addr);
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = call(
                    addr,
                    "POST",
                    "/v1/invitations",
                    &key,
                    Some(json!({"email": format!("guest{n}@example.test"), "send_email": false})),
                );
                assert_eq!(status, 201, "writes go on during the backup: {body}");
                acknowledged
                    .lock()
                    .unwrap()
                    .push(body["id"].as_str().unwrap().to_owned());
                n += 1;
            }
        })
    };
    wait_until("20 invitations are acknowledged", || {
        acknowledged.lock().unwrap().len() >= 20
    });

    let backup = temp_dir("files").join("rsvp-backup.db");
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let output = Command::new(env!("CARGO_BIN_EXE_rsvp"))
        .args(["backup".as_ref(), backup.as_os_str()])
        .env_clear()
        .env("RSVP_DATA_DIR", &data)
        .env("RSVP_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "rsvp backup: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["backend"], "sqlite");
    assert_eq!(report["bytes"], std::fs::metadata(&backup).unwrap().len());
    // The server kept acknowledging writes after the backup.
    let after = before.len() + 5;
    wait_until("5 more invitations are acknowledged", || {
        acknowledged.lock().unwrap().len() >= after
    });
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    server.stop();

    // Restore: the backup as the database file of a fresh data directory.
    let restored = temp_dir("restored");
    std::fs::copy(&backup, restored.join("rsvp.db")).unwrap();
    let server = Server::start(&restored);
    for id in &before {
        let (status, invitation) = call(server.addr, "GET", &format!("/v1/invitations/{id}"), &key, None);
        assert_eq!(
            status, 200,
            "invitation {id} acknowledged before the backup is restored: {invitation}"
        );
        assert_eq!(invitation["status"], "pending");
    }
    let mut listed = HashSet::new();
    let mut path = "/v1/invitations/sent?limit=100".to_owned();
    loop {
        let (status, page) = call(server.addr, "GET", &path, &key, None);
        assert_eq!(status, 200, "{page}");
        listed.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/invitations/sent?limit=100&cursor={cursor}"),
            None => break,
        }
    }
    assert!(
        before.iter().all(|id| listed.contains(id)),
        "the sent list has them all"
    );
    server.stop();

    // A backup never overwrites a file.
    let again = Command::new(env!("CARGO_BIN_EXE_rsvp"))
        .args(["backup".as_ref(), backup.as_os_str()])
        .env_clear()
        .env("RSVP_DATA_DIR", &restored)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    for dir in [&data, &restored] {
        let _ = std::fs::remove_dir_all(dir);
    }
    let _ = std::fs::remove_dir_all(backup.parent().unwrap());
}

#[test]
fn a_backup_of_a_data_directory_without_a_database_fails_and_creates_nothing() {
    let empty = temp_dir("empty");
    let target = empty.join("backup.db");
    let output = Command::new(env!("CARGO_BIN_EXE_rsvp"))
        .args(["backup".as_ref(), target.as_os_str()])
        .env_clear()
        .env("RSVP_DATA_DIR", empty.join("data"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no SQLite database"));
    assert!(!target.exists() && !empty.join("data").join("rsvp.db").exists());
    let _ = std::fs::remove_dir_all(&empty);
}
