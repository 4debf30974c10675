//! The [`rsvp_app::JoinLinkStore`] role of [`InMemoryStore`].

use rsvp_app::{JoinLinkStore, RedeemRecord, Redemption, RequestAnswerRecord, RequestSide};
use rsvp_domain::{
    Actor, ConnectionRequest, ConnectionRequestId, ConnectionRequestStatus, JoinLink, JoinLinkId, JoinMade, JoinRefusal,
};

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
        // Self-join first, then what the two businesses already have, then
        // the link's status: a business redeeming twice is told it is
        // connected, whether or not uses are left.
        if record.redeemer == link.business_id {
            return Err(StoreError::JoinRefused(JoinRefusal::SelfJoin));
        }
        if self
            .connections
            .contains_key(&ordered_pair(link.business_id, record.redeemer))
        {
            return Err(StoreError::JoinRefused(JoinRefusal::AlreadyConnected));
        }
        if self.connection_requests.values().any(|r| {
            r.join_link_id == link.id
                && r.requester_business_id == record.redeemer
                && r.status == ConnectionRequestStatus::Pending
        }) {
            return Err(StoreError::JoinRefused(JoinRefusal::AlreadyRequested));
        }
        link.redeem(record.redeemer, record.now)
            .map_err(StoreError::JoinRefused)?;
        let actor = Actor::Invitee {
            user_id: Some(record.redeemer_user),
        };
        let [redeemed_id, made_id] = record.event_ids;
        let redemption = if link.requires_approval {
            let request = ConnectionRequest::new(
                record.request_id,
                &link,
                record.redeemer,
                record.redeemer_user,
                record.now,
            );
            self.insert_event(&Event::join_link_redeemed(
                redeemed_id,
                &link,
                record.redeemer,
                actor,
                JoinMade::Request(request.id),
                record.now,
            ));
            self.insert_event(&Event::connection_request(made_id, &request, actor));
            self.connection_requests.insert(request.id, request.clone());
            Redemption::Requested {
                link: link.clone(),
                request,
            }
        } else {
            let connection = Connection::from_join_link(record.connection_id, &link, record.redeemer, record.now);
            self.insert_event(&Event::join_link_redeemed(
                redeemed_id,
                &link,
                record.redeemer,
                actor,
                JoinMade::Connection(connection.id),
                record.now,
            ));
            self.insert_event(&Event::join_connection_created(
                made_id,
                &connection,
                link.id,
                actor,
                None,
            ));
            self.connections.insert(connection.pair(), connection.clone());
            Redemption::Connected {
                link: link.clone(),
                connection,
            }
        };
        self.join_links.insert(link.id, link);
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
        let answered_error = |e: rsvp_domain::RequestAnswered| StoreError::RequestAnswered { current: e.current };
        let [answer_event, created_event] = record.event_ids;
        let (answered, connection) = if record.answer == ConnectionRequestStatus::Approved {
            let pair = ordered_pair(request.business_id, request.requester_business_id);
            let (connection_id, connection) = match self.connections.get(&pair) {
                Some(existing) => (existing.id, None),
                None => {
                    let connection = request.connection(record.connection_id, record.now);
                    (connection.id, Some(connection))
                }
            };
            let answered = request.approve(connection_id, record.now).map_err(answered_error)?;
            self.insert_event(&Event::connection_request(answer_event, &answered, record.actor));
            if let Some(connection) = &connection {
                self.insert_event(&Event::join_connection_created(
                    created_event,
                    connection,
                    request.join_link_id,
                    record.actor,
                    Some(request.id),
                ));
                self.connections.insert(pair, connection.clone());
            }
            let made = connection.or_else(|| self.connections.get(&pair).cloned());
            (answered, made)
        } else {
            let answered = request.decline(record.now).map_err(answered_error)?;
            self.insert_event(&Event::connection_request(answer_event, &answered, record.actor));
            if let Some(link) = self.join_links.get_mut(&request.join_link_id) {
                link.release_use();
            }
            (answered, None)
        };
        self.connection_requests.insert(answered.id, answered.clone());
        Ok((answered, connection))
    }
}
