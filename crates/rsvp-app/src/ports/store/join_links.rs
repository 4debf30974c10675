//! The [`JoinLinkStore`] role of the store port.

use rsvp_domain::{
    Actor, ConnectionId, ConnectionRequest, ConnectionRequestId, ConnectionRequestStatus, JoinLink, JoinLinkId,
    JoinMade, RequestAnswered,
};

use super::super::*;

/// A redemption to record ([`JoinLinkStore::redeem_join_link`]): who
/// redeems which link's token, when, and the ids of what it may make.
#[derive(Debug, Clone, PartialEq)]
pub struct RedeemRecord {
    /// The hash of the link's token.
    pub token_hash: SecretHash,
    /// The redeeming business.
    pub redeemer: BusinessId,
    /// The user whose key redeems it.
    pub redeemer_user: UserId,
    /// When.
    pub now: OffsetDateTime,
    /// The id of the connection, if one is made.
    pub connection_id: ConnectionId,
    /// The id of the connection request, if one is made.
    pub request_id: ConnectionRequestId,
    /// The ids of the two events (`join_link.redeemed`, then
    /// `connection.created` or `connection_request.created`).
    pub event_ids: [EventId; 2],
}

impl RedeemRecord {
    /// What redeeming `link` makes, once the link has taken the use
    /// ([`JoinLink::redeem`]): the connection (or, when the link requires
    /// approval, the pending request) and the two events to write with it,
    /// `join_link.redeemed` then `connection.created` (or
    /// `connection_request.created`), acted by the redeeming user. Every
    /// store writes what this says, so they cannot differ.
    pub fn outcome(&self, link: JoinLink) -> (Redemption, [Event; 2]) {
        let actor = Actor::Invitee {
            user_id: Some(self.redeemer_user),
        };
        let [redeemed_id, made_id] = self.event_ids;
        if link.requires_approval {
            let request = ConnectionRequest::new(self.request_id, &link, self.redeemer, self.redeemer_user, self.now);
            let events = [
                Event::join_link_redeemed(
                    redeemed_id,
                    &link,
                    self.redeemer,
                    actor,
                    JoinMade::Request(request.id),
                    self.now,
                ),
                Event::connection_request(made_id, &request, actor),
            ];
            (Redemption::Requested { link, request }, events)
        } else {
            let connection = Connection::from_join_link(self.connection_id, &link, self.redeemer, self.now);
            let events = [
                Event::join_link_redeemed(
                    redeemed_id,
                    &link,
                    self.redeemer,
                    actor,
                    JoinMade::Connection(connection.id),
                    self.now,
                ),
                Event::join_connection_created(made_id, &connection, link.id, actor, None),
            ];
            (Redemption::Connected { link, connection }, events)
        }
    }
}

/// What a redemption made.
#[derive(Debug, Clone, PartialEq)]
pub enum Redemption {
    /// The link did not require approval: the two are connected.
    Connected {
        /// The link after the redemption.
        link: JoinLink,
        /// The connection made.
        connection: Connection,
    },
    /// The link requires approval: a request waits for the link's business.
    Requested {
        /// The link after the redemption.
        link: JoinLink,
        /// The pending request.
        request: ConnectionRequest,
    },
}

/// An answer to a connection request ([`JoinLinkStore::answer_connection_request`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestAnswerRecord {
    /// The request.
    pub request_id: ConnectionRequestId,
    /// The business answering: it must be the link's.
    pub business: BusinessId,
    /// `Approved` or `Declined`.
    pub answer: ConnectionRequestStatus,
    /// The user answering.
    pub actor: rsvp_domain::Actor,
    /// When.
    pub now: OffsetDateTime,
    /// The id of the connection an approval makes.
    pub connection_id: ConnectionId,
    /// The ids of the events (the request's, then `connection.created`).
    pub event_ids: [EventId; 2],
}

/// What answering a request does ([`RequestAnswerRecord::outcome`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerOutcome {
    /// The request as answered.
    pub request: ConnectionRequest,
    /// The connection of the two businesses after an approval (the new one,
    /// or the one they had already); `None` after a decline.
    pub connection: Option<Connection>,
    /// Whether `connection` is new (to be written, with `connection.created`).
    pub connection_is_new: bool,
    /// The events to write, in order: the request's, then
    /// `connection.created` for a new connection.
    pub events: Vec<Event>,
}

