//! What the pages say, in English and German.

use std::collections::BTreeMap;

use rsvp_app::Locale;
use rsvp_domain::{InvitationStatus, JoinLinkStatus, OptOutScope};

use super::templates::{JoinView, View};

/// The outcome a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Unknown,
    Expired,
    Cancelled,
    /// The sending business is suspended by the operator.
    Withdrawn,
    AlreadyAnswered(InvitationStatus),
    AcceptedNow,
    DeclinedNow,
    /// The recipient opted out (`declined`: and this declined the invitation).
    OptedOut {
        scope: OptOutScope,
        declined: bool,
    },
    /// Too many failed attempts from the visitor's address (see `throttle`).
    Throttled,
    /// A join link that can no longer be used (used up, expired, revoked).
    JoinUnusable(JoinLinkStatus),
}

pub(super) fn outcome_texts(
    locale: Locale,
    outcome: Outcome,
    sender: &str,
    product: &str,
) -> (BTreeMap<&'static str, String>, &'static str) {
    let (heading, body, icon) = match (locale, outcome) {
        (Locale::En, Outcome::Unknown) => ("This link is not valid".into(), "It may be mistyped, or it was replaced by a newer invitation email. Ask the sender to invite you again.".into(), "?"),
        (Locale::De, Outcome::Unknown) => ("Dieser Link ist ungültig".into(), "Er ist vielleicht unvollständig oder wurde durch eine neuere Einladung ersetzt. Bitten Sie den Absender, Sie erneut einzuladen.".into(), "?"),
        (Locale::En, Outcome::Expired) => ("This invitation has expired".into(), format!("Ask {sender} to send you a new invitation."), "⌛"),
        (Locale::De, Outcome::Expired) => ("Diese Einladung ist abgelaufen".into(), format!("Bitten Sie {sender}, Ihnen eine neue Einladung zu senden."), "⌛"),
        (Locale::En, Outcome::Cancelled) => ("This invitation was withdrawn".into(), format!("{sender} cancelled it. Nothing else to do here."), "✕"),
        (Locale::De, Outcome::Cancelled) => ("Diese Einladung wurde zurückgezogen".into(), format!("{sender} hat sie storniert. Hier ist nichts weiter zu tun."), "✕"),
        (Locale::En, Outcome::Withdrawn) => ("This invitation is no longer available".into(), "The business that sent it can no longer be reached here. Nothing else to do.".into(), "✕"),
        (Locale::De, Outcome::Withdrawn) => ("Diese Einladung ist nicht mehr verfügbar".into(), "Das Unternehmen, das sie gesendet hat, ist hier nicht mehr erreichbar. Hier ist nichts weiter zu tun.".into(), "✕"),
        (Locale::En, Outcome::AlreadyAnswered(InvitationStatus::Accepted)) => ("This invitation was already accepted".into(), format!("Your business is connected with {sender}."), "✓"),
        (Locale::De, Outcome::AlreadyAnswered(InvitationStatus::Accepted)) => ("Diese Einladung wurde bereits angenommen".into(), format!("Ihr Unternehmen ist mit {sender} verbunden."), "✓"),
        (Locale::En, Outcome::AlreadyAnswered(_)) => ("This invitation was already declined".into(), format!("{sender} has been told."), "–"),
        (Locale::De, Outcome::AlreadyAnswered(_)) => ("Diese Einladung wurde bereits abgelehnt".into(), format!("{sender} wurde benachrichtigt."), "–"),
        (Locale::En, Outcome::AcceptedNow) => ("Invitation accepted".into(), format!("Your business is now connected with {sender}."), "✓"),
        (Locale::De, Outcome::AcceptedNow) => ("Einladung angenommen".into(), format!("Ihr Unternehmen ist jetzt mit {sender} verbunden."), "✓"),
        (Locale::En, Outcome::DeclinedNow) => ("Invitation declined".into(), format!("We have let {sender} know. You can close this page."), "–"),
        (Locale::De, Outcome::DeclinedNow) => ("Einladung abgelehnt".into(), format!("Wir haben {sender} informiert. Sie können diese Seite schließen."), "–"),
        (Locale::En, Outcome::OptedOut { scope, declined }) => (
            match scope {
                OptOutScope::Business => format!("You will get no more invitations from {sender}"),
                OptOutScope::Everyone => format!("You will get no more invitations through {product}"),
            },
            if declined { format!("The invitation from {sender} was declined. You can close this page.") } else { "You can close this page.".to_owned() },
            "✓",
        ),
        (Locale::De, Outcome::OptedOut { scope, declined }) => (
            match scope {
                OptOutScope::Business => format!("Sie erhalten keine Einladungen mehr von {sender}"),
                OptOutScope::Everyone => format!("Sie erhalten keine Einladungen mehr über {product}"),
            },
            if declined { format!("Die Einladung von {sender} wurde abgelehnt. Sie können diese Seite schließen.") } else { "Sie können diese Seite schließen.".to_owned() },
            "✓",
        ),
        // `sender` carries the wait in seconds here.
        (Locale::En, Outcome::Throttled) => ("Too many attempts".into(), format!("Too many invalid links were opened from your network. Please try again in {sender} seconds."), "…"),
        (Locale::De, Outcome::Throttled) => ("Zu viele Versuche".into(), format!("Aus Ihrem Netzwerk wurden zu viele ungültige Links geöffnet. Bitte versuchen Sie es in {sender} Sekunden erneut."), "…"),
        (_, Outcome::JoinUnusable(status)) => {
            let (heading, body) = join_outcome_texts(locale, status, sender);
            (heading, body, "✕")
        }
    };
    let mut texts = BTreeMap::new();
    texts.insert("heading", heading);
    texts.insert("body", body);
    texts.insert("continue", continue_text(locale).to_owned());
    (texts, icon)
}

