//! The catalog of settings: one declaration per setting (its variable, its
//! default and its meaning) from which come the command line's flags and
//! `--help` (clap, each flag also read from its environment variable), the
//! refusal of unknown `RSVP_*` variables, `rsvp settings` and the generated
//! `.env.example` and configuration reference of docs/OPERATIONS.md.
//! [`crate::settings::Settings`] validates the values; this module only
//! gathers them.

use std::collections::HashMap;

use crate::settings::SettingsError;

/// One setting as people read about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The environment variable, e.g. `RSVP_BIND`.
    pub var: &'static str,
    /// The default, in words when it depends on other settings.
    pub default: &'static str,
    /// What it does.
    pub meaning: &'static str,
    /// Whether `.env.example` shows the default as a value to uncomment
    /// (false for secrets and for defaults that are sentences).
    pub example: bool,
}

macro_rules! catalog {
    ($( $field:ident : $var:literal, $default:literal, $example:literal, $meaning:literal; )*) => {
        /// Every setting as a flag (`--bind`) that also reads its variable
        /// (`RSVP_BIND`); the flag wins over the variable, the variable over
        /// `RSVP_CONFIG_FILE`. Values are checked by `Settings`.
        #[derive(Debug, Clone, Default, clap::Args)]
        #[command(next_help_heading = "Settings (flags or environment variables; rsvp settings lists them)")]
        pub struct SettingArgs {
            $(
                #[arg(
                    long,
                    env = $var,
                    global = true,
                    hide_env_values = true,
                    value_name = "VALUE",
                    help = concat!($meaning, " [default: ", $default, "]"),
                )]
                pub $field: Option<String>,
            )*
        }

        /// Every setting, in the order of `--help`.
        pub const CATALOG: &[Entry] = &[
            $( Entry { var: $var, default: $default, meaning: $meaning, example: $example }, )*
        ];

        impl SettingArgs {
            /// The values given, by variable name.
            pub fn given(&self) -> HashMap<String, String> {
                let mut given = HashMap::new();
                $(
                    if let Some(value) = &self.$field {
                        given.insert($var.to_owned(), value.clone());
                    }
                )*
                given
            }
        }
    };
}

