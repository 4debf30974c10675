//! The [`OptOutStore`] role of the store port.

use super::super::*;

/// A person's say over their address: opt-outs (suppressions) and the erasure of their data.
///
/// Part of the [`Store`] port: its methods are its contract, checked on
/// every adapter by `rsvp-store-contract`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OptOutStore: Send + Sync {
    /// Every invitation to this normalized email, from any business, in any
    /// stored status, in any order (the input of an erasure).
    async fn invitations_to_email(&self, email: &EmailAddress) -> Result<Vec<Invitation>, StoreError>;

    /// Erases a person's data from invitations, in one transaction. For each
    /// item whose stored row still has the normalized `record.email` and the
    /// status `expected` (others are skipped: they changed since they were
    /// read, and the caller reads again): writes the item's `email`,
    /// `first_name`, `last_name`, `phone`, `message`, `custom_data`,
    /// `status`, `updated_at` and `resolved_at`; revokes every link token of
    /// the invitation; deletes its queued email jobs (their link tokens and
    /// the address with them) and replaces the address and error of its
    /// finished ones with the placeholder and nothing; writes the event.
    /// Returns what it did; an empty record does nothing.
    async fn erase_invitations(&self, record: &ErasureRecord) -> Result<ErasureCounts, StoreError>;

    /// Records a recipient's opt-out. A suppression with the same
    /// normalized email and the same `business_id` (both `None` included)
    /// already stored is kept and returned; then nothing is written, so a
    /// repeated opt-out (a mailbox provider retrying the one-click POST) is
    /// harmless.
    ///
    /// MUST write at most one suppression per (normalized email,
    /// `business_id`), also when several calls race, and return the stored
    /// one.
    async fn add_suppression(&self, suppression: &Suppression) -> Result<Suppression, StoreError>;

    /// The suppressions that forbid `business` to invite any of these
    /// emails: those of the same normalized email whose `business_id` is
    /// `business` or `None` (everyone), in any order (one query for a whole
    /// bulk request).
    ///
    /// MUST NOT return a suppression of another business, nor one of
    /// another address.
    async fn suppressions_for(
        &self,
        business: BusinessId,
        emails: &[EmailAddress],
    ) -> Result<Vec<Suppression>, StoreError>;

    /// Every suppression (of every business), newest first (`created_at`,
    /// then `id`, descending), keyset paged, only those of `query.email`
    /// (normalized) when given. A page never repeats or skips a row.
    async fn list_suppressions(&self, query: &SuppressionQuery) -> Result<Page<Suppression>, StoreError>;

    /// Lifts a suppression: the address may be invited again by those it
    /// blocked.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no such
    /// suppression, deleting nothing.
    async fn delete_suppression(&self, id: SuppressionId) -> Result<(), StoreError>;
}
