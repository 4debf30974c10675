//! The invitee's page, `GET /invite/{token}`: server-rendered HTML (minijinja,
//! escaping every value), Accept and Decline as plain form posts that work
//! without JavaScript, English or German by `Accept-Language`, no external
//! assets but the operator's logo. The token in the URL is the credential:
//! the page is sent with `Referrer-Policy: no-referrer` and `Cache-Control:
//! no-store` so it leaks nowhere.
//!
//! It says who invites (person and business), which address, the roles
//! offered and what accepting does; after an answer it offers "Continue" to
//! the invitation's `redirect_url`. `/unsubscribe/{token}` is the opt-out:
//! `GET` shows the choice (block this business, or everyone on this
//! service), `POST` records it — from the page's form (`scope=business` or
//! `scope=everyone`) or from a mailbox provider's RFC 8058 one-click POST
//! (`List-Unsubscribe=One-Click`, which blocks the inviting business).
//!
//! The template (`invite.html`) can be replaced from `RSVP_TEMPLATES_DIR`
//! ([`PageTemplates::from_dir`]), checked when loaded.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt as _;
use minijinja::{Value, context};
use rsvp_app::{AcceptLinkInput, AppError, Branding, LinkPreview, Locale};
use rsvp_domain::{Invitation, InvitationStatus, OptOutScope};
use rsvp_templates::{TemplateError, TemplateFile, Templates};
use time::OffsetDateTime;

const FORM_LIMIT: usize = 16 * 1024;

/// The page's template file: `invite.html`.
pub const PAGE_TEMPLATE: &str = "invite.html";

const FILES: [TemplateFile; 1] = [TemplateFile {
    name: PAGE_TEMPLATE,
    builtin: include_str!("../templates/invite.html"),
}];

/// The invitee page's template: built in, or replaced by an operator's
/// `invite.html` (see the variables below), checked when loaded so that a
/// broken template stops start-up instead of failing visitors.
///
/// # Template variables
///
/// | variable | value |
/// |---|---|
/// | `lang` | `en` or `de` (from `Accept-Language`) |
/// | `state` | `pending` (the invitation and its forms), `outcome` (a result), `optout` (the opt-out choice) |
/// | `title` | the page title |
/// | `t` | the page's texts in the visitor's language (`t.heading`, `t.intro`, `t.accept`, ...) |
/// | `token` | the link token, for the form actions (`/invite/{token}/accept`, `/invite/{token}/decline`, `/unsubscribe/{token}`) |
/// | `sender_business`, `sender_user`, `invitee_email` | who invites, and whom |
/// | `roles` | the roles offered (a list, maybe empty) |
/// | `message` | the sender's note, or none |
/// | `invitee_known` | whether the address has a business already (else the accept form asks for its name) |
/// | `business_name`, `first_name`, `last_name`, `errors` | the accept form's values and errors |
/// | `icon` | a symbol for the outcome |
/// | `continue_url` | "Continue" after an answer (the invitation's `redirect_url` with the outcome), or none |
/// | `product_name`, `brand_color`, `brand_text`, `logo_url` | the operator's brand; `brand_text` is black or white, whichever reads better on `brand_color` |
///
/// Every value is HTML-escaped.
pub struct PageTemplates {
    templates: Templates,
}

impl std::fmt::Debug for PageTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageTemplates")
            .field("overridden", &self.templates.overridden())
            .finish()
    }
}

impl Default for PageTemplates {
    fn default() -> Self {
        Self::builtin()
    }
}

