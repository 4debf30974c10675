//! The invitee's page, `GET /invite/{token}`: server-rendered HTML (minijinja,
//! escaping every value), Accept and Decline as plain form posts that work
//! without JavaScript, English or German by `Accept-Language`, no external
//! assets. The token in the URL is the credential: the page is sent with
//! `Referrer-Policy: no-referrer` and `Cache-Control: no-store` so it leaks
//! nowhere.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt as _;
use minijinja::{Environment, context};
use rsvp_app::{AcceptLinkInput, AppError, LinkPreview, Locale};
use rsvp_domain::InvitationStatus;
use time::OffsetDateTime;

const FORM_LIMIT: usize = 16 * 1024;

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // `.html` templates are auto-escaped by minijinja's default callback.
        env.add_template("invite.html", include_str!("../templates/invite.html"))
            .unwrap_or_else(|e| panic!("the built-in invite.html template is invalid: {e}"));
        env
    })
}

fn locale(req: &HttpRequest) -> Locale {
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Locale::from_accept_language)
        .unwrap_or_default()
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_DE: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];

fn date(locale: Locale, t: OffsetDateTime) -> String {
    let month = usize::from(u8::from(t.month())) - 1;
    match locale {
        Locale::En => format!("{} {} {}", t.day(), MONTHS_EN[month], t.year()),
        Locale::De => format!("{}. {} {}", t.day(), MONTHS_DE[month], t.year()),
    }
}

/// The outcome a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Unknown,
    Expired,
    Cancelled,
    /// The sending business is suspended by the operator.
    Withdrawn,
    AlreadyAnswered(InvitationStatus),
    AcceptedNow,
    DeclinedNow,
    /// Too many failed attempts from the visitor's address (see `throttle`).
    Throttled,
}

fn outcome_texts(locale: Locale, outcome: Outcome, sender: &str) -> (BTreeMap<&'static str, String>, &'static str) {
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
        // `sender` carries the wait in seconds here.
        (Locale::En, Outcome::Throttled) => ("Too many attempts".into(), format!("Too many invalid links were opened from your network. Please try again in {sender} seconds."), "…"),
        (Locale::De, Outcome::Throttled) => ("Zu viele Versuche".into(), format!("Aus Ihrem Netzwerk wurden zu viele ungültige Links geöffnet. Bitte versuchen Sie es in {sender} Sekunden erneut."), "…"),
    };
    let mut texts = BTreeMap::new();
    texts.insert("heading", heading);
    texts.insert("body", body);
    (texts, icon)
}

fn pending_texts(locale: Locale, preview: &LinkPreview) -> BTreeMap<&'static str, String> {
    let sender = preview.sender.name.as_str();
    let expires = date(locale, preview.invitation.expires_at);
    let pairs: [(&'static str, String); 8] = match locale {
        Locale::En => [
            ("heading", format!("{sender} invites your business to connect")),
            (
                "intro",
                format!("{sender} would like to add your business to its network on rsvp."),
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
            (
                "intro",
                format!("{sender} möchte Ihr Unternehmen seinem Netzwerk auf rsvp hinzufügen."),
            ),
            ("expires", format!("Diese Einladung läuft am {expires} (UTC) ab.")),
            ("business_name", "Name Ihres Unternehmens".into()),
            ("first_name", "Ihr Vorname".into()),
            ("last_name", "Ihr Nachname".into()),
            ("accept", "Annehmen".into()),
            ("decline", "Ablehnen".into()),
        ],
    };
    pairs.into_iter().collect()
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .body(body)
}

fn render(ctx: minijinja::Value) -> String {
    environment()
        .get_template("invite.html")
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "invite page failed to render");
            "<!doctype html><title>rsvp</title><p>Something went wrong.</p>".to_owned()
        })
}

fn outcome_page(locale: Locale, outcome: Outcome, sender: &str) -> HttpResponse {
    let (t, icon) = outcome_texts(locale, outcome, sender);
    let status = match outcome {
        Outcome::Unknown => StatusCode::NOT_FOUND,
        Outcome::Expired | Outcome::Cancelled | Outcome::Withdrawn => StatusCode::GONE,
        Outcome::AlreadyAnswered(_) => StatusCode::CONFLICT,
        Outcome::AcceptedNow | Outcome::DeclinedNow => StatusCode::OK,
        Outcome::Throttled => StatusCode::TOO_MANY_REQUESTS,
    };
    html(
        status,
        render(
            context! { lang => locale.as_str(), title => t.get("heading").cloned().unwrap_or_default(), state => "outcome", t => t, icon => icon },
        ),
    )
}

