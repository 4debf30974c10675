//! rsvp's own emails around expiry: the one reminder to the invitee before
//! an invitation expires, and the notice to its sender once it has.

use super::*;
use crate::ports::{ReminderQuery, ReminderRecord};

/// How many times one round reads the due invitations, the later reads
/// without the businesses whose email cap it found reached.
const REMINDER_READS: usize = 8;

/// The senders a sweep has read, by user: their address, or `None` when
/// they get no notice (deactivated or gone).
pub(crate) type Senders = HashMap<UserId, Option<EmailAddress>>;

impl App {
    /// Queues the reminder of up to `limit` pending invitations that expire
    /// within [`Settings::reminder_before_expiry`] and were last emailed
    /// before that window started (an invitation created without an email,
    /// bounced, or suppressed gets none): a new link and an email, the
    /// `invitation.reminded` event and its webhooks, counted against the
    /// business's email cap. Returns how many this call queued.
    ///
    /// Safe to run from several replicas at once: the store marks each
    /// invitation reminded once. A business whose cap is reached is left
    /// out of the rest of the round; its invitations stay due for a later
    /// round, and never hold up those of other businesses. Does nothing
    /// when reminders are off (a zero window).
    ///
    /// # Errors
    /// Store failures only.
    pub async fn send_reminders(&self, limit: usize) -> Result<usize, AppError> {
        let window = self.settings.reminder_before_expiry;
        if window <= Duration::ZERO || limit == 0 {
            return Ok(0);
        }
        let now = self.now();
        let mut query = ReminderQuery {
            now,
            window,
            skip_businesses: Vec::new(),
            limit,
        };
        let mut reminded = 0;
        for _ in 0..REMINDER_READS {
            let due = self.ports.store.invitations().due_for_reminder(&query).await?;
            let read_all = due.len() < query.limit;
            let mut capped = false;
            for invitation in due {
                let business = invitation.business_id();
                if query.skip_businesses.contains(&business) {
                    continue;
                }
                match self.remind(&invitation, now, window).await {
                    Ok(true) => reminded += 1,
                    // Answered, reminded or sent meanwhile: nothing to do.
                    Ok(false) => {}
                    Err(StoreError::EmailCapReached { .. }) => {
                        query.skip_businesses.push(business);
                        capped = true;
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            // A capped business's invitations may hide others' behind them:
            // read again without it.
            if read_all || !capped || reminded >= limit {
                break;
            }
            query.limit = limit - reminded;
        }
        Ok(reminded)
    }

    /// Queues one invitation's reminder: whether the store recorded it.
    async fn remind(&self, invitation: &Invitation, now: OffsetDateTime, window: Duration) -> Result<bool, StoreError> {
        let token = self.ports.secrets.generate();
        let link = LinkTokenRecord {
            hash: self.ports.secrets.hash(token.expose()),
            invitation_id: invitation.id(),
            created_at: now,
        };
        let record = ReminderRecord {
            invitation_id: invitation.id(),
            now,
            window,
            link,
            event: Event::reminded(EventId::from_uuid(self.new_id()), invitation, now),
            // Queued after the invitation: the dispatcher renders it as a reminder.
            email_job: self.email_job(invitation, token, now),
            email_cap: self.email_cap(),
        };
        Ok(self.ports.store.invitations().record_reminder(&record).await?.is_some())
    }

    /// The notice of `invitation`'s expiry to the user who sent it, to be
    /// written with the expiry; `None` when notices are off or the user is
    /// deactivated or gone. Not counted against the email cap: it goes to
    /// the business's own user, not to the invitee.
    pub(crate) async fn expiry_notice(
        &self,
        invitation: &Invitation,
        now: OffsetDateTime,
        senders: &mut Senders,
    ) -> Result<Option<EmailJob>, AppError> {
        if !self.settings.notify_sender_on_expiry {
            return Ok(None);
        }
        let user_id = invitation.sent_by_user_id();
        let to = match senders.get(&user_id) {
            Some(known) => known.clone(),
            None => {
                let user = self.ports.store.operator().get_user(user_id).await?;
                let address = user.filter(|u| !u.is_deactivated()).map(|u| u.email);
                senders.insert(user_id, address.clone());
                address
            }
        };
        Ok(to.map(|to| EmailJob {
            id: EmailJobId::from_uuid(self.new_id()),
            invitation_id: invitation.id(),
            to,
            link_token: None,
            attempts: 0,
            status: EmailJobStatus::Queued,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            kind: EmailKind::ExpiryNotice,
        }))
    }
}