catalog! {
    config_file: "RSVP_CONFIG_FILE", "unset", false,
        "A file of KEY=VALUE lines read first; flags and the environment win over it.";
    bind: "RSVP_BIND", "127.0.0.1:8080", true,
        "Address to listen on (0.0.0.0:8080 in a container).";
    data_dir: "RSVP_DATA_DIR", "./data", true,
        "Directory of the SQLite database and of the log transport's outbox/.";
    database_url: "RSVP_DATABASE_URL", "sqlite://<data dir>/rsvp.db", false,
        "Database: sqlite://FILE, or postgres://USER@HOST/DB for PostgreSQL (several replicas).";
    db_pool_size: "RSVP_DB_POOL_SIZE", "twice the CPU cores, at least 4", false,
        "Database connections in the pool (1..=256).";
    db_checkout_timeout_ms: "RSVP_DB_CHECKOUT_TIMEOUT_MS", "1000", true,
        "How long a request waits for a database connection before answering 503 (100..=60000).";
    credential_cache_ms: "RSVP_CREDENTIAL_CACHE_MS", "500", true,
        "How long what an API key leads to is reused before reading it again: revocations reach other replicas within this (0..=1000, the brief allows 1 s; 0 = every request).";
    public_url: "RSVP_PUBLIC_URL", "http://<bound address>", false,
        "Base of the links in emails (http:// or https://, no query or fragment).";
    admin_token: "RSVP_ADMIN_TOKEN", "unset: the operator API is off", false,
        "Bearer token of the operator API /v1/admin (at least 16 characters).";
    metrics_token: "RSVP_METRICS_TOKEN", "unset: /metrics is open", false,
        "Bearer token /metrics requires (at least 16 characters).";
    mail_transport: "RSVP_MAIL_TRANSPORT", "log", true,
        "Email transport: log (.eml files in <data dir>/outbox), smtp or http (Postmark's API).";
    mail_from: "RSVP_MAIL_FROM", "rsvp <no-reply@localhost>", true,
        "Sender of emails.";
    smtp_host: "RSVP_SMTP_HOST", "required with smtp", false,
        "SMTP server.";
    smtp_port: "RSVP_SMTP_PORT", "587; 465 with tls, 25 with none", false,
        "SMTP port.";
    smtp_tls: "RSVP_SMTP_TLS", "starttls", true,
        "SMTP security: starttls (required), tls (implicit) or none.";
    smtp_username: "RSVP_SMTP_USERNAME", "unset", false,
        "SMTP user name.";
    smtp_password: "RSVP_SMTP_PASSWORD", "unset", false,
        "SMTP password.";
    http_mail_url: "RSVP_HTTP_MAIL_URL", "https://api.postmarkapp.com", true,
        "Base URL of the HTTP email provider.";
    http_mail_token: "RSVP_HTTP_MAIL_TOKEN", "required with http", false,
        "Server token of the HTTP email provider.";
    templates_dir: "RSVP_TEMPLATES_DIR", "unset: built-in templates", false,
        "Directory of email and invitee page templates overriding the built-in ones (checked at start-up).";
    redirect_origins: "RSVP_REDIRECT_ORIGINS", "none: no redirect_url allowed", false,
        "Comma-separated origins (https://app.example.com) an invitation's redirect_url may point to.";
    join_continue_url: "RSVP_JOIN_CONTINUE_URL", "unset: no Continue button", false,
        "Where the join link page's Continue goes (an absolute http(s) URL); the link's token is added as ?token=.";
    jwt_jwks_url: "RSVP_JWT_JWKS_URL", "unset: JWT callers off", false,
        "The host platform's identity provider's JWKS (https); set, bearer JWTs it signs are accepted beside API keys.";
    jwt_issuer: "RSVP_JWT_ISSUER", "none: required with RSVP_JWT_JWKS_URL", false,
        "The accepted iss of a JWT.";
    jwt_audience: "RSVP_JWT_AUDIENCE", "none: required with RSVP_JWT_JWKS_URL", false,
        "The accepted aud of a JWT.";
    jwt_algorithms: "RSVP_JWT_ALGORITHMS", "RS256,ES256", true,
        "Comma-separated JWT algorithms accepted (RS*, PS*, ES256, ES384, EdDSA; never none or HS*).";
    jwt_business_claim: "RSVP_JWT_BUSINESS_CLAIM", "org_id", true,
        "The JWT claim holding the business's external_id.";
    jwt_user_claim: "RSVP_JWT_USER_CLAIM", "sub", true,
        "The JWT claim holding the user's external_id.";
    postmark_webhook_user: "RSVP_POSTMARK_WEBHOOK_USER", "unset: Postmark's webhooks off", false,
        "HTTP Basic user Postmark's webhooks send to /v1/provider-events/postmark (with RSVP_POSTMARK_WEBHOOK_PASSWORD).";
    postmark_webhook_password: "RSVP_POSTMARK_WEBHOOK_PASSWORD", "unset", false,
        "HTTP Basic password of Postmark's webhooks (compared in constant time).";
    ses_topic_arns: "RSVP_SES_TOPIC_ARNS", "unset: SES reports off", false,
        "Comma-separated SNS topic ARNs whose signed SES reports /v1/provider-events/ses accepts.";
    product_name: "RSVP_PRODUCT_NAME", "rsvp", true,
        "Product name shown on the invitee page and in emails.";
    brand_color: "RSVP_BRAND_COLOR", "#4f46e5", false,
        "Brand colour of the page and emails, as #rrggbb.";
    logo_url: "RSVP_LOGO_URL", "unset: the product name", false,
        "Logo of the page, an https:// or data:image/... URL; emails show a data: logo only (nothing remote).";
    default_locale: "RSVP_DEFAULT_LOCALE", "en", true,
        "Language of emails by default: en or de.";
    resend_cooldown_secs: "RSVP_RESEND_COOLDOWN_SECS", "60", true,
        "Minimum seconds between two sends of one invitation (0..=86400).";
    email_max_attempts: "RSVP_EMAIL_MAX_ATTEMPTS", "8", true,
        "Delivery attempts before an email is given up (1..=100).";
    email_concurrency: "RSVP_EMAIL_CONCURRENCY", "16", true,
        "Emails sent at once by one replica (1..=256).";
    email_send_timeout_secs: "RSVP_EMAIL_SEND_TIMEOUT_SECS", "30", true,
        "Longest one send may take before it is retried (1..=45); a claimed email's lease is this plus 15 s.";
    email_retention_days: "RSVP_EMAIL_RETENTION_DAYS", "30", true,
        "Days a sent or failed email job is kept before it is deleted (1..=3650).";
    emails_per_hour: "RSVP_EMAILS_PER_HOUR", "10000", true,
        "Emails (creates, resends and reminders) one business may queue in any hour; 0 turns the cap off.";
    reminder_hours_before_expiry: "RSVP_REMINDER_HOURS_BEFORE_EXPIRY", "72", true,
        "Hours before its expiry a pending invitation gets one reminder email, if its last email went out before then (0..=8760; 0 turns reminders off).";
    notify_sender_on_expiry: "RSVP_NOTIFY_SENDER_ON_EXPIRY", "true", true,
        "true emails the user who sent an invitation when it expires unanswered; false does not.";
    failed_attempts_per_minute: "RSVP_FAILED_ATTEMPTS_PER_MINUTE", "60", true,
        "Failed authentications and link lookups per client address and minute before 429; 0 turns throttling off.";
    trusted_proxies: "RSVP_TRUSTED_PROXIES", "none", false,
        "Comma-separated IPs and CIDR blocks of proxies whose X-Forwarded-For names the client.";
    webhook_timeout_secs: "RSVP_WEBHOOK_TIMEOUT_SECS", "10", true,
        "Longest one webhook delivery may take before it counts as failed (1..=30).";
    webhook_allow_http: "RSVP_WEBHOOK_ALLOW_HTTP", "false", true,
        "true lets webhook endpoints use http:// (local setups and tests only).";
    webhook_allow_private: "RSVP_WEBHOOK_ALLOW_PRIVATE", "false", true,
        "true lets webhook endpoints target loopback, private, link-local and unique-local addresses (local setups and tests only).";
    webhook_retry_scale: "RSVP_WEBHOOK_RETRY_SCALE", "1", false,
        "Scales the webhook retry schedule (0.0001..=1), for tests only: 0.001 turns 5 s into 5 ms.";
    events_nats_url: "RSVP_EVENTS_NATS_URL", "unset: events are not relayed", false,
        "NATS server(s) with JetStream (nats://HOST:PORT, comma-separated) to publish every event to as a CloudEvent; needs the nats build feature (on by default).";
    events_nats_subject: "RSVP_EVENTS_NATS_SUBJECT", "rsvp.events", true,
        "Subject prefix of the events: one message per event on <prefix>.<business id>.<event type>, in the stream <PREFIX> (dots as _) created when missing.";
    log: "RSVP_LOG", "info (or RUST_LOG)", false,
        "Log filter (tracing env-filter syntax); wins over RUST_LOG.";
}

