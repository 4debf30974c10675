#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod join_links;
mod types;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use join_links::*;
pub use types::*;

/// What can go wrong calling the API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with a problem document (4xx or 5xx).
    #[error("{} {}: {}", .0.status, .0.code, .0.detail)]
    Api(Box<Problem>),
    /// The request did not complete (connection refused, timeout, TLS...).
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// The answer was not what the API documents.
    #[error("unexpected answer ({status}): {message}")]
    Unexpected {
        /// Its HTTP status.
        status: u16,
        /// What did not fit.
        message: String,
    },
    /// The base URL cannot be used.
    #[error("invalid base URL '{0}'")]
    InvalidBaseUrl(String),
}

impl Error {
    /// The problem's stable `code` (`already_invited`, `validation_failed`...), when the API answered one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api(problem) => Some(&problem.code),
            _ => None,
        }
    }
}

/// A client of one rsvp server, acting with one credential: an API key
/// (acts as one user of one business) or the operator token (`/v1/admin`).
/// Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client of the server at `base_url` (e.g. `https://rsvp.example.com`,
    /// or with the prefix it is mounted under) acting with `token`.
    ///
    /// # Errors
    /// [`Error::InvalidBaseUrl`] unless `base_url` is `http(s)://...`, and
    /// [`Error::Transport`] when the HTTP client cannot be built.
    pub fn new(base_url: &str, token: &str) -> Result<Self, Error> {
        let mut client = Self::anonymous(base_url)?;
        client.token = Some(token.to_owned());
        Ok(client)
    }

    /// A client without credentials: for the link holder's endpoints
    /// (`preview_link`, `accept_link`, `decline_link`).
    ///
    /// # Errors
    /// As [`Client::new`].
    pub fn anonymous(base_url: &str) -> Result<Self, Error> {
        let base = base_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::InvalidBaseUrl(base_url.to_owned()));
        }
        // reqwest is built without a default crypto provider: install ring's
        // (harmless when one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("rsvp-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base: base.to_owned(),
            token: None,
        })
    }

    /// The same server with another credential, sharing connections.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, Error> {
        let mut url = format!("{}{path}", self.base);
        for (i, (name, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(name);
            url.push('=');
            url.push_str(&segment(value));
        }
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<Problem>(&bytes) {
                Ok(problem) => Error::Api(Box::new(problem)),
                Err(_) => Error::Unexpected {
                    status: status.as_u16(),
                    message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                },
            });
        }
        let bytes = if status == StatusCode::NO_CONTENT && bytes.is_empty() {
            b"null".as_slice().into()
        } else {
            bytes
        };
        serde_json::from_slice(&bytes).map_err(|e| Error::Unexpected {
            status: status.as_u16(),
            message: e.to_string(),
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, Error> {
        self.send::<(), T>(Method::GET, path, query, None).await
    }

    async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, Error> {
        self.send(Method::POST, path, &[], Some(body)).await
    }

    // ---- invitations (API key) ----

    /// `POST /v1/invitations`: invites one email.
    ///
    /// # Errors
    /// [`Error::Api`] with `validation_failed` (and the invalid fields),
    /// `already_invited`, `already_connected`, `self_invite`, `quota_exceeded`...
    pub async fn create_invitation(&self, invitation: &NewInvitation) -> Result<Invitation, Error> {
        self.post("/v1/invitations", invitation).await
    }

    /// `POST /v1/invitations/bulk`: up to 1,000 invitations, each succeeding or failing on its own.
    ///
    /// # Errors
    /// [`Error::Api`] when the request as a whole is refused.
    pub async fn create_invitations(&self, invitations: &[NewInvitation]) -> Result<BulkOutcome, Error> {
        #[derive(Serialize)]
        struct Bulk<'a> {
            invitations: &'a [NewInvitation],
        }
        self.post("/v1/invitations/bulk", &Bulk { invitations }).await
    }

    /// `GET /v1/invitations/sent`: one page, newest first.
    ///
    /// # Errors
    /// [`Error::Api`] for a bad filter or cursor.
    pub async fn list_sent(&self, filter: &ListFilter) -> Result<Page<Invitation>, Error> {
        self.get("/v1/invitations/sent", &filter.query()).await
    }

    /// `GET /v1/invitations/received`: one page, newest first, cancelled ones left out.
    ///
    /// # Errors
    /// [`Error::Api`] for a bad filter or cursor.
    pub async fn list_received(&self, filter: &ListFilter) -> Result<Page<Invitation>, Error> {
        self.get("/v1/invitations/received", &filter.query()).await
    }

    /// `GET /v1/invitations/{id}`.
    ///
    /// # Errors
    /// [`Error::Api`] `not_found` when neither sent nor received by the caller's business.
    pub async fn get_invitation(&self, id: &str) -> Result<Invitation, Error> {
        self.get(&format!("/v1/invitations/{}", segment(id)), &[]).await
    }

    /// `PATCH /v1/invitations/{id}`: accept, reject (the invitee) or cancel (the sender).
    ///
    /// # Errors
    /// [`Error::Api`] `invalid_transition` (naming the current status), `forbidden`, `not_found`.
    pub async fn set_status(&self, id: &str, status: StatusChange) -> Result<Invitation, Error> {
        #[derive(Serialize)]
        struct Patch {
            status: StatusChange,
        }
        self.send(
            Method::PATCH,
            &format!("/v1/invitations/{}", segment(id)),
            &[],
            Some(&Patch { status }),
        )
        .await
    }

    /// `POST /v1/invitations/{id}/resend`: a new link by email; earlier links
    /// keep working unless `revoke_previous_links`.
    ///
    /// # Errors
    /// [`Error::Api`] `resend_cooldown` (429, within the cooldown), `invalid_transition`...
    pub async fn resend(&self, id: &str, revoke_previous_links: bool) -> Result<Invitation, Error> {
        #[derive(Serialize)]
        struct Resend {
            revoke_previous_links: bool,
        }
        self.post(
            &format!("/v1/invitations/{}/resend", segment(id)),
            &Resend { revoke_previous_links },
        )
        .await
    }

    /// `GET /v1/connections`: one page, newest first.
    ///
    /// # Errors
    /// [`Error::Api`] for a bad cursor.
    pub async fn connections(&self, page: &PageRequest) -> Result<Page<Connection>, Error> {
        self.get("/v1/connections", &page.query()).await
    }

    /// `GET /v1/events`: one page, oldest first.
    ///
    /// # Errors
    /// [`Error::Api`] for a bad cursor.
    pub async fn events(&self, page: &PageRequest) -> Result<Page<Event>, Error> {
        self.get("/v1/events", &page.query()).await
    }

    /// `GET /v1/me`: the user the API key acts as, and its business.
    ///
    /// # Errors
    /// [`Error::Api`] `unauthorized`, `business_suspended`.
    pub async fn me(&self) -> Result<Me, Error> {
        self.get("/v1/me", &[]).await
    }

    // ---- join links (API key) ----

    /// `POST /v1/join-links`: a link many businesses can use to connect with
    /// yours; the answer's `url` and `token` are shown only here.
    ///
    /// # Errors
    /// [`Error::Api`] `validation_failed`.
    pub async fn create_join_link(&self, link: &NewJoinLink) -> Result<JoinLink, Error> {
        self.post("/v1/join-links", link).await
    }

    /// `GET /v1/join-links`: one page of your business's links, newest first.
    ///
    /// # Errors
    /// [`Error::Api`] for a bad cursor.
    pub async fn join_links(&self, page: &PageRequest) -> Result<Page<JoinLink>, Error> {
        self.get("/v1/join-links", &page.query()).await
    }

    /// `DELETE /v1/join-links/{id}`: redemptions after it are refused (410).
    ///
    /// # Errors
    /// [`Error::Api`] `not_found`.
    pub async fn revoke_join_link(&self, id: &str) -> Result<(), Error> {
        self.send::<(), ()>(Method::DELETE, &format!("/v1/join-links/{}", segment(id)), &[], None)
            .await
    }

    /// `GET /v1/join/{token}`: what a join link's holder sees (no credentials needed).
    ///
    /// # Errors
    /// [`Error::Api`] `not_found`, `business_suspended`.
    pub async fn preview_join_link(&self, token: &str) -> Result<JoinLinkPreview, Error> {
        self.get(&format!("/v1/join/{}", segment(token)), &[]).await
    }

    /// `POST /v1/join/{token}`: redeems a join link for your business.
    ///
    /// # Errors
    /// [`Error::Api`] `join_link_used_up`, `join_link_expired`,
    /// `join_link_revoked`, `already_connected`, `already_requested`,
    /// `self_join`, `not_found`.
    pub async fn redeem_join_link(&self, token: &str) -> Result<Joined, Error> {
        let body: JoinedBody = self
            .send::<(), _>(Method::POST, &format!("/v1/join/{}", segment(token)), &[], None)
            .await?;
        match (body.connection, body.connection_request) {
            (Some(connection), _) => Ok(Joined::Connected(connection)),
            (None, Some(request)) => Ok(Joined::Requested(request)),
            (None, None) => Err(Error::Unexpected {
                status: 200,
                message: "neither a connection nor a connection request".to_owned(),
            }),
        }
    }

    /// `GET /v1/connection-requests/received`: requests on your business's links.
    ///
    /// # Errors
    /// [`Error::Api`] for a bad cursor.
    pub async fn received_connection_requests(&self, page: &PageRequest) -> Result<Page<ConnectionRequest>, Error> {
        self.get("/v1/connection-requests/received", &page.query()).await
    }

    /// `GET /v1/connection-requests/sent`: requests your business made.
    ///
    /// # Errors
    /// [`Error::Api`] for a bad cursor.
    pub async fn sent_connection_requests(&self, page: &PageRequest) -> Result<Page<ConnectionRequest>, Error> {
        self.get("/v1/connection-requests/sent", &page.query()).await
    }

    /// `PATCH /v1/connection-requests/{id}`: approves or declines a request
    /// on one of your business's links.
    ///
    /// # Errors
    /// [`Error::Api`] `invalid_transition`, `forbidden`, `not_found`.
    pub async fn answer_connection_request(&self, id: &str, answer: RequestAnswer) -> Result<AnsweredRequest, Error> {
        #[derive(Serialize)]
        struct Patch {
            status: RequestAnswer,
        }
        self.send(
            Method::PATCH,
            &format!("/v1/connection-requests/{}", segment(id)),
            &[],
            Some(&Patch { status: answer }),
        )
        .await
    }

    // ---- links (no credentials) ----

    /// `GET /v1/invitation-links/{token}`: what the link holder may see.
    ///
    /// # Errors
    /// [`Error::Api`] `not_found` for an unknown or revoked token.
    pub async fn preview_link(&self, token: &str) -> Result<LinkPreview, Error> {
        self.get(&format!("/v1/invitation-links/{}", segment(token)), &[]).await
    }

    /// `POST /v1/invitation-links/{token}/accept`; `business_name` is
    /// required when the invited email has no business yet.
    ///
    /// # Errors
    /// [`Error::Api`] `invalid_transition`, `validation_failed`, `not_found`.
    pub async fn accept_link(&self, token: &str, answer: &AcceptLink) -> Result<Answer, Error> {
        self.post(&format!("/v1/invitation-links/{}/accept", segment(token)), answer)
            .await
    }

    /// `POST /v1/invitation-links/{token}/decline`.
    ///
    /// # Errors
    /// [`Error::Api`] `invalid_transition`, `not_found`.
    pub async fn decline_link(&self, token: &str) -> Result<Answer, Error> {
        self.send::<(), _>(
            Method::POST,
            &format!("/v1/invitation-links/{}/decline", segment(token)),
            &[],
            None,
        )
        .await
    }

    // ---- operator API (operator token) ----

    /// `POST /v1/admin/businesses`: a tenant with its first user and that user's API key.
    ///
    /// # Errors
    /// [`Error::Api`] `validation_failed`, `email_taken`.
    pub async fn create_business(&self, business: &NewBusiness) -> Result<ProvisionedBusiness, Error> {
        self.post("/v1/admin/businesses", business).await
    }

    /// `POST /v1/admin/businesses/{id}/users`: another user with an API key.
    ///
    /// # Errors
    /// [`Error::Api`] `not_found`, `validation_failed`, `email_taken`.
    pub async fn add_user(&self, business_id: &str, user: &NewUser) -> Result<ProvisionedUser, Error> {
        self.post(&format!("/v1/admin/businesses/{}/users", segment(business_id)), user)
            .await
    }
}

