//! The `rsvp` binary accepting the host platform's JWTs: `rsvp serve` with
//! `RSVP_JWT_*` pointing at a real JWKS server on 127.0.0.1 (rsvp-jwt's test
//! support and PEM fixtures), a business and a user provisioned with the
//! host platform's ids, a token of theirs answered as them, a token for
//! another audience refused, and neither the tokens nor the ids in anything
//! the server wrote (stdout and stderr, at debug level). A shared-secret
//! algorithm stops start-up, naming `RSVP_JWT_ALGORITHMS`.

#[path = "../../rsvp-jwt/tests/support/mod.rs"]
mod jwks;
mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, get_current_timestamp};
use jwks::{AUDIENCE, ISSUER, JwksServer};
use rsvp_store_diesel::testing::TestDatabase;
use serde_json::{Value, json};
use support::{Client, temp_dir};

const ADMIN: &str = "jwt-serve-operator-token";
const ORG: &str = "org_acme";
const USER: &str = "idp|ann";

/// `rsvp serve` with every line it writes (stdout and stderr) kept.
struct Serve {
    child: Child,
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    data_dir: std::path::PathBuf,
}

/// Starts reading `pipe` line by line into `lines`.
fn keep_lines(pipe: impl Read + Send + 'static, lines: &Arc<Mutex<Vec<String>>>) -> JoinHandle<()> {
    let lines = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    })
}

impl Serve {
    /// Starts `rsvp serve` on 127.0.0.1:0 over `database_url` with `settings`;
    /// returns once it logged that it listens (60 s at most).
    fn start(database_url: &str, settings: &[(&str, &str)]) -> Self {
        let data_dir = temp_dir("rsvp-jwt-serve");
        let mut child = Command::new(env!("CARGO_BIN_EXE_rsvp"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RSVP_BIND", "127.0.0.1:0")
            .env("RSVP_DATA_DIR", &data_dir)
            .env("RSVP_DATABASE_URL", database_url)
            .env("RSVP_ADMIN_TOKEN", ADMIN)
            .envs(settings.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            keep_lines(child.stdout.take().unwrap(), &lines),
            keep_lines(child.stderr.take().unwrap(), &lines),
        ];
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let listening = lines.lock().unwrap().iter().find_map(|line| {
                let entry: Value = serde_json::from_str(line).ok()?;
                if entry["fields"]["message"] != "rsvp listening" {
                    return None;
                }
                entry["fields"]["bind"].as_str()?.parse::<SocketAddr>().ok()
            });
            if let Some(addr) = listening {
                break addr;
            }
            if let Some(exit) = child.try_wait().unwrap() {
                panic!("rsvp serve exited ({exit}): {:#?}", lines.lock().unwrap());
            }
            assert!(
                Instant::now() < deadline,
                "rsvp serve does not listen: {:#?}",
                lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self {
            child,
            addr,
            lines,
            readers,
            data_dir,
        }
    }

    fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let (status, _, body, _) = Client { addr: self.addr }
            .try_call(method, path, key, body)
            .unwrap_or_else(|e| panic!("rsvp serve does not answer ({e}): {:#?}", self.lines.lock().unwrap()));
        (status, body)
    }

    /// SIGTERM, then every line the server wrote.
    fn stop(mut self) -> Vec<String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = wait_with_deadline(&mut self.child, Duration::from_secs(30));
        assert!(exit.success(), "a SIGTERM ends the server cleanly: {exit}");
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
        std::mem::take(&mut *self.lines.lock().unwrap())
    }
}

impl Drop for Serve {
    // A failing test must not leave its server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `child` to exit, killing it (and failing) past `limit`.
fn wait_with_deadline(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            return exit;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A token's header and claims, decoded (not verified) for the record.
fn decoded(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part = || -> Value {
        let bytes = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    (part(), part())
}

/// A runtime for the JWKS server's tasks (the test itself blocks).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn a_jwt_of_the_host_platform_acts_as_its_user_and_no_id_reaches_the_logs(database: &TestDatabase) {
    let runtime = runtime();
    let jwks = runtime.block_on(JwksServer::start(&jwks::standard_jwks()));
    let jwks_url = jwks.url();
    assert!(jwks_url.starts_with("http://127.0.0.1:") && jwks_url.ends_with("/jwks.json"));
    let server = Serve::start(
        database.url(),
        &[
            ("RSVP_LOG", "debug"),
            ("RSVP_JWT_JWKS_URL", &jwks_url),
            ("RSVP_JWT_ISSUER", ISSUER),
            ("RSVP_JWT_AUDIENCE", AUDIENCE),
        ],
    );
    assert_eq!(jwks.requests(), 1, "the keys are fetched once at start-up");

    let (status, made) = server.call(
        "POST",
        "/v1/admin/businesses",
        ADMIN,
        Some(json!({"name": "Acme", "external_id": ORG, "user": {"email": "ann@acme.test", "external_id": USER}})),
    );
    assert_eq!(status, 201, "{made}");
    let business = made["business"]["id"].as_str().unwrap().to_owned();
    let user = made["user"]["id"].as_str().unwrap().to_owned();

    let now = get_current_timestamp();
    let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": USER, "org_id": ORG, "exp": now + 300});
    let token = jwks::sign(Algorithm::RS256, Some("rsa-a"), &claims, &jwks::rsa_a());
    let (status, me) = server.call("GET", "/v1/me", &token, None);
    let (header, decoded_claims) = decoded(&token);
    println!("token header: {header}");
    println!(
        "token claims: {}",
        serde_json::to_string_pretty(&decoded_claims).unwrap()
    );
    println!("GET /v1/me -> {status}\n{}", serde_json::to_string_pretty(&me).unwrap());
    assert_eq!(decoded_claims, claims);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["id"], user.as_str());
    assert_eq!(me["user"]["business_id"], business.as_str());
    assert_eq!(me["user"]["external_id"], USER);
    assert_eq!(me["business"]["id"], business.as_str());
    assert_eq!(me["business"]["external_id"], ORG);

    let (status, invited) = server.call(
        "POST",
        "/v1/invitations",
        &token,
        Some(json!({"email": "x@y.test", "send_email": false})),
    );
    assert_eq!(status, 201, "{invited}");
    assert_eq!(invited["business_id"], business.as_str());

    let elsewhere = json!({"iss": ISSUER, "aud": "another-service", "sub": USER, "org_id": ORG, "exp": now + 300});
    let wrong_audience = jwks::sign(Algorithm::RS256, Some("rsa-a"), &elsewhere, &jwks::rsa_a());
    let (status, refused) = server.call("GET", "/v1/me", &wrong_audience, None);
    assert_eq!(status, 401, "{refused}");
    assert_eq!(refused["code"], "unauthorized");
    assert!(refused.get("user").is_none() && refused.get("business").is_none());
    assert_eq!(jwks.requests(), 1, "the start-up fetch served every token");

    let lines = server.stop();
    assert!(
        lines.iter().any(|l| l.contains("JWT callers accepted")),
        "the logs are captured: {lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("\"DEBUG\"")),
        "the logs are at debug level"
    );
    assert!(
        lines.iter().any(|l| l.contains("/v1/me")),
        "the requests are logged: {lines:#?}"
    );
    for secret in [
        token.as_str(),
        wrong_audience.as_str(),
        token.rsplit('.').next().unwrap(),
        USER,
        ORG,
    ] {
        let leaks: Vec<&String> = lines.iter().filter(|line| line.contains(secret)).collect();
        assert!(leaks.is_empty(), "{secret:?} reached the server's output: {leaks:#?}");
    }
    drop(jwks);
}

