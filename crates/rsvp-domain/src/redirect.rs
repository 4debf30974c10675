//! [`RedirectUrl`]: where the invitee's page sends the invitee after an
//! answer ("Continue"), with the outcome appended to the query.

use std::fmt;

use crate::{FieldError, InvitationId, InvitationStatus};

/// Longest redirect URL accepted, in bytes.
pub const MAX_REDIRECT_URL_LEN: usize = 2000;

/// An absolute `http`/`https` URL without user info, spaces or characters a
/// URL must escape. Whether its origin is allowed is the application's
/// business (`RSVP_REDIRECT_ORIGINS`).
///
/// ```
/// use rsvp_domain::{InvitationId, InvitationStatus, RedirectUrl};
/// use uuid::Uuid;
///
/// let url = RedirectUrl::parse("https://App.Example.com:443/welcome?step=2&status=old#top").unwrap();
/// assert_eq!(url.origin(), "https://app.example.com");
/// let id = InvitationId::from_uuid(Uuid::from_u128(1));
/// assert_eq!(
///     url.with_outcome(id, InvitationStatus::Accepted),
///     "https://App.Example.com:443/welcome?step=2&invitation_id=00000000-0000-0000-0000-000000000001&status=accepted#top"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUrl {
    url: String,
    origin: String,
}

fn invalid(message: &str) -> FieldError {
    FieldError::new("", "invalid_url", message)
}

/// Splits `scheme://authority` off an absolute URL, returning the lowercase
/// scheme, the authority and the rest (path, query, fragment).
fn split(url: &str) -> Result<(String, &str, &str), FieldError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid("must be an absolute http:// or https:// URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(invalid("must be an absolute http:// or https:// URL"));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    Ok((scheme, authority, tail))
}

