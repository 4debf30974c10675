//! The API's bodies. Ids and times are strings as the API sends them (UUIDs
//! and RFC 3339 UTC); unknown fields are ignored, so a newer server does not
//! break an older client. Each response type is checked against the schema
//! of the same name in docs/openapi.json by this crate's tests.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An RFC 9457 problem document: every error the API answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened, for people.
    pub detail: String,
    /// The stable code to branch on (`already_invited`, `validation_failed`...).
    pub code: String,
    /// Every invalid field, for 422s.
    #[serde(default)]
    pub errors: Vec<FieldProblem>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    /// Its path, e.g. `email` or `custom_data.tier`.
    pub field: String,
    /// Its code, e.g. `invalid_email`.
    pub code: String,
    /// For people.
    pub message: String,
}

/// An invitation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    /// Its id.
    pub id: String,
    /// The sending business.
    pub business_id: String,
    /// The sending user.
    pub sent_by_user_id: String,
    /// The invited address, as given.
    pub email: String,
    /// `pending`, `accepted`, `rejected`, `cancelled` or `expired`, as it reads now.
    pub status: String,
    /// The sender's note.
    pub message: Option<String>,
    /// The sender's metadata: only on the sender's side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<Map<String, Value>>,
    /// Roles offered.
    pub roles: Vec<String>,
    /// The invitee's first name.
    pub first_name: Option<String>,
    /// The invitee's last name.
    pub last_name: Option<String>,
    /// The invitee's phone.
    pub phone: Option<String>,
    /// The sender's reference.
    pub external_id: Option<String>,
    /// Whether the invitee shares data with the sender.
    pub source_is_invitee: bool,
    /// The invitee's business: on the sender's side only once accepted.
    pub invitee_business_id: Option<String>,
    /// When it expires.
    pub expires_at: String,
    /// When it was made.
    pub created_at: String,
    /// Its last change.
    pub updated_at: String,
    /// When it reached a final status.
    pub resolved_at: Option<String>,
    /// `queued`, `sent` or `failed`; `None` when no email was asked for.
    pub email_delivery: Option<String>,
    /// Language of its emails: `en` or `de`.
    #[serde(default)]
    pub locale: String,
    /// Where the invitee page's "Continue" leads after an answer.
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// Only in the answer to a create with `send_email: false`: the link to share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_url: Option<String>,
}

/// A new invitation; only `email` is required.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewInvitation {
    /// The address to invite.
    pub email: String,
    /// A note (<= 1000 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// At most 10 keys; string (<= 255), number or boolean values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<Map<String, Value>>,
    /// Roles offered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The invitee's first name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// The invitee's last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// The invitee's phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Your reference (<= 255).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Whether the invitee will share data with you (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_is_invitee: Option<bool>,
    /// 1..=90 (default 14).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<u8>,
    /// `false`: no email; the answer carries `accept_url` once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_email: Option<bool>,
    /// `en` or `de` (default: the server's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Where "Continue" leads after an answer; its origin must be allowed by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
}

impl NewInvitation {
    /// An invitation to `email` with every option at its default.
    pub fn to(email: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            ..Self::default()
        }
    }

    /// With a note.
    #[must_use]
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// With roles.
    #[must_use]
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Without an email: the answer carries the link to share.
    #[must_use]
    pub fn without_email(mut self) -> Self {
        self.send_email = Some(false);
        self
    }
}

/// The answer to a bulk create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BulkOutcome {
    /// The invitations made.
    pub successful: Vec<Invitation>,
    /// The items refused, by index.
    pub failed: Vec<BulkFailure>,
}

/// One refused item of a bulk create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BulkFailure {
    /// Its index in the request.
    pub index: usize,
    /// Its email, when it had one.
    pub email: Option<String>,
    /// Why.
    pub error: ItemError,
}

/// Why one bulk item was refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemError {
    /// The stable code.
    pub code: String,
    /// For people.
    pub message: String,
    /// Its invalid fields.
    #[serde(default)]
    pub errors: Vec<FieldProblem>,
}

/// One page of a list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A page of a list: size and position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// 1..=200 (default 50).
    pub limit: Option<u16>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageRequest {
    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(limit) = self.limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            query.push(("cursor", cursor.clone()));
        }
        query
    }
}

/// Filters of the invitation lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Statuses to keep (`pending`, `accepted`...); empty: all.
    pub statuses: Vec<String>,
    /// Only invitations to this address.
    pub email: Option<String>,
    /// Size and position.
    pub page: PageRequest,
}

