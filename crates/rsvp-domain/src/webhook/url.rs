//! Endpoint URLs: what a business may register under a [`UrlPolicy`], and
//! the address rule for what a host name resolves to.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::MAX_URL_LEN;
use crate::FieldError;

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
