//! `rsvp healthcheck`: asks a running `rsvp serve` whether it is ready, so
//! that a container image needs no curl for its `HEALTHCHECK`.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Where to reach a server listening on `bind`: a wildcard address is
/// reached on the loopback of its family.
pub fn target(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bind.port())
}

/// `GET <path>` on `addr` with plain HTTP/1.1; Ok when the answer is 200.
///
/// # Errors
/// A sentence saying what failed: connecting, the exchange, or the status.
pub fn check(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("setting timeouts: {e}"))?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: rsvp-healthcheck\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("sending to {addr}: {e}"))?;
    // The status line is all that matters; the body is small.
    let mut head = Vec::new();
    stream
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| format!("reading from {addr}: {e}"))?;
    let head = String::from_utf8_lossy(&head);
    let status_line = head.lines().next().unwrap_or_default();
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ => Err(format!("GET http://{addr}{path} answered '{status_line}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_bind_is_probed_on_the_loopback_of_its_family() {
        let probe = |bind: &str| target(bind.parse().unwrap()).to_string();
        assert_eq!(probe("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(probe("[::]:9000"), "[::1]:9000");
        assert_eq!(probe("10.1.2.3:80"), "10.1.2.3:80");
    }

    #[test]
    fn only_a_200_answer_is_healthy() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut stream, _) = listener.accept().unwrap();
                let mut buffer = [0_u8; 1024];
                let _ = stream.read(&mut buffer).unwrap();
                write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").unwrap();
            }
        });
        assert_eq!(check(addr, "/readyz", Duration::from_secs(5)), Ok(()));
        let refused = check(addr, "/readyz", Duration::from_secs(5)).unwrap_err();
        assert!(refused.contains("503"), "{refused}");
        server.join().unwrap();
        let gone = check(addr, "/readyz", Duration::from_secs(5)).unwrap_err();
        assert!(gone.contains("cannot connect"), "{gone}");
    }
}
