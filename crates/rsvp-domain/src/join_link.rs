//! [`JoinLink`]: one link that connects many businesses, each use counted
//! against `max_uses`, and [`ConnectionRequest`]: a redemption waiting for
//! the link's business to approve it when the link asks for approval.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::{
    BusinessId, Connection, ConnectionId, ConnectionRequestId, CustomData, ExpiryDays, FieldError, JoinLinkId, Message,
    RawValue, Roles, UnknownStatus, UserId, ValidationErrors,
};

/// Most uses a join link may allow.
pub const MAX_JOIN_LINK_USES: u32 = 10_000;

/// Days a join link stays open when the request does not say.
pub const DEFAULT_JOIN_LINK_DAYS: u8 = 7;

/// An unchecked create request of a join link, as an adapter received it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JoinLinkInput {
    /// 1..=10,000; `None`: unlimited.
    pub max_uses: Option<i64>,
    /// 1..=90, default 7.
    pub expires_in_days: Option<i64>,
    /// See [`Roles`].
    pub roles: Option<Vec<String>>,
    /// See [`CustomData`]; seen by the link's business only.
    pub custom_data: Option<RawValue>,
    /// Default `false`.
    pub requires_approval: Option<bool>,
    /// The link's business's own note, at most 1000 characters.
    pub note: Option<String>,
}

/// A join link create request in which every field holds.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinLinkRequest {
    /// Most uses; `None`: unlimited.
    pub max_uses: Option<u32>,
    /// How long it stays open.
    pub expires_in: ExpiryDays,
    /// Roles of the connections it makes.
    pub roles: Roles,
    /// The link's business's metadata.
    pub custom_data: CustomData,
    /// Whether each redemption waits for the link's business to approve it.
    pub requires_approval: bool,
    /// The link's business's note.
    pub note: Option<Message>,
}

impl JoinLinkInput {
    /// Checks every field and reports every invalid one at once.
    ///
    /// ```
    /// use rsvp_domain::JoinLinkInput;
    ///
    /// let request = JoinLinkInput { max_uses: Some(2), ..Default::default() }.validate().unwrap();
    /// assert_eq!(request.max_uses, Some(2));
    /// assert_eq!(request.expires_in.days(), 7);
    ///
    /// let errors = JoinLinkInput { max_uses: Some(0), expires_in_days: Some(91), ..Default::default() }
    ///     .validate()
    ///     .unwrap_err();
    /// let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
    /// assert_eq!(fields, ["max_uses", "expires_in_days"]);
    /// ```
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self) -> Result<JoinLinkRequest, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let max_uses = match self.max_uses {
            None => Some(None),
            Some(uses) => match u32::try_from(uses) {
                Ok(uses) if (1..=MAX_JOIN_LINK_USES).contains(&uses) => Some(Some(uses)),
                _ => {
                    errors.push(FieldError::new(
                        "max_uses",
                        "out_of_range",
                        format!("max_uses must be between 1 and {MAX_JOIN_LINK_USES}, or null for unlimited"),
                    ));
                    None
                }
            },
        };
        let expires_in = match self.expires_in_days {
            None => ExpiryDays::new(i64::from(DEFAULT_JOIN_LINK_DAYS)).ok(),
            Some(days) => errors.collect("expires_in_days", ExpiryDays::new(days)),
        };
        let roles = crate::request::roles_field(&mut errors, self.roles.as_deref());
        let custom_data = crate::request::custom_data_field(&mut errors, self.custom_data.as_ref());
        let note = match self.note.as_deref() {
            Some(text) if !text.trim().is_empty() => errors.collect("note", Message::parse(text)),
            _ => None,
        };
        match (max_uses, expires_in, roles, custom_data) {
            (Some(max_uses), Some(expires_in), Some(roles), Some(custom_data)) if errors.is_empty() => {
                Ok(JoinLinkRequest {
                    max_uses,
                    expires_in,
                    roles,
                    custom_data,
                    requires_approval: self.requires_approval.unwrap_or(false),
                    note,
                })
            }
            _ => Err(errors),
        }
    }
}

/// What a join link reads as at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinLinkStatus {
    /// It can be redeemed.
    Active,
    /// Every use is taken (pending requests count; a declined one frees its use).
    UsedUp,
    /// Past its expiry.
    Expired,
    /// Revoked by its business.
    Revoked,
}

impl JoinLinkStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::UsedUp => "used_up",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

impl fmt::Display for JoinLinkStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a redemption is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinRefusal {
    /// Every use is taken.
    UsedUp,
    /// The link expired.
    Expired,
    /// The link was revoked.
    Revoked,
    /// The link's own business tried to redeem it.
    SelfJoin,
    /// The two businesses are connected already (also: the same business
    /// redeeming a link a second time).
    AlreadyConnected,
    /// The redeeming business has a pending request on this link already.
    AlreadyRequested,
}

