//! Webhooks, per [Standard Webhooks](https://www.standardwebhooks.com/): the
//! rules that need no IO.
//!
//! * [`WebhookUrl::parse`]: what a business may register (https only, no
//!   loopback, private, link-local or unique-local literal address, no
//!   `localhost`) under a [`UrlPolicy`]; [`is_forbidden_address`] is the same
//!   address rule for what a host name resolves to.
//! * [`EventTypeFilter`]: which event types an endpoint wants.
//! * [`retry_delay`]: the retry schedule, jitter given by the caller.
//! * [`WebhookSecret`], [`sign`], [`verify`]: `whsec_` secrets and the
//!   `webhook-signature` header, for rsvp and for Rust receivers.
//!
//! Verifying a delivery in a Rust receiver:
//!
//! ```
//! use rsvp_domain::webhook::{self, WebhookHeaders, WebhookSecret};
//! use time::OffsetDateTime;
//!
//! let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
//! let body = br#"{"test": 2432232314}"#;
//! let headers = WebhookHeaders {
//!     id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
//!     timestamp: "1614265330",
//!     signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
//! };
//! let now = OffsetDateTime::from_unix_timestamp(1_614_265_330 + 10).unwrap();
//! webhook::verify(secret, &headers, body, now, webhook::DEFAULT_TOLERANCE).expect("genuine");
//!
//! // A changed body, or a timestamp too far from now, is refused.
//! assert!(webhook::verify(secret, &headers, b"{}", now, webhook::DEFAULT_TOLERANCE).is_err());
//! let later = now + time::Duration::hours(1);
//! assert!(webhook::verify(secret, &headers, body, later, webhook::DEFAULT_TOLERANCE).is_err());
//! # let _ = WebhookSecret::parse(secret).unwrap();
//! ```

mod signing;
mod url;

pub use signing::{VerifyError, WebhookHeaders, WebhookSecret, sign, signed_content, verify};
pub use url::{UrlError, UrlPolicy, WebhookHost, WebhookUrl, is_forbidden_address};

use time::Duration;

use crate::{EventKind, FieldError};

/// The type of the event rsvp sends when it disables a failing endpoint.
pub const ENDPOINT_DISABLED: &str = "webhook_endpoint.disabled";

/// Longest endpoint URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Longest endpoint description, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 500;

/// Delays after failed attempts 1 to 7 (before jitter); after the 8th
/// attempt fails the delivery is failed.
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::seconds(5),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(5),
    Duration::hours(10),
    Duration::hours(10),
];

/// An endpoint whose deliveries have failed, without a success, for this
/// long is disabled.
pub const DISABLE_AFTER: Duration = Duration::days(5);

/// How long the previous secret keeps signing after a rotation.
pub const SECRET_OVERLAP: Duration = Duration::hours(24);

/// The timestamp tolerance receivers use by default (Standard Webhooks: 5 min).
pub const DEFAULT_TOLERANCE: Duration = Duration::minutes(5);

/// Every event type an endpoint may ask for: the event kinds, and
/// [`ENDPOINT_DISABLED`].
pub fn event_types() -> impl Iterator<Item = &'static str> {
    EventKind::ALL
        .into_iter()
        .map(EventKind::as_str)
        .chain(std::iter::once(ENDPOINT_DISABLED))
}

/// The delay before the next attempt after failed attempt number `attempt`
/// (1-based), or `None` when that was the last attempt. `jitter` in
/// `[0, 1)` (clamped) spreads the delay over ±10 %, so that deliveries
/// failing together do not all come back together.
pub fn retry_delay(attempt: u32, jitter: f64) -> Option<Duration> {
    let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
    let base = *RETRY_DELAYS.get(index)?;
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    Some(base * (0.9 + jitter * 0.2))
}

/// Which event types an endpoint receives: all (the default), or a set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventTypeFilter(Vec<String>);

impl EventTypeFilter {
    /// Every type.
    pub fn all() -> Self {
        Self(Vec::new())
    }

