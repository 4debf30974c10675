//! Rows of invitations, their link tokens, and suppressions.

#[allow(clippy::wildcard_imports)]
use super::*;

/// `invitations`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invitations, treat_none_as_default_value = false)]
pub(crate) struct InvitationRow {
    pub(crate) id: String,
    pub(crate) business_id: String,
    pub(crate) sent_by_user_id: String,
    pub(crate) email: String,
    pub(crate) email_normalized: String,
    pub(crate) status: String,
    pub(crate) message: Option<String>,
    pub(crate) custom_data: String,
    pub(crate) roles: String,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) source_is_invitee: bool,
    pub(crate) invitee_business_id: Option<String>,
    pub(crate) expires_at: i64,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) resolved_at: Option<i64>,
    pub(crate) email_delivery: Option<String>,
    pub(crate) last_sent_at: Option<i64>,
    pub(crate) redirect_url: Option<String>,
    pub(crate) locale: Option<String>,
    /// The provider's report on the latest email; when set, it is the
    /// invitation's `email_delivery` (the stored `email_delivery` keeps
    /// rsvp's own state, whose CHECK allows only those).
    pub(crate) email_feedback: Option<String>,
}

impl InvitationRow {
    pub(crate) fn from_domain(invitation: &Invitation) -> Result<Self, StoreError> {
        let custom_data = serde_json::to_string(&invitation.custom_data().to_json())
            .map_err(|e| StoreError::Unavailable(format!("custom_data: {e}")))?;
        Ok(Self {
            id: id_text(invitation.id().as_uuid()),
            business_id: id_text(invitation.business_id().as_uuid()),
            sent_by_user_id: id_text(invitation.sent_by_user_id().as_uuid()),
            email: invitation.email().as_str().to_owned(),
            email_normalized: invitation.email().normalized().to_owned(),
            status: invitation.status().as_str().to_owned(),
            message: invitation.message().map(|m| m.as_str().to_owned()),
            custom_data,
            roles: roles_json(invitation.roles())?,
            first_name: invitation.first_name().map(|n| n.as_str().to_owned()),
            last_name: invitation.last_name().map(|n| n.as_str().to_owned()),
            phone: invitation.phone().map(|p| p.as_str().to_owned()),
            external_id: invitation.external_id().map(|e| e.as_str().to_owned()),
            source_is_invitee: invitation.source_is_invitee(),
            invitee_business_id: invitation.invitee_business_id().map(|b| id_text(b.as_uuid())),
            expires_at: to_nanos(invitation.expires_at())?,
            created_at: to_nanos(invitation.created_at())?,
            updated_at: to_nanos(invitation.updated_at())?,
            resolved_at: optional_nanos(invitation.resolved_at())?,
            email_delivery: invitation.email_delivery().map(|d| {
                if d.is_feedback() { EmailDelivery::Sent } else { d }
                    .as_str()
                    .to_owned()
            }),
            last_sent_at: optional_nanos(invitation.last_sent_at())?,
            redirect_url: invitation.redirect_url().map(|u| u.as_str().to_owned()),
            locale: invitation.locale().map(|l| l.as_str().to_owned()),
            email_feedback: invitation
                .email_delivery()
                .filter(|d| d.is_feedback())
                .map(|d| d.as_str().to_owned()),
        })
    }
}

/// `invitations` as read back: ids and names parsed from the driver's
/// bytes ([`Parsed`]) instead of a `String` each (a list page reads 50 of
/// these); the free-text columns are the domain's own strings. A struct of
/// its own because [`InvitationRow`] is also what inserts bind, as text.
#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = invitations, check_for_backend(crate::connection::MultiBackend))]
pub(crate) struct StoredInvitationRow {
    pub(crate) id: Parsed<InvitationId>,
    pub(crate) business_id: Parsed<BusinessId>,
    pub(crate) sent_by_user_id: Parsed<UserId>,
    pub(crate) email: String,
    pub(crate) email_normalized: String,
    pub(crate) status: Parsed<InvitationStatus>,
    pub(crate) message: Option<String>,
    pub(crate) custom_data: JsonText<serde_json::Value>,
    pub(crate) roles: JsonText<Vec<String>>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) source_is_invitee: bool,
    pub(crate) invitee_business_id: Option<Parsed<BusinessId>>,
    pub(crate) expires_at: i64,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) resolved_at: Option<i64>,
    pub(crate) email_delivery: Option<Parsed<EmailDelivery>>,
    pub(crate) last_sent_at: Option<i64>,
    pub(crate) redirect_url: Option<String>,
    pub(crate) locale: Option<Parsed<Locale>>,
    /// The provider's report on the latest email; when set, it is the
    /// invitation's `email_delivery` (see [`InvitationRow`]).
    pub(crate) email_feedback: Option<Parsed<EmailDelivery>>,
}

