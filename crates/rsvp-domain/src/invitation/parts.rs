//! Reading an [`Invitation`] (its accessors) and rebuilding a recorded one
//! from what a store holds ([`InvitationParts`]).

use time::OffsetDateTime;

use super::{EmailDelivery, Invitation, InvitationStatus};
use crate::{
    BusinessId, CustomData, EmailAddress, ExternalId, InvitationId, Locale, Message, PersonName, Phone, RedirectUrl,
    Roles, UserId,
};

/// What a store holds of an [`Invitation`]: every field, public, to read
/// from and write into its rows. No rule is checked: it is what was
/// recorded, rebuilt with [`Invitation::restore`] and taken apart with
/// [`Invitation::into_parts`]. A new invitation comes from
/// [`Invitation::new`], never from parts.
///
/// ```
/// use rsvp_domain::*;
/// use time::{Duration, OffsetDateTime};
/// use uuid::Uuid;
///
/// let now = OffsetDateTime::UNIX_EPOCH;
/// let request = InvitationInput { email: Some("bob@globex.test".into()), ..Default::default() }
///     .validate()
///     .unwrap();
/// let invitation = Invitation::new(InvitationId::from_uuid(Uuid::from_u128(1)),
///     BusinessId::from_uuid(Uuid::from_u128(2)), UserId::from_uuid(Uuid::from_u128(3)), request, now);
///
/// // A store writes the parts into its row, and reads them back.
/// let row: InvitationParts = invitation.clone().into_parts();
/// assert_eq!(row.status, InvitationStatus::Pending);
/// assert_eq!(Invitation::restore(row.clone()), invitation);
///
/// // A store records a change it was handed (here: the email was sent).
/// let sent = Invitation::restore(InvitationParts { email_delivery: Some(EmailDelivery::Sent), ..row });
/// assert_eq!(sent.email_delivery(), Some(EmailDelivery::Sent));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationParts {
    /// Its id.
    pub id: InvitationId,
    /// The sending business.
    pub business_id: BusinessId,
    /// The sending user.
    pub sent_by_user_id: UserId,
    /// The invited address.
    pub email: EmailAddress,
    /// The stored status.
    pub status: InvitationStatus,
    /// The sender's note.
    pub message: Option<Message>,
    /// The sender's metadata.
    pub custom_data: CustomData,
    /// Roles the connection will carry.
    pub roles: Roles,
    /// Invitee's first name.
    pub first_name: Option<PersonName>,
    /// Invitee's last name.
    pub last_name: Option<PersonName>,
    /// Invitee's phone.
    pub phone: Option<Phone>,
    /// The sender's own reference.
    pub external_id: Option<ExternalId>,
    /// Whether the invitee will share data with the sender.
    pub source_is_invitee: bool,
    /// The invitee's business, once known.
    pub invitee_business_id: Option<BusinessId>,
    /// When it stops being answerable.
    pub expires_at: OffsetDateTime,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
    /// When it reached a terminal status.
    pub resolved_at: Option<OffsetDateTime>,
    /// Fate of its latest email.
    pub email_delivery: Option<EmailDelivery>,
    /// When its link was last (re)sent.
    pub last_sent_at: Option<OffsetDateTime>,
    /// Where the invitee's page sends the invitee after an answer.
    pub redirect_url: Option<RedirectUrl>,
    /// The language of its emails.
    pub locale: Option<Locale>,
}

impl Invitation {
    /// The invitation a store recorded, rebuilt from its parts as they are:
    /// for stores reading a row, never for a new invitation (see
    /// [`new`](Self::new)). No rule is checked.
    pub fn restore(parts: InvitationParts) -> Self {
        Self { parts }
    }

    /// Every field, for a store to write: the inverse of
    /// [`restore`](Self::restore).
    pub fn into_parts(self) -> InvitationParts {
        self.parts
    }

    /// Its id.
    pub fn id(&self) -> InvitationId {
        self.parts.id
    }

    /// The sending business.
    pub fn business_id(&self) -> BusinessId {
        self.parts.business_id
    }

    /// The sending user.
    pub fn sent_by_user_id(&self) -> UserId {
        self.parts.sent_by_user_id
    }

    /// The invited address.
    pub fn email(&self) -> &EmailAddress {
        &self.parts.email
    }

    /// The stored status; read [`status_at`](Self::status_at) for the truth
    /// at a given time.
    pub fn status(&self) -> InvitationStatus {
        self.parts.status
    }

    /// The sender's note.
    pub fn message(&self) -> Option<&Message> {
        self.parts.message.as_ref()
    }

    /// The sender's metadata, shown only to the sender's business.
    pub fn custom_data(&self) -> &CustomData {
        &self.parts.custom_data
    }

    /// Roles the connection will carry.
    pub fn roles(&self) -> &Roles {
        &self.parts.roles
    }

    /// Invitee's first name, if the sender knows it.
    pub fn first_name(&self) -> Option<&PersonName> {
        self.parts.first_name.as_ref()
    }

    /// Invitee's last name.
    pub fn last_name(&self) -> Option<&PersonName> {
        self.parts.last_name.as_ref()
    }

    /// Invitee's phone.
    pub fn phone(&self) -> Option<&Phone> {
        self.parts.phone.as_ref()
    }