impl PageTemplates {
    /// The built-in page.
    #[allow(
        clippy::expect_used,
        reason = "the built-in template is a constant checked by the tests"
    )]
    pub fn builtin() -> Self {
        Templates::builtin(&FILES)
            .and_then(Self::checked)
            .expect("the built-in page template is valid")
    }

    /// The page from `dir/invite.html` when there is one (else built in).
    /// Other files of `dir` named `invite.*` are refused as typos; the
    /// emails' `invitation.*` files are left alone.
    ///
    /// # Errors
    /// [`TemplateError`] naming the file: unreadable, unknown, does not
    /// compile, fails to render with sample values, or leaves out the
    /// accept form (`action="/invite/{{ token }}/accept"`).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, TemplateError> {
        Self::checked(Templates::load(dir.as_ref(), &["invite."], &FILES)?)
    }

    /// The names of the templates read from the directory, for a start-up log line.
    pub fn overridden(&self) -> &[String] {
        self.templates.overridden()
    }

    /// Renders every state with sample values, in both languages, plain
    /// and branded.
    fn checked(templates: Templates) -> Result<Self, TemplateError> {
        let pages = Self { templates };
        let plain = Branding::default();
        let branded =
            Branding::new("Sample Network", Some("#0f766e"), Some("https://cdn.example/logo.png")).unwrap_or_default();
        for locale in Locale::ALL {
            for (full, brand) in [(true, &branded), (false, &plain)] {
                let view = View::sample(full);
                let form = FormState::default();
                let pending = pending_context(locale, brand, "sample-token", &view, &form);
                pages.templates.check(PAGE_TEMPLATE, &pending, |out| {
                    (!out.contains("/invite/sample-token/accept")).then(|| {
                        "the pending page has no accept form (action=\"/invite/{{ token }}/accept\")".to_owned()
                    })
                })?;
                let continue_url = full.then(|| "https://app.example/next?status=accepted".to_owned());
                let outcome = outcome_context(locale, brand, Outcome::AcceptedNow, &view.sender_business, continue_url);
                pages.templates.check(PAGE_TEMPLATE, &outcome, |_| None)?;
                let choice = opt_out_context(locale, brand, "sample-token", &view);
                pages.templates.check(PAGE_TEMPLATE, &choice, |_| None)?;
            }
        }
        Ok(pages)
    }

    fn render(&self, ctx: &Value) -> String {
        self.templates.render(PAGE_TEMPLATE, ctx).unwrap_or_else(|e| {
            tracing::error!(error = %e, "invite page failed to render");
            "<!doctype html><html lang=\"en\"><title>Error</title><main><p>Something went wrong.</p></main></html>"
                .to_owned()
        })
    }
}

fn builtin_pages() -> &'static PageTemplates {
    static PAGES: OnceLock<PageTemplates> = OnceLock::new();
    PAGES.get_or_init(PageTemplates::builtin)
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

/// The default colour of buttons (indigo 600: 6.3:1 on white).
const DEFAULT_BRAND_COLOR: &str = "#4f46e5";

/// WCAG relative luminance of `#rrggbb`.
fn luminance(color: &str) -> f64 {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(color.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0)) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
}

/// Black or white text, whichever contrasts more with `background`.
fn text_on(background: &str) -> &'static str {
    let l = luminance(background);
    let against_white = 1.05 / (l + 0.05);
    let against_black = (l + 0.05) / 0.05;
    if against_white >= against_black {
        "#ffffff"
    } else {
        "#111827"
    }
}

/// The brand's variables of every page.
fn brand_values(brand: &Branding) -> Value {
    let color = brand.brand_color().unwrap_or(DEFAULT_BRAND_COLOR);
    context! {
        product_name => brand.product_name(),
        brand_color => color,
        brand_text => text_on(color),
        logo_url => brand.logo_url(),
    }
}

/// What the pages say about an invitation, taken from a [`LinkPreview`].
#[derive(Debug, Clone)]
struct View {
    sender_business: String,
    sender_user: Option<String>,
    invitee_email: String,
    roles: Vec<String>,
    message: Option<String>,
    expires_at: OffsetDateTime,
    source_is_invitee: bool,
    invitee_known: bool,
}

impl View {
    fn of(preview: &LinkPreview) -> Self {
        let invitation = &preview.invitation;
        Self {
            sender_business: preview.sender.name.to_string(),
            sender_user: preview
                .sender_user
                .as_ref()
                .filter(|u| u.first_name.is_some() || u.last_name.is_some())
                .map(|u| u.display_name()),
            invitee_email: invitation.email.to_string(),
            roles: invitation.roles.to_strings(),
            message: invitation.message.as_ref().map(ToString::to_string),
            expires_at: invitation.expires_at,
            source_is_invitee: invitation.source_is_invitee,
            invitee_known: preview.invitee_known,
        }
    }

