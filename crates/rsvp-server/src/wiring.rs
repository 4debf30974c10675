//! Building every adapter from the settings, and running the server.

use std::sync::Arc;

use actix_web::{App as ActixApp, HttpServer};
use anyhow::Context as _;
use rsvp_app::{
    App, AppError, DispatchSettings, EmailDispatcher, EmailRenderer, Mailer, Ports, Settings as AppSettings,
    WebhookDispatchSettings, WebhookDispatcher,
};
use rsvp_domain::webhook::UrlPolicy;
use rsvp_store_diesel::{DieselStore, StoreOptions};
use rsvp_system::{RandomSecrets, SystemClock, TokioTimer, UuidV7Ids};

use crate::settings::{MailTransport, Settings};

/// JSON logs on stderr, filtered by `RSVP_LOG`.
pub fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A use-case error as a sentence for the command line.
pub fn describe(error: AppError) -> anyhow::Error {
    match error {
        AppError::Validation(errors) => anyhow::anyhow!("invalid input: {errors}"),
        other => anyhow::anyhow!("{other}"),
    }
}

/// Opens (and for SQLite, creates) the database.
pub async fn open_store(settings: &Settings) -> anyhow::Result<DieselStore> {
    if settings.database.sqlite_path().is_some() {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
    }
    let mut options = StoreOptions::new(settings.database_url.clone());
    options.max_connections = settings.pool_size;
    options.connection_timeout = std::time::Duration::from_millis(u64::from(settings.db_checkout_timeout_ms));
    DieselStore::connect_with(options)
        .await
        .context("opening the database (RSVP_DATABASE_URL)")
}

/// Opens the database without creating one: `rsvp backup` of a mistyped
/// data directory must fail, not copy a new empty database.
pub async fn open_existing_store(settings: &Settings) -> anyhow::Result<DieselStore> {
    if let Some(path) = settings.database.sqlite_path() {
        anyhow::ensure!(
            path.is_file(),
            "no SQLite database at {} (check RSVP_DATA_DIR or RSVP_DATABASE_URL)",
            path.display()
        );
    }
    open_store(settings).await
}

/// The production ports over `store`: the composition root keeps them for
/// the dispatchers and hands a copy to the use cases.
pub fn ports(store: Arc<DieselStore>) -> Ports {
    Ports {
        store,
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
        secrets: Arc::new(RandomSecrets),
    }
}

/// The use cases over the production adapters.
pub fn app(settings: &Settings, ports: Ports) -> App {
    let app_settings = AppSettings {
        resend_cooldown: time::Duration::seconds(i64::from(settings.resend_cooldown_secs)),
        emails_per_hour: settings.emails_per_hour,
        default_locale: settings.default_locale,
        redirect_origins: settings.redirect_origins.clone(),
        webhook_policy: webhook_policy(settings),
        credential_cache_ttl: time::Duration::milliseconds(i64::from(settings.credential_cache_ms)),
        reminder_before_expiry: time::Duration::hours(i64::from(settings.reminder_hours_before_expiry)),
        notify_sender_on_expiry: settings.notify_sender_on_expiry,
    };
    App::new(ports, app_settings).with_resolver(Arc::new(rsvp_webhooks::SystemResolver))
}

/// What webhook endpoints may target (`RSVP_WEBHOOK_ALLOW_*`).
pub fn webhook_policy(settings: &Settings) -> UrlPolicy {
    UrlPolicy {
        allow_http: settings.webhook_allow_http,
        allow_private: settings.webhook_allow_private,
    }
}

/// The webhook dispatcher's settings (`RSVP_WEBHOOK_TIMEOUT_SECS`,
/// `RSVP_WEBHOOK_RETRY_SCALE`).
pub fn webhook_dispatch_settings(settings: &Settings) -> WebhookDispatchSettings {
    let send_timeout = time::Duration::seconds(i64::from(settings.webhook_timeout_secs));
    WebhookDispatchSettings {
        send_timeout,
        lease: send_timeout + time::Duration::seconds(5),
        retry_scale: settings.webhook_retry_scale,
        ..WebhookDispatchSettings::default()
    }
}

