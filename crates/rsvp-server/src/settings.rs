//! [`Settings`]: every configuration value, read once at start-up from the
//! environment (and an optional file), validated, passed down. No globals.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `RSVP_CONFIG_FILE` | unset | a file of `KEY=VALUE` lines; the environment wins over it |
//! | `RSVP_BIND` | `127.0.0.1:8080` | address to listen on |
//! | `RSVP_DATA_DIR` | `./data` | SQLite file and `outbox/` of the log transport |
//! | `RSVP_DATABASE_URL` | `sqlite://<data dir>/rsvp.db` | `postgres://...` for PostgreSQL |
//! | `RSVP_DB_POOL_SIZE` | `10` | connections in the pool (1..=256) |
//! | `RSVP_DB_CHECKOUT_TIMEOUT_MS` | `1000` | how long a request waits for a database connection before answering 503 (100..=60000) |
//! | `RSVP_PUBLIC_URL` | `http://<bound address>` | base of links in emails |
//! | `RSVP_ADMIN_TOKEN` | unset (operator API off) | bearer token of `/v1/admin`, at least 16 characters |
//! | `RSVP_MAIL_TRANSPORT` | `log` | `log`, `smtp` or `http` |
//! | `RSVP_MAIL_FROM` | `rsvp <no-reply@localhost>` | sender of emails |
//! | `RSVP_SMTP_HOST` | required for `smtp` | SMTP server |
//! | `RSVP_SMTP_PORT` | `587` | SMTP port |
//! | `RSVP_SMTP_TLS` | `starttls` | `starttls`, `tls` or `none` |
//! | `RSVP_SMTP_USERNAME`, `RSVP_SMTP_PASSWORD` | unset | SMTP credentials |
//! | `RSVP_HTTP_MAIL_URL` | `https://api.postmarkapp.com` | the provider's API base |
//! | `RSVP_HTTP_MAIL_TOKEN` | required for `http` | the provider's server token |
//! | `RSVP_TEMPLATES_DIR` | unset | directory of email templates overriding the built-in ones |
//! | `RSVP_DEFAULT_LOCALE` | `en` | `en` or `de`, for emails |
//! | `RSVP_RESEND_COOLDOWN_SECS` | `60` | minimum seconds between two sends of one invitation |
//! | `RSVP_EMAIL_MAX_ATTEMPTS` | `8` | delivery attempts before an email is given up |
//! | `RSVP_EMAIL_CONCURRENCY` | `16` | emails sent at once by one replica (1..=256) |
//! | `RSVP_EMAIL_SEND_TIMEOUT_SECS` | `30` | longest one send may take before it is retried (1..=45); an email's lease is this plus 15 s, so a dead replica's emails are retried within a minute |
//! | `RSVP_EMAIL_RETENTION_DAYS` | `30` | days a sent or failed email job is kept before it is deleted (1..=3650) |
//! | `RSVP_LOG` | `info` | log filter (`tracing` env-filter syntax) |

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use rsvp_app::{Locale, Secret};

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

/// SMTP security.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS.
    StartTls,
    /// TLS from the first byte.
    Tls,
    /// No encryption (local relays, tests).
    None,
}

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
        security: SmtpSecurity,
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
    /// Database URL.
    pub database_url: String,
    /// Pool size.
    pub pool_size: u32,
    /// How long a unit of work waits for a connection, in milliseconds.
    pub db_checkout_timeout_ms: u32,
    /// Base of links; `None`: `http://<the bound address>`.
    pub public_url: Option<String>,
    /// Operator token.
    pub admin_token: Option<Secret>,
    /// Mail transport.
    pub mail: MailTransport,
    /// Sender of emails.
    pub mail_from: String,
    /// Template override directory.
    pub templates_dir: Option<PathBuf>,
    /// Email language by default.
    pub default_locale: Locale,
    /// Resend cooldown in seconds.
    pub resend_cooldown_secs: u32,
    /// Email attempts.
    pub email_max_attempts: u32,
    /// Emails sent at once.
    pub email_concurrency: u32,
    /// Longest one send may take, in seconds.
    pub email_send_timeout_secs: u32,
    /// Days a finished email job is kept.
    pub email_retention_days: u32,
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

