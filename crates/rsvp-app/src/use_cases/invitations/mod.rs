//! The invitations area: invite (one or in bulk), read, list, answer or
//! cancel, resend, expire (with the notice to the sender), and remind
//! before expiry.

mod answers;
mod create;
mod reminders;

use super::*;

/// Most invitations in one bulk request.
pub const MAX_BULK_INVITATIONS: usize = 1000;

/// A created invitation.
#[derive(Debug, Clone)]
pub struct CreatedInvitation {
    /// The invitation.
    pub invitation: Invitation,
    /// The link token, returned only when no email is sent (`send_email:
    /// false`), so the sender can share the link another way.
    pub link_token: Option<Secret>,
}

/// One refused item of a bulk request.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkFailure {
    /// Position in the request.
    pub index: usize,
    /// Why.
    pub error: AppError,
}

/// The result of a bulk request: items are independent.
#[derive(Debug, Clone)]
pub struct BulkOutcome {
    /// Created invitations, in request order.
    pub successful: Vec<CreatedInvitation>,
    /// Refused items, in request order.
    pub failed: Vec<BulkFailure>,
}

/// How the caller relates to an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// The caller's business sent it (sees `custom_data`).
    Sender,
    /// It is addressed to the caller's business.
    Invitee,
}

/// An invitation as one caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationView {
    /// The invitation as it reads now.
    pub invitation: Invitation,
    /// The caller's side.
    pub viewer: Viewer,
}

/// List parameters as the caller gives them (already parsed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListParams {
    /// Filters.
    pub filter: InvitationFilter,
    /// Page size.
    pub limit: PageSize,
    /// Continue after.
    pub after: Option<Cursor>,
}
