//! Keyset pagination and list filters, shared by every list.

use rsvp_domain::{EmailAddress, EventId, ExternalId, InvitationStatus};
use time::OffsetDateTime;
use uuid::Uuid;

/// Smallest page.
pub const MIN_PAGE_SIZE: u16 = 1;
/// Largest page.
pub const MAX_PAGE_SIZE: u16 = 200;
/// Page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: u16 = 50;

/// The position after which a newest-first page continues: the
/// `(created_at, id)` of the last row of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the last row seen.
    pub created_at: OffsetDateTime,
    /// `id` of the last row seen (breaks ties between equal timestamps).
    pub id: Uuid,
}

/// A page size in 1..=200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u16);

impl PageSize {
    /// Checks the range.
    ///
    /// # Errors
    /// `None` outside 1..=200.
    pub fn new(size: i64) -> Option<Self> {
        u16::try_from(size)
            .ok()
            .filter(|s| (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(s))
            .map(Self)
    }

    /// The size.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The size as a `usize`.
    pub fn as_usize(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(DEFAULT_PAGE_SIZE)
    }
}

/// Which invitations a list shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvitationFilter {
    /// Only these statuses, as they read at the query's `now` (a pending
    /// invitation past its expiry matches `expired`, not `pending`). Empty: all.
    pub statuses: Vec<InvitationStatus>,
    /// Only invitations to this address (compared normalized).
    pub email: Option<EmailAddress>,
}

/// One page request of an invitation list.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationQuery {
    /// What to show.
    pub filter: InvitationFilter,
    /// How many.
    pub limit: PageSize,
    /// Continue after this row (newest first).
    pub after: Option<Cursor>,
    /// The time at which statuses are read.
    pub now: OffsetDateTime,
}

/// One page request of a newest-first list without filters (connections).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageRequest {
    /// How many.
    pub limit: PageSize,
    /// Continue after this row.
    pub after: Option<Cursor>,
}

/// One page request of the operator's business list (newest first).
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessQuery {
    /// Only businesses whose folded name contains this (already folded with
    /// [`rsvp_domain::fold_for_search`]; `None` or empty: all).
    pub name: Option<String>,
    /// Only the business with this host platform id.
    pub external_id: Option<ExternalId>,
    /// How many.
    pub limit: PageSize,
    /// Continue after this row.
    pub after: Option<Cursor>,
}

/// One page request of the suppression list (newest first).
#[derive(Debug, Clone, PartialEq)]
pub struct SuppressionQuery {
    /// Only suppressions of this address (compared normalized).
    pub email: Option<EmailAddress>,
    /// How many.
    pub limit: PageSize,
    /// Continue after this row.
    pub after: Option<Cursor>,
}

/// One page request of the oldest-first event list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventQuery {
    /// How many.
    pub limit: PageSize,
    /// Continue after this event (ids increase with time).
    pub after: Option<EventId>,
}

/// One page of rows, and where the next begins (`None` on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C = Cursor> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass this as `after` to get the next page.
    pub next: Option<C>,
}

impl<T, C> Page<T, C> {
    /// Builds a page from up to `limit + 1` rows: the extra row, if present,
    /// only tells that a next page exists; `cursor_of` makes the cursor from
    /// the last row kept.
    pub fn from_overfetch(mut rows: Vec<T>, limit: PageSize, cursor_of: impl Fn(&T) -> C) -> Self {
        let has_more = rows.len() > limit.as_usize();
        rows.truncate(limit.as_usize());
        let next = if has_more { rows.last().map(cursor_of) } else { None };
        Self { items: rows, next }
    }

    /// Maps the rows, keeping the cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U, C> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}