fn continue_text(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "Continue",
        Locale::De => "Weiter",
    }
}

/// The opt-out texts, shared by the pending page and the opt-out page.
pub(super) fn opt_out_texts(locale: Locale, view: &View, product: &str, texts: &mut BTreeMap<&'static str, String>) {
    let sender = view.sender_business.as_str();
    let email = view.invitee_email.as_str();
    let pairs: [(&'static str, String); 5] = match locale {
        Locale::En => [
            ("optout_heading", "Don't want invitations like this?".to_owned()),
            (
                "optout_intro",
                format!("Stop invitations to {email}. Either choice also declines this invitation."),
            ),
            ("optout_business", format!("Block invitations from {sender}")),
            ("optout_everyone", format!("Block all invitations through {product}")),
            ("optout_title", format!("Stop invitations to {email}")),
        ],
        Locale::De => [
            ("optout_heading", "Keine solchen Einladungen mehr?".to_owned()),
            (
                "optout_intro",
                format!("Einladungen an {email} stoppen. Beide Möglichkeiten lehnen auch diese Einladung ab."),
            ),
            ("optout_business", format!("Einladungen von {sender} blockieren")),
            ("optout_everyone", format!("Alle Einladungen über {product} blockieren")),
            ("optout_title", format!("Einladungen an {email} stoppen")),
        ],
    };
    texts.extend(pairs);
}

pub(super) fn pending_texts(locale: Locale, view: &View, product: &str) -> BTreeMap<&'static str, String> {
    let sender = view.sender_business.as_str();
    let email = view.invitee_email.as_str();
    let expires = locale.format_date(view.expires_at);
    let roles = view.roles.join(", ");
    let (intro, accepting_data, new_account) = match locale {
        Locale::En => (
            match &view.sender_user {
                Some(user) => format!("{user} at {sender} invited {email} to connect your business with {sender}."),
                None => format!("{sender} invited {email} to connect your business with {sender}."),
            },
            if view.source_is_invitee {
                format!("Your business will share its data with {sender}.")
            } else {
                format!("{sender} will share its data with your business.")
            },
            format!("A business account on {product} is created for {email}, with the name you enter below."),
        ),
        Locale::De => (
            match &view.sender_user {
                Some(user) => {
                    format!("{user} von {sender} hat {email} eingeladen, Ihr Unternehmen mit {sender} zu vernetzen.")
                }
                None => format!("{sender} hat {email} eingeladen, Ihr Unternehmen mit {sender} zu vernetzen."),
            },
            if view.source_is_invitee {
                format!("Ihr Unternehmen teilt seine Daten mit {sender}.")
            } else {
                format!("{sender} teilt seine Daten mit Ihrem Unternehmen.")
            },
            format!(
                "Für {email} wird ein Unternehmenskonto auf {product} angelegt, mit dem Namen, den Sie unten eingeben."
            ),
        ),
    };
    let pairs: [(&'static str, String); 14] = match locale {
        Locale::En => [
            ("heading", format!("{sender} invites your business to connect")),
            ("intro", intro),
            ("sent_to", format!("Sent to {email}")),
            ("roles", format!("Roles offered: {roles}")),
            ("accepting_heading", "What accepting does".into()),
            (
                "accepting",
                format!("Your business and {sender} are connected on {product}. {accepting_data}"),
            ),
            ("new_account", new_account),
            (
                "declining",
                format!("Declining lets {sender} know you are not interested; nothing else happens."),
            ),
            ("expires", format!("This invitation expires on {expires} (UTC).")),
            ("business_name", "Your business's name".into()),
            ("first_name", "Your first name".into()),
            ("last_name", "Your last name".into()),
            ("accept", "Accept".into()),
            ("decline", "Decline".into()),
        ],
        Locale::De => [
            ("heading", format!("{sender} lädt Ihr Unternehmen zur Vernetzung ein")),
            ("intro", intro),
            ("sent_to", format!("Gesendet an {email}")),
            ("roles", format!("Angebotene Rollen: {roles}")),
            ("accepting_heading", "Was das Annehmen bewirkt".into()),
            (
                "accepting",
                format!("Ihr Unternehmen und {sender} werden auf {product} verbunden. {accepting_data}"),
            ),
            ("new_account", new_account),
            (
                "declining",
                format!("Wenn Sie ablehnen, erfährt {sender}, dass Sie kein Interesse haben; sonst geschieht nichts."),
            ),
            ("expires", format!("Diese Einladung läuft am {expires} (UTC) ab.")),
            ("business_name", "Name Ihres Unternehmens".into()),
            ("first_name", "Ihr Vorname".into()),
            ("last_name", "Ihr Nachname".into()),
            ("accept", "Annehmen".into()),
            ("decline", "Ablehnen".into()),
        ],
    };
    let mut texts: BTreeMap<&'static str, String> = pairs.into_iter().collect();
    opt_out_texts(locale, view, product, &mut texts);
    texts
}

/// A field error in words for the invitee (the API's messages are for developers).
pub(super) fn form_error(locale: Locale, field: &str, code: &str) -> String {
    let limit = if field == "business_name" { 200 } else { 100 };
    match (locale, code) {
        (Locale::En, "required") if field == "business_name" => "Please enter your business's name.".to_owned(),
        (Locale::De, "required") if field == "business_name" => {
            "Bitte geben Sie den Namen Ihres Unternehmens ein.".to_owned()
        }
        (Locale::En, "too_long") => format!("Please use at most {limit} characters."),
        (Locale::De, "too_long") => format!("Bitte verwenden Sie höchstens {limit} Zeichen."),
        (Locale::En, "invalid_characters") => "Please remove the special characters.".to_owned(),
        (Locale::De, "invalid_characters") => "Bitte entfernen Sie die Sonderzeichen.".to_owned(),
        (Locale::En, _) => "Please check this field.".to_owned(),
        (Locale::De, _) => "Bitte prüfen Sie dieses Feld.".to_owned(),
    }
}

/// What the join link page says: who the link connects with, the roles, the
/// approval, the expiry, and how to go on.
pub(super) fn join_texts(locale: Locale, join: &JoinView, product: &str) -> BTreeMap<&'static str, String> {
    let business = join.business.as_str();
    let roles = join.roles.join(", ");
    let expires = locale.format_date(join.expires_at);
    let pairs: [(&'static str, String); 7] = match locale {
        Locale::En => [
            (
                "heading",
                format!("{business} invites businesses to connect on {product}"),
            ),
            (
                "body",
                if join.can_continue {
                    format!("Continue to connect your business with {business}.")
                } else {
                    format!(
                        "To connect your business with {business}, give this link to whoever runs your business's account on {product}."
                    )
                },
            ),
            ("roles", format!("Roles offered: {roles}")),
            (
                "approval",
                if join.requires_approval {
                    format!("{business} approves each business that asks to connect.")
                } else {
                    "Your business is connected as soon as it uses the link.".to_owned()
                },
            ),
            ("expires", format!("This link works until {expires} (UTC).")),
            ("continue", continue_text(locale).to_owned()),
            ("title", format!("Connect with {business}")),
        ],
        Locale::De => [
            (
                "heading",
                format!("{business} lädt Unternehmen zur Vernetzung auf {product} ein"),
            ),
            (
                "body",
                if join.can_continue {
                    format!("Fahren Sie fort, um Ihr Unternehmen mit {business} zu vernetzen.")
                } else {
                    format!(
                        "Um Ihr Unternehmen mit {business} zu vernetzen, geben Sie diesen Link an die Person weiter, die das Konto Ihres Unternehmens auf {product} verwaltet."
                    )
                },
            ),
            ("roles", format!("Angebotene Rollen: {roles}")),
            (
                "approval",
                if join.requires_approval {
                    format!("{business} bestätigt jedes Unternehmen, das sich vernetzen möchte.")
                } else {
                    "Ihr Unternehmen wird verbunden, sobald es den Link verwendet.".to_owned()
                },
            ),
            ("expires", format!("Dieser Link gilt bis {expires} (UTC).")),
            ("continue", continue_text(locale).to_owned()),
            ("title", format!("Mit {business} vernetzen")),
        ],
    };
    pairs.into_iter().collect()
}

/// The outcome of a join link that cannot be used.
pub(super) fn join_outcome_texts(locale: Locale, status: JoinLinkStatus, business: &str) -> (String, String) {
    match (locale, status) {
        (Locale::En, JoinLinkStatus::UsedUp) => (
            "This link has been used up".into(),
            format!("Every use of it is taken. Ask {business} for a new link."),
        ),
        (Locale::De, JoinLinkStatus::UsedUp) => (
            "Dieser Link ist aufgebraucht".into(),
            format!("Alle Verwendungen sind vergeben. Bitten Sie {business} um einen neuen Link."),
        ),
        (Locale::En, JoinLinkStatus::Expired) => (
            "This link has expired".into(),
            format!("Ask {business} for a new link."),
        ),
        (Locale::De, JoinLinkStatus::Expired) => (
            "Dieser Link ist abgelaufen".into(),
            format!("Bitten Sie {business} um einen neuen Link."),
        ),
        (Locale::En, _) => (
            "This link was withdrawn".into(),
            "It can no longer be used. Nothing else to do here.".into(),
        ),
        (Locale::De, _) => (
            "Dieser Link wurde zurückgezogen".into(),
            "Er kann nicht mehr verwendet werden. Hier ist nichts weiter zu tun.".into(),
        ),
    }
}