    /// The sender's own reference.
    pub fn external_id(&self) -> Option<&ExternalId> {
        self.parts.external_id.as_ref()
    }

    /// Whether the invitee will share data with the sender (`true`) or receive it.
    pub fn source_is_invitee(&self) -> bool {
        self.parts.source_is_invitee
    }

    /// The invitee's business, once known (on an answer, or from the start
    /// when the email belongs to a user). Only the invitee's side may see it
    /// before acceptance.
    pub fn invitee_business_id(&self) -> Option<BusinessId> {
        self.parts.invitee_business_id
    }

    /// When it stops being answerable.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.parts.expires_at
    }

    /// When it was created.
    pub fn created_at(&self) -> OffsetDateTime {
        self.parts.created_at
    }

    /// When it last changed.
    pub fn updated_at(&self) -> OffsetDateTime {
        self.parts.updated_at
    }

    /// When it reached a terminal status.
    pub fn resolved_at(&self) -> Option<OffsetDateTime> {
        self.parts.resolved_at
    }

    /// Fate of its latest email; `None` when created with `send_email: false`.
    pub fn email_delivery(&self) -> Option<EmailDelivery> {
        self.parts.email_delivery
    }

    /// When its link was last (re)sent, for the resend cooldown.
    pub fn last_sent_at(&self) -> Option<OffsetDateTime> {
        self.parts.last_sent_at
    }

    /// Where the invitee's page sends the invitee after an answer.
    pub fn redirect_url(&self) -> Option<&RedirectUrl> {
        self.parts.redirect_url.as_ref()
    }

    /// The language of its emails; `None` for invitations created before
    /// rsvp stored one (the server's default applies).
    pub fn locale(&self) -> Option<Locale> {
        self.parts.locale
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::RawValue;

    fn every_field_set() -> InvitationParts {
        let id = |n| Uuid::from_u128(n);
        InvitationParts {
            id: InvitationId::from_uuid(id(1)),
            business_id: BusinessId::from_uuid(id(2)),
            sent_by_user_id: UserId::from_uuid(id(3)),
            email: EmailAddress::parse("bob@globex.test").unwrap(),
            status: InvitationStatus::Accepted,
            message: Some(Message::parse("Let's trade.").unwrap()),
            custom_data: CustomData::parse(&RawValue::Object(vec![("crm".into(), RawValue::String("7".into()))]))
                .unwrap(),
            roles: Roles::parse(["supplier"]).unwrap(),
            first_name: Some(PersonName::parse("Bob").unwrap()),
            last_name: Some(PersonName::parse("Builder").unwrap()),
            phone: Some(Phone::parse("+49 30 1234567").unwrap()),
            external_id: Some(ExternalId::parse("crm-7").unwrap()),
            source_is_invitee: true,
            invitee_business_id: Some(BusinessId::from_uuid(id(4))),
            expires_at: datetime!(2026-12-14 12:00 UTC),
            created_at: datetime!(2026-11-30 12:00 UTC),
            updated_at: datetime!(2026-12-01 09:00 UTC),
            resolved_at: Some(datetime!(2026-12-01 09:00 UTC)),
            email_delivery: Some(EmailDelivery::Failed),
            last_sent_at: Some(datetime!(2026-11-30 13:00 UTC)),
            redirect_url: Some(RedirectUrl::parse("https://acme.test/welcome").unwrap()),
            locale: Some(Locale::De),
        }
    }

    #[test]
    fn restore_then_into_parts_gives_back_every_field() {
        let parts = every_field_set();
        assert_eq!(Invitation::restore(parts.clone()).into_parts(), parts);
    }

    #[test]
    fn each_accessor_reads_the_restored_field() {
        let parts = every_field_set();
        let invitation = Invitation::restore(parts.clone());
        assert_eq!(invitation.id(), parts.id);
        assert_eq!(invitation.business_id(), parts.business_id);
        assert_eq!(invitation.sent_by_user_id(), parts.sent_by_user_id);
        assert_eq!(invitation.email(), &parts.email);
        assert_eq!(invitation.status(), parts.status);
        assert_eq!(invitation.message(), parts.message.as_ref());
        assert_eq!(invitation.custom_data(), &parts.custom_data);
        assert_eq!(invitation.roles(), &parts.roles);
        assert_eq!(invitation.first_name(), parts.first_name.as_ref());
        assert_eq!(invitation.last_name(), parts.last_name.as_ref());
        assert_eq!(invitation.phone(), parts.phone.as_ref());
        assert_eq!(invitation.external_id(), parts.external_id.as_ref());
        assert_eq!(invitation.source_is_invitee(), parts.source_is_invitee);
        assert_eq!(invitation.invitee_business_id(), parts.invitee_business_id);
        assert_eq!(invitation.expires_at(), parts.expires_at);
        assert_eq!(invitation.created_at(), parts.created_at);
        assert_eq!(invitation.updated_at(), parts.updated_at);
        assert_eq!(invitation.resolved_at(), parts.resolved_at);
        assert_eq!(invitation.email_delivery(), parts.email_delivery);
        assert_eq!(invitation.last_sent_at(), parts.last_sent_at);
        assert_eq!(invitation.redirect_url(), parts.redirect_url.as_ref());
        assert_eq!(invitation.locale(), parts.locale);
    }
}