impl Client {
    /// `POST /v1/admin/users/{id}/api-keys`: another named key for a user.
    ///
    /// # Errors
    /// [`Error::Api`] `not_found`, `validation_failed`.
    pub async fn create_api_key(&self, user_id: &str, key: &NewApiKey) -> Result<CreatedApiKey, Error> {
        self.post(&format!("/v1/admin/users/{}/api-keys", segment(user_id)), key)
            .await
    }

    /// `GET /v1/admin/users/{id}/api-keys`: a user's keys, without secrets.
    ///
    /// # Errors
    /// [`Error::Api`] `not_found`.
    pub async fn list_api_keys(&self, user_id: &str) -> Result<Page<ApiKey>, Error> {
        self.get(&format!("/v1/admin/users/{}/api-keys", segment(user_id)), &[])
            .await
    }

    /// `DELETE /v1/admin/api-keys/{id}`: the key is refused from now on, on every replica.
    ///
    /// # Errors
    /// [`Error::Api`] `not_found`.
    pub async fn revoke_api_key(&self, key_id: &str) -> Result<(), Error> {
        self.send::<(), ()>(
            Method::DELETE,
            &format!("/v1/admin/api-keys/{}", segment(key_id)),
            &[],
            None,
        )
        .await
    }
}

/// A path segment or query value with everything but unreserved characters
/// percent-encoded: an id or token can never change the URL it is put in.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_tokens_cannot_leave_their_path_segment() {
        assert_eq!(segment("abc-_.~9"), "abc-_.~9");
        assert_eq!(segment("../admin?x=1#y"), "..%2Fadmin%3Fx%3D1%23y");
    }

    #[test]
    fn a_base_url_must_be_http() {
        assert!(matches!(Client::new("ftp://x", "k"), Err(Error::InvalidBaseUrl(_))));
        assert!(Client::new("https://rsvp.example.com/", "k").is_ok());
    }
}
