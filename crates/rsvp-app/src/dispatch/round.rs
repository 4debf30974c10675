//! One round's reading and rendering: what its emails need from the store,
//! read once, and each email rendered from it.

use super::*;
use crate::ports::{EmailKind, ExpiryNoticeEmail};

/// What a round's emails need from the store, read once for the whole
/// round: its invitations, and the names of their senders.
#[derive(Default)]
pub(super) struct RoundContext {
    pub(super) invitations: HashMap<InvitationId, Invitation>,
    pub(super) businesses: HashMap<BusinessId, String>,
    pub(super) users: HashMap<UserId, User>,
    /// (sender, normalized address) pairs whose recipient opted out.
    pub(super) opted_out: HashSet<(BusinessId, String)>,
    /// Those of them suppressed on the provider's report (a hard bounce, a
    /// complaint): the address takes no mail at all, not even a notice.
    pub(super) undeliverable: HashSet<(BusinessId, String)>,
}

/// An email ready to send, or why there is none.
pub(super) enum Prepared {
    Ready(Box<OutgoingEmail>),
    Closed(String, FailureReason),
}

impl EmailDispatcher {
    /// Reads the round's invitations in one query, then each distinct
    /// sending business and user once.
    pub(super) async fn context(&self, jobs: &[EmailJob]) -> Result<RoundContext, StoreError> {
        let store = &self.ports.store;
        let ids: Vec<InvitationId> = jobs.iter().map(|job| job.invitation_id).collect();
        let mut context = RoundContext::default();
        for invitation in store.invitations().get_invitations(&ids).await? {
            context.invitations.insert(invitation.id(), invitation);
        }
        let mut businesses: Vec<BusinessId> = context.invitations.values().map(|i| i.business_id()).collect();
        businesses.sort_unstable();
        businesses.dedup();
        for id in businesses {
            let name = store
                .operator()
                .get_business(id)
                .await?
                .map(|b| b.name.to_string())
                .unwrap_or_default();
            context.businesses.insert(id, name);
        }
        let mut users: Vec<UserId> = context.invitations.values().map(|i| i.sent_by_user_id()).collect();
        users.sort_unstable();
        users.dedup();
        for id in users {
            if let Some(user) = store.operator().get_user(id).await? {
                context.users.insert(id, user);
            }
        }
        // Opt-outs recorded after the jobs were queued, one read per sender.
        let mut recipients: HashMap<BusinessId, Vec<EmailAddress>> = HashMap::new();
        for job in jobs {
            if let Some(invitation) = context.invitations.get(&job.invitation_id) {
                recipients
                    .entry(invitation.business_id())
                    .or_default()
                    .push(job.to.clone());
            }
        }
        for (business, emails) in recipients {
            for suppression in store.opt_outs().suppressions_for(business, &emails).await? {
                let key = (business, suppression.email.normalized().to_owned());
                if suppression.reason.is_provider_feedback() {
                    context.undeliverable.insert(key.clone());
                }
                context.opted_out.insert(key);
            }
        }
        Ok(context)
    }

