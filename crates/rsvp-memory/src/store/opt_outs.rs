//! The [`rsvp_app::OptOutStore`] role of [`InMemoryStore`].

use super::*;

#[async_trait]
impl OptOutStore for InMemoryStore {
    async fn invitations_to_email(&self, email: &EmailAddress) -> Result<Vec<Invitation>, StoreError> {
        self.with(|s| Ok(s.invitations.values().filter(|i| i.email() == email).cloned().collect()))
    }

    async fn erase_invitations(&self, record: &ErasureRecord) -> Result<ErasureCounts, StoreError> {
        self.with(|s| Ok(s.erase_invitations(record)))
    }

    async fn add_suppression(&self, suppression: &Suppression) -> Result<Suppression, StoreError> {
        self.with(|s| {
            let same = s.suppressions.values().find(|existing| {
                existing.email.normalized() == suppression.email.normalized()
                    && existing.business_id == suppression.business_id
            });
            if let Some(existing) = same {
                return Ok(existing.clone());
            }
            s.suppressions.insert(suppression.id, suppression.clone());
            Ok(suppression.clone())
        })
    }

    async fn suppressions_for(
        &self,
        business: BusinessId,
        emails: &[EmailAddress],
    ) -> Result<Vec<Suppression>, StoreError> {
        self.with(|s| {
            Ok(s.suppressions
                .values()
                .filter(|sup| emails.iter().any(|email| sup.blocks(business, email)))
                .cloned()
                .collect())
        })
    }

    async fn list_suppressions(&self, query: &SuppressionQuery) -> Result<Page<Suppression>, StoreError> {
        self.with(|s| {
            let rows = s
                .suppressions
                .values()
                .filter(|sup| {
                    query
                        .email
                        .as_ref()
                        .is_none_or(|email| email.normalized() == sup.email.normalized())
                })
                .cloned();
            let cursor = |sup: &Suppression| Cursor {
                created_at: sup.created_at,
                id: sup.id.as_uuid(),
            };
            Ok(newest_first_page(rows, cursor, query.after, query.limit))
        })
    }

    async fn delete_suppression(&self, id: SuppressionId) -> Result<(), StoreError> {
        self.with(|s| s.suppressions.remove(&id).map(drop).ok_or(StoreError::NotFound))
    }
}
