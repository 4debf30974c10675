//! Reading, listing, answering, cancelling and resending invitations as
//! an API caller.

use super::*;

impl App {
    /// How `principal` relates to `invitation`, if at all.
    pub(crate) async fn viewer_of(
        &self,
        principal: &Principal,
        invitation: &Invitation,
    ) -> Result<Option<Viewer>, AppError> {
        if invitation.business_id() == principal.business.id {
            return Ok(Some(Viewer::Sender));
        }
        if invitation.invitee_business_id() == Some(principal.business.id) {
            return Ok(Some(Viewer::Invitee));
        }
        let owner = self
            .ports
            .store
            .operator()
            .find_user_by_email(invitation.email())
            .await?;
        Ok(owner
            .filter(|u| u.business_id == principal.business.id)
            .map(|_| Viewer::Invitee))
    }

    pub(crate) async fn visible_invitation(
        &self,
        principal: &Principal,
        id: InvitationId,
    ) -> Result<InvitationView, AppError> {
        let invitation = self
            .ports
            .store
            .invitations()
            .get_invitation(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let viewer = self
            .viewer_of(principal, &invitation)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(InvitationView { invitation, viewer })
    }

    /// One invitation the caller's business sent or received, as it reads now.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when the caller's business neither sent nor
    /// received it.
    pub async fn get_invitation(&self, principal: &Principal, id: InvitationId) -> Result<InvitationView, AppError> {
        let mut view = self.visible_invitation(principal, id).await?;
        view.invitation = view.invitation.as_of(self.now());
        Ok(view)
    }

    pub(crate) fn query(&self, params: ListParams) -> InvitationQuery {
        InvitationQuery {
            filter: params.filter,
            limit: params.limit,
            after: params.after,
            now: self.now(),
        }
    }

    /// Invitations the caller's business sent, newest first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_sent(&self, principal: &Principal, params: ListParams) -> Result<Page<Invitation>, AppError> {
        let query = self.query(params);
        let page = self
            .ports
            .store
            .invitations()
            .list_sent(principal.business.id, &query)
            .await?;
        Ok(page.map(|i| i.into_as_of(query.now)))
    }