    /// A set of types, each one of [`event_types`].
    ///
    /// # Errors
    /// `unknown_event_type` naming an unknown type; `empty` for an empty
    /// list (leave the field out for all). The field is left for the caller
    /// to name.
    pub fn parse<S: AsRef<str>>(types: &[S]) -> Result<Self, FieldError> {
        if types.is_empty() {
            return Err(FieldError::new(
                "",
                "empty",
                "give at least one event type, or leave event_types out to receive every type",
            ));
        }
        let mut set = Vec::with_capacity(types.len());
        for name in types {
            let name = name.as_ref();
            let Some(known) = event_types().find(|known| *known == name) else {
                return Err(FieldError::new(
                    "",
                    "unknown_event_type",
                    format!(
                        "unknown event type {name:?}; known types: {}",
                        event_types().collect::<Vec<_>>().join(", ")
                    ),
                ));
            };
            set.push(known.to_owned());
        }
        set.sort_unstable();
        set.dedup();
        Ok(Self(set))
    }

    /// Whether every type is wanted.
    pub fn is_all(&self) -> bool {
        self.0.is_empty()
    }

    /// The types asked for, sorted; empty when every type is wanted.
    pub fn types(&self) -> &[String] {
        &self.0
    }

    /// Whether an event of type `kind` is wanted.
    pub fn matches(&self, kind: &str) -> bool {
        self.is_all() || self.0.iter().any(|t| t == kind)
    }

    /// The stored form: empty for all, else `,a,b,` (so that a store can
    /// match `,<type>,` as a substring).
    pub fn to_stored(&self) -> String {
        if self.is_all() {
            String::new()
        } else {
            format!(",{},", self.0.join(","))
        }
    }

