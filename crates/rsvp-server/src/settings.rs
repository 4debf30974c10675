//! [`Settings`]: every configuration value, read once at start-up from the
//! environment (and an optional file), validated, passed down. No globals.
//!
//! The settings themselves (variable, default, meaning) are declared once
//! in [`crate::catalog`], which also makes the flags, `--help`, `rsvp
//! settings`, `.env.example` and the reference in docs/OPERATIONS.md.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use rsvp_app::{Branding, Locale, Secret};
use rsvp_http::TrustedProxies;
use rsvp_mail::SmtpTls;
use rsvp_store_diesel::DatabaseUrl;

/// A setting that cannot be used; the message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The variable, e.g. `RSVP_BIND`.
    pub name: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid setting {}: {}", self.name, self.problem)
    }
}

impl std::error::Error for SettingsError {}

/// The mail transport and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    /// One `.eml` file per email under `<data dir>/outbox/`.
    Log,
    /// An SMTP relay.
    Smtp {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// Security.
        security: SmtpTls,
        /// User name.
        username: Option<String>,
        /// Password.
        password: Option<Secret>,
    },
    /// An HTTP provider (Postmark's API).
    Http {
        /// API base URL.
        url: String,
        /// Server token.
        token: Secret,
    },
}

/// Every setting, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub bind: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL, as given.
    pub database_url: String,
    /// The same, read: which backend, which SQLite file.
    pub database: DatabaseUrl,
    /// Pool size.
    pub pool_size: u32,
    /// How long a unit of work waits for a connection, in milliseconds.
    pub db_checkout_timeout_ms: u32,
    /// How long a credential is reused, in milliseconds (0: never).
    pub credential_cache_ms: u32,
    /// Base of links; `None`: `http://<the bound address>`.
    pub public_url: Option<String>,
    /// Operator token.
    pub admin_token: Option<Secret>,
    /// Token guarding `/metrics`.
    pub metrics_token: Option<Secret>,
    /// Mail transport.
    pub mail: MailTransport,
    /// Sender of emails.
    pub mail_from: String,
    /// Template override directory.
    pub templates_dir: Option<PathBuf>,
    /// Email language by default.
    pub default_locale: Locale,
    /// The invitee's side: origins a `redirect_url` may point to (as
    /// `RedirectUrl::origin` writes them).
    pub redirect_origins: Vec<String>,
    /// The join link page's "Continue" (the token is added as `token`).
    pub join_continue_url: Option<rsvp_domain::RedirectUrl>,
    /// The host platform's JWTs accepted beside API keys (`RSVP_JWT_*`).
    pub jwt: Option<rsvp_jwt::JwtSettings>,
    /// The email providers' reports accepted (`RSVP_POSTMARK_WEBHOOK_*`, `RSVP_SES_TOPIC_ARNS`).
    pub provider_feedback: crate::provider_feedback::ProviderFeedback,
    /// The invitee's side: product name, colour and logo.
    pub branding: Branding,
    /// Resend cooldown in seconds.
    pub resend_cooldown_secs: u32,
    /// Email attempts.
    pub email_max_attempts: u32,
    /// Emails one business may queue an hour (`0`: no cap).
    pub emails_per_hour: u32,
    /// Hours before expiry of the one reminder (`0`: no reminders).
    pub reminder_hours_before_expiry: u32,
    /// Whether the sender is emailed when an invitation expires.
    pub notify_sender_on_expiry: bool,
    /// Failed attempts per client address and minute (`0`: no throttling).
    pub failed_attempts_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// Emails sent at once.
    pub email_concurrency: u32,
    /// Longest one send may take, in seconds.
    pub email_send_timeout_secs: u32,
    /// Days a finished email job is kept.
    pub email_retention_days: u32,
    /// Longest one webhook delivery may take, in seconds.
    pub webhook_timeout_secs: u32,
    /// Whether webhook endpoints may use `http://`.
    pub webhook_allow_http: bool,
    /// Whether webhook endpoints may target non-public addresses.
    pub webhook_allow_private: bool,
    /// Factor of every webhook retry delay (tests only; 1 in production).
    pub webhook_retry_scale: f64,
    /// The event bus the event log is relayed to (`RSVP_EVENTS_NATS_*`;
    /// `None`: not relayed).
    pub events: Option<crate::events::EventBusSettings>,
    /// Log filter.
    pub log_filter: String,
}

