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

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

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

/// What the operator allows beyond the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    /// `http://` URLs too (`RSVP_WEBHOOK_ALLOW_HTTP`).
    pub allow_http: bool,
    /// Loopback, private, link-local and unique-local targets too
    /// (`RSVP_WEBHOOK_ALLOW_PRIVATE`).
    pub allow_private: bool,
}

impl UrlPolicy {
    /// Whether a delivery may connect to `ip`.
    pub fn allows_address(self, ip: IpAddr) -> bool {
        self.allow_private || !is_forbidden_address(ip)
    }
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// Not a URL rsvp can call (`invalid_url`).
    Invalid(String),
    /// A URL rsvp will not call (`url_not_allowed`): not https, or a
    /// loopback, private, link-local or unique-local target.
    NotAllowed(String),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(reason) | Self::NotAllowed(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for UrlError {}

impl From<UrlError> for FieldError {
    fn from(error: UrlError) -> Self {
        match error {
            UrlError::Invalid(reason) => FieldError::new("url", "invalid_url", reason),
            UrlError::NotAllowed(reason) => FieldError::new("url", "url_not_allowed", reason),
        }
    }
}

/// The host of a [`WebhookUrl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookHost {
    /// A DNS name, lowercase ASCII (IDNA applied).
    Name(String),
    /// A literal address.
    Ip(IpAddr),
}

/// An endpoint URL that passed [`WebhookUrl::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    text: String,
    https: bool,
    host: WebhookHost,
    port: u16,
}

fn invalid(reason: &str) -> UrlError {
    UrlError::Invalid(reason.to_owned())
}

/// A name such as `127.1` or `0x7f.1` that a URL parser reads as an IPv4
/// address (WHATWG: the last label is a number): refused unless it is a
/// plain dotted quad, so that no address hides behind a "name".
fn looks_numeric(name: &str) -> bool {
    let last = name.trim_end_matches('.').rsplit('.').next().unwrap_or_default();
    !last.is_empty() && (last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x"))
}

impl WebhookUrl {
    /// Checks an endpoint URL: absolute `https://` (or `http://` when
    /// allowed), a host, no credentials, no fragment, printable ASCII after
    /// the host, at most [`MAX_URL_LEN`] bytes; and unless private targets
    /// are allowed, no `localhost` name and no loopback, private,
    /// link-local or unique-local literal address. (What a name resolves to
    /// is checked by the caller, with [`UrlPolicy::allows_address`].)
    ///
    /// # Errors
    /// [`UrlError::Invalid`] or [`UrlError::NotAllowed`].
    pub fn parse(text: &str, policy: UrlPolicy) -> Result<Self, UrlError> {
        if text.len() > MAX_URL_LEN {
            return Err(invalid("the URL is longer than 2048 bytes"));
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| invalid("expected an absolute https:// URL"))?;
        let scheme = scheme.to_ascii_lowercase();
        let https = match scheme.as_str() {
            "https" => true,
            "http" if policy.allow_http => false,
            "http" => return Err(UrlError::NotAllowed("only https:// URLs are allowed".to_owned())),
            _ => return Err(invalid("expected an absolute https:// URL")),
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        if tail.contains('#') {
            return Err(invalid("the URL must not have a fragment"));
        }
        if tail.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
            return Err(invalid(
                "the path and query must be printable ASCII (percent-encode the rest)",
            ));
        }
        if authority.contains('@') {
            return Err(invalid("the URL must not hold credentials"));
        }
        let (host_text, port_text) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (inside, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("an IPv6 host needs its closing bracket"))?;
            let port = match after {
                "" => None,
                other => Some(
                    other
                        .strip_prefix(':')
                        .ok_or_else(|| invalid("unexpected text after the IPv6 host"))?,
                ),
            };
            (inside, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        let default_port = if https { 443 } else { 80 };
        let port = match port_text {
            None | Some("") => default_port,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0 && p_is_digits(port_text))
                .ok_or_else(|| invalid("the port must be a number from 1 to 65535"))?,
        };
        if host_text.is_empty() {
            return Err(invalid("the URL has no host"));
        }
        let host = if authority.starts_with('[') {
            let ip: Ipv6Addr = host_text
                .parse()
                .map_err(|_| invalid("the IPv6 address is not valid"))?;
            WebhookHost::Ip(IpAddr::V6(ip))
        } else if let Ok(ip) = host_text.parse::<Ipv4Addr>() {
            WebhookHost::Ip(IpAddr::V4(ip))
        } else {
            let ascii = idna::domain_to_ascii_strict(host_text)
                .map_err(|_| invalid("the host is not a valid domain name"))?
                .trim_end_matches('.')
                .to_owned();
            if ascii.is_empty() || looks_numeric(&ascii) {
                return Err(invalid("the host is not a valid domain name or IPv4 address"));
            }
            WebhookHost::Name(ascii)
        };
        if !policy.allow_private {
            match &host {
                WebhookHost::Ip(ip) if is_forbidden_address(*ip) => {
                    return Err(UrlError::NotAllowed(format!(
                        "{ip} is a loopback, private, link-local or otherwise non-public address"
                    )));
                }
                WebhookHost::Name(name) if name == "localhost" || name.ends_with(".localhost") => {
                    return Err(UrlError::NotAllowed(format!("{name} is a loopback host")));
                }
                _ => {}
            }
        }
        let host_part = match &host {
            WebhookHost::Name(name) => name.clone(),
            WebhookHost::Ip(IpAddr::V4(ip)) => ip.to_string(),
            WebhookHost::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
        };
        let port_part = if port == default_port {
            String::new()
        } else {
            format!(":{port}")
        };
        let tail = if tail.is_empty() { "/" } else { tail };
        Ok(Self {
            text: format!("{scheme}://{host_part}{port_part}{tail}"),
            https,
            host,
            port,
        })
    }

    /// The URL as rsvp calls it (scheme and host lowercased, IDNA applied,
    /// default port left out).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the scheme is https.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host.
    pub fn host(&self) -> &WebhookHost {
        &self.host
    }

    /// The port (explicit or the scheme's default).
    pub fn port(&self) -> u16 {
        self.port
    }
}

fn p_is_digits(port: Option<&str>) -> bool {
    port.is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Whether `ip` is an address no webhook may reach by default: unspecified,
/// loopback, private (RFC 1918), shared (RFC 6598), link-local, IETF
/// protocol assignments, benchmarking, multicast, reserved and broadcast
/// IPv4; unspecified, loopback, unique-local (`fc00::/7`), link-local,
/// site-local and multicast IPv6, and any IPv6 form embedding a forbidden
/// IPv4 address (mapped, compatible, NAT64, 6to4).
pub fn is_forbidden_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 224
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if ip.is_unspecified() || ip.is_loopback() {
        return true;
    }
    match segments {
        // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] => return is_forbidden_v4(embedded(hi, lo)),
        // NAT64 64:ff9b::a.b.c.d.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return is_forbidden_v4(embedded(hi, lo)),
        // 6to4 2002:a.b.c.d::.
        [0x2002, hi, lo, ..] => return is_forbidden_v4(embedded(hi, lo)),
        _ => {}
    }
    let first = segments[0];
    (first & 0xfe00) == 0xfc00 // unique-local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (first & 0xff00) == 0xff00 // multicast
}

/// An endpoint's signing secret, `whsec_<base64 of the key>`. Its `Debug`
/// never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

/// Why a secret or a signature was refused by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The secret is not `whsec_<base64>`.
    InvalidSecret,
    /// `webhook-timestamp` is not unix seconds.
    InvalidTimestamp,
    /// `webhook-timestamp` is further from now than the tolerance (a replay,
    /// or a clock off).
    TimestampOutOfTolerance,
    /// No `v1` signature of the header matches.
    NoMatchingSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidSecret => "the secret is not whsec_<base64>",
            Self::InvalidTimestamp => "webhook-timestamp is not unix seconds",
            Self::TimestampOutOfTolerance => "webhook-timestamp is too far from now",
            Self::NoMatchingSignature => "no signature matches",
        })
    }
}