fn check_url(name: &str, url: &str) -> Result<String, SettingsError> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(trimmed.to_owned()),
        _ => Err(Source::error(
            name,
            format!("'{url}' is not an http:// or https:// URL"),
        )),
    }
}

impl Settings {
    /// Reads settings from `RSVP_CONFIG_FILE` (if set) overlaid by the
    /// process environment.
    ///
    /// # Errors
    /// The first unusable setting, named.
    pub fn from_env() -> Result<Self, SettingsError> {
        let env: HashMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("RSVP_")).collect();
        let mut values = HashMap::new();
        if let Some(path) = env.get("RSVP_CONFIG_FILE").filter(|p| !p.trim().is_empty()) {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Source::error("RSVP_CONFIG_FILE", format!("cannot read {path}: {e}")))?;
            values = parse_file(&text)
                .map_err(|line| Source::error("RSVP_CONFIG_FILE", format!("line {line} is not KEY=VALUE")))?;
        }
        values.extend(env);
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
        let database_url = match src.get("RSVP_DATABASE_URL") {
            Some(url)
                if url.starts_with("postgres://") || url.starts_with("postgresql://") || url.starts_with("sqlite:") =>
            {
                url.to_owned()
            }
            Some(url) => {
                return Err(Source::error(
                    "RSVP_DATABASE_URL",
                    format!("'{url}' must start with postgres:// or sqlite://"),
                ));
            }
            None => format!("sqlite://{}", data_dir.join("rsvp.db").display()),
        };
        let pool_size = src.number("RSVP_DB_POOL_SIZE", 10, 1..=256)?;
        let db_checkout_timeout_ms = src.number("RSVP_DB_CHECKOUT_TIMEOUT_MS", 1000, 100..=60_000)?;
        let public_url = match src.get("RSVP_PUBLIC_URL") {
            Some(url) => Some(check_url("RSVP_PUBLIC_URL", url)?),
            None => None,
        };
        let admin_token = match src.get("RSVP_ADMIN_TOKEN") {
            Some(token) if token.chars().count() >= 16 => Some(Secret::new(token)),
            Some(_) => return Err(Source::error("RSVP_ADMIN_TOKEN", "must be at least 16 characters")),
            None => None,
        };
        let mail = match src.get("RSVP_MAIL_TRANSPORT").unwrap_or("log") {
            "log" => MailTransport::Log,
            "smtp" => MailTransport::Smtp {
                host: src.required("RSVP_SMTP_HOST", "when RSVP_MAIL_TRANSPORT is smtp")?,
                port: src.parse("RSVP_SMTP_PORT", 587, "a port number")?,
                security: match src.get("RSVP_SMTP_TLS").unwrap_or("starttls") {
                    "starttls" => SmtpSecurity::StartTls,
                    "tls" => SmtpSecurity::Tls,
                    "none" => SmtpSecurity::None,
                    other => {
                        return Err(Source::error(
                            "RSVP_SMTP_TLS",
                            format!("'{other}' is not starttls, tls or none"),
                        ));
                    }
                },
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
        Ok(Self {
            bind,
            data_dir,
            database_url,
            pool_size,
            db_checkout_timeout_ms,
            public_url,
            admin_token,
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
            log_filter: src.get("RSVP_LOG").unwrap_or("info").to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_map(&pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[test]
    fn zero_configuration_runs_on_sqlite_in_data_with_the_log_transport() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://./data/rsvp.db");
        assert_eq!(s.mail, MailTransport::Log);
        assert_eq!(s.public_url, None, "links use the bound address");
        assert!(s.admin_token.is_none());
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
            (vec![("RSVP_PUBLIC_URL", "ftp://x")], "RSVP_PUBLIC_URL"),
            (vec![("RSVP_DB_POOL_SIZE", "0")], "RSVP_DB_POOL_SIZE"),
            (vec![("RSVP_DEFAULT_LOCALE", "fr")], "RSVP_DEFAULT_LOCALE"),
        ] {
            let error = settings(&pairs).unwrap_err();
            assert_eq!(error.name, name, "{error}");
            assert!(error.to_string().contains(name));
        }
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