struct Source<'a>(&'a HashMap<String, String>);

impl Source<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn error(name: &str, problem: impl Into<String>) -> SettingsError {
        SettingsError {
            name: name.to_owned(),
            problem: problem.into(),
        }
    }

    fn parse<T: std::str::FromStr>(&self, name: &str, default: T, what: &str) -> Result<T, SettingsError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|_| Self::error(name, format!("'{raw}' is not {what}"))),
        }
    }

    fn number(&self, name: &str, default: u32, range: std::ops::RangeInclusive<u32>) -> Result<u32, SettingsError> {
        let value = self.parse(name, default, "a whole number")?;
        Self::within(name, value, &range)
    }

    fn flag(&self, name: &str) -> Result<bool, SettingsError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0" | "no") => Ok(false),
            Some("true" | "1" | "yes") => Ok(true),
            Some(other) => Err(Self::error(name, format!("'{other}' is not true or false"))),
        }
    }

    fn factor(&self, name: &str, range: std::ops::RangeInclusive<f64>) -> Result<f64, SettingsError> {
        let value: f64 = self.parse(name, 1.0, "a number")?;
        Self::within(name, value, &range)
    }

    /// `value` of `name` when `range` holds it.
    fn within<T: PartialOrd + std::fmt::Display>(
        name: &str,
        value: T,
        range: &std::ops::RangeInclusive<T>,
    ) -> Result<T, SettingsError> {
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(Self::error(
                name,
                format!("{value} is outside {}..={}", range.start(), range.end()),
            ))
        }
    }

    fn required(&self, name: &str, why: &str) -> Result<String, SettingsError> {
        self.get(name)
            .map(str::to_owned)
            .ok_or_else(|| Self::error(name, format!("is required {why}")))
    }
}

/// `RSVP_LOG`, else `RUST_LOG`, else `info`; a filter that does not parse
/// stops start-up rather than silently logging something else.
fn log_filter(src: &Source<'_>) -> Result<String, SettingsError> {
    let (name, filter) = match (src.get("RSVP_LOG"), src.get("RUST_LOG")) {
        (Some(filter), _) => ("RSVP_LOG", filter),
        (None, Some(filter)) => ("RUST_LOG", filter),
        (None, None) => return Ok("info".to_owned()),
    };
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(|_| filter.to_owned())
        .map_err(|e| Source::error(name, format!("'{filter}' is not a log filter: {e}")))
}

/// An absolute `http(s)` URL with a host and no query, fragment or
/// credentials, read by `url::Url` (WHATWG), returned without a trailing `/`.
fn check_url(name: &str, text: &str) -> Result<String, SettingsError> {
    let invalid = |why: &str| Source::error(name, format!("'{text}' {why}"));
    let url = url::Url::parse(text).map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("is not an http:// or https:// URL"));
    }
    // Links are built by appending paths: a query or fragment would end up
    // in the middle of every link.
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

