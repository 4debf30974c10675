//! The client's address, for throttling: the TCP peer, or — only when the
//! peer is a proxy we trust (`RSVP_TRUSTED_PROXIES`) — the right-most
//! `X-Forwarded-For` entry that is not itself a trusted proxy. Entries left
//! of that one are written by the client and are never believed.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;
use ipnet::IpNet;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The proxies whose `X-Forwarded-For` is believed: addresses and CIDR
/// blocks, e.g. `10.0.0.0/8, 192.168.1.7, fd00::/8` (empty by default: no
/// proxy is trusted and the TCP peer is the client).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// An entry of a trusted-proxy list that is neither an IP address nor a CIDR
/// block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidProxy(pub String);

impl fmt::Display for InvalidProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is not an IP address or a CIDR block such as 10.0.0.0/8",
            self.0
        )
    }
}

impl std::error::Error for InvalidProxy {}

impl FromStr for TrustedProxies {
    type Err = InvalidProxy;

    /// A comma-separated list; blank entries are skipped.
    fn from_str(list: &str) -> Result<Self, InvalidProxy> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(|ip| IpNet::from(ip.to_canonical())))
                    .map_err(|_| InvalidProxy(entry.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port
/// (`203.0.113.9:4711`, `[2001:db8::1]:80`) as some proxies write it.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let ip = entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()?;
    Some(ip.to_canonical())
}

impl TrustedProxies {
    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, given the `X-Forwarded-For` values in the
    /// order received. An untrusted peer is the client. Behind a trusted
    /// one, the entries are read right to left, skipping trusted proxies:
    /// the first other address is the client (all trusted: the left-most).
    /// An entry that is not an address on the way falls back to the peer.
    pub fn client<'a>(&self, peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let entries: Vec<&str> = forwarded_for.into_iter().flat_map(|v| v.split(',')).collect();
        let mut nearest = peer;
        for entry in entries.iter().rev() {
            let Some(ip) = parse_entry(entry.trim()) else {
                return peer;
            };
            if !self.contains(ip) {
                return ip;
            }
            nearest = ip;
        }
        nearest
    }

    /// The client address of a request (an unknown peer, which only test
    /// requests have, reads as `0.0.0.0`).
    pub fn client_of(&self, req: &HttpRequest) -> IpAddr {
        let peer = req.peer_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        if !self.contains(peer) {
            return peer.to_canonical();
        }
        let values: Option<Vec<&str>> = req
            .headers()
            .get_all(X_FORWARDED_FOR)
            .map(|v| v.to_str().ok())
            .collect();
        match values {
            Some(values) => self.client(peer, values),
            // Not even text: garbage, so the peer.
            None => peer.to_canonical(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(list: &str) -> TrustedProxies {
        list.parse().unwrap()
    }

    #[test]
    fn a_list_of_addresses_and_cidr_blocks_parses_and_blank_entries_are_skipped() {
        let trusted = proxies(" 10.0.0.0/8, 192.168.1.7 ,, fd00::/8 ");
        assert!(trusted.contains(ip("10.20.30.40")));
        assert!(trusted.contains(ip("192.168.1.7")));
        assert!(!trusted.contains(ip("192.168.1.8")));
        assert!(trusted.contains(ip("fd00::1")));
        assert!(
            trusted.contains(ip("::ffff:10.1.2.3")),
            "IPv4-mapped IPv6 is the IPv4 address"
        );
        assert!(proxies("").is_empty());
        assert!(!trusted.is_empty());
    }

    #[test]
    fn an_entry_that_is_not_an_address_or_a_cidr_block_is_refused_and_named() {
        for bad in ["10.0.0.0/33", "proxy.internal", "10.0.0", "10.0.0.0/8/8", "fd00::/129"] {
            let error = format!("10.0.0.1, {bad}").parse::<TrustedProxies>().unwrap_err();
            assert_eq!(error, InvalidProxy(bad.to_owned()));
            assert!(error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_x_forwarded_for_says() {
        let trusted = proxies("10.0.0.0/8");
        assert_eq!(trusted.client(ip("203.0.113.9"), ["198.51.100.1"]), ip("203.0.113.9"));
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), ["198.51.100.1"]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_right_most_untrusted_entry() {
        let trusted = proxies("10.0.0.0/8");
        // The client wrote the left-most entry itself: it is never believed.
        assert_eq!(
            trusted.client(ip("10.0.0.2"), ["1.1.1.1, 203.0.113.9, 10.0.0.1"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            trusted.client(ip("10.0.0.2"), ["1.1.1.1", "203.0.113.9:4711"]),
            ip("203.0.113.9"),
            "several headers read as one list; a port is ignored"
        );
        assert_eq!(trusted.client(ip("10.0.0.2"), ["[2001:db8::1]:80"]), ip("2001:db8::1"));
        assert_eq!(
            trusted.client(ip("10.0.0.2"), ["10.0.0.9, 10.0.0.1"]),
            ip("10.0.0.9"),
            "all trusted: the farthest"
        );
        assert_eq!(
            trusted.client(ip("10.0.0.2"), []),
            ip("10.0.0.2"),
            "no header: the peer"
        );
    }

    #[test]
    fn garbage_in_x_forwarded_for_falls_back_to_the_peer() {
        let trusted = proxies("10.0.0.0/8");
        for garbage in ["unknown", "203.0.113.9, nonsense", "", "203.0.113.9,,", "<script>"] {
            assert_eq!(trusted.client(ip("10.0.0.2"), [garbage]), ip("10.0.0.2"), "{garbage:?}");
        }
        assert_eq!(
            trusted.client(ip("10.0.0.2"), ["garbage, 203.0.113.9"]),
            ip("203.0.113.9"),
            "garbage left of the client is never read"
        );
    }
}