fn webhook_dispatcher(settings: &Settings, ports: &Ports) -> anyhow::Result<WebhookDispatcher> {
    let dispatch = webhook_dispatch_settings(settings);
    let sender = rsvp_webhooks::HttpWebhookSender::new(
        webhook_policy(settings),
        dispatch.send_timeout.unsigned_abs(),
        Arc::new(rsvp_webhooks::SystemResolver),
    )
    .context("building the webhook sender")?;
    Ok(WebhookDispatcher::new(ports.clone(), Arc::new(sender), dispatch).with_timer(Arc::new(TokioTimer)))
}

fn mailer(settings: &Settings) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(match &settings.mail {
        MailTransport::Log => {
            let dir = settings.data_dir.join("outbox");
            Arc::new(rsvp_mail::LogMailer::new(dir, &settings.mail_from).context("RSVP_MAIL_TRANSPORT=log")?)
        }
        MailTransport::Smtp {
            host,
            port,
            security,
            username,
            password,
        } => {
            let mut config = rsvp_mail::SmtpConfig::new(host.clone(), settings.mail_from.clone());
            config.port = *port;
            config.tls = *security;
            config.username = username.clone();
            config.password = password.as_ref().map(|p| p.expose().to_owned());
            Arc::new(rsvp_mail::SmtpMailer::new(config).context("RSVP_SMTP_*")?)
        }
        MailTransport::Http { url, token } => {
            let mut config = rsvp_mail::PostmarkConfig::new(token.expose(), settings.mail_from.clone());
            config.base_url = url.clone();
            Arc::new(rsvp_mail::HttpMailer::new(config).context("RSVP_HTTP_MAIL_*")?)
        }
    })
}

fn renderer(settings: &Settings) -> anyhow::Result<Arc<dyn EmailRenderer>> {
    let renderer = match &settings.templates_dir {
        Some(dir) => rsvp_mail::TemplateRenderer::from_dir(dir)
            .with_context(|| format!("RSVP_TEMPLATES_DIR={}", dir.display()))?,
        None => rsvp_mail::TemplateRenderer::new(),
    };
    Ok(Arc::new(renderer.with_branding(settings.branding.clone())))
}

/// The dispatcher's settings: a lease of the send timeout plus 15 s, so that
/// the emails of a replica that dies are sent by another within a minute
/// (docs/DECISIONS.md, "Faults").
pub fn dispatch_settings(settings: &Settings, public_url: String) -> DispatchSettings {
    let mut dispatch = DispatchSettings::new(public_url);
    dispatch.default_locale = settings.default_locale;
    dispatch.product_name = settings.branding.product_name().to_owned();
    dispatch.max_attempts = settings.email_max_attempts;
    dispatch.concurrency = usize::try_from(settings.email_concurrency).unwrap_or(16);
    dispatch.send_timeout = time::Duration::seconds(i64::from(settings.email_send_timeout_secs));
    dispatch.lease = dispatch.send_timeout + time::Duration::seconds(15);
    dispatch.transport = match settings.mail {
        MailTransport::Log => "log",
        MailTransport::Smtp { .. } => "smtp",
        MailTransport::Http { .. } => "http",
    }
    .to_owned();
    dispatch
}

/// `app`, accepting the host platform's JWTs when `RSVP_JWT_JWKS_URL` is
/// set; the keys are fetched once now, so that the first caller does not wait
/// (a failure is logged, and retried when a token comes).
async fn with_jwt_callers(app: App, settings: &Settings) -> anyhow::Result<App> {
    let Some(jwt) = &settings.jwt else {
        return Ok(app);
    };
    if jwt.jwks_url.starts_with("http://") {
        // Allowed for an identity provider inside the same network (a
        // cluster's Keycloak service), but keys fetched in clear can be
        // swapped by anyone on the path.
        tracing::warn!(
            "RSVP_JWT_JWKS_URL is plain http: use https unless the identity provider is on a trusted network"
        );
    }
    let verifier = rsvp_jwt::JwtVerifier::with_clock(jwt.clone(), app.clock()).context("RSVP_JWT_*")?;
    let keys = verifier.prefetch().await;
    tracing::info!(keys, algorithms = ?jwt.algorithms, "JWT callers accepted");
    Ok(app.with_token_verifier(Arc::new(verifier)))
}