impl Settings {
    /// Reads the settings given as flags or environment variables (by
    /// clap, in `args`) over those of `RSVP_CONFIG_FILE`, refusing any
    /// `RSVP_*` name that is not a setting, in the environment or the file.
    ///
    /// # Errors
    /// The first unusable setting, named.
    pub fn load(args: &crate::catalog::SettingArgs) -> Result<Self, SettingsError> {
        let environment: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .collect();
        crate::catalog::check_names(environment.iter().map(String::as_str))?;
        let given = args.given();
        let mut values = HashMap::new();
        if let Some(path) = given.get("RSVP_CONFIG_FILE").filter(|p| !p.trim().is_empty()) {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Source::error("RSVP_CONFIG_FILE", format!("cannot read {path}: {e}")))?;
            values = parse_file(&text)
                .map_err(|line| Source::error("RSVP_CONFIG_FILE", format!("line {line} is not KEY=VALUE")))?;
            crate::catalog::check_names(values.keys().map(String::as_str))?;
        }
        values.extend(given);
        // The variable every Rust operator tries first; RSVP_LOG wins over it.
        if let Ok(filter) = std::env::var("RUST_LOG") {
            values.insert("RUST_LOG".to_owned(), filter);
        }
        Self::from_map(&values)
    }

    /// Builds settings from a map of variables.
    ///
    /// # Errors
    /// The first unusable setting, named.
    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, SettingsError> {
        let src = Source(map);
        let bind: SocketAddr = src.parse(
            "RSVP_BIND",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            "an address such as 127.0.0.1:8080",
        )?;
        let data_dir = PathBuf::from(src.get("RSVP_DATA_DIR").unwrap_or("./data"));
        // The store's own parser: one reading of a database URL everywhere.
        let database_url = src.get("RSVP_DATABASE_URL").map_or_else(
            || format!("sqlite://{}", data_dir.join("rsvp.db").display()),
            str::to_owned,
        );
        let database =
            DatabaseUrl::parse(&database_url).map_err(|e| Source::error("RSVP_DATABASE_URL", e.to_string()))?;
        let pool_size = src.number("RSVP_DB_POOL_SIZE", default_pool_size(), 1..=256)?;
        let db_checkout_timeout_ms = src.number("RSVP_DB_CHECKOUT_TIMEOUT_MS", 1000, 100..=60_000)?;
        let credential_cache_ms = src.number("RSVP_CREDENTIAL_CACHE_MS", 500, 0..=1_000)?;
        let public_url = match src.get("RSVP_PUBLIC_URL") {
            Some(url) => Some(check_url("RSVP_PUBLIC_URL", url)?),
            None => None,
        };
        let admin_token = match src.get("RSVP_ADMIN_TOKEN") {
            Some(token) if token.chars().count() >= 16 => Some(Secret::new(token)),
            Some(_) => return Err(Source::error("RSVP_ADMIN_TOKEN", "must be at least 16 characters")),
            None => None,
        };
        let metrics_token = match src.get("RSVP_METRICS_TOKEN") {
            Some(token) if token.chars().count() >= 16 => Some(Secret::new(token)),
            Some(_) => return Err(Source::error("RSVP_METRICS_TOKEN", "must be at least 16 characters")),
            None => None,
        };
        let security: SmtpTls = match src.get("RSVP_SMTP_TLS") {
            None => SmtpTls::default(),
            Some(mode) => mode
                .parse()
                .map_err(|_| Source::error("RSVP_SMTP_TLS", format!("'{mode}' is not starttls, tls or none")))?,
        };
        let mail = match src.get("RSVP_MAIL_TRANSPORT").unwrap_or("log") {
            "log" => MailTransport::Log,
            "smtp" => MailTransport::Smtp {
                host: src.required("RSVP_SMTP_HOST", "when RSVP_MAIL_TRANSPORT is smtp")?,
                security,
                port: src.parse("RSVP_SMTP_PORT", security.default_port(), "a port number")?,
                username: src.get("RSVP_SMTP_USERNAME").map(str::to_owned),
                password: src.get("RSVP_SMTP_PASSWORD").map(Secret::new),
            },
            "http" => MailTransport::Http {
                url: check_url(
                    "RSVP_HTTP_MAIL_URL",
                    src.get("RSVP_HTTP_MAIL_URL").unwrap_or("https://api.postmarkapp.com"),
                )?,
                token: Secret::new(src.required("RSVP_HTTP_MAIL_TOKEN", "when RSVP_MAIL_TRANSPORT is http")?),
            },
            other => {
                return Err(Source::error(
                    "RSVP_MAIL_TRANSPORT",
                    format!("'{other}' is not log, smtp or http"),
                ));
            }
        };
        let default_locale = match src.get("RSVP_DEFAULT_LOCALE") {
            None => Locale::En,
            Some(tag) => Locale::from_tag(tag)
                .ok_or_else(|| Source::error("RSVP_DEFAULT_LOCALE", format!("'{tag}' is not en or de")))?,
        };
        // The invitee's side.
        let redirect_origins = match src.get("RSVP_REDIRECT_ORIGINS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(|origin| {
                    rsvp_domain::parse_origin(origin)
                        .map_err(|e| Source::error("RSVP_REDIRECT_ORIGINS", format!("'{origin}': {}", e.message)))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let join_continue_url = src
            .get("RSVP_JOIN_CONTINUE_URL")
            .filter(|url| !url.trim().is_empty())
            .map(|url| {
                rsvp_domain::RedirectUrl::parse(url)
                    .map_err(|e| Source::error("RSVP_JOIN_CONTINUE_URL", format!("'{url}': {}", e.message)))
            })
            .transpose()?;
        let jwt = crate::identity::jwt_settings(|name| src.get(name))
            .map_err(|(name, problem)| Source::error(name, problem))?;
        let provider_feedback = crate::provider_feedback::provider_feedback(|name| src.get(name))
            .map_err(|(name, problem)| Source::error(name, problem))?;
        let product_name = src.get("RSVP_PRODUCT_NAME").unwrap_or("rsvp");
        let brand_color = src.get("RSVP_BRAND_COLOR");
        let logo_url = src.get("RSVP_LOGO_URL");
        let branding = Branding::new(product_name, brand_color, logo_url).map_err(|e| {
            let name = match e {
                rsvp_app::BrandingError::ProductName => "RSVP_PRODUCT_NAME",
                rsvp_app::BrandingError::Color(_) => "RSVP_BRAND_COLOR",
                rsvp_app::BrandingError::LogoUrl(_) => "RSVP_LOGO_URL",
            };
            Source::error(name, e.to_string())
        })?;
        Ok(Self {
            redirect_origins,
            join_continue_url,
            jwt,
            provider_feedback,
            branding,
            bind,
            data_dir,
            database_url,
            database,
            pool_size,
            db_checkout_timeout_ms,
            credential_cache_ms,
            public_url,
            admin_token,
            metrics_token,
            mail,
            mail_from: src
                .get("RSVP_MAIL_FROM")
                .unwrap_or("rsvp <no-reply@localhost>")
                .to_owned(),
            templates_dir: src.get("RSVP_TEMPLATES_DIR").map(PathBuf::from),
            default_locale,
            resend_cooldown_secs: src.number("RSVP_RESEND_COOLDOWN_SECS", 60, 0..=86_400)?,
            email_max_attempts: src.number("RSVP_EMAIL_MAX_ATTEMPTS", 8, 1..=100)?,
            email_concurrency: src.number("RSVP_EMAIL_CONCURRENCY", 16, 1..=256)?,
            email_send_timeout_secs: src.number("RSVP_EMAIL_SEND_TIMEOUT_SECS", 30, 1..=45)?,
            email_retention_days: src.number("RSVP_EMAIL_RETENTION_DAYS", 30, 1..=3650)?,
            emails_per_hour: src.number("RSVP_EMAILS_PER_HOUR", 10_000, 0..=100_000_000)?,
            reminder_hours_before_expiry: src.number("RSVP_REMINDER_HOURS_BEFORE_EXPIRY", 72, 0..=8760)?,
            // On unless set to false.
            notify_sender_on_expiry: src.get("RSVP_NOTIFY_SENDER_ON_EXPIRY").is_none()
                || src.flag("RSVP_NOTIFY_SENDER_ON_EXPIRY")?,
            failed_attempts_per_minute: src.number("RSVP_FAILED_ATTEMPTS_PER_MINUTE", 60, 0..=1_000_000)?,
            trusted_proxies: match src.get("RSVP_TRUSTED_PROXIES") {
                None => TrustedProxies::default(),
                Some(list) => list.parse().map_err(|e: rsvp_http::client_addr::InvalidProxy| {
                    Source::error("RSVP_TRUSTED_PROXIES", e.to_string())
                })?,
            },
            webhook_timeout_secs: src.number("RSVP_WEBHOOK_TIMEOUT_SECS", 10, 1..=30)?,
            webhook_allow_http: src.flag("RSVP_WEBHOOK_ALLOW_HTTP")?,
            webhook_allow_private: src.flag("RSVP_WEBHOOK_ALLOW_PRIVATE")?,
            webhook_retry_scale: src.factor("RSVP_WEBHOOK_RETRY_SCALE", 0.0001..=1.0)?,
            events: crate::events::event_bus_settings(|name| src.get(name))
                .map_err(|(name, problem)| Source::error(name, problem))?,
            log_filter: log_filter(&src)?,
        })
    }
}

