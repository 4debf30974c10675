//! A create request: [`InvitationInput`] as it arrives, [`InvitationRequest`]
//! once every rule holds.

use crate::{
    CustomData, EmailAddress, ExpiryDays, ExternalId, FieldError, Locale, Message, PersonName, Phone, RawValue,
    RedirectUrl, Roles, ValidationErrors,
};

/// An unchecked create request, as an adapter received it. Every field is
/// optional here so that missing ones are reported with the others.
///
/// Optional text fields that are empty or only whitespace count as absent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InvitationInput {
    /// Required: the invited address.
    pub email: Option<String>,
    /// At most 1000 characters.
    pub message: Option<String>,
    /// See [`CustomData`].
    pub custom_data: Option<RawValue>,
    /// See [`Roles`].
    pub roles: Option<Vec<String>>,
    /// Invitee's first name.
    pub first_name: Option<String>,
    /// Invitee's last name.
    pub last_name: Option<String>,
    /// Invitee's phone.
    pub phone: Option<String>,
    /// Sender's reference, at most 255 characters.
    pub external_id: Option<String>,
    /// Default `false`.
    pub source_is_invitee: Option<bool>,
    /// 1..=90, default 14.
    pub expires_in_days: Option<i64>,
    /// Default `true`.
    pub send_email: Option<bool>,
    /// Where the page sends the invitee after an answer (its origin is
    /// checked against the allowed ones by the application).
    pub redirect_url: Option<String>,
    /// `en` or `de`; the server's default when absent.
    pub locale: Option<String>,
}

/// A create request in which every field holds.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationRequest {
    /// The invited address.
    pub email: EmailAddress,
    /// The sender's note.
    pub message: Option<Message>,
    /// The sender's metadata.
    pub custom_data: CustomData,
    /// Roles for the connection.
    pub roles: Roles,
    /// Invitee's first name.
    pub first_name: Option<PersonName>,
    /// Invitee's last name.
    pub last_name: Option<PersonName>,
    /// Invitee's phone.
    pub phone: Option<Phone>,
    /// Sender's reference.
    pub external_id: Option<ExternalId>,
    /// Whether the invitee shares data with the sender.
    pub source_is_invitee: bool,
    /// How long it stays open.
    pub expires_in: ExpiryDays,
    /// Whether to email the link.
    pub send_email: bool,
    /// Where the page sends the invitee after an answer.
    pub redirect_url: Option<RedirectUrl>,
    /// The language of the emails; `None`: the server's default.
    pub locale: Option<Locale>,
}

fn optional_text<T>(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, FieldError>,
) -> Option<T> {
    match value {
        Some(text) if !text.trim().is_empty() => errors.collect(field, parse(text)),
        _ => None,
    }
}

/// `custom_data` of a request: empty when absent or null, else parsed, its
/// errors collected.
pub(crate) fn custom_data_field(errors: &mut ValidationErrors, raw: Option<&RawValue>) -> Option<CustomData> {
    match raw {
        None | Some(RawValue::Null) => Some(CustomData::empty()),
        Some(raw) => match CustomData::parse(raw) {
            Ok(data) => Some(data),
            Err(found) => {
                for error in found.into_vec() {
                    errors.push(error);
                }
                None
            }
        },
    }
}

/// `roles` of a request: none when absent, else parsed, its errors
/// collected under `roles`.
pub(crate) fn roles_field(errors: &mut ValidationErrors, items: Option<&[String]>) -> Option<Roles> {
    match items {
        None => Some(Roles::empty()),
        Some(items) => match Roles::parse(items) {
            Ok(roles) => Some(roles),
            Err(found) => {
                for error in found {
                    errors.push(error.under("roles"));
                }
                None
            }
        },
    }
}