/// Variables of rsvp's own test and benchmark tooling, which a process may
/// inherit from its test runner: not settings, and not refused.
const TOOLING: [&str; 4] = ["RSVP_TEST_", "RSVP_BENCH_", "RSVP_ST_", "RSVP_BLESS"];

/// Whether `var` is a setting.
pub fn is_known(var: &str) -> bool {
    CATALOG.iter().any(|entry| entry.var == var)
}

fn is_tooling(var: &str) -> bool {
    TOOLING.iter().any(|prefix| var.starts_with(prefix))
}

/// Refuses a name that looks like a setting but is none, naming the
/// closest real one: a typo must not silently fall back to a default.
///
/// # Errors
/// The first unknown `RSVP_*` name of `names`.
pub fn check_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), SettingsError> {
    let mut unknown: Vec<&str> = names
        .into_iter()
        .filter(|name| name.starts_with("RSVP_") && !is_known(name) && !is_tooling(name))
        .collect();
    unknown.sort_unstable();
    match unknown.first() {
        None => Ok(()),
        Some(name) => Err(SettingsError {
            name: (*name).to_owned(),
            problem: format!(
                "is not a setting (did you mean {}?); `rsvp settings` lists them all",
                closest(name)
            ),
        }),
    }
}

/// The setting whose name is nearest to `name` (edit distance).
pub fn closest(name: &str) -> &'static str {
    CATALOG
        .iter()
        .map(|entry| (edit_distance(name, entry.var), entry.var))
        .min()
        .map_or("RSVP_BIND", |(_, var)| var)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The configuration reference as a Markdown table (docs/OPERATIONS.md).
pub fn markdown() -> String {
    let mut out = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for entry in CATALOG {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            entry.var,
            entry.default,
            entry.meaning.replace('|', "\\|")
        ));
    }
    out
}

/// `.env.example`: every setting, commented out, with its meaning.
pub fn env_example() -> String {
    let mut out = String::from(
        "# Every setting of rsvp, as generated by `rsvp settings --env-example`.\n\
         # Uncomment what you change; the environment wins over RSVP_CONFIG_FILE.\n",
    );
    for entry in CATALOG {
        out.push_str(&format!("\n# {} Default: {}.\n", entry.meaning, entry.default));
        let value = if entry.example { entry.default } else { "" };
        out.push_str(&format!("# {}={value}\n", entry.var));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_variable_is_refused_naming_the_closest_setting() {
        let error = check_names(["RSVP_BIND", "RSVP_DATABASE_ULR", "PATH"]).unwrap_err();
        assert_eq!(error.name, "RSVP_DATABASE_ULR");
        assert!(error.problem.contains("did you mean RSVP_DATABASE_URL?"), "{error}");
        assert!(check_names(CATALOG.iter().map(|e| e.var)).is_ok());
        assert!(
            check_names(["RSVP_TEST_PYTHON", "RSVP_BLESS", "RUST_LOG"]).is_ok(),
            "tooling and other names pass"
        );
        assert_eq!(closest("RSVP_SMTP_PASWORD"), "RSVP_SMTP_PASSWORD");
    }

    #[test]
    fn every_setting_is_declared_once_with_a_meaning() {
        let mut vars: Vec<&str> = CATALOG.iter().map(|e| e.var).collect();
        vars.sort_unstable();
        vars.dedup();
        assert_eq!(vars.len(), CATALOG.len());
        assert!(
            CATALOG
                .iter()
                .all(|e| e.var.starts_with("RSVP_") && e.meaning.ends_with('.'))
        );
    }
}
