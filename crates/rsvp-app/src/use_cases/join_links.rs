//! The join links area: a business's links that many businesses can use
//! to connect with it (create, list, revoke), their public preview, the
//! redemption by another business's key, and the connection requests of the
//! links that ask for approval.

use rsvp_domain::{
    ConnectionRequest, ConnectionRequestId, ConnectionRequestStatus, JoinLink, JoinLinkId, JoinLinkRequest,
    JoinLinkStatus,
};

use super::*;
use crate::ports::{RedeemRecord, Redemption, RequestAnswerRecord, RequestSide};

/// A new join link and its token, shown once.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJoinLink {
    /// The link as stored.
    pub link: JoinLink,
    /// The token of its URL (only in the create answer).
    pub token: Secret,
}

/// What anyone holding a join link's token may see: who it connects with,
/// the roles, and whether it can be used.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinLinkPreview {
    /// The link (show neither its `custom_data`, its note nor its uses).
    pub link: JoinLink,
    /// What it reads as now.
    pub status: JoinLinkStatus,
    /// The link's business.
    pub business: Business,
}

impl App {
    /// Makes a join link of the caller's business.
    ///
    /// # Errors
    /// Store failures only (the request was checked by
    /// [`JoinLinkInput::validate`](rsvp_domain::JoinLinkInput::validate)).
    pub async fn create_join_link(
        &self,
        principal: &Principal,
        request: JoinLinkRequest,
    ) -> Result<NewJoinLink, AppError> {
        let link = JoinLink::new(
            JoinLinkId::from_uuid(self.new_id()),
            principal.business.id,
            principal.user.id,
            request,
            self.now(),
        );
        let token = self.ports.secrets.generate();
        let hash = self.ports.secrets.hash(token.expose());
        self.ports.store.join_links().insert_join_link(&link, &hash).await?;
        Ok(NewJoinLink { link, token })
    }

    /// The caller's business's join links, newest first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_join_links(&self, principal: &Principal, page: PageRequest) -> Result<Page<JoinLink>, AppError> {
        Ok(self
            .ports
            .store
            .join_links()
            .list_join_links(principal.business.id, &page)
            .await?)
    }

    /// One of the caller's business's join links.
    ///
    /// # Errors
    /// [`AppError::NotFound`] unless the link is the caller's business's.
    pub async fn get_join_link(&self, principal: &Principal, id: JoinLinkId) -> Result<JoinLink, AppError> {
        self.ports
            .store
            .join_links()
            .get_join_link(id)
            .await?
            .filter(|link| link.business_id == principal.business.id)
            .ok_or(AppError::NotFound)
    }

    /// Revokes one of the caller's business's join links (again: no change).
    ///
    /// # Errors
    /// [`AppError::NotFound`] unless the link is the caller's business's.
    pub async fn revoke_join_link(&self, principal: &Principal, id: JoinLinkId) -> Result<JoinLink, AppError> {
        Ok(self
            .ports
            .store
            .join_links()
            .revoke_join_link(principal.business.id, id, self.now())
            .await?)
    }

    /// What the holder of a join link's token sees. A look never uses it.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown token;
    /// [`AppError::SenderSuspended`] when the link's business is suspended.
    pub async fn preview_join_link(&self, token: &str) -> Result<JoinLinkPreview, AppError> {
        let link = self.join_link_by_token(&self.ports.secrets.hash(token)).await?;
        let business = self.active_link_business(link.business_id).await?;
        let status = link.status_at(self.now());
        Ok(JoinLinkPreview { link, status, business })
    }

    /// Redeems a join link for the caller's business: a connection, or a
    /// pending request when the link requires approval.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown token;
    /// [`AppError::SenderSuspended`] when the link's business is suspended;
    /// [`AppError::JoinRefused`] when the link cannot be used (used up,
    /// expired, revoked), is the caller's own, or the two are connected or
    /// already asked to be.
    pub async fn redeem_join_link(&self, principal: &Principal, token: &str) -> Result<Redemption, AppError> {
        let token_hash = self.ports.secrets.hash(token);
        let link = self.join_link_by_token(&token_hash).await?;
        self.active_link_business(link.business_id).await?;
        let record = RedeemRecord {
            token_hash,
            redeemer: principal.business.id,
            redeemer_user: principal.user.id,
            now: self.now(),
            connection_id: ConnectionId::from_uuid(self.new_id()),
            request_id: ConnectionRequestId::from_uuid(self.new_id()),
            event_ids: [EventId::from_uuid(self.new_id()), EventId::from_uuid(self.new_id())],
        };
        Ok(self.ports.store.join_links().redeem_join_link(&record).await?)
    }

    /// Connection requests on the caller's business's links (`Received`)
    /// or made by it (`Sent`), newest first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_connection_requests(
        &self,
        principal: &Principal,
        side: RequestSide,
        page: PageRequest,
    ) -> Result<Page<ConnectionRequest>, AppError> {
        Ok(self
            .ports
            .store
            .join_links()
            .list_connection_requests(principal.business.id, side, &page)
            .await?)
    }

    /// A connection request either side may see.
    ///
    /// # Errors
    /// [`AppError::NotFound`] unless the caller's business is one of its two.
    pub async fn get_connection_request(
        &self,
        principal: &Principal,
        id: ConnectionRequestId,
    ) -> Result<ConnectionRequest, AppError> {
        let business = principal.business.id;
        self.ports
            .store
            .join_links()
            .get_connection_request(id)
            .await?
            .filter(|request| request.business_id == business || request.requester_business_id == business)
            .ok_or(AppError::NotFound)
    }

    /// Approves or declines a pending request on one of the caller's
    /// business's links.
    ///
    /// # Errors
    /// [`AppError::NotFound`] unless the request is on the caller's
    /// business's link ([`AppError::Forbidden`] for the business that made
    /// it); [`AppError::RequestAnswered`] unless it is pending.
    pub async fn answer_connection_request(
        &self,
        principal: &Principal,
        id: ConnectionRequestId,
        answer: ConnectionRequestStatus,
    ) -> Result<(ConnectionRequest, Option<Connection>), AppError> {
        let request = self.get_connection_request(principal, id).await?;
        if request.business_id != principal.business.id {
            return Err(AppError::Forbidden(
                "only the join link's business may answer its connection requests".into(),
            ));
        }
        let record = RequestAnswerRecord {
            request_id: id,
            business: principal.business.id,
            answer,
            actor: Actor::Sender {
                user_id: principal.user.id,
            },
            now: self.now(),
            connection_id: ConnectionId::from_uuid(self.new_id()),
            event_ids: [EventId::from_uuid(self.new_id()), EventId::from_uuid(self.new_id())],
        };
        Ok(self.ports.store.join_links().answer_connection_request(&record).await?)
    }

    async fn join_link_by_token(&self, hash: &crate::SecretHash) -> Result<JoinLink, AppError> {
        self.ports
            .store
            .join_links()
            .find_join_link_by_token(hash)
            .await?
            .ok_or(AppError::NotFound)
    }
}