impl StoredInvitationRow {
    pub(crate) fn into_domain(self) -> Result<Invitation, StoreError> {
        let custom_data =
            CustomData::from_json(&self.custom_data.0).map_err(|e| corrupt("invitations.custom_data", e))?;
        Ok(Invitation::restore(InvitationParts {
            id: self.id.into_inner(),
            business_id: self.business_id.into_inner(),
            sent_by_user_id: self.sent_by_user_id.into_inner(),
            // Written from a parsed address with its normalized form: not normalized again.
            email: EmailAddress::restore(self.email, self.email_normalized)
                .map_err(|e| corrupt("invitations.email", e))?,
            status: self.status.into_inner(),
            message: optional_text("invitations.message", self.message, Message::parse_owned)?,
            custom_data,
            roles: checked_roles("invitations.roles", &self.roles.0)?,
            first_name: optional_text("invitations.first_name", self.first_name, PersonName::parse_owned)?,
            last_name: optional_text("invitations.last_name", self.last_name, PersonName::parse_owned)?,
            phone: optional_text("invitations.phone", self.phone, |t| Phone::parse(&t))?,
            external_id: optional_text("invitations.external_id", self.external_id, ExternalId::parse_owned)?,
            source_is_invitee: self.source_is_invitee,
            invitee_business_id: self.invitee_business_id.map(Parsed::into_inner),
            expires_at: from_nanos("invitations.expires_at", self.expires_at)?,
            created_at: from_nanos("invitations.created_at", self.created_at)?,
            updated_at: from_nanos("invitations.updated_at", self.updated_at)?,
            resolved_at: optional_time("invitations.resolved_at", self.resolved_at)?,
            email_delivery: self.email_feedback.or(self.email_delivery).map(Parsed::into_inner),
            last_sent_at: optional_time("invitations.last_sent_at", self.last_sent_at)?,
            redirect_url: optional_text("invitations.redirect_url", self.redirect_url, |t| {
                RedirectUrl::parse(&t)
            })?,
            locale: self.locale.map(Parsed::into_inner),
        }))
    }
}

/// `suppressions`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = suppressions, treat_none_as_default_value = false)]
pub(crate) struct SuppressionRow {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) email_normalized: String,
    pub(crate) business_id: Option<String>,
    pub(crate) invitation_id: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) reason: String,
}

impl SuppressionRow {
    pub(crate) fn from_domain(suppression: &Suppression) -> Result<Self, StoreError> {
        Ok(Self {
            id: id_text(suppression.id.as_uuid()),
            email: suppression.email.as_str().to_owned(),
            email_normalized: suppression.email.normalized().to_owned(),
            business_id: suppression.business_id.map(|b| id_text(b.as_uuid())),
            invitation_id: suppression.invitation_id.map(|i| id_text(i.as_uuid())),
            created_at: to_nanos(suppression.created_at)?,
            reason: suppression.reason.as_str().to_owned(),
        })
    }

    pub(crate) fn into_domain(self) -> Result<Suppression, StoreError> {
        Ok(Suppression {
            id: parse_id("suppressions.id", &self.id)?,
            email: parse_email("suppressions.email", &self.email)?,
            business_id: self
                .business_id
                .map(|b| parse_id("suppressions.business_id", &b))
                .transpose()?,
            invitation_id: self
                .invitation_id
                .map(|i| parse_id("suppressions.invitation_id", &i))
                .transpose()?,
            created_at: from_nanos("suppressions.created_at", self.created_at)?,
            reason: SuppressionReason::parse(&self.reason)
                .ok_or_else(|| corrupt("suppressions.reason", format!("unknown reason {:?}", self.reason)))?,
        })
    }
}

/// `link_tokens`.
#[derive(Debug, Insertable)]
#[diesel(table_name = link_tokens, treat_none_as_default_value = false)]
pub(crate) struct LinkTokenRow {
    pub(crate) token_hash: String,
    pub(crate) invitation_id: String,
    pub(crate) created_at: i64,
    pub(crate) revoked_at: Option<i64>,
}

impl LinkTokenRow {
    pub(crate) fn from_domain(link: &LinkTokenRecord) -> Result<Self, StoreError> {
        Ok(Self {
            token_hash: link.hash.to_hex(),
            invitation_id: id_text(link.invitation_id.as_uuid()),
            created_at: to_nanos(link.created_at)?,
            revoked_at: None,
        })
    }
}
