//! [`PublicLinks`]: the links that leave the server (in emails, in the
//! API's `accept_url`), built from the public URL in one place.

use crate::Secret;

/// Where the invitee's page is mounted: `<public url>/invite/<token>`.
/// `rsvp-http` mounts its page under this path, and links point at it.
pub const INVITE_PATH: &str = "/invite";

/// Where the opt-out page (and RFC 8058 one-click target) is mounted:
/// `<public url>/unsubscribe/<token>`.
pub const UNSUBSCRIBE_PATH: &str = "/unsubscribe";

/// The path of the join link page; a join link's URL is
/// `<public URL>/join/<token>`.
pub const JOIN_PATH: &str = "/join";

/// The links to rsvp's pages for a link token, under the public URL (which
/// carries the prefix of a host that mounted rsvp under one).
///
/// ```
/// use rsvp_app::{PublicLinks, Secret};
///
/// let links = PublicLinks::new("https://host.example/network/");
/// let token = Secret::new("tok_123");
/// assert_eq!(links.accept_url(&token), "https://host.example/network/invite/tok_123");
/// assert_eq!(links.unsubscribe_url(&token), "https://host.example/network/unsubscribe/tok_123");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicLinks {
    /// The public URL without trailing slashes.
    base: String,
}

impl PublicLinks {
    /// Links under `public_url`, e.g. `https://rsvp.example.com` or
    /// `https://host.example/network`; trailing slashes are dropped.
    pub fn new(public_url: impl Into<String>) -> Self {
        let mut base = public_url.into();
        base.truncate(base.trim_end_matches('/').len());
        Self { base }
    }

    /// The public URL, without trailing slashes.
    pub fn public_url(&self) -> &str {
        &self.base
    }

    /// The invitee's page for a link token: `<public url>/invite/<token>`.
    pub fn accept_url(&self, token: &Secret) -> String {
        self.under(INVITE_PATH, token)
    }

    /// The opt-out page for a link token: `<public url>/unsubscribe/<token>`.
    pub fn unsubscribe_url(&self, token: &Secret) -> String {
        self.under(UNSUBSCRIBE_PATH, token)
    }

    /// The URL of a join link with `token`.
    pub fn join_url(&self, token: &Secret) -> String {
        self.under(JOIN_PATH, token)
    }

    fn under(&self, path: &str, token: &Secret) -> String {
        format!("{}{path}/{}", self.base, token.expose())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_the_page_paths_under_the_public_url_without_its_trailing_slashes() {
        let token = Secret::new("t0k");
        for url in ["https://rsvp.test", "https://rsvp.test/", "https://rsvp.test//"] {
            let links = PublicLinks::new(url);
            assert_eq!(links.public_url(), "https://rsvp.test");
            assert_eq!(links.accept_url(&token), "https://rsvp.test/invite/t0k");
            assert_eq!(links.unsubscribe_url(&token), "https://rsvp.test/unsubscribe/t0k");
            assert_eq!(links.join_url(&token), "https://rsvp.test/join/t0k");
        }
    }

    #[test]
    fn links_keep_the_prefix_a_host_mounted_rsvp_under() {
        let token = Secret::new("t0k");
        for url in ["https://h.test/network", "https://h.test/network/"] {
            let links = PublicLinks::new(url);
            assert_eq!(links.accept_url(&token), "https://h.test/network/invite/t0k");
            assert_eq!(links.unsubscribe_url(&token), "https://h.test/network/unsubscribe/t0k");
        }
    }
}