/// `rsvp serve`: migrations, HTTP server, workers; stops cleanly on SIGTERM/SIGINT.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let store = Arc::new(open_store(&settings).await?);
    let applied = store.run_migrations().await.context("applying migrations")?;
    tracing::info!(
        backend = store.backend().as_str(),
        applied = applied.len(),
        "database ready"
    );
    let ports = ports(store.clone());
    let app = with_jwt_callers(app(&settings, ports.clone()), &settings).await?;
    let app = crate::provider_feedback::with_provider_feedback(app, &settings.provider_feedback)?;
    // Bind first: with RSVP_BIND on port 0 the links need the port the system chose.
    let listener =
        std::net::TcpListener::bind(settings.bind).with_context(|| format!("binding RSVP_BIND={}", settings.bind))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    let public_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{bound}"));
    let mut http_config = rsvp_http::HttpConfig::new(public_url.clone());
    http_config.admin_token = settings.admin_token.clone();
    http_config.metrics_token = settings.metrics_token.clone();
    http_config.failed_attempts_per_minute = settings.failed_attempts_per_minute;
    http_config.trusted_proxies = settings.trusted_proxies.clone();
    http_config.branding = settings.branding.clone();
    http_config.join_continue_url = settings.join_continue_url.clone();
    http_config.event_relay = settings.events.is_some();
    if let Some(dir) = &settings.templates_dir {
        let pages =
            rsvp_http::PageTemplates::from_dir(dir).with_context(|| format!("RSVP_TEMPLATES_DIR={}", dir.display()))?;
        http_config.pages = Some(Arc::new(pages));
    }
    let state = rsvp_http::HttpState::new(app.clone(), http_config);
    let dispatcher = EmailDispatcher::new(
        ports.clone(),
        renderer(&settings)?,
        mailer(&settings)?,
        dispatch_settings(&settings, public_url.clone()),
    )
    .with_timer(Arc::new(TokioTimer))
    .with_observer(state.metrics.clone());
    let webhooks = webhook_dispatcher(&settings, &ports)?.with_observer(state.metrics.clone());
    let relay = crate::events::event_relay(
        settings.events.as_ref(),
        settings.public_url.as_deref(),
        &ports,
        state.metrics.clone(),
    )
    .await?;
    let server = HttpServer::new(move || {
        ActixApp::new()
            .configure(rsvp_http::configure(state.clone()))
            // Unknown routes answer problem documents too.
            .default_service(rsvp_http::default_service())
    })
    .listen(listener)
    .with_context(|| format!("listening on {bound}"))?
    .shutdown_timeout(30)
    .run();
    tracing::info!(bind = %bound, public_url = %public_url, "rsvp listening");
    let retention = time::Duration::days(i64::from(settings.email_retention_days));
    let mut workers = rsvp_runtime::Workers::new(app)
        .with_emails(dispatcher)
        .with_work_signal(Arc::new(store.work_signal()))
        .with_webhooks(webhooks)
        .with_settings(rsvp_runtime::WorkerSettings::default().with_email_retention(retention));
    if let Some(relay) = relay {
        // A task of its own: the API never waits for the bus.
        workers = workers.with_event_relay(relay);
    }
    let workers = workers.start();
    // actix-web handles SIGTERM/SIGINT itself: it stops accepting, lets
    // in-flight requests finish, then resolves.
    let result = server.await;
    workers.stop().await;
    // Its connection closed before main returns (see `stop_listening`).
    let listener_stopped = tokio::task::spawn_blocking(move || store.stop_listening()).await;
    if let Err(error) = listener_stopped {
        tracing::warn!(%error, "stopping the email job listener failed");
    }
    tracing::info!("rsvp stopped");
    result.context("HTTP server")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn a_dead_replicas_emails_come_back_within_a_minute_and_a_lease_outlasts_a_send() {
        for timeout in ["1", "30", "45"] {
            let map = HashMap::from([("RSVP_EMAIL_SEND_TIMEOUT_SECS".to_owned(), timeout.to_owned())]);
            let dispatch = dispatch_settings(&Settings::from_map(&map).unwrap(), "https://x.test".into());
            let lease = dispatch.effective_lease();
            assert!(lease > dispatch.send_timeout, "{timeout}: {lease}");
            assert!(lease <= time::Duration::seconds(60), "{timeout}: {lease}");
        }
        let dispatch = dispatch_settings(&Settings::from_map(&HashMap::new()).unwrap(), "https://x.test".into());
        assert_eq!((dispatch.concurrency, dispatch.transport.as_str()), (16, "log"));
    }
}