impl JoinRefusal {
    /// The refusal a link's status gives (`None` while it is active).
    pub fn for_status(status: JoinLinkStatus) -> Option<Self> {
        match status {
            JoinLinkStatus::Active => None,
            JoinLinkStatus::UsedUp => Some(Self::UsedUp),
            JoinLinkStatus::Expired => Some(Self::Expired),
            JoinLinkStatus::Revoked => Some(Self::Revoked),
        }
    }
}

impl fmt::Display for JoinRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UsedUp => "every use of this join link is taken",
            Self::Expired => "this join link expired",
            Self::Revoked => "this join link was revoked",
            Self::SelfJoin => "a business cannot join its own link",
            Self::AlreadyConnected => "your business is already connected to this link's business",
            Self::AlreadyRequested => "your business already asked to connect through this link",
        })
    }
}

/// What a redeeming business already has with a link's business: the facts
/// a store reads for [`JoinLink::redeem`] (the default: nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JoinFacts {
    /// The two businesses are connected (either way).
    pub connected: bool,
    /// The redeemer has a pending request on this link.
    pub requested: bool,
}

/// A link many businesses can use to connect with its business.
///
/// ```
/// use rsvp_domain::*;
/// use time::{Duration, OffsetDateTime};
/// use uuid::Uuid;
///
/// let now = OffsetDateTime::UNIX_EPOCH;
/// let acme = BusinessId::from_uuid(Uuid::from_u128(1));
/// let globex = BusinessId::from_uuid(Uuid::from_u128(2));
/// let request = JoinLinkInput { max_uses: Some(1), ..Default::default() }.validate().unwrap();
/// let mut link = JoinLink::new(JoinLinkId::from_uuid(Uuid::from_u128(3)), acme,
///     UserId::from_uuid(Uuid::from_u128(4)), request, now);
/// let none = JoinFacts::default();
/// assert_eq!(link.check_redeem(acme, none, now), Err(JoinRefusal::SelfJoin));
/// assert_eq!(link.redeem(globex, none, now), Ok(()));
/// assert_eq!(
///     link.check_redeem(globex, JoinFacts { connected: true, ..none }, now),
///     Err(JoinRefusal::AlreadyConnected),
///     "connected comes before used up"
/// );
/// assert_eq!(link.status_at(now), JoinLinkStatus::UsedUp);
/// assert_eq!(link.status_at(now + Duration::days(8)), JoinLinkStatus::Expired);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct JoinLink {
    /// Its id.
    pub id: JoinLinkId,
    /// The business it connects with.
    pub business_id: BusinessId,
    /// The user who made it.
    pub created_by_user_id: UserId,
    /// Most uses; `None`: unlimited.
    pub max_uses: Option<u32>,
    /// Uses taken: connections made and requests pending or approved.
    pub uses: u32,
    /// Roles of the connections it makes.
    pub roles: Roles,
    /// The link's business's metadata.
    pub custom_data: CustomData,
    /// Whether each redemption waits for approval.
    pub requires_approval: bool,
    /// The link's business's note.
    pub note: Option<Message>,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// When it was made.
    pub created_at: OffsetDateTime,
}