    /// Renders the email from what the round read; `Closed` when there is
    /// nothing to send any more.
    pub(super) fn prepare(&self, job: &EmailJob, context: &RoundContext) -> Prepared {
        let now: OffsetDateTime = self.ports.clock.now();
        let Some(invitation) = context.invitations.get(&job.invitation_id) else {
            return Prepared::Closed("the invitation no longer exists".into(), FailureReason::NotPending);
        };
        if job.kind == EmailKind::ExpiryNotice {
            return self.prepare_notice(job, invitation, context, now);
        }
        let status = invitation.status_at(now);
        if status != InvitationStatus::Pending {
            return Prepared::Closed(
                format!("not sent: the invitation is {status}"),
                FailureReason::NotPending,
            );
        }
        let Some(token) = &job.link_token else {
            return Prepared::Closed("the job has no link token".into(), FailureReason::NoToken);
        };
        // An opt-out after the job was queued still stops it.
        if context
            .opted_out
            .contains(&(invitation.business_id(), job.to.normalized().to_owned()))
        {
            return Prepared::Closed("not sent: the recipient opted out".into(), FailureReason::OptedOut);
        }
        let sender_name = context
            .businesses
            .get(&invitation.business_id())
            .cloned()
            .unwrap_or_default();
        let sending_user = context.users.get(&invitation.sent_by_user_id());
        let sender_user = sending_user.map_or_else(|| sender_name.clone(), User::display_name);
        let product = self.settings.product_name.trim();
        let from_name = if sending_user.is_some() && sender_user != sender_name {
            format!("{sender_user} ({sender_name}) via {product}")
        } else {
            format!("{sender_name} via {product}")
        };
        let reply_to = sending_user.map(|u| NamedAddress {
            name: Some(u.display_name()).filter(|n| !n.trim().is_empty()),
            email: u.email.clone(),
        });
        let unsubscribe_url = self.settings.links.unsubscribe_url(token);
        let invitee_name = invitee_name(invitation);
        let email = InvitationEmail {
            locale: invitation.locale().unwrap_or(self.settings.default_locale),
            sender_business: sender_name,
            sender_user,
            invitee_name,
            message: invitation.message().map(ToString::to_string),
            expires_at: invitation.expires_at(),
            accept_url: self.settings.links.accept_url(token),
            unsubscribe_url: unsubscribe_url.clone(),
            invitee_email: invitation.email().as_str().to_owned(),
            is_reminder: job.created_at > invitation.created_at(),
        };
        match self.renderer.render(&email) {
            Ok(content) => Prepared::Ready(Box::new(OutgoingEmail {
                message_id: self.message_id(job),
                to: job.to.clone(),
                content,
                from_name: Some(from_name),
                reply_to,
                list_unsubscribe: Some(unsubscribe_url),
            })),
            Err(error) => Prepared::Closed(error.to_string(), FailureReason::Render),
        }
    }

    /// Renders the notice of an expiry to the user who sent the invitation:
    /// no link, no unsubscribe (it is the business's own user), from the
    /// product itself.
    fn prepare_notice(
        &self,
        job: &EmailJob,
        invitation: &Invitation,
        context: &RoundContext,
        now: OffsetDateTime,
    ) -> Prepared {
        let status = invitation.status_at(now);
        if status != InvitationStatus::Expired {
            return Prepared::Closed(
                format!("not sent: the invitation is {status}, not expired"),
                FailureReason::NotPending,
            );
        }
        if context
            .undeliverable
            .contains(&(invitation.business_id(), job.to.normalized().to_owned()))
        {
            return Prepared::Closed(
                "not sent: the provider reported the address undeliverable".into(),
                FailureReason::OptedOut,
            );
        }
        let email = ExpiryNoticeEmail {
            locale: invitation.locale().unwrap_or(self.settings.default_locale),
            sender_business: context
                .businesses
                .get(&invitation.business_id())
                .cloned()
                .unwrap_or_default(),
            sender_user: context
                .users
                .get(&invitation.sent_by_user_id())
                .map(User::display_name)
                .unwrap_or_default(),
            invitee_email: invitation.email().as_str().to_owned(),
            invitee_name: invitee_name(invitation),
            sent_at: invitation.created_at(),
            expired_at: invitation.expires_at(),
        };
        match self.renderer.render_expiry_notice(&email) {
            Ok(content) => {
                let mut outgoing = OutgoingEmail::new(self.message_id(job), job.to.clone(), content);
                outgoing.from_name = Some(self.settings.product_name.trim().to_owned());
                Prepared::Ready(Box::new(outgoing))
            }
            Err(error) => Prepared::Closed(error.to_string(), FailureReason::Render),
        }
    }
}

/// The invitee's name as the sender gave it, if at all.
fn invitee_name(invitation: &Invitation) -> Option<String> {
    match (invitation.first_name(), invitation.last_name()) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
        (None, None) => None,
    }
}