    /// Reads [`to_stored`](Self::to_stored) back (unknown names are kept:
    /// stored data is trusted).
    pub fn from_stored(stored: &str) -> Self {
        let mut types: Vec<String> = stored.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect();
        types.sort_unstable();
        types.dedup();
        Self(types)
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    fn strict() -> UrlPolicy {
        UrlPolicy::default()
    }

    #[test]
    fn the_standard_webhooks_test_vector_signs_as_the_spec_says() {
        // From the Standard Webhooks reference implementations' test suites.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn verify_accepts_any_of_several_signatures_and_refuses_a_wrong_one() {
        let old = WebhookSecret::from_key(b"old key of some length");
        let new = WebhookSecret::from_key(b"new key of some length");
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let header = sign(&[&new, &old], "evt", 1_700_000_000, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        let headers = WebhookHeaders {
            id: "evt",
            timestamp: "1700000000",
            signature: &header,
        };
        for secret in [&old, &new] {
            assert_eq!(verify(secret.expose(), &headers, b"{}", now, DEFAULT_TOLERANCE), Ok(()));
        }
        let stranger = WebhookSecret::from_key(b"someone else");
        assert_eq!(
            verify(stranger.expose(), &headers, b"{}", now, DEFAULT_TOLERANCE),
            Err(VerifyError::NoMatchingSignature)
        );
        let other_id = WebhookHeaders { id: "evt2", ..headers };
        assert_eq!(
            verify(new.expose(), &other_id, b"{}", now, DEFAULT_TOLERANCE),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn the_retry_schedule_is_the_briefs_with_ten_percent_jitter_then_gives_up() {
        let hours = |h: i64| Duration::hours(h);
        assert_eq!(retry_delay(1, 0.5), Some(Duration::seconds(5)));
        assert_eq!(retry_delay(2, 0.5), Some(Duration::minutes(5)));
        assert_eq!(retry_delay(3, 0.5), Some(Duration::minutes(30)));
        assert_eq!(retry_delay(4, 0.5), Some(hours(2)));
        assert_eq!(retry_delay(5, 0.5), Some(hours(5)));
        assert_eq!(retry_delay(6, 0.5), Some(hours(10)));
        assert_eq!(retry_delay(7, 0.5), Some(hours(10)));
        assert_eq!(retry_delay(8, 0.5), None);
        assert_eq!(retry_delay(0, 0.5), None);
        assert_eq!(retry_delay(4, 0.0), Some(hours(2) * 0.9));
        assert_eq!(retry_delay(4, 1.0), Some(hours(2) * 1.1));
    }

    #[test]
    fn only_https_urls_to_public_hosts_are_allowed_by_default() {
        for (url, expected) in [
            (
                "https://hooks.example.com/rsvp?x=1",
                Ok("https://hooks.example.com/rsvp?x=1"),
            ),
            ("HTTPS://Hooks.Example.COM:443", Ok("https://hooks.example.com/")),
            ("https://93.184.216.34:8443/h", Ok("https://93.184.216.34:8443/h")),
            ("https://[2606:2800:220:1::1]/h", Ok("https://[2606:2800:220:1::1]/h")),
            ("http://hooks.example.com/", Err("url_not_allowed")),
            ("https://127.0.0.1/", Err("url_not_allowed")),
            ("https://10.1.2.3/", Err("url_not_allowed")),
            ("https://172.16.0.1/", Err("url_not_allowed")),
            ("https://192.168.1.1/", Err("url_not_allowed")),
            ("https://169.254.169.254/latest/meta-data", Err("url_not_allowed")),
            ("https://100.64.0.1/", Err("url_not_allowed")),
            ("https://0.0.0.0/", Err("url_not_allowed")),
            ("https://[::1]/", Err("url_not_allowed")),
            ("https://[fc00::1]/", Err("url_not_allowed")),
            ("https://[fd12:3456::1]/", Err("url_not_allowed")),
            ("https://[fe80::1]/", Err("url_not_allowed")),
            ("https://[::ffff:127.0.0.1]/", Err("url_not_allowed")),
            ("https://localhost/", Err("url_not_allowed")),
            ("https://api.localhost/", Err("url_not_allowed")),
            ("https://127.1/", Err("invalid_url")),
            ("https://0x7f.1/", Err("invalid_url")),
            ("https://2130706433/", Err("invalid_url")),
            ("ftp://hooks.example.com/", Err("invalid_url")),
            ("hooks.example.com", Err("invalid_url")),
            ("https:///path", Err("invalid_url")),
            ("https://user:pw@hooks.example.com/", Err("invalid_url")),
            ("https://hooks.example.com/#frag", Err("invalid_url")),
            ("https://hooks.example.com/a b", Err("invalid_url")),
            ("https://hooks.example.com:0/", Err("invalid_url")),
            ("https://hooks.example.com:99999/", Err("invalid_url")),
            ("https://hooks.example.com:+1/", Err("invalid_url")),
        ] {
            let result = WebhookUrl::parse(url, strict()).map(|u| u.as_str().to_owned());
            match expected {
                Ok(text) => assert_eq!(result.as_deref(), Ok(text), "{url}"),
                Err(code) => {
                    let error = result.expect_err(url);
                    assert_eq!(FieldError::from(error).code, code, "{url}");
                }
            }
        }
    }

    #[test]
    fn the_operator_switches_allow_http_and_private_targets() {
        let open = UrlPolicy {
            allow_http: true,
            allow_private: true,
        };
        for url in ["http://127.0.0.1:8080/hook", "https://localhost/", "http://[::1]:9000/"] {
            assert!(WebhookUrl::parse(url, open).is_ok(), "{url}");
        }
        let http_only = UrlPolicy {
            allow_http: true,
            allow_private: false,
        };
        assert!(WebhookUrl::parse("http://hooks.example.com/", http_only).is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1/", http_only).is_err());
    }

    #[test]
    fn forbidden_addresses_include_every_embedded_form_of_a_private_ipv4() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fdff::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            assert!(is_forbidden_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "172.32.0.1",
            "2606:2800:220:1::1",
            "::ffff:93.184.216.34",
        ] {
            assert!(!is_forbidden_address(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn an_event_type_filter_knows_every_event_kind_and_the_disabled_notice() {
        let filter =
            EventTypeFilter::parse(&["invitation.accepted", ENDPOINT_DISABLED, "invitation.accepted"]).unwrap();
        assert_eq!(filter.types(), ["invitation.accepted", ENDPOINT_DISABLED]);
        assert!(filter.matches("invitation.accepted"));
        assert!(!filter.matches("invitation.created"));
        assert_eq!(EventTypeFilter::from_stored(&filter.to_stored()), filter);
        assert!(EventTypeFilter::all().matches("connection.created"));
        assert_eq!(EventTypeFilter::from_stored(""), EventTypeFilter::all());
        assert_eq!(
            EventTypeFilter::parse(&["invitation.nope"]).unwrap_err().code,
            "unknown_event_type"
        );
        assert_eq!(EventTypeFilter::parse::<&str>(&[]).unwrap_err().code, "empty");
        assert_eq!(event_types().count(), EventKind::ALL.len() + 1);
    }
}