    fn sample(full: bool) -> Self {
        Self {
            sender_business: "Sample Business Ltd".to_owned(),
            sender_user: full.then(|| "Sam Sender".to_owned()),
            invitee_email: "ivy@invitee.example".to_owned(),
            roles: if full { vec!["supplier".to_owned()] } else { Vec::new() },
            message: full.then(|| "Looking forward to it.\nSecond line.".to_owned()),
            expires_at: OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
            source_is_invitee: full,
            invitee_known: !full,
        }
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
    /// The recipient opted out (`declined`: and this declined the invitation).
    OptedOut {
        scope: OptOutScope,
        declined: bool,
    },
    /// Too many failed attempts from the visitor's address (see `throttle`).
    Throttled,
}

fn outcome_texts(
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
    };
    let mut texts = BTreeMap::new();
    texts.insert("heading", heading);
    texts.insert("body", body);
    texts.insert(
        "continue",
        match locale {
            Locale::En => "Continue",
            Locale::De => "Weiter",
        }
        .to_owned(),
    );
    (texts, icon)
}

/// The opt-out texts, shared by the pending page and the opt-out page.
fn opt_out_texts(locale: Locale, view: &View, product: &str, texts: &mut BTreeMap<&'static str, String>) {
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

fn pending_texts(locale: Locale, view: &View, product: &str) -> BTreeMap<&'static str, String> {
    let sender = view.sender_business.as_str();
    let email = view.invitee_email.as_str();
    let expires = date(locale, view.expires_at);
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

/// The Content-Security-Policy: nothing from anywhere, but inline styles,
/// forms to this server, and the logo's origin when there is a logo.
fn content_security_policy(brand: &Branding) -> String {
    let img = brand
        .logo_origin()
        .map(|origin| format!("img-src {origin}; "))
        .unwrap_or_default();
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; {img}form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

fn html(brand: &Branding, status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, content_security_policy(brand)))
        .body(body)
}

fn outcome_context(
    locale: Locale,
    brand: &Branding,
    outcome: Outcome,
    sender: &str,
    continue_url: Option<String>,
) -> Value {
    let (t, icon) = outcome_texts(locale, outcome, sender, brand.product_name());
    let base = context! {
        lang => locale.as_str(),
        title => t.get("heading").cloned().unwrap_or_default(),
        state => "outcome",
        t => t,
        icon => icon,
        continue_url => continue_url,
    };
    context! { ..base, ..brand_values(brand) }
}

fn pending_context(locale: Locale, brand: &Branding, token: &str, view: &View, form: &FormState) -> Value {
    let t = pending_texts(locale, view, brand.product_name());
    // Every error slot is defined (templates treat undefined values as errors).
    let mut errors: BTreeMap<String, String> = ["form", "business_name", "first_name", "last_name"]
        .into_iter()
        .map(|k| (k.to_owned(), String::new()))
        .collect();
    errors.extend(form.errors.clone());
    let base = context! {
        lang => locale.as_str(),
        title => t.get("heading").cloned().unwrap_or_default(),
        state => "pending",
        t => t,
        token => token,
        message => view.message.clone(),
        invitee_known => view.invitee_known,
        business_name => form.business_name.clone(),
        first_name => form.first_name.clone(),
        last_name => form.last_name.clone(),
        errors => errors,
        sender_business => view.sender_business.clone(),
        sender_user => view.sender_user.clone(),
        invitee_email => view.invitee_email.clone(),
        roles => view.roles.clone(),
        continue_url => Option::<String>::None,
    };
    context! { ..base, ..brand_values(brand) }
}

fn opt_out_context(locale: Locale, brand: &Branding, token: &str, view: &View) -> Value {
    let mut t = BTreeMap::new();
    opt_out_texts(locale, view, brand.product_name(), &mut t);
    let base = context! {
        lang => locale.as_str(),
        title => t.get("optout_title").cloned().unwrap_or_default(),
        state => "optout",
        t => t,
        token => token,
        sender_business => view.sender_business.clone(),
        invitee_email => view.invitee_email.clone(),
        continue_url => Option::<String>::None,
    };
    context! { ..base, ..brand_values(brand) }
}

fn pages(state: &crate::HttpState) -> &PageTemplates {
    state.config.pages.as_deref().unwrap_or_else(|| builtin_pages())
}

/// "Continue": the invitation's `redirect_url` with its outcome, once
/// accepted or rejected.
fn continue_url(invitation: &Invitation) -> Option<String> {
    let status = invitation.status;
    matches!(status, InvitationStatus::Accepted | InvitationStatus::Rejected)
        .then_some(())
        .and(invitation.redirect_url.as_ref())
        .map(|url| url.with_outcome(invitation.id, status))
}