fn outcome_of(status: InvitationStatus) -> Option<Outcome> {
    match status {
        InvitationStatus::Pending => None,
        InvitationStatus::Expired => Some(Outcome::Expired),
        InvitationStatus::Cancelled => Some(Outcome::Cancelled),
        answered => Some(Outcome::AlreadyAnswered(answered)),
    }
}

/// A field error in words for the invitee (the API's messages are for developers).
fn form_error(locale: Locale, field: &str, code: &str) -> String {
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

#[derive(Default)]
struct FormState {
    business_name: String,
    first_name: String,
    last_name: String,
    errors: BTreeMap<String, String>,
}

fn pending_page(
    locale: Locale,
    token: &str,
    preview: &LinkPreview,
    form: &FormState,
    status: StatusCode,
) -> HttpResponse {
    let t = pending_texts(locale, preview);
    html(
        status,
        render(context! {
            lang => locale.as_str(),
            title => t.get("heading").cloned().unwrap_or_default(),
            state => "pending",
            t => t,
            token => token,
            message => preview.invitation.message.as_ref().map(ToString::to_string),
            invitee_known => preview.invitee_known,
            business_name => form.business_name.clone(),
            first_name => form.first_name.clone(),
            last_name => form.last_name.clone(),
            errors => form.errors.clone(),
        }),
    )
}

async fn page_for_error(state: &crate::HttpState, locale: Locale, token: &str, error: AppError) -> HttpResponse {
    match error {
        AppError::InvalidTransition { current } => {
            let sender = match state.app.preview_link(token).await {
                Ok(preview) => preview.sender.name.to_string(),
                Err(_) => String::new(),
            };
            outcome_page(locale, outcome_of(current).unwrap_or(Outcome::Unknown), &sender)
        }
        AppError::NotFound => outcome_page(locale, Outcome::Unknown, ""),
        AppError::SenderSuspended => outcome_page(locale, Outcome::Withdrawn, ""),
        other => {
            tracing::error!(error = %other, "invite page failed");
            let mut page = outcome_page(locale, Outcome::Unknown, "");
            *page.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            page.headers_mut()
                .insert(header::RETRY_AFTER, crate::problem::UNAVAILABLE_RETRY_AFTER_SECS.into());
            page
        }
    }
}

/// `GET /invite/{token}`
pub async fn show(state: web::Data<crate::HttpState>, token: web::Path<String>, req: HttpRequest) -> HttpResponse {
    let locale = locale(&req);
    match state.app.preview_link(&token).await {
        Ok(preview) => match outcome_of(preview.invitation.status) {
            None => pending_page(locale, &token, &preview, &FormState::default(), StatusCode::OK),
            Some(outcome) => outcome_page(locale, outcome, preview.sender.name.as_str()),
        },
        Err(error) => page_for_error(&state, locale, &token, error).await,
    }
}

/// Why a form body was not read: the page says so and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FormRefusal {
    /// Over [`FORM_LIMIT`]: 413.
    TooLarge,
    /// Not UTF-8 `application/x-www-form-urlencoded`, or a broken stream: 422.
    Unreadable,
}

