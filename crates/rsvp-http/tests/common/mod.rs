//! The test harness shared by the HTTP tests: the API in-process over a
//! chosen store (in-memory, SQLite file, PostgreSQL database — fresh for
//! each test and dropped after).
#![allow(dead_code)]

/// Runs each test once per backend (in-memory, SQLite, PostgreSQL), each on
/// a fresh store: `on_every_backend!(a_test, another_test);` over `async fn
/// a_test(api: Api)`.
#[allow(unused_macros)]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod memory { $( #[actix_web::test] async fn $name() { super::$name(super::Api::memory().await).await } )* }
        mod sqlite { $( #[actix_web::test] async fn $name() { super::$name(super::Api::sqlite().await).await } )* }
        mod postgres { $( #[actix_web::test] async fn $name() { super::$name(super::Api::postgres().await).await } )* }
    };
}

use std::sync::Arc;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{App, test};
use rsvp_app::{Ports, Settings};
use rsvp_http::{HttpConfig, HttpState, configure};
use rsvp_memory::{InMemoryStore, ManualClock};
use rsvp_store_diesel::testing::TestDatabase;
use rsvp_system::{RandomSecrets, UuidV7Ids};
use serde_json::{Value, json};
use time::OffsetDateTime;

pub const ADMIN: &str = "test-admin-token";

pub struct Api {
    pub clock: Arc<ManualClock>,
    /// The ports the app was built over (the tests' side door, not the app's).
    pub ports: Ports,
    pub state: HttpState,
    _database: Option<TestDatabase>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Api {
    pub async fn memory() -> Self {
        Self::over(Arc::new(InMemoryStore::new()), None)
    }

    pub async fn sqlite() -> Self {
        let database = TestDatabase::sqlite();
        let store = database.migrated_store().await;
        Self::over(Arc::new(store), Some(database))
    }

    pub async fn postgres() -> Self {
        let database = TestDatabase::postgres();
        let store = database.migrated_store().await;
        Self::over(Arc::new(store), Some(database))
    }

    /// In memory, with the HTTP config and the use cases' settings adjusted.
    pub async fn memory_with(adjust: impl FnOnce(&mut HttpConfig, &mut Settings)) -> Self {
        Self::over_with(Arc::new(InMemoryStore::new()), None, adjust)
    }

    /// On a fresh SQLite file or PostgreSQL database, adjusted as [`Api::memory_with`].
    pub async fn database_with(postgres: bool, adjust: impl FnOnce(&mut HttpConfig, &mut Settings)) -> Self {
        let database = if postgres {
            TestDatabase::postgres()
        } else {
            TestDatabase::sqlite()
        };
        let store = database.migrated_store().await;
        Self::over_with(Arc::new(store), Some(database), adjust)
    }

    /// Another replica over the same database (a new store and pool, the
    /// same clock): what one replica stored, the other reads. `None` in memory.
    pub async fn another_replica(&self) -> Option<Self> {
        let url = self._database.as_ref()?.url().to_owned();
        let store = rsvp_store_diesel::DieselStore::connect(&url).await.unwrap();
        let ports = Ports {
            store: Arc::new(store),
            ..self.ports.clone()
        };
        let app = rsvp_app::App::new(ports.clone(), self.state.app.settings().clone());
        Some(Self {
            clock: self.clock.clone(),
            ports,
            state: HttpState::new(app, self.state.config.clone()),
            _database: None,
        })
    }

    /// The same API accepting the host platform's JWTs, verified by
    /// `verifier`, beside API keys (a fresh HTTP state over the same app and
    /// config: call it before the first request).
    pub fn accepting_tokens(mut self, verifier: Arc<dyn rsvp_app::TokenVerifier>) -> Self {
        let app = self.state.app.clone().with_token_verifier(verifier);
        self.state = HttpState::new(app, self.state.config.clone());
        self
    }

    /// The same API over the app `change` makes of this one (a fresh HTTP
    /// state over the same config: call it before the first request).
    pub fn with_app(mut self, change: impl FnOnce(rsvp_app::App) -> rsvp_app::App) -> Self {
        let app = change(self.state.app.clone());
        self.state = HttpState::new(app, self.state.config.clone());
        self
    }

    fn over(store: Arc<dyn rsvp_app::Store>, database: Option<TestDatabase>) -> Self {
        Self::over_with(store, database, |_, _| {})
    }

    fn over_with(
        store: Arc<dyn rsvp_app::Store>,
        database: Option<TestDatabase>,
        adjust: impl FnOnce(&mut HttpConfig, &mut Settings),
    ) -> Self {
        let clock = Arc::new(ManualClock::new(
            OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        ));
        let ports = Ports {
            store,
            clock: clock.clone(),
            ids: Arc::new(UuidV7Ids),
            secrets: Arc::new(RandomSecrets),
        };
        let mut config = HttpConfig::new("https://rsvp.test");
        config.admin_token = Some(rsvp_app::Secret::new(ADMIN));
        config.body_limit = 16 * 1024;
        let mut settings = Settings::default();
        adjust(&mut config, &mut settings);
        let state = HttpState::new(rsvp_app::App::new(ports.clone(), settings), config);
        Self {
            clock,
            ports,
            state,
            _database: database,
        }
    }

    pub async fn raw(&self, request: test::TestRequest) -> Reply {
        let service = test::init_service(
            App::new()
                .configure(configure(self.state.clone()))
                .default_service(rsvp_http::default_service()),
        )
        .await;
        let response = test::call_service(&service, request.to_request()).await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = test::read_body(response).await;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        let is_html = headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/html"));
        if (status.is_client_error() || status.is_server_error()) && !is_html {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert_eq!(
                content_type, "application/problem+json",
                "every error is a problem document: {body}"
            );
            assert_eq!(body["status"], status.as_u16(), "{body}");
            assert!(
                body["code"].is_string() && body["type"].is_string() && body["title"].is_string(),
                "{body}"
            );
        }
        assert!(!status.is_server_error(), "no 5xx for client input: {status} {body}");
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = test::TestRequest::default().method(method).uri(path);
        if let Some(key) = key {
            request = request.insert_header((header::AUTHORIZATION, format!("Bearer {key}")));
        }
        if let Some(body) = body {
            request = request.set_json(body);
        }
        self.raw(request).await
    }

    pub async fn business(&self, name: &str, email: &str) -> (String, String) {
        let reply = self
            .call(
                Method::POST,
                "/v1/admin/businesses",
                Some(ADMIN),
                Some(json!({"name": name, "user": {"email": email, "first_name": "Ann", "last_name": "Lee"}})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        (
            reply.body["business"]["id"].as_str().unwrap().to_owned(),
            reply.body["api_key"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn invite(&self, key: &str, body: Value) -> Reply {
        self.call(Method::POST, "/v1/invitations", Some(key), Some(body)).await
    }
}

pub fn codes(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}
