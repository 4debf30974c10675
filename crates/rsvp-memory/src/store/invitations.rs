//! The [`rsvp_app::InvitationStore`] role of [`InMemoryStore`].

use super::*;

#[async_trait]
impl InvitationStore for InMemoryStore {
    async fn find_pending_for_emails(
        &self,
        business: BusinessId,
        emails: &[EmailAddress],
    ) -> Result<Vec<Invitation>, StoreError> {
        self.with(|s| Ok(emails.iter().filter_map(|e| s.find_pending(business, e)).collect()))
    }

    async fn create_invitation(
        &self,
        record: &NewInvitationRecord,
        cap: Option<EmailCap>,
    ) -> Result<CreateOutcome, StoreError> {
        self.with(|s| {
            let business = record.invitation.business_id();
            let email = record.invitation.email();
            let invitee = s.find_user_by_email(email);
            let connected = invitee.as_ref().is_some_and(|user| {
                user.business_id != business && s.connections.contains_key(&ordered_pair(business, user.business_id))
            });
            let context = InvitationContext {
                invitee,
                connected,
                pending: s.find_pending(business, email),
                suppressed: rsvp_domain::SuppressionReason::strongest(
                    s.suppressions
                        .values()
                        .filter(|sup| sup.blocks(business, email))
                        .map(|sup| sup.reason),
                ),
            };
            if context.may_refuse(business) {
                return Ok(CreateOutcome::Refused(context));
            }
            let invitee_business = context.invitee.map(|user| user.business_id);
            s.insert_invitation(&record.clone().with_invitee_business(invitee_business), cap)?;
            Ok(CreateOutcome::Created { invitee_business })
        })
    }

    async fn insert_invitations(
        &self,
        records: &[NewInvitationRecord],
        cap: Option<EmailCap>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        self.with(|s| Ok(records.iter().map(|record| s.insert_invitation(record, cap)).collect()))
    }

    async fn get_invitation(&self, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
        self.with(|s| Ok(s.invitations.get(&id).cloned()))
    }

    async fn list_sent(&self, business: BusinessId, query: &InvitationQuery) -> Result<Page<Invitation>, StoreError> {
        self.with(|s| Ok(s.list_sent(business, query)))
    }

    async fn list_received(
        &self,
        business: BusinessId,
        query: &InvitationQuery,
    ) -> Result<Page<Invitation>, StoreError> {
        self.with(|s| Ok(s.list_received(business, query)))
    }

    async fn apply_transition(&self, record: &TransitionRecord) -> Result<TransitionOutcome, StoreError> {
        self.with(|s| s.apply_transition(record))
    }

    async fn record_resend(&self, record: &ResendRecord) -> Result<Invitation, StoreError> {
        self.with(|s| s.record_resend(record))
    }

    async fn find_invitation_by_link(&self, token_hash: &SecretHash) -> Result<Option<Invitation>, StoreError> {
        self.with(|s| Ok(s.find_invitation_by_link(token_hash)))
    }

    async fn due_for_expiry(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Invitation>, StoreError> {
        self.with(|s| Ok(s.due_for_expiry(now, limit)))
    }

    async fn due_for_reminder(&self, query: &rsvp_app::ReminderQuery) -> Result<Vec<Invitation>, StoreError> {
        self.with(|s| Ok(s.due_for_reminder(query)))
    }

    async fn record_reminder(&self, record: &rsvp_app::ReminderRecord) -> Result<Option<Invitation>, StoreError> {
        self.with(|s| s.record_reminder(record))
    }
}
