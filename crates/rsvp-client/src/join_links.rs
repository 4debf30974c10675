//! The bodies of join links and their connection requests, as the client
//! reads and writes them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Connection;

/// `POST /v1/join-links`: a link many businesses can use to connect with yours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewJoinLink {
    /// 1 to 10,000; `None`: unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    /// 1 to 90 (default 7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<u8>,
    /// Roles of the connections it makes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Your metadata (never shown to redeemers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<Value>,
    /// Whether you approve each redemption.
    pub requires_approval: bool,
    /// Your note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A join link as its business sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JoinLink {
    /// Its id.
    pub id: String,
    /// `<public url>/join/<token>`: only in the create answer.
    #[serde(default)]
    pub url: Option<String>,
    /// The token: only in the create answer.
    #[serde(default)]
    pub token: Option<String>,
    /// `active`, `used_up`, `expired` or `revoked`.
    pub status: String,
    /// Most uses; `None`: unlimited.
    pub max_uses: Option<u32>,
    /// Uses taken.
    pub uses: u32,
    /// Roles.
    pub roles: Vec<String>,
    /// Your metadata.
    pub custom_data: Value,
    /// Whether you approve each redemption.
    pub requires_approval: bool,
    /// Your note.
    pub note: Option<String>,
    /// When it stops working.
    pub expires_at: String,
    /// When it was revoked.
    pub revoked_at: Option<String>,
    /// When it was made.
    pub created_at: String,
}

/// The business of a join link, as its holder sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JoinLinkBusiness {
    /// Its name.
    pub name: String,
}

/// `GET /v1/join/{token}`: what anyone holding a join link sees.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JoinLinkPreview {
    /// The link's business.
    pub business: JoinLinkBusiness,
    /// Roles.
    pub roles: Vec<String>,
    /// When it stops working.
    pub expires_at: String,
    /// Whether the business approves each redemption.
    pub requires_approval: bool,
    /// `active`, `used_up`, `expired` or `revoked`.
    pub status: String,
}

/// A redemption waiting for, or answered by, the link's business.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRequest {
    /// Its id.
    pub id: String,
    /// The link redeemed.
    pub join_link_id: String,
    /// `pending`, `approved` or `declined`.
    pub status: String,
    /// The link's business.
    pub business_id: String,
    /// The business that redeemed the link.
    pub requester_business_id: String,
    /// The other business's name, seen from the caller.
    pub other_business_name: Option<String>,
    /// Roles of the connection an approval makes.
    pub roles: Vec<String>,
    /// The connection an approval made.
    pub connection_id: Option<String>,
    /// When it was made.
    pub created_at: String,
    /// When it was answered.
    pub resolved_at: Option<String>,
}

/// What `POST /v1/join/{token}` made.
#[derive(Debug, Clone, PartialEq)]
pub enum Joined {
    /// 201: the two businesses are connected.
    Connected(Connection),
    /// 202: the link's business approves first.
    Requested(ConnectionRequest),
}

/// The body of a redemption's answer (201 or 202).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct JoinedBody {
    pub(crate) connection: Option<Connection>,
    pub(crate) connection_request: Option<ConnectionRequest>,
}

/// `PATCH /v1/connection-requests/{id}`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnsweredRequest {
    /// The request as answered.
    pub connection_request: ConnectionRequest,
    /// The connection an approval made.
    pub connection: Option<Connection>,
}

/// The link's business's answer to a connection request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestAnswer {
    /// Connect the two businesses.
    Approved,
    /// Decline; the link's use is free again.
    Declined,
}
