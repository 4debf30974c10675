//! The [`rsvp_app::JoinLinkStore`] role of [`InMemoryStore`].

use rsvp_app::{JoinLinkStore, RedeemRecord, Redemption, RequestAnswerRecord, RequestSide};
use rsvp_domain::{ConnectionRequest, ConnectionRequestId, ConnectionRequestStatus, JoinFacts, JoinLink, JoinLinkId};

use super::state::State;
use super::*;

fn link_cursor(link: &JoinLink) -> Cursor {
    Cursor {
        created_at: link.created_at,
        id: link.id.as_uuid(),
    }
}

fn request_cursor(request: &ConnectionRequest) -> Cursor {
    Cursor {
        created_at: request.created_at,
        id: request.id.as_uuid(),
    }
}

#[async_trait]
impl JoinLinkStore for InMemoryStore {
    async fn insert_join_link(&self, link: &JoinLink, token_hash: &SecretHash) -> Result<(), StoreError> {
        self.with(|s| {
            if !s.businesses.contains_key(&link.business_id) {
                return Err(StoreError::NotFound);
            }
            s.join_link_by_token.insert(*token_hash, link.id);
            s.join_links.insert(link.id, link.clone());
            Ok(())
        })
    }

    async fn get_join_link(&self, id: JoinLinkId) -> Result<Option<JoinLink>, StoreError> {
        self.with(|s| Ok(s.join_links.get(&id).cloned()))
    }

    async fn find_join_link_by_token(&self, token_hash: &SecretHash) -> Result<Option<JoinLink>, StoreError> {
        self.with(|s| {
            Ok(s.join_link_by_token
                .get(token_hash)
                .and_then(|id| s.join_links.get(id))
                .cloned())
        })
    }

    async fn list_join_links(&self, business: BusinessId, page: &PageRequest) -> Result<Page<JoinLink>, StoreError> {
        self.with(|s| {
            let rows = s.join_links.values().filter(|l| l.business_id == business).cloned();
            Ok(newest_first_page(rows, link_cursor, page.after, page.limit))
        })
    }

    async fn revoke_join_link(
        &self,
        business: BusinessId,
        id: JoinLinkId,
        now: OffsetDateTime,
    ) -> Result<JoinLink, StoreError> {
        self.with(|s| {
            let link = s
                .join_links
                .get_mut(&id)
                .filter(|l| l.business_id == business)
                .ok_or(StoreError::NotFound)?;
            link.revoke(now);
            Ok(link.clone())
        })
    }

    async fn redeem_join_link(&self, record: &RedeemRecord) -> Result<Redemption, StoreError> {
        self.with(|s| s.redeem_join_link(record))
    }

    async fn get_connection_request(&self, id: ConnectionRequestId) -> Result<Option<ConnectionRequest>, StoreError> {
        self.with(|s| Ok(s.connection_requests.get(&id).cloned()))
    }

    async fn list_connection_requests(
        &self,
        business: BusinessId,
        side: RequestSide,
        page: &PageRequest,
    ) -> Result<Page<ConnectionRequest>, StoreError> {
        self.with(|s| {
            let rows = s
                .connection_requests
                .values()
                .filter(|r| match side {
                    RequestSide::Received => r.business_id == business,
                    RequestSide::Sent => r.requester_business_id == business,
                })
                .cloned();
            Ok(newest_first_page(rows, request_cursor, page.after, page.limit))
        })
    }

    async fn answer_connection_request(
        &self,
        record: &RequestAnswerRecord,
    ) -> Result<(ConnectionRequest, Option<Connection>), StoreError> {
        self.with(|s| s.answer_connection_request(record))
    }
}

impl State {
    fn redeem_join_link(&mut self, record: &RedeemRecord) -> Result<Redemption, StoreError> {
        let id = *self
            .join_link_by_token
            .get(&record.token_hash)
            .ok_or(StoreError::NotFound)?;
        let mut link = self.join_links.get(&id).cloned().ok_or(StoreError::NotFound)?;
        let facts = JoinFacts {
            connected: self
                .connections
                .contains_key(&ordered_pair(link.business_id, record.redeemer)),
            requested: self.connection_requests.values().any(|r| {
                r.join_link_id == link.id
                    && r.requester_business_id == record.redeemer
                    && r.status == ConnectionRequestStatus::Pending
            }),
        };
        link.redeem(record.redeemer, facts, record.now)
            .map_err(StoreError::JoinRefused)?;
        self.join_links.insert(link.id, link.clone());
        let (redemption, events) = record.outcome(link);
        match &redemption {
            Redemption::Connected { connection, .. } => {
                self.connections.insert(connection.pair(), connection.clone());
            }
            Redemption::Requested { request, .. } => {
                self.connection_requests.insert(request.id, request.clone());
            }
        }
        for event in &events {
            self.insert_event(event);
        }
        Ok(redemption)
    }

    fn answer_connection_request(
        &mut self,
        record: &RequestAnswerRecord,
    ) -> Result<(ConnectionRequest, Option<Connection>), StoreError> {
        let request = self
            .connection_requests
            .get(&record.request_id)
            .filter(|r| r.business_id == record.business)
            .cloned()
            .ok_or(StoreError::NotFound)?;
        let pair = ordered_pair(request.business_id, request.requester_business_id);
        let outcome = record.outcome(&request, self.connections.get(&pair).cloned())?;
        if let Some(connection) = outcome.connection.as_ref().filter(|_| outcome.connection_is_new) {
            self.connections.insert(pair, connection.clone());
        }
        if outcome.request.status == ConnectionRequestStatus::Declined
            && let Some(link) = self.join_links.get_mut(&request.join_link_id)
        {
            link.release_use();
        }
        for event in &outcome.events {
            self.insert_event(event);
        }
        self.connection_requests
            .insert(outcome.request.id, outcome.request.clone());
        Ok((outcome.request, outcome.connection))
    }
}