#[test]
fn a_jwt_of_the_host_platform_acts_as_its_user_on_sqlite() {
    a_jwt_of_the_host_platform_acts_as_its_user_and_no_id_reaches_the_logs(&TestDatabase::sqlite());
}

#[test]
fn a_jwt_of_the_host_platform_acts_as_its_user_on_postgresql() {
    a_jwt_of_the_host_platform_acts_as_its_user_and_no_id_reaches_the_logs(&TestDatabase::postgres());
}

#[test]
fn a_shared_secret_algorithm_stops_start_up_naming_rsvp_jwt_algorithms() {
    let data_dir = temp_dir("rsvp-jwt-serve-hs256");
    let database = TestDatabase::sqlite();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rsvp"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RSVP_BIND", "127.0.0.1:0")
        .env("RSVP_DATA_DIR", &data_dir)
        .env("RSVP_DATABASE_URL", database.url())
        .env("RSVP_ADMIN_TOKEN", ADMIN)
        .env("RSVP_JWT_JWKS_URL", "http://127.0.0.1:9/jwks.json")
        .env("RSVP_JWT_ISSUER", ISSUER)
        .env("RSVP_JWT_AUDIENCE", AUDIENCE)
        .env("RSVP_JWT_ALGORITHMS", "HS256")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let reader = keep_lines(child.stderr.take().unwrap(), &lines);
    let exit = wait_with_deadline(&mut child, Duration::from_secs(60));
    reader.join().unwrap();
    let stderr = lines.lock().unwrap().join("\n");
    let _ = std::fs::remove_dir_all(&data_dir);
    println!("rsvp serve with RSVP_JWT_ALGORITHMS=HS256 -> {exit}\n{stderr}");
    assert!(!exit.success(), "start-up refused: {exit}");
    assert_eq!(exit.code(), Some(2), "an invalid setting: {stderr}");
    assert!(stderr.contains("RSVP_JWT_ALGORITHMS"), "{stderr}");
    assert!(stderr.contains("HS256"), "{stderr}");
    assert!(!stderr.contains("rsvp listening"), "{stderr}");
}