impl InvitationInput {
    /// Checks every field and reports every invalid one at once, with field
    /// paths such as `email`, `custom_data.key1` or `roles.2`.
    ///
    /// ```
    /// use rsvp_domain::InvitationInput;
    ///
    /// let errors = InvitationInput {
    ///     email: Some("not-an-email".into()),
    ///     message: Some("x".repeat(1001)),
    ///     expires_in_days: Some(0),
    ///     ..Default::default()
    /// }
    /// .validate()
    /// .unwrap_err();
    /// let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
    /// assert_eq!(fields, ["email", "message", "expires_in_days"]);
    /// ```
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self) -> Result<InvitationRequest, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let email = match &self.email {
            Some(email) => errors.collect("email", EmailAddress::parse(email)),
            None => {
                errors.push(FieldError::new("email", "required", "email is required"));
                None
            }
        };
        let message = optional_text(&mut errors, "message", self.message.as_deref(), Message::parse);
        let custom_data = custom_data_field(&mut errors, self.custom_data.as_ref());
        let roles = roles_field(&mut errors, self.roles.as_deref());
        let first_name = optional_text(&mut errors, "first_name", self.first_name.as_deref(), PersonName::parse);
        let last_name = optional_text(&mut errors, "last_name", self.last_name.as_deref(), PersonName::parse);
        let phone = optional_text(&mut errors, "phone", self.phone.as_deref(), Phone::parse);
        let external_id = optional_text(
            &mut errors,
            "external_id",
            self.external_id.as_deref(),
            ExternalId::parse,
        );
        let redirect_url = optional_text(
            &mut errors,
            "redirect_url",
            self.redirect_url.as_deref(),
            RedirectUrl::parse,
        );
        let locale = optional_text(&mut errors, "locale", self.locale.as_deref(), Locale::parse);
        let expires_in = match self.expires_in_days {
            None => Some(ExpiryDays::default()),
            Some(days) => errors.collect("expires_in_days", ExpiryDays::new(days)),
        };
        match (email, custom_data, roles, expires_in) {
            (Some(email), Some(custom_data), Some(roles), Some(expires_in)) if errors.is_empty() => {
                Ok(InvitationRequest {
                    email,
                    message,
                    custom_data,
                    roles,
                    first_name,
                    last_name,
                    phone,
                    external_id,
                    source_is_invitee: self.source_is_invitee.unwrap_or(false),
                    expires_in,
                    send_email: self.send_email.unwrap_or(true),
                    redirect_url,
                    locale,
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_with_only_an_email_gets_the_defaults() {
        let request = InvitationInput {
            email: Some(" Bob@Globex.test ".into()),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(request.email.normalized(), "bob@globex.test");
        assert_eq!(request.expires_in.days(), 14);
        assert!(request.send_email);
        assert!(!request.source_is_invitee);
        assert!(request.custom_data.is_empty() && request.roles.is_empty());
    }

    #[test]
    fn validation_reports_every_invalid_field_at_once() {
        let input = InvitationInput {
            email: None,
            message: Some("m".repeat(1001)),
            custom_data: Some(RawValue::Object(vec![("key1".into(), RawValue::Null)])),
            roles: Some(vec!["ok".into(), "bad role".into()]),
            first_name: Some("A\u{7}".into()),
            last_name: Some("n".repeat(101)),
            phone: Some("12".into()),
            external_id: Some("e".repeat(256)),
            source_is_invitee: None,
            expires_in_days: Some(91),
            send_email: None,
            redirect_url: Some("ftp://x".into()),
            locale: Some("fr".into()),
        };
        let fields: Vec<String> = input
            .validate()
            .unwrap_err()
            .into_vec()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "email",
                "message",
                "custom_data.key1",
                "roles.1",
                "first_name",
                "last_name",
                "phone",
                "external_id",
                "redirect_url",
                "locale",
                "expires_in_days"
            ]
        );
    }

    #[test]
    fn blank_optional_text_counts_as_absent() {
        let request = InvitationInput {
            email: Some("a@b.test".into()),
            message: Some("   ".into()),
            first_name: Some(String::new()),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(request.message, None);
        assert_eq!(request.first_name, None);
    }
}