/// `KEY=VALUE` lines; blank lines and `#` comments skipped. Err: 1-based line number.
fn parse_file(text: &str) -> Result<HashMap<String, String>, usize> {
    let mut map = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or(i + 1)?;
        let value = value.trim().trim_matches('"');
        map.insert(key.trim().to_owned(), value.to_owned());
    }
    Ok(map)
}

/// The pool's default size: twice the CPU cores, at least 4. More
/// connections than the machine can run at once only add contention: on 2
/// cores beside PostgreSQL, creates over HTTP (c=16) went 1,770-1,900/s
/// with 10 connections and 2,030-2,150/s with 3 to 4, the database using
/// ~30 % less CPU per create (docs/BENCHMARKS.md).
fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    u32::try_from(cores.saturating_mul(2)).unwrap_or(u32::MAX).clamp(4, 256)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_map(&pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[test]
    fn the_pool_defaults_to_twice_the_cores_at_least_four_and_can_be_set() {
        let cores = u32::try_from(std::thread::available_parallelism().unwrap().get()).unwrap();
        assert_eq!(settings(&[]).unwrap().pool_size, (2 * cores).max(4));
        assert_eq!(settings(&[("RSVP_DB_POOL_SIZE", "10")]).unwrap().pool_size, 10);
    }

    #[test]
    fn zero_configuration_runs_on_sqlite_in_data_with_the_log_transport() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://./data/rsvp.db");
        assert_eq!(s.mail, MailTransport::Log);
        assert_eq!(s.public_url, None, "links use the bound address");
        assert!(s.admin_token.is_none());
        assert_eq!(s.emails_per_hour, 10_000);
        assert_eq!(s.failed_attempts_per_minute, 60);
        assert!(
            s.trusted_proxies.is_empty(),
            "no proxy is trusted: the peer is the client"
        );
        assert_eq!(s.webhook_timeout_secs, 10);
        assert!(
            !s.webhook_allow_http && !s.webhook_allow_private,
            "webhooks: public https only"
        );
        assert!((s.webhook_retry_scale - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn reminders_default_to_72_hours_and_expiry_notices_to_on_and_both_turn_off() {
        let s = settings(&[]).unwrap();
        assert_eq!((s.reminder_hours_before_expiry, s.notify_sender_on_expiry), (72, true));
        let s = settings(&[
            ("RSVP_REMINDER_HOURS_BEFORE_EXPIRY", "0"),
            ("RSVP_NOTIFY_SENDER_ON_EXPIRY", "false"),
        ])
        .unwrap();
        assert_eq!((s.reminder_hours_before_expiry, s.notify_sender_on_expiry), (0, false));
        for (name, value) in [
            ("RSVP_REMINDER_HOURS_BEFORE_EXPIRY", "8761"),
            ("RSVP_NOTIFY_SENDER_ON_EXPIRY", "maybe"),
        ] {
            assert_eq!(settings(&[(name, value)]).unwrap_err().name, name);
        }
    }

    #[test]
    fn throttling_and_the_email_cap_are_read_and_zero_turns_them_off() {
        let s = settings(&[
            ("RSVP_EMAILS_PER_HOUR", "0"),
            ("RSVP_FAILED_ATTEMPTS_PER_MINUTE", "0"),
            ("RSVP_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7"),
        ])
        .unwrap();
        assert_eq!(s.emails_per_hour, 0);
        assert_eq!(s.failed_attempts_per_minute, 0);
        assert!(s.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(s.trusted_proxies.contains("192.168.1.7".parse().unwrap()));
        assert!(!s.trusted_proxies.contains("192.168.1.8".parse().unwrap()));
        let error = settings(&[("RSVP_TRUSTED_PROXIES", "10.0.0.1, proxy.internal")]).unwrap_err();
        assert!(error.to_string().contains("proxy.internal"), "{error}");
    }

    #[test]
    fn faults_are_bounded_by_default_and_the_bounds_can_be_set() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.db_checkout_timeout_ms, 1000,
            "a lost database answers 503 within a second"
        );
        assert_eq!(s.email_concurrency, 16);
        assert_eq!(s.email_send_timeout_secs, 30);
        assert_eq!(s.email_retention_days, 30);
        assert_eq!(
            settings(&[("RSVP_EMAIL_RETENTION_DAYS", "0")]).unwrap_err().name,
            "RSVP_EMAIL_RETENTION_DAYS"
        );
        let s = settings(&[
            ("RSVP_DB_CHECKOUT_TIMEOUT_MS", "250"),
            ("RSVP_EMAIL_CONCURRENCY", "4"),
            ("RSVP_EMAIL_SEND_TIMEOUT_SECS", "10"),
        ])
        .unwrap();
        assert_eq!(
            (s.db_checkout_timeout_ms, s.email_concurrency, s.email_send_timeout_secs),
            (250, 4, 10)
        );
        for (name, value) in [
            ("RSVP_DB_CHECKOUT_TIMEOUT_MS", "0"),
            ("RSVP_DB_CHECKOUT_TIMEOUT_MS", "soon"),
            ("RSVP_EMAIL_CONCURRENCY", "0"),
            ("RSVP_EMAIL_SEND_TIMEOUT_SECS", "46"),
        ] {
            assert_eq!(settings(&[(name, value)]).unwrap_err().name, name, "{name}={value}");
        }
    }

    #[test]
    fn an_invalid_setting_is_named() {
        for (pairs, name) in [
            (vec![("RSVP_BIND", "nowhere")], "RSVP_BIND"),
            (vec![("RSVP_DATABASE_URL", "mysql://x")], "RSVP_DATABASE_URL"),
            (vec![("RSVP_MAIL_TRANSPORT", "pigeon")], "RSVP_MAIL_TRANSPORT"),
            (vec![("RSVP_MAIL_TRANSPORT", "smtp")], "RSVP_SMTP_HOST"),
            (vec![("RSVP_MAIL_TRANSPORT", "http")], "RSVP_HTTP_MAIL_TOKEN"),
            (vec![("RSVP_ADMIN_TOKEN", "short")], "RSVP_ADMIN_TOKEN"),
            (vec![("RSVP_METRICS_TOKEN", "short")], "RSVP_METRICS_TOKEN"),
            (vec![("RSVP_PUBLIC_URL", "ftp://x")], "RSVP_PUBLIC_URL"),
            (vec![("RSVP_PUBLIC_URL", "https://x.test/?a=b")], "RSVP_PUBLIC_URL"),
            (vec![("RSVP_PUBLIC_URL", "https://x.test/#top")], "RSVP_PUBLIC_URL"),
            (vec![("RSVP_LOG", "info,[")], "RSVP_LOG"),
            (vec![("RUST_LOG", "info,[")], "RUST_LOG"),
            (vec![("RSVP_SMTP_TLS", "ssl")], "RSVP_SMTP_TLS"),
            (vec![("RSVP_DB_POOL_SIZE", "0")], "RSVP_DB_POOL_SIZE"),
            (vec![("RSVP_DEFAULT_LOCALE", "fr")], "RSVP_DEFAULT_LOCALE"),
            (
                vec![("RSVP_REDIRECT_ORIGINS", "https://a.test/path")],
                "RSVP_REDIRECT_ORIGINS",
            ),
            (
                vec![("RSVP_REDIRECT_ORIGINS", "https://a.test, javascript:x")],
                "RSVP_REDIRECT_ORIGINS",
            ),
            (vec![("RSVP_PRODUCT_NAME", &"n".repeat(61))], "RSVP_PRODUCT_NAME"),
            (vec![("RSVP_BRAND_COLOR", "teal")], "RSVP_BRAND_COLOR"),
            (vec![("RSVP_LOGO_URL", "http://cdn.test/logo.png")], "RSVP_LOGO_URL"),
            (vec![("RSVP_EMAILS_PER_HOUR", "-1")], "RSVP_EMAILS_PER_HOUR"),
            (
                vec![("RSVP_FAILED_ATTEMPTS_PER_MINUTE", "many")],
                "RSVP_FAILED_ATTEMPTS_PER_MINUTE",
            ),
            (vec![("RSVP_TRUSTED_PROXIES", "10.0.0.0/33")], "RSVP_TRUSTED_PROXIES"),
            (vec![("RSVP_WEBHOOK_TIMEOUT_SECS", "0")], "RSVP_WEBHOOK_TIMEOUT_SECS"),
            (vec![("RSVP_WEBHOOK_ALLOW_HTTP", "maybe")], "RSVP_WEBHOOK_ALLOW_HTTP"),
            (
                vec![("RSVP_WEBHOOK_ALLOW_PRIVATE", "sure")],
                "RSVP_WEBHOOK_ALLOW_PRIVATE",
            ),
            (vec![("RSVP_WEBHOOK_RETRY_SCALE", "2")], "RSVP_WEBHOOK_RETRY_SCALE"),
            (
                vec![("RSVP_TRUSTED_PROXIES", "10.0.0.1, proxy.internal")],
                "RSVP_TRUSTED_PROXIES",
            ),
        ] {
            let error = settings(&pairs).unwrap_err();
            assert_eq!(error.name, name, "{error}");
            assert!(error.to_string().contains(name));
        }
    }

    #[test]
    fn the_smtp_port_defaults_to_the_usual_port_of_the_tls_mode() {
        let port = |tls: &str| match settings(&[
            ("RSVP_MAIL_TRANSPORT", "smtp"),
            ("RSVP_SMTP_HOST", "mail.test"),
            ("RSVP_SMTP_TLS", tls),
        ])
        .unwrap()
        .mail
        {
            MailTransport::Smtp { port, .. } => port,
            other => panic!("{other:?}"),
        };
        assert_eq!(port("tls"), 465);
        assert_eq!(port("starttls"), 587);
        assert_eq!(port("none"), 25);
    }

    #[test]
    fn rust_log_is_honoured_and_rsvp_log_wins_over_it() {
        assert_eq!(settings(&[]).unwrap().log_filter, "info");
        assert_eq!(settings(&[("RUST_LOG", "debug")]).unwrap().log_filter, "debug");
        assert_eq!(
            settings(&[("RUST_LOG", "debug"), ("RSVP_LOG", "warn")])
                .unwrap()
                .log_filter,
            "warn"
        );
    }

    #[test]
    fn the_config_file_is_overridden_by_the_environment() {
        let file = parse_file("# comment\nRSVP_BIND=0.0.0.0:9000\nRSVP_PUBLIC_URL=\"https://x.test/\"\n").unwrap();
        assert_eq!(file["RSVP_PUBLIC_URL"], "https://x.test/");
        let mut map = file;
        map.insert("RSVP_BIND".into(), "127.0.0.1:9001".into());
        let s = Settings::from_map(&map).unwrap();
        assert_eq!(s.bind.port(), 9001);
        assert_eq!(s.public_url.as_deref(), Some("https://x.test"));
        assert_eq!(parse_file("oops"), Err(1));
    }
}
