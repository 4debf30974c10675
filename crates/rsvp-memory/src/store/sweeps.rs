//! The units of the background rounds around expiry: the invitations due
//! for expiry, those due for their reminder, and the reminder itself.

use rsvp_app::{ReminderQuery, ReminderRecord, StoreError};
use rsvp_domain::{EmailDelivery, Invitation, InvitationParts, InvitationStatus};
use time::{Duration, OffsetDateTime};

use super::state::State;

impl State {
    pub(super) fn due_for_expiry(&self, now: OffsetDateTime, limit: usize) -> Vec<Invitation> {
        let mut due: Vec<&Invitation> = self
            .pending
            .values()
            .filter_map(|id| self.invitations.get(id))
            .filter(|i| i.status() == InvitationStatus::Pending && i.expires_at() <= now)
            .collect();
        due.sort_by_key(|i| (i.expires_at(), i.id()));
        due.into_iter().take(limit).cloned().collect()
    }

    /// Whether `invitation` is due for its reminder at `now`: the stored
    /// facts, never reminded, and no suppression of its address for its
    /// business or everyone.
    fn reminder_due(&self, invitation: &Invitation, now: OffsetDateTime, window: Duration) -> bool {
        !self.reminded.contains_key(&invitation.id())
            && ReminderQuery::is_due(invitation, now, window)
            && !self
                .suppressions
                .values()
                .any(|s| s.blocks(invitation.business_id(), invitation.email()))
    }

    pub(super) fn due_for_reminder(&self, query: &ReminderQuery) -> Vec<Invitation> {
        let mut due: Vec<&Invitation> = self
            .pending
            .values()
            .filter_map(|id| self.invitations.get(id))
            .filter(|i| !query.skip_businesses.contains(&i.business_id()))
            .filter(|i| self.reminder_due(i, query.now, query.window))
            .collect();
        due.sort_by_key(|i| (i.expires_at(), i.id()));
        due.into_iter().take(query.limit).cloned().collect()
    }

    pub(super) fn record_reminder(&mut self, record: &ReminderRecord) -> Result<Option<Invitation>, StoreError> {
        let id = record.invitation_id;
        let Some(stored) = self.invitations.get(&id) else {
            return Ok(None);
        };
        if !self.reminder_due(stored, record.now, record.window) {
            return Ok(None);
        }
        self.reserve_email(stored.business_id(), record.email_cap, record.email_job.created_at)?;
        self.reminded.insert(id, record.now);
        self.links.insert(record.link.hash, record.link.clone());
        self.insert_event(&record.event);
        self.email_jobs.insert(record.email_job.id, record.email_job.clone());
        let Some(stored) = self.invitations.get_mut(&id) else {
            return Ok(None);
        };
        *stored = Invitation::restore(InvitationParts {
            last_sent_at: Some(record.now),
            updated_at: record.now,
            email_delivery: Some(EmailDelivery::Queued),
            ..stored.clone().into_parts()
        });
        Ok(Some(stored.clone()))
    }
}