impl RequestAnswerRecord {
    /// What answering the pending `request` does, given the connection the
    /// two businesses already have (`existing`): an approval points the
    /// request at it, or makes a new one; a decline makes none. Every store
    /// writes what this says.
    ///
    /// # Errors
    /// [`StoreError::RequestAnswered`] unless `request` is pending.
    pub fn outcome(
        &self,
        request: &ConnectionRequest,
        existing: Option<Connection>,
    ) -> Result<AnswerOutcome, StoreError> {
        let answered = |e: RequestAnswered| StoreError::RequestAnswered { current: e.current };
        let [answer_event, created_event] = self.event_ids;
        let (answered, connection, connection_is_new) = if self.answer == ConnectionRequestStatus::Approved {
            let (connection, is_new) = match existing {
                Some(existing) => (existing, false),
                None => (request.connection(self.connection_id, self.now), true),
            };
            (
                request.approve(connection.id, self.now).map_err(answered)?,
                Some(connection),
                is_new,
            )
        } else {
            (request.decline(self.now).map_err(answered)?, None, false)
        };
        let mut events = vec![Event::connection_request(answer_event, &answered, self.actor)];
        if let Some(connection) = connection.as_ref().filter(|_| connection_is_new) {
            events.push(Event::join_connection_created(
                created_event,
                connection,
                request.join_link_id,
                self.actor,
                Some(request.id),
            ));
        }
        Ok(AnswerOutcome {
            request: answered,
            connection,
            connection_is_new,
            events,
        })
    }
}

/// The side of a connection request a business lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestSide {
    /// Requests on the business's own links.
    Received,
    /// Requests the business made.
    Sent,
}

/// Join links, their redemptions and the connection requests they make
/// (with the connections, events and webhook deliveries a change writes in
/// the same unit of work).
///
/// Part of the [`Store`] port: its methods are its contract, checked on
/// every adapter by `rsvp-store-contract`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait JoinLinkStore: Send + Sync {
    /// Stores a new link with the hash of its token.
    async fn insert_join_link(&self, link: &JoinLink, token_hash: &SecretHash) -> Result<(), StoreError>;

    /// A link by id, as stored.
    async fn get_join_link(&self, id: JoinLinkId) -> Result<Option<JoinLink>, StoreError>;

    /// The link a token's hash belongs to, whatever its status.
    async fn find_join_link_by_token(&self, token_hash: &SecretHash) -> Result<Option<JoinLink>, StoreError>;

    /// The links of `business`, newest first (`created_at`, then `id`,
    /// descending), keyset paged.
    async fn list_join_links(&self, business: BusinessId, page: &PageRequest) -> Result<Page<JoinLink>, StoreError>;

    /// Revokes the link `id` of `business` at `now` (a revoked link keeps
    /// its first revocation time) and returns it. A redemption that commits
    /// after the revocation is refused.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when `business` has no such link.
    async fn revoke_join_link(
        &self,
        business: BusinessId,
        id: JoinLinkId,
        now: OffsetDateTime,
    ) -> Result<JoinLink, StoreError>;

    /// Redeems a link in one atomic step: reads the link and the
    /// [`JoinFacts`](rsvp_domain::JoinFacts) of the redeemer (connected to
    /// the link's business, a pending request on this link) and refuses as
    /// [`JoinLink::redeem`] does with them (the link's own business, then
    /// connected, then requested, then the link's status);
    /// otherwise takes one use and writes the connection (or, when the link
    /// requires approval, the pending request), the events
    /// `join_link.redeemed` and `connection.created` (or
    /// `connection_request.created`), and their webhook deliveries: what
    /// [`RedeemRecord::outcome`] says.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown token;
    /// [`StoreError::JoinRefused`] writing nothing. Exact under concurrency:
    /// with `max_uses` = N, at most N redemptions hold a use at once; one
    /// business redeeming twice at once makes one connection or request.
    async fn redeem_join_link(&self, record: &RedeemRecord) -> Result<Redemption, StoreError>;

    /// A connection request by id, as stored.
    async fn get_connection_request(&self, id: ConnectionRequestId) -> Result<Option<ConnectionRequest>, StoreError>;

    /// The requests on `business`'s links (`Received`) or that it made
    /// (`Sent`), newest first, keyset paged.
    async fn list_connection_requests(
        &self,
        business: BusinessId,
        side: RequestSide,
        page: &PageRequest,
    ) -> Result<Page<ConnectionRequest>, StoreError>;

    /// Answers a pending request of `record.business`'s link, in one unit of
    /// work: approving writes the connection (unless the pair is connected
    /// already, then the request points at the existing one and no
    /// `connection.created` is written), declining gives the link's use
    /// back; the request's event and its webhook deliveries with it. Returns
    /// the request as answered and the connection an approval made.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when `record.business` has no such request;
    /// [`StoreError::RequestAnswered`] when it is not pending (among
    /// concurrent answers exactly one wins), writing nothing.
    async fn answer_connection_request(
        &self,
        record: &RequestAnswerRecord,
    ) -> Result<(ConnectionRequest, Option<Connection>), StoreError>;
}