/// `scheme://host[:port]`, lowercased, the scheme's default port left out.
fn origin_of(scheme: &str, authority: &str) -> Result<String, FieldError> {
    if authority.is_empty() {
        return Err(invalid("must name a host"));
    }
    if authority.contains('@') {
        return Err(invalid("must not hold user info (user@host)"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        // An IPv6 literal holds colons of its own: a port follows `]`.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    if host.is_empty() {
        return Err(invalid("must name a host"));
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            let default = if scheme == "https" { "443" } else { "80" };
            (p.trim_start_matches('0') != default).then_some(p)
        }
        Some(_) => return Err(invalid("has an invalid port")),
    };
    let host = host.to_ascii_lowercase();
    Ok(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

fn check_characters(url: &str) -> Result<(), FieldError> {
    if url.len() > MAX_REDIRECT_URL_LEN {
        return Err(FieldError::new(
            "",
            "too_long",
            format!("must be at most {MAX_REDIRECT_URL_LEN} bytes"),
        ));
    }
    // Printable ASCII minus what RFC 3986 never allows unescaped: an
    // internationalized URL arrives percent-encoded or punycoded.
    if !url
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'))
    {
        return Err(invalid(
            "must be printable ASCII without spaces (percent-encode anything else)",
        ));
    }
    Ok(())
}

impl RedirectUrl {
    /// Checks an absolute `http`/`https` URL.
    ///
    /// # Errors
    /// `invalid_url` (not absolute http(s), no host, user info, a bad port,
    /// spaces or characters to escape), `too_long` (over
    /// [`MAX_REDIRECT_URL_LEN`]).
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let url = text.trim();
        check_characters(url)?;
        let (scheme, authority, _) = split(url)?;
        let origin = origin_of(&scheme, authority)?;
        Ok(Self {
            url: url.to_owned(),
            origin,
        })
    }

    /// The URL as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Its origin, `scheme://host[:port]`, lowercased, without the scheme's
    /// default port: what `RSVP_REDIRECT_ORIGINS` lists.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The URL with `invitation_id` and `status` in its query: parameters
    /// of those names already there are replaced, the others and the
    /// fragment kept.
    pub fn with_outcome(&self, invitation: InvitationId, status: InvitationStatus) -> String {
        self.with_params(&[
            ("invitation_id", invitation.to_string()),
            ("status", status.to_string()),
        ])
    }

    /// The URL with the query parameter `name=value` (replacing any of that
    /// name, keeping the others and the fragment); `value` is
    /// percent-encoded but for the unreserved characters of RFC 3986.
    ///
    /// ```
    /// use rsvp_domain::RedirectUrl;
    ///
    /// let url = RedirectUrl::parse("https://app.acme.example/join?from=mail#top").unwrap();
    /// assert_eq!(url.with_query("token", "a b"), "https://app.acme.example/join?from=mail&token=a%20b#top");
    /// ```
    pub fn with_query(&self, name: &str, value: &str) -> String {
        let encoded: String = value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        self.with_params(&[(name, encoded)])
    }

    fn with_params(&self, added: &[(&str, String)]) -> String {
        let (before_fragment, fragment) = match self.url.split_once('#') {
            Some((head, fragment)) => (head, Some(fragment)),
            None => (self.url.as_str(), None),
        };
        let (base, query) = match before_fragment.split_once('?') {
            Some((base, query)) => (base, query),
            None => (before_fragment, ""),
        };
        let mut params: Vec<String> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .filter(|p| {
                let name = p.split('=').next().unwrap_or_default();
                !added.iter().any(|(added, _)| *added == name)
            })
            .map(str::to_owned)
            .collect();
        params.extend(added.iter().map(|(name, value)| format!("{name}={value}")));
        let mut out = format!("{base}?{}", params.join("&"));
        if let Some(fragment) = fragment {
            out.push('#');
            out.push_str(fragment);
        }
        out
    }
}

impl fmt::Display for RedirectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// Reads one allowed origin of `RSVP_REDIRECT_ORIGINS` (`https://app.example.com`,
/// a trailing `/` tolerated) into the form [`RedirectUrl::origin`] returns.
///
/// # Errors
/// `invalid_url` when it is not an http(s) origin (a path, query or fragment
/// included).
pub fn parse_origin(text: &str) -> Result<String, FieldError> {
    let text = text.trim();
    check_characters(text)?;
    let (scheme, authority, tail) = split(text)?;
    if !tail.is_empty() && tail != "/" {
        return Err(invalid(
            "an origin is scheme://host[:port], without a path, query or fragment",
        ));
    }
    origin_of(&scheme, authority)
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn id() -> InvitationId {
        InvitationId::from_uuid(Uuid::from_u128(7))
    }

    #[test]
    fn the_outcome_is_appended_to_a_url_without_a_query() {
        let url = RedirectUrl::parse("https://app.example/done").unwrap();
        assert_eq!(
            url.with_outcome(id(), InvitationStatus::Rejected),
            "https://app.example/done?invitation_id=00000000-0000-0000-0000-000000000007&status=rejected"
        );
    }

    #[test]
    fn the_outcome_merges_with_a_query_replacing_its_own_names_and_keeping_the_fragment() {
        let url = RedirectUrl::parse("https://app.example/?a=1&status=x&&invitation_id=y&b#frag").unwrap();
        assert_eq!(
            url.with_outcome(id(), InvitationStatus::Accepted),
            "https://app.example/?a=1&b&invitation_id=00000000-0000-0000-0000-000000000007&status=accepted#frag"
        );
        let bare = RedirectUrl::parse("https://app.example?").unwrap();
        assert!(
            bare.with_outcome(id(), InvitationStatus::Accepted)
                .starts_with("https://app.example?invitation_id=")
        );
    }

    #[test]
    fn origins_are_lowercased_and_drop_the_default_port() {
        assert_eq!(
            RedirectUrl::parse("HTTPS://A.Example:443/x").unwrap().origin(),
            "https://a.example"
        );
        assert_eq!(
            RedirectUrl::parse("http://a.example:8080").unwrap().origin(),
            "http://a.example:8080"
        );
        assert_eq!(
            RedirectUrl::parse("http://[::1]:3000/").unwrap().origin(),
            "http://[::1]:3000"
        );
        assert_eq!(parse_origin("https://a.example/").unwrap(), "https://a.example");
        assert!(parse_origin("https://a.example/path").is_err());
    }

    #[test]
    fn only_absolute_http_urls_without_user_info_or_spaces_are_redirect_urls() {
        for bad in [
            "javascript:alert(1)",
            "/relative",
            "ftp://a.example/",
            "https://",
            "https://user@a.example/",
            "https://a.example/a b",
            "https://a.example:99999999/",
            "https://a.example/\"x",
            "https://ä.example/",
        ] {
            assert!(RedirectUrl::parse(bad).is_err(), "{bad} was accepted");
        }
        assert_eq!(
            RedirectUrl::parse(&format!("https://a.example/{}", "x".repeat(2000)))
                .unwrap_err()
                .code,
            "too_long"
        );
    }
}