fn outcome_page(
    state: &crate::HttpState,
    locale: Locale,
    outcome: Outcome,
    sender: &str,
    continue_url: Option<String>,
) -> HttpResponse {
    let brand = &state.config.branding;
    let status = match outcome {
        Outcome::Unknown => StatusCode::NOT_FOUND,
        Outcome::Expired | Outcome::Cancelled | Outcome::Withdrawn => StatusCode::GONE,
        Outcome::AlreadyAnswered(_) => StatusCode::CONFLICT,
        Outcome::AcceptedNow | Outcome::DeclinedNow | Outcome::OptedOut { .. } => StatusCode::OK,
        Outcome::Throttled => StatusCode::TOO_MANY_REQUESTS,
    };
    let ctx = outcome_context(locale, brand, outcome, sender, continue_url);
    html(brand, status, pages(state).render(&ctx))
}

fn outcome_of(status: InvitationStatus) -> Option<Outcome> {
    match status {
        InvitationStatus::Pending => None,
        InvitationStatus::Expired => Some(Outcome::Expired),
        InvitationStatus::Cancelled => Some(Outcome::Cancelled),
        answered => Some(Outcome::AlreadyAnswered(answered)),
    }
}

/// The page of an invitation that is no longer pending.
fn answered_page(state: &crate::HttpState, locale: Locale, preview: &LinkPreview) -> HttpResponse {
    outcome_page(
        state,
        locale,
        outcome_of(preview.invitation.status).unwrap_or(Outcome::Unknown),
        preview.sender.name.as_str(),
        continue_url(&preview.invitation),
    )
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
    state: &crate::HttpState,
    locale: Locale,
    token: &str,
    preview: &LinkPreview,
    form: &FormState,
    status: StatusCode,
) -> HttpResponse {
    let brand = &state.config.branding;
    let ctx = pending_context(locale, brand, token, &View::of(preview), form);
    html(brand, status, pages(state).render(&ctx))
}

async fn page_for_error(state: &crate::HttpState, locale: Locale, token: &str, error: AppError) -> HttpResponse {
    match error {
        AppError::InvalidTransition { current } => match state.app.preview_link(token).await {
            Ok(preview) => answered_page(state, locale, &preview),
            Err(_) => outcome_page(state, locale, outcome_of(current).unwrap_or(Outcome::Unknown), "", None),
        },
        AppError::NotFound => outcome_page(state, locale, Outcome::Unknown, "", None),
        AppError::SenderSuspended => outcome_page(state, locale, Outcome::Withdrawn, "", None),
        other => {
            tracing::error!(error = %other, "invite page failed");
            let mut page = outcome_page(state, locale, Outcome::Unknown, "", None);
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
        Ok(preview) if preview.invitation.status == InvitationStatus::Pending => {
            pending_page(&state, locale, &token, &preview, &FormState::default(), StatusCode::OK)
        }
        Ok(preview) => answered_page(&state, locale, &preview),
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
            let sender = sender_name(&state, outcome.invitation.business_id).await;
            let next = continue_url(&outcome.invitation);
            outcome_page(&state, locale, Outcome::AcceptedNow, &sender, next)
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
                pending_page(
                    &state,
                    locale,
                    &token,
                    &preview,
                    &form,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
            }
            Err(error) => page_for_error(&state, locale, &token, error).await,
        },
        Err(error) => page_for_error(&state, locale, &token, error).await,
    }
}

/// The sending business's name (empty when it cannot be read: the page
/// still says what happened).
async fn sender_name(state: &crate::HttpState, business: rsvp_domain::BusinessId) -> String {
    match state.app.ports().store.get_business(business).await {
        Ok(Some(b)) => b.name.to_string(),
        _ => String::new(),
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
            pending_page(state, locale, token, &preview, &form, refusal.status())
        }
        Ok(preview) => answered_page(state, locale, &preview),
        Err(error) => page_for_error(state, locale, token, error).await,
    }
}

/// `POST /invite/{token}/decline` (a form post)
pub async fn decline(state: web::Data<crate::HttpState>, token: web::Path<String>, req: HttpRequest) -> HttpResponse {
    let locale = locale(&req);
    match state.app.decline_link(&token).await {
        Ok(invitation) => {
            state.metrics.observe_transition(invitation.status.as_str());
            let sender = sender_name(&state, invitation.business_id).await;
            outcome_page(&state, locale, Outcome::DeclinedNow, &sender, continue_url(&invitation))
        }
        Err(error) => page_for_error(&state, locale, &token, error).await,
    }
}

