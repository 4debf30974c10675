//! The `rsvp` binary when its PostgreSQL goes away: a TCP proxy between the
//! server and a fresh test database plays the database being down (closed
//! connections, refused new ones) and hung (new connections accepted, never
//! answered); every request must answer 503 with `Retry-After` within a
//! bound, `/readyz` too, and all must recover by itself when the database
//! comes back.

mod support;

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rsvp_store_diesel::testing::TestDatabase;
use serde_json::json;
use support::Server;

const ADMIN: &str = "faults-test-operator-token";

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Passes bytes both ways.
    Forward,
    /// Closes every connection, open and new: the database is down.
    Refuse,
    /// Closes the open connections; accepts new ones and never answers.
    Hang,
}

struct Proxy {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(Mutex::new(Mode::Forward));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (accept_mode, accept_open) = (mode.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                // The mode stays locked until the new connection is
                // registered: a `set` between reading the mode and the
                // registration would leave a forwarded connection open
                // while the database reads as down.
                let mode = accept_mode.lock().unwrap();
                match *mode {
                    Mode::Refuse => drop(client),
                    Mode::Hang => accept_open.lock().unwrap().push(client),
                    Mode::Forward => {
                        let Ok(server) = TcpStream::connect(&upstream) else {
                            continue;
                        };
                        let mut open = accept_open.lock().unwrap();
                        open.push(client.try_clone().unwrap());
                        open.push(server.try_clone().unwrap());
                        for (mut from, mut to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server, client),
                        ] {
                            std::thread::spawn(move || {
                                let _ = std::io::copy(&mut from, &mut to);
                                let _ = to.shutdown(Shutdown::Both);
                            });
                        }
                    }
                }
            }
        });
        Self { addr, mode, open }
    }

    fn set(&self, mode: Mode) {
        let mut current = self.mode.lock().unwrap();
        *current = mode;
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// `postgres://user@host:port/db?x` → (`host:port`, the URL with `addr` instead).
fn through(url: &str, addr: SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    (host.to_owned(), format!("{scheme}://{user}{addr}/{path}"))
}

/// Calls `/readyz` until it answers `status` (each call bounded), and
/// returns how long that took; panics after `deadline`.
fn readyz_until(server: &Server, status: u16, deadline: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (answer, retry_after, body, took) = server.call("GET", "/readyz", "", None);
        assert!(
            took < Duration::from_millis(1500),
            "/readyz itself answers within ~1 s: {took:?}"
        );
        if answer == 503 {
            assert!(retry_after.is_some(), "a 503 says when to retry: {body}");
        }
        if answer == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < deadline,
            "/readyz still {answer} after {deadline:?}: {body}"
        );
        std::thread::yield_now();
    }
}

/// Every request answers 503 `unavailable` with `Retry-After`, within 2.5 s.
fn assert_fails_fast(server: &Server, key: &str, what: &str) {
    for (method, path, body) in [
        ("GET", "/v1/invitations/sent", None),
        ("POST", "/v1/invitations", Some(json!({"email": "carol@initech.test"}))),
        ("GET", "/v1/connections", None),
    ] {
        let (status, retry_after, problem, took) = server.call(method, path, key, body);
        assert_eq!(status, 503, "{what}: {method} {path}: {problem}");
        assert_eq!(problem["code"], "unavailable", "{what}: {problem}");
        let seconds: u64 = retry_after.expect("Retry-After on a 503").parse().unwrap();
        assert!((1..=5).contains(&seconds), "{what}: Retry-After {seconds}");
        assert!(
            took < Duration::from_millis(2500),
            "{what}: {method} {path} took {took:?}"
        );
    }
}

#[test]
fn a_lost_or_hung_database_answers_503_with_retry_after_within_a_second_and_recovers_by_itself() {
    let database = TestDatabase::postgres();
    let (upstream, _) = through(database.url(), "127.0.0.1:1".parse().unwrap());
    let proxy = Proxy::start(upstream);
    let (_, proxied) = through(database.url(), proxy.addr);
    let data_dir = std::env::temp_dir().join(format!("rsvp-faults-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let server = Server::start(&proxied, &data_dir, ADMIN, &[]);

    let (status, _, acme, _) = server.call(
        "POST",
        "/v1/admin/businesses",
        ADMIN,
        Some(json!({"name": "Acme", "user": {"email": "ann@acme.test"}})),
    );
    assert_eq!(status, 201, "{acme}");
    let key = acme["api_key"].as_str().unwrap().to_owned();
    readyz_until(&server, 200, Duration::from_secs(5));

    proxy.set(Mode::Refuse);
    let turned = readyz_until(&server, 503, Duration::from_secs(5));
    assert!(
        turned < Duration::from_millis(2500),
        "/readyz turned 503 after {turned:?}"
    );
    assert_fails_fast(&server, &key, "database down");

    proxy.set(Mode::Hang);
    readyz_until(&server, 503, Duration::from_secs(5));
    assert_fails_fast(&server, &key, "database hung");

    proxy.set(Mode::Forward);
    readyz_until(&server, 200, Duration::from_secs(15));
    let (status, _, sent, _) = server.call("GET", "/v1/invitations/sent", &key, None);
    assert_eq!(status, 200, "recovered without a restart: {sent}");
    let (status, _, created, _) = server.call(
        "POST",
        "/v1/invitations",
        &key,
        Some(json!({"email": "dave@initech.test"})),
    );
    assert_eq!(status, 201, "{created}");
    drop(server);
    let _ = std::fs::remove_dir_all(&data_dir);
}