impl JoinLink {
    /// A new link of `business_id`, made by `created_by` at `now`.
    pub fn new(
        id: JoinLinkId,
        business_id: BusinessId,
        created_by: UserId,
        request: JoinLinkRequest,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            business_id,
            created_by_user_id: created_by,
            max_uses: request.max_uses,
            uses: 0,
            roles: request.roles,
            custom_data: request.custom_data,
            requires_approval: request.requires_approval,
            note: request.note,
            expires_at: now + request.expires_in.duration(),
            revoked_at: None,
            created_at: now,
        }
    }

    /// What it reads as at `now`: revoked before expired before used up
    /// (a link expires at `expires_at` exactly).
    pub fn status_at(&self, now: OffsetDateTime) -> JoinLinkStatus {
        if self.revoked_at.is_some() {
            JoinLinkStatus::Revoked
        } else if now >= self.expires_at {
            JoinLinkStatus::Expired
        } else if self.max_uses.is_some_and(|max| self.uses >= max) {
            JoinLinkStatus::UsedUp
        } else {
            JoinLinkStatus::Active
        }
    }

    /// Whether `redeemer`, with what it already has with the link's
    /// business (`facts`, read by the caller), may redeem it at `now`. The
    /// refusals, in order: the link's own business, connected, a request
    /// pending, then the link's status (so that a business redeeming twice
    /// is told it is connected, whether or not uses are left).
    ///
    /// # Errors
    /// The first [`JoinRefusal`] that applies.
    pub fn check_redeem(&self, redeemer: BusinessId, facts: JoinFacts, now: OffsetDateTime) -> Result<(), JoinRefusal> {
        if redeemer == self.business_id {
            return Err(JoinRefusal::SelfJoin);
        }
        if facts.connected {
            return Err(JoinRefusal::AlreadyConnected);
        }
        if facts.requested {
            return Err(JoinRefusal::AlreadyRequested);
        }
        JoinRefusal::for_status(self.status_at(now)).map_or(Ok(()), Err)
    }

    /// Takes one use for `redeemer`.
    ///
    /// # Errors
    /// As [`check_redeem`](Self::check_redeem); nothing changes then.
    pub fn redeem(&mut self, redeemer: BusinessId, facts: JoinFacts, now: OffsetDateTime) -> Result<(), JoinRefusal> {
        self.check_redeem(redeemer, facts, now)?;
        self.uses += 1;
        Ok(())
    }

    /// Gives back the use of a declined request.
    pub fn release_use(&mut self) {
        self.uses = self.uses.saturating_sub(1);
    }

    /// Revokes it at `now`; a revoked link keeps its first revocation time.
    pub fn revoke(&mut self, now: OffsetDateTime) {
        self.revoked_at.get_or_insert(now);
    }
}

impl Connection {
    /// The connection `link` makes with `redeemer`: the link's business is
    /// the inviter, the redeeming business the invitee.
    pub fn from_join_link(id: ConnectionId, link: &JoinLink, redeemer: BusinessId, now: OffsetDateTime) -> Self {
        Self {
            id,
            inviter_business_id: link.business_id,
            invitee_business_id: redeemer,
            invitation_id: None,
            join_link_id: Some(link.id),
            roles: link.roles.clone(),
            source_is_invitee: false,
            created_at: now,
        }
    }
}

/// Where a [`ConnectionRequest`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionRequestStatus {
    /// Waiting for the link's business.
    Pending,
    /// Approved: the connection is made.
    Approved,
    /// Declined: the link's use is free again.
    Declined,
}

impl ConnectionRequestStatus {
    /// Every status.
    pub const ALL: [Self; 3] = [Self::Pending, Self::Approved, Self::Declined];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Declined => "declined",
        }
    }
}

impl fmt::Display for ConnectionRequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConnectionRequestStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A redemption of a link that requires approval, waiting for (or answered
/// by) the link's business. Its state machine: `pending → approved |
/// declined`, nothing after.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionRequest {
    /// Its id.
    pub id: ConnectionRequestId,
    /// The link redeemed.
    pub join_link_id: JoinLinkId,
    /// The link's business (who approves).
    pub business_id: BusinessId,
    /// The business that redeemed the link.
    pub requester_business_id: BusinessId,
    /// The user whose key redeemed it.
    pub requester_user_id: UserId,
    /// Roles of the connection an approval makes (the link's, when redeemed).
    pub roles: Roles,
    /// Where it stands.
    pub status: ConnectionRequestStatus,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it was answered.
    pub resolved_at: Option<OffsetDateTime>,
    /// The connection its approval made.
    pub connection_id: Option<ConnectionId>,
}

/// An answer to a request that is no longer pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestAnswered {
    /// Where it stands.
    pub current: ConnectionRequestStatus,
}

impl fmt::Display for RequestAnswered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the connection request is {}", self.current)
    }
}

impl std::error::Error for RequestAnswered {}