impl ListFilter {
    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = self.page.query();
        if !self.statuses.is_empty() {
            query.push(("status", self.statuses.join(",")));
        }
        if let Some(email) = &self.email {
            query.push(("email", email.clone()));
        }
        query
    }
}

/// The status a PATCH moves an invitation to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusChange {
    /// The invitee accepts: the businesses are connected.
    Accepted,
    /// The invitee declines.
    Rejected,
    /// The sender withdraws it.
    Cancelled,
}

/// A connection between two businesses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// Its id.
    pub id: String,
    /// The other business, seen from the caller.
    pub connected_business_id: String,
    /// The business that invited.
    pub inviter_business_id: String,
    /// The business that accepted.
    pub invitee_business_id: String,
    /// The accepted invitation (`None` for a join link's connection).
    pub invitation_id: Option<String>,
    /// The redeemed join link (`None` for an invitation's connection).
    #[serde(default)]
    pub join_link_id: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Whether the invitee shares data with the inviter.
    pub source_is_invitee: bool,
    /// When it was made.
    pub created_at: String,
}

/// An event of the caller's business's log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Its id.
    pub id: String,
    /// e.g. `invitation.accepted`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The invitation concerned (`None` for the events of join links).
    #[serde(default)]
    pub invitation_id: Option<String>,
    /// The join link concerned (`None` for the events of invitations).
    #[serde(default)]
    pub join_link_id: Option<String>,
    /// When.
    pub occurred_at: String,
    /// Who acted, the status before and after, the connection made.
    pub data: Value,
}

/// What a link holder sees.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkPreview {
    /// The invitation's id.
    pub invitation_id: String,
    /// The sending business's name.
    pub sender_name: String,
    /// The sending business's id.
    pub sender_business_id: String,
    /// The invited address.
    pub email: String,
    /// The sender's note.
    pub message: Option<String>,
    /// Its status.
    pub status: String,
    /// When it expires.
    pub expires_at: String,
}

/// Accepting by link: `business_name` is required when the email has no business yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AcceptLink {
    /// The invitee's business's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_name: Option<String>,
    /// The invitee's first name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// The invitee's last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// The answer to an accept or decline by link.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The invitation.
    pub invitation_id: String,
    /// Its status now.
    pub status: String,
    /// The invitee's business.
    pub invitee_business_id: Option<String>,
    /// The connection made, on acceptance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<Connection>,
}

/// A new tenant and its first user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewBusiness {
    /// Its name.
    pub name: String,
    /// Its first user.
    pub user: NewUser,
    /// The host platform's id of the business (its org or tenant id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// A new user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewUser {
    /// Unique across rsvp.
    pub email: String,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// The host platform's id of the user (its identity provider's `sub`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// A business.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Business {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was made.
    pub created_at: String,
    /// Whether the operator suspended it (its keys are refused).
    #[serde(default)]
    pub suspended: bool,
    /// Since when.
    #[serde(default)]
    pub suspended_at: Option<String>,
    /// The host platform's id of the business.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// A user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: String,
    /// Its business.
    pub business_id: String,
    /// Its email.
    pub email: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// When it was made.
    pub created_at: String,
    /// Whether the operator deactivated it (its keys are refused).
    #[serde(default)]
    pub deactivated: bool,
    /// Since when.
    #[serde(default)]
    pub deactivated_at: Option<String>,
    /// The host platform's id of the user.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// A provisioned tenant: the API key is shown only here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProvisionedBusiness {
    /// The business.
    pub business: Business,
    /// Its first user.
    pub user: User,
    /// That user's API key.
    pub api_key: String,
    /// The key's id (to revoke it).
    pub api_key_id: String,
}

/// A provisioned user: the API key is shown only here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProvisionedUser {
    /// The user.
    pub user: User,
    /// Its API key.
    pub api_key: String,
    /// The key's id (to revoke it).
    pub api_key_id: String,
}

/// The caller of an API key: `GET /v1/me`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Me {
    /// The user the key acts as.
    pub user: User,
    /// Its business.
    pub business: Business,
}

/// An API key as listed (never its secret).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Its id.
    pub id: String,
    /// Its label.
    pub name: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    /// When it was made.
    pub created_at: String,
    /// When it stops working; `None`: never.
    pub expires_at: Option<String>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<String>,
}

/// A new API key: the secret is shown only here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    /// The key as listed.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret.
    pub api_key: String,
}

/// A new named API key of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewApiKey {
    /// A label.
    pub name: String,
    /// When it stops working (RFC 3339); `None`: never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}
