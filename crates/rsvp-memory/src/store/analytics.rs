//! The [`rsvp_app::AnalyticsStore`] role of [`InMemoryStore`]: the funnel
//! counted over the invitations map, the page views in their own map.

use rsvp_app::{AnalyticsStore, FunnelQuery, InvitationFunnel, median_nanos};
use rsvp_domain::{EmailDelivery, InvitationStatus};

use super::*;

#[async_trait]
impl AnalyticsStore for InMemoryStore {
    async fn invitation_funnel(
        &self,
        business: BusinessId,
        query: &FunnelQuery,
    ) -> Result<InvitationFunnel, StoreError> {
        self.with(|s| {
            let mut funnel = InvitationFunnel::default();
            let mut answer_times = Vec::new();
            let counted = s
                .invitations
                .values()
                .filter(|i| i.business_id() == business && i.created_at() >= query.from && i.created_at() < query.to);
            for invitation in counted {
                funnel.created += 1;
                let delivery = invitation.email_delivery();
                let add = |count: &mut u64, yes: bool| *count += u64::from(yes);
                add(
                    &mut funnel.sent,
                    matches!(
                        delivery,
                        Some(
                            EmailDelivery::Sent
                                | EmailDelivery::Delivered
                                | EmailDelivery::Bounced
                                | EmailDelivery::Complained
                        )
                    ),
                );
                add(&mut funnel.delivered, delivery == Some(EmailDelivery::Delivered));
                add(&mut funnel.bounced, delivery == Some(EmailDelivery::Bounced));
                add(&mut funnel.complained, delivery == Some(EmailDelivery::Complained));
                add(&mut funnel.page_viewed, s.page_views.contains_key(&invitation.id()));
                match invitation.status_at(query.now) {
                    InvitationStatus::Accepted => funnel.accepted += 1,
                    InvitationStatus::Rejected => funnel.declined += 1,
                    InvitationStatus::Cancelled => funnel.cancelled += 1,
                    InvitationStatus::Expired => funnel.expired += 1,
                    InvitationStatus::Pending => {}
                }
                if matches!(
                    invitation.status(),
                    InvitationStatus::Accepted | InvitationStatus::Rejected
                ) && let Some(resolved_at) = invitation.resolved_at()
                {
                    let took = (resolved_at - invitation.created_at()).whole_nanoseconds();
                    answer_times.push(i64::try_from(took).unwrap_or(i64::MAX));
                }
            }
            funnel.median_nanos_to_answer = median_nanos(answer_times);
            Ok(funnel)
        })
    }

    async fn record_page_view(&self, invitation: InvitationId, at: OffsetDateTime) -> Result<bool, StoreError> {
        self.with(|s| {
            if !s.invitations.contains_key(&invitation) || s.page_views.contains_key(&invitation) {
                return Ok(false);
            }
            s.page_views.insert(invitation, at);
            Ok(true)
        })
    }
}