    /// Invitations addressed to the caller's business's users, newest first;
    /// cancelled ones are left out.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_received(&self, principal: &Principal, params: ListParams) -> Result<Page<Invitation>, AppError> {
        let query = self.query(params);
        let page = self
            .ports
            .store
            .invitations()
            .list_received(principal.business.id, &query)
            .await?;
        Ok(page.map(|i| i.into_as_of(query.now)))
    }

    /// Answers (invitee: accept, reject) or cancels (sender) an invitation.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when the caller can see nothing of it;
    /// [`AppError::Forbidden`] for the wrong side;
    /// [`AppError::InvalidTransition`] unless pending (exactly one of
    /// concurrent callers wins).
    pub async fn change_status(
        &self,
        principal: &Principal,
        id: InvitationId,
        action: Action,
    ) -> Result<TransitionOutcome, AppError> {
        let view = self.visible_invitation(principal, id).await?;
        let actor = actor_of(principal, view.viewer);
        let invitee_business = match view.viewer {
            Viewer::Invitee => Some(principal.business.id),
            Viewer::Sender => None,
        };
        self.transition(view.invitation, action, actor, invitee_business, None)
            .await
    }

    pub(crate) async fn transition(
        &self,
        invitation: Invitation,
        action: Action,
        actor: Actor,
        invitee_business: Option<BusinessId>,
        new_invitee: Option<NewInvitee>,
    ) -> Result<TransitionOutcome, AppError> {
        let now = self.now();
        let after = invitation.answer(action, &actor, invitee_business, now)?;
        let event = Event::transition(EventId::from_uuid(self.new_id()), &invitation, &after, actor).ok_or(
            AppError::InvalidTransition {
                current: invitation.status(),
            },
        )?;
        let connection = match (action, after.invitee_business_id()) {
            (Action::Accept, Some(invitee)) => {
                let connection =
                    Connection::from_invitation(ConnectionId::from_uuid(self.new_id()), &after, invitee, now);
                let created = Event::connection_created(EventId::from_uuid(self.new_id()), &after, &connection, actor);
                Some((connection, created))
            }
            _ => None,
        };
        let record = TransitionRecord {
            invitation: after,
            expected: invitation.status(),
            now,
            event,
            connection,
            new_invitee,
            email_job: None,
        };
        Ok(self.ports.store.invitations().apply_transition(&record).await?)
    }

    /// Sends a new link for a pending invitation (sender only). Earlier links
    /// keep working unless `revoke_previous_links`.
    ///
    /// # Errors
    /// [`AppError::NotFound`], [`AppError::Forbidden`] for the invitee,
    /// [`AppError::InvalidTransition`] unless pending,
    /// [`AppError::Cooldown`] within the cooldown of the last send,
    /// [`AppError::QuotaExceeded`] past the business's hourly email cap.
    pub async fn resend(
        &self,
        principal: &Principal,
        id: InvitationId,
        revoke_previous_links: bool,
    ) -> Result<Invitation, AppError> {
        let view = self.visible_invitation(principal, id).await?;
        let actor = actor_of(principal, view.viewer);
        let now = self.now();
        let invitation = view
            .invitation
            .resend(&actor, now, self.settings.resend_cooldown)
            .map_err(|refusal| resend_refused(refusal, now))?;
        let suppressions = self
            .ports
            .store
            .opt_outs()
            .suppressions_for(invitation.business_id(), std::slice::from_ref(invitation.email()))
            .await?;
        if let Some(reason) = SuppressionReason::strongest(suppressions.iter().map(|s| s.reason)) {
            return Err(Self::refused(suppression_refusal(reason)));
        }
        let token = self.ports.secrets.generate();
        let link = LinkTokenRecord {
            hash: self.ports.secrets.hash(token.expose()),
            invitation_id: invitation.id(),
            created_at: now,
        };
        let record = ResendRecord {
            invitation_id: invitation.id(),
            now,
            not_sent_after: now - self.settings.resend_cooldown,
            link,
            revoke_previous_links,
            event: Event::resent(EventId::from_uuid(self.new_id()), &invitation, actor, now),
            email_job: self.email_job(&invitation, token, now),
            email_cap: self.email_cap(),
        };
        match self.ports.store.invitations().record_resend(&record).await {
            Ok(invitation) => Ok(invitation),
            // A racing resend got there first: the store's check is the atomic one.
            Err(StoreError::Cooldown { last_sent_at }) => Err(resend_refused(
                ResendError::CoolingDown {
                    retry_at: last_sent_at + self.settings.resend_cooldown,
                },
                now,
            )),
            Err(other) => Err(Self::store_refused(other, now)),
        }
    }

    /// Persists `expired` for up to `limit` pending invitations past their
    /// expiry, each with its `invitation.expired` event and (unless
    /// [`Settings::notify_sender_on_expiry`] is off) the notice to its
    /// sender; returns how many this call expired. Safe to run from several
    /// replicas at once: each invitation is expired (and its event and
    /// notice written) exactly once.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn expire_due(&self, limit: usize) -> Result<usize, AppError> {
        let now = self.now();
        let mut expired = 0;
        let mut senders = HashMap::new();
        for invitation in self.ports.store.invitations().due_for_expiry(now, limit).await? {
            if self.persist_expiry_notifying(&invitation, now, &mut senders).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }
}

/// The API's answer to a resend the domain refused at `now`.
fn resend_refused(refusal: ResendError, now: OffsetDateTime) -> AppError {
    match refusal {
        ResendError::NotPermitted => AppError::Forbidden(refusal.to_string()),
        ResendError::NotPending { current } => AppError::InvalidTransition { current },
        ResendError::CoolingDown { retry_at } => AppError::Cooldown {
            retry_after_secs: retry_after_secs(retry_at, now),
        },
    }
}

/// Who `principal` acts as on an invitation it sees as `viewer`.
fn actor_of(principal: &Principal, viewer: Viewer) -> Actor {
    match viewer {
        Viewer::Sender => Actor::Sender {
            user_id: principal.user.id,
        },
        Viewer::Invitee => Actor::Invitee {
            user_id: Some(principal.user.id),
        },
    }
}