impl ConnectionRequest {
    /// The pending request `requester` makes by redeeming `link` at `now`.
    pub fn new(
        id: ConnectionRequestId,
        link: &JoinLink,
        requester_business_id: BusinessId,
        requester_user_id: UserId,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            join_link_id: link.id,
            business_id: link.business_id,
            requester_business_id,
            requester_user_id,
            roles: link.roles.clone(),
            status: ConnectionRequestStatus::Pending,
            created_at: now,
            resolved_at: None,
            connection_id: None,
        }
    }

    /// Approves it at `now`, making `connection` (see [`ConnectionRequest::connection`]).
    ///
    /// # Errors
    /// [`RequestAnswered`] unless pending.
    pub fn approve(&self, connection: ConnectionId, now: OffsetDateTime) -> Result<Self, RequestAnswered> {
        self.answer(ConnectionRequestStatus::Approved, Some(connection), now)
    }

    /// Declines it at `now`.
    ///
    /// # Errors
    /// [`RequestAnswered`] unless pending.
    pub fn decline(&self, now: OffsetDateTime) -> Result<Self, RequestAnswered> {
        self.answer(ConnectionRequestStatus::Declined, None, now)
    }

    fn answer(
        &self,
        status: ConnectionRequestStatus,
        connection_id: Option<ConnectionId>,
        now: OffsetDateTime,
    ) -> Result<Self, RequestAnswered> {
        if self.status != ConnectionRequestStatus::Pending {
            return Err(RequestAnswered { current: self.status });
        }
        Ok(Self {
            status,
            resolved_at: Some(now),
            connection_id,
            ..self.clone()
        })
    }

    /// The connection an approval makes, with the id `id`.
    pub fn connection(&self, id: ConnectionId, now: OffsetDateTime) -> Connection {
        Connection {
            id,
            inviter_business_id: self.business_id,
            invitee_business_id: self.requester_business_id,
            invitation_id: None,
            join_link_id: Some(self.join_link_id),
            roles: self.roles.clone(),
            source_is_invitee: false,
            created_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use uuid::Uuid;

    use super::*;

    fn id<T: From<Uuid>>(n: u128) -> T {
        T::from(Uuid::from_u128(n))
    }

    fn link(max_uses: Option<i64>) -> JoinLink {
        let request = JoinLinkInput {
            max_uses,
            ..Default::default()
        }
        .validate()
        .unwrap();
        JoinLink::new(id(1), id(2), id(3), request, OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn statuses_read_revoked_before_expired_before_used_up() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut link = link(Some(1));
        assert_eq!(link.status_at(now), JoinLinkStatus::Active);
        link.redeem(id(9), JoinFacts::default(), now).unwrap();
        assert_eq!(link.status_at(now), JoinLinkStatus::UsedUp);
        assert_eq!(link.redeem(id(8), JoinFacts::default(), now), Err(JoinRefusal::UsedUp));
        assert_eq!(link.uses, 1);
        assert_eq!(link.status_at(link.expires_at), JoinLinkStatus::Expired);
        assert_eq!(
            link.status_at(link.expires_at - Duration::nanoseconds(1)),
            JoinLinkStatus::UsedUp
        );
        link.revoke(now + Duration::hours(1));
        link.revoke(now + Duration::hours(2));
        assert_eq!(link.revoked_at, Some(now + Duration::hours(1)));
        assert_eq!(link.status_at(link.expires_at), JoinLinkStatus::Revoked);
        link.release_use();
        assert_eq!(link.uses, 0);
    }

    #[test]
    fn an_unlimited_link_never_runs_out() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut link = link(None);
        for n in 0..100 {
            link.redeem(id(100 + n), JoinFacts::default(), now).unwrap();
        }
        assert_eq!(link.status_at(now), JoinLinkStatus::Active);
    }

    #[test]
    fn the_input_reports_every_bad_field() {
        let errors = JoinLinkInput {
            max_uses: Some(10_001),
            expires_in_days: Some(0),
            roles: Some(vec![String::new()]),
            note: Some("x".repeat(1001)),
            custom_data: Some(RawValue::Bool(true)),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.clone()).collect();
        assert!(fields.contains(&"max_uses".to_owned()), "{fields:?}");
        assert!(fields.contains(&"expires_in_days".to_owned()), "{fields:?}");
        assert!(fields.iter().any(|f| f.starts_with("roles")), "{fields:?}");
        assert!(fields.contains(&"note".to_owned()), "{fields:?}");
        assert!(fields.iter().any(|f| f.starts_with("custom_data")), "{fields:?}");
        let unlimited = JoinLinkInput::default().validate().unwrap();
        assert_eq!(unlimited.max_uses, None);
        assert!(!unlimited.requires_approval);
    }

    #[test]
    fn a_request_is_answered_once() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let link = link(Some(2));
        let request = ConnectionRequest::new(id(5), &link, id(6), id(7), now);
        let approved = request.approve(id(8), now).unwrap();
        assert_eq!(approved.status, ConnectionRequestStatus::Approved);
        assert_eq!(approved.connection_id, Some(id(8)));
        assert_eq!(
            approved.decline(now),
            Err(RequestAnswered {
                current: ConnectionRequestStatus::Approved
            })
        );
        let declined = request.decline(now).unwrap();
        assert_eq!(
            declined.approve(id(9), now).unwrap_err().current,
            ConnectionRequestStatus::Declined
        );
        let connection = request.connection(id(8), now);
        assert_eq!(connection.inviter_business_id, link.business_id);
        assert_eq!(connection.invitee_business_id, id(6));
        assert_eq!(connection.join_link_id, Some(link.id));
        assert_eq!("declined".parse(), Ok(ConnectionRequestStatus::Declined));
    }
}