/// `GET /unsubscribe/{token}`: the opt-out choice (changes nothing; a
/// mail client following the link with GET only shows it).
pub async fn opt_out_form(
    state: web::Data<crate::HttpState>,
    token: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let locale = locale(&req);
    match state.app.preview_link(&token).await {
        Ok(preview) => {
            let brand = &state.config.branding;
            let ctx = opt_out_context(locale, brand, &token, &View::of(&preview));
            html(brand, StatusCode::OK, pages(&state).render(&ctx))
        }
        Err(error) => page_for_error(&state, locale, &token, error).await,
    }
}

/// The scope an opt-out POST asks for: `scope=business|everyone` from the
/// page's form; anything else (the RFC 8058 one-click body
/// `List-Unsubscribe=One-Click`, an empty or multipart body) blocks the
/// inviting business, the narrowest block that stops these emails.
fn requested_scope(fields: &[(String, String)]) -> OptOutScope {
    fields
        .iter()
        .rev()
        .find(|(k, _)| k == "scope")
        .and_then(|(_, v)| OptOutScope::parse(v))
        .unwrap_or(OptOutScope::Business)
}

/// `POST /unsubscribe/{token}`: opts out (RFC 8058 one-click, or the page's
/// form), declining the pending invitation.
pub async fn opt_out(
    state: web::Data<crate::HttpState>,
    token: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let locale = locale(&req);
    let scope = match read_form(&req, payload).await {
        Ok(fields) => requested_scope(&fields),
        Err(FormRefusal::TooLarge) => {
            let mut page = outcome_page(&state, locale, Outcome::Unknown, "", None);
            *page.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return page;
        }
        // Multipart (RFC 8058 allows it) or unreadable: the one-click meaning.
        Err(FormRefusal::Unreadable) => OptOutScope::Business,
    };
    match state.app.opt_out(&token, scope).await {
        Ok(done) => {
            if done.declined {
                state.metrics.observe_transition(done.invitation.status.as_str());
            }
            let sender = sender_name(&state, done.invitation.business_id).await;
            let outcome = Outcome::OptedOut {
                scope: done.suppression.scope(),
                declined: done.declined,
            };
            outcome_page(&state, locale, outcome, &sender, None)
        }
        Err(error) => page_for_error(&state, locale, &token, error).await,
    }
}

/// The 429 page of a visitor whose address made too many failed attempts
/// (`throttle` adds `Retry-After` and the `RateLimit` fields).
pub(crate) fn too_many_requests(req: &HttpRequest, retry_after_secs: u64) -> HttpResponse {
    let locale = locale(req);
    let brand = req
        .app_data::<web::Data<crate::HttpState>>()
        .map(|s| s.config.branding.clone())
        .unwrap_or_default();
    let ctx = outcome_context(locale, &brand, Outcome::Throttled, &retry_after_secs.to_string(), None);
    let pages = req
        .app_data::<web::Data<crate::HttpState>>()
        .and_then(|s| s.config.pages.clone());
    let body = pages.as_deref().unwrap_or_else(|| builtin_pages()).render(&ctx);
    html(&brand, StatusCode::TOO_MANY_REQUESTS, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_text_is_white_on_dark_brands_and_black_on_light_ones() {
        assert_eq!(text_on("#4f46e5"), "#ffffff");
        assert_eq!(text_on("#0f766e"), "#ffffff");
        assert_eq!(text_on("#fde047"), "#111827");
        assert_eq!(text_on("#ffffff"), "#111827");
    }

    #[test]
    fn the_policy_allows_the_logo_origin_and_nothing_else() {
        let plain = content_security_policy(&Branding::default());
        assert!(!plain.contains("img-src"), "{plain}");
        let brand = Branding::new("x", None, Some("https://cdn.acme.example:8443/a/logo.png")).unwrap();
        let policy = content_security_policy(&brand);
        assert!(policy.contains("img-src https://cdn.acme.example:8443; "), "{policy}");
        assert!(policy.starts_with("default-src 'none'"));
        let data = Branding::new("x", None, Some("data:image/png;base64,AAAA")).unwrap();
        assert!(content_security_policy(&data).contains("img-src data:; "));
    }

    #[test]
    fn the_built_in_page_passes_its_own_load_check() {
        assert!(PageTemplates::builtin().overridden().is_empty());
    }
}