impl FormRefusal {
    fn status(self) -> StatusCode {
        match self {
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unreadable => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    fn text(self, locale: Locale) -> &'static str {
        match (locale, self) {
            (Locale::En, Self::TooLarge) => "What you typed is too long to be read. Please shorten it and try again.",
            (Locale::De, Self::TooLarge) => {
                "Ihre Eingabe ist zu lang, um gelesen zu werden. Bitte kürzen Sie sie und versuchen Sie es erneut."
            }
            (Locale::En, Self::Unreadable) => "What you sent could not be read. Please try again.",
            (Locale::De, Self::Unreadable) => {
                "Ihre Eingabe konnte nicht gelesen werden. Bitte versuchen Sie es erneut."
            }
        }
    }
}

/// Reads the accept form. A body that is too large or cannot be read is
/// refused whole: accepting with the typed fields silently dropped would
/// record something the invitee did not say.
async fn read_form(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<(String, String)>, FormRefusal> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > FORM_LIMIT) {
        return Err(FormRefusal::TooLarge);
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| FormRefusal::Unreadable)?;
        if body.len() + chunk.len() > FORM_LIMIT {
            return Err(FormRefusal::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let form_media_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !form_media_type {
        return Err(FormRefusal::Unreadable);
    }
    let text = std::str::from_utf8(&body).map_err(|_| FormRefusal::Unreadable)?;
    web::Query::<Vec<(String, String)>>::from_query(text)
        .map(|q| q.into_inner())
        .map_err(|_| FormRefusal::Unreadable)
}

/// `POST /invite/{token}/accept` (a form post)
pub async fn accept(
    state: web::Data<crate::HttpState>,
    token: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let locale = locale(&req);
    let fields = match read_form(&req, payload).await {
        Ok(fields) => fields,
        Err(refusal) => return refused_form_page(&state, locale, &token, refusal).await,
    };
    let field = |name: &str| fields.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let input = AcceptLinkInput {
        business_name: field("business_name"),
        first_name: field("first_name"),
        last_name: field("last_name"),
    };
    match state.app.accept_link(&token, input.clone()).await {
        Ok(outcome) => {
            state.metrics.observe_transition(outcome.invitation.status.as_str());
            let sender = state
                .app
                .preview_link(&token)
                .await
                .map(|p| p.sender.name.to_string())
                .unwrap_or_default();
            outcome_page(locale, Outcome::AcceptedNow, &sender)
        }
        Err(AppError::Validation(errors)) => match state.app.preview_link(&token).await {
            Ok(preview) => {
                let form = FormState {
                    business_name: input.business_name.unwrap_or_default(),
                    first_name: input.first_name.unwrap_or_default(),
                    last_name: input.last_name.unwrap_or_default(),
                    errors: errors
                        .into_vec()
                        .into_iter()
                        .map(|e| {
                            let text = form_error(locale, &e.field, &e.code);
                            (e.field, text)
                        })
                        .collect(),
                };
                pending_page(locale, &token, &preview, &form, StatusCode::UNPROCESSABLE_ENTITY)
            }
            Err(error) => page_for_error(&state, locale, &token, error).await,
        },
        Err(error) => page_for_error(&state, locale, &token, error).await,
    }
}

/// The page again, unchanged, saying why the form was not read.
async fn refused_form_page(
    state: &crate::HttpState,
    locale: Locale,
    token: &str,
    refusal: FormRefusal,
) -> HttpResponse {
    match state.app.preview_link(token).await {
        Ok(preview) if preview.invitation.status == InvitationStatus::Pending => {
            let mut form = FormState::default();
            form.errors.insert("form".to_owned(), refusal.text(locale).to_owned());
            pending_page(locale, token, &preview, &form, refusal.status())
        }
        Ok(preview) => outcome_page(
            locale,
            outcome_of(preview.invitation.status).unwrap_or(Outcome::Unknown),
            preview.sender.name.as_str(),
        ),
        Err(error) => page_for_error(state, locale, token, error).await,
    }
}

/// `POST /invite/{token}/decline` (a form post)
pub async fn decline(state: web::Data<crate::HttpState>, token: web::Path<String>, req: HttpRequest) -> HttpResponse {
    let locale = locale(&req);
    match state.app.decline_link(&token).await {
        Ok(invitation) => {
            state.metrics.observe_transition(invitation.status.as_str());
            let sender = state
                .app
                .preview_link(&token)
                .await
                .map(|p| p.sender.name.to_string())
                .unwrap_or_default();
            outcome_page(locale, Outcome::DeclinedNow, &sender)
        }
        Err(error) => page_for_error(&state, locale, &token, error).await,
    }
}

/// The 429 page of a visitor whose address made too many failed attempts
/// (`throttle` adds `Retry-After` and the `RateLimit` fields).
pub(crate) fn too_many_requests(req: &HttpRequest, retry_after_secs: u64) -> HttpResponse {
    outcome_page(locale(req), Outcome::Throttled, &retry_after_secs.to_string())
}