impl std::error::Error for VerifyError {}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(signed_content(id, timestamp, body).as_slice());
    mac
}

/// What is signed: `{id}.{timestamp}.{body}`.
pub fn signed_content(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    content
}

impl WebhookSecret {
    /// A secret whose key is `key` (rsvp makes keys of 43 random URL-safe
    /// characters: 256 bits).
    pub fn from_key(key: &[u8]) -> Self {
        Self {
            text: format!("whsec_{}", STANDARD.encode(key)),
            key: key.to_vec(),
        }
    }

    /// Reads `whsec_<base64>` (the prefix may be left out, as the Standard
    /// Webhooks libraries allow).
    ///
    /// # Errors
    /// [`VerifyError::InvalidSecret`] when the rest is not base64 of at least
    /// one byte.
    pub fn parse(text: &str) -> Result<Self, VerifyError> {
        let encoded = text.strip_prefix("whsec_").unwrap_or(text);
        let key = STANDARD.decode(encoded).map_err(|_| VerifyError::InvalidSecret)?;
        if key.is_empty() {
            return Err(VerifyError::InvalidSecret);
        }
        Ok(Self {
            text: format!("whsec_{encoded}"),
            key,
        })
    }

    /// `whsec_<base64>`: only to show it to its owner, or to store it.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// `v1,<base64 HMAC-SHA256 of {id}.{timestamp}.{body}>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!(
            "v1,{}",
            STANDARD.encode(mac(&self.key, id, timestamp, body).finalize().into_bytes())
        )
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// The `webhook-signature` header: one signature per secret, space-separated
/// (during a rotation's overlap, the new secret's and the previous one's).
pub fn sign(secrets: &[&WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The three headers of a delivery, as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    /// `webhook-id`: the event id, the same on every retry (dedupe on it).
    pub id: &'a str,
    /// `webhook-timestamp`: unix seconds of the attempt.
    pub timestamp: &'a str,
    /// `webhook-signature`: space-separated `v1,<base64>` signatures.
    pub signature: &'a str,
}

/// Verifies a delivery: the timestamp is within `tolerance` of `now`, and
/// one of the `v1` signatures is the HMAC of `{id}.{timestamp}.{body}` with
/// `secret` (compared in constant time). `body` must be the raw bytes
/// received, before any JSON parsing.
///
/// # Errors
/// A [`VerifyError`] saying what failed.
pub fn verify(
    secret: &str,
    headers: &WebhookHeaders<'_>,
    body: &[u8],
    now: OffsetDateTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let secret = WebhookSecret::parse(secret)?;
    let timestamp: i64 = headers
        .timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::InvalidTimestamp)?;
    let skew = Duration::seconds(now.unix_timestamp().saturating_sub(timestamp)).abs();
    if skew > tolerance {
        return Err(VerifyError::TimestampOutOfTolerance);
    }
    let expected = mac(&secret.key, headers.id, timestamp, body);
    let matches = headers
        .signature
        .split(' ')
        .filter_map(|part| part.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|given| expected.clone().verify_slice(&given).is_ok());
    if matches {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
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
