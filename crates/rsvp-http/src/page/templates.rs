//! The page's template ([`PageTemplates`]), its variables (`*_context`),
//! the operator's brand on it, and the HTTP answer carrying it ([`html`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use minijinja::{Value, context};
use rsvp_app::{Branding, LinkPreview, Locale};
use rsvp_templates::{TemplateError, TemplateFile, Templates};
use time::OffsetDateTime;

use super::texts::{Outcome, join_texts, opt_out_texts, outcome_texts, pending_texts};

/// The page's template file: `invite.html`.
pub const PAGE_TEMPLATE: &str = "invite.html";

const FILES: [TemplateFile; 1] = [TemplateFile {
    name: PAGE_TEMPLATE,
    builtin: include_str!("../../templates/invite.html"),
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
/// | `token` | the link token, for the form actions (`{{ root }}invite/{{ token }}/accept`, `{{ root }}invite/{{ token }}/decline`, `{{ root }}unsubscribe/{{ token }}`) |
/// | `root` | (`pending` and `optout`) the relative link from the page to where rsvp is mounted (`../` or `../../`): actions that begin with it work under any prefix a host app mounts rsvp at |
/// | `sender_business`, `sender_user`, `invitee_email` | who invites, and whom |
/// | `roles` | the roles offered (a list, maybe empty) |
/// | `message` | the sender's note, or none |
/// | `invitee_known` | whether the address has a business already (else the accept form asks for its name) |
/// | `business_name`, `first_name`, `last_name`, `errors` | the accept form's values and errors |
/// | `icon` | a symbol for the outcome |
/// | `continue_url` | "Continue" after an answer (the invitation's `redirect_url` with the outcome), or none |
/// | `product_name`, `brand_color`, `brand_text`, `logo_url` | the operator's brand; `brand_text` is black or white, whichever reads better on `brand_color` |
///
/// The join link page (`/join/{token}`) renders the same template with
/// `state` `join`: `t.heading`, `t.body`, `t.roles`, `t.approval`,
/// `t.expires`, `t.continue`, `roles`, `icon` and `continue_url` (the
/// operator's `RSVP_JOIN_CONTINUE_URL` with the token, or none). A template
/// without a `join` branch shows it as an outcome (heading, body, continue).
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
    /// accept form (`action="{{ root }}invite/{{ token }}/accept"`).
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
                let pending = pending_context(locale, brand, "../", "sample-token", &view, &form);
                pages.templates.check(PAGE_TEMPLATE, &pending, |out| {
                    (!out.contains("/invite/sample-token/accept")).then(|| {
                        "the pending page has no accept form (action=\"{{ root }}invite/{{ token }}/accept\")"
                            .to_owned()
                    })
                })?;
                let continue_url = full.then(|| "https://app.example/next?status=accepted".to_owned());
                let outcome = outcome_context(locale, brand, Outcome::AcceptedNow, &view.sender_business, continue_url);
                pages.templates.check(PAGE_TEMPLATE, &outcome, |_| None)?;
                let choice = opt_out_context(locale, brand, "../", "sample-token", &view);
                pages.templates.check(PAGE_TEMPLATE, &choice, |_| None)?;
                let join = JoinView::sample(full);
                let continue_url = full.then(|| "https://app.example/join?token=sample-token".to_owned());
                pages
                    .templates
                    .check(PAGE_TEMPLATE, &join_context(locale, brand, &join, continue_url), |_| {
                        None
                    })?;
            }
        }
        Ok(pages)
    }

    pub(super) fn render(&self, ctx: &Value) -> String {
        self.templates.render(PAGE_TEMPLATE, ctx).unwrap_or_else(|e| {
            tracing::error!(error = %e, "invite page failed to render");
            "<!doctype html><html lang=\"en\"><title>Error</title><main><p>Something went wrong.</p></main></html>"
                .to_owned()
        })
    }
}

pub(super) fn builtin_pages() -> &'static PageTemplates {
    static PAGES: OnceLock<PageTemplates> = OnceLock::new();
    PAGES.get_or_init(PageTemplates::builtin)
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
pub(super) struct View {
    pub(super) sender_business: String,
    pub(super) sender_user: Option<String>,
    pub(super) invitee_email: String,
    pub(super) roles: Vec<String>,
    pub(super) message: Option<String>,
    pub(super) expires_at: OffsetDateTime,
    pub(super) source_is_invitee: bool,
    pub(super) invitee_known: bool,
}

impl View {
    pub(super) fn of(preview: &LinkPreview) -> Self {
        let invitation = &preview.invitation;
        Self {
            sender_business: preview.sender.name.to_string(),
            sender_user: preview
                .sender_user
                .as_ref()
                .filter(|u| u.first_name.is_some() || u.last_name.is_some())
                .map(|u| u.display_name()),
            invitee_email: invitation.email().to_string(),
            roles: invitation.roles().to_strings(),
            message: invitation.message().map(ToString::to_string),
            expires_at: invitation.expires_at(),
            source_is_invitee: invitation.source_is_invitee(),
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

/// What the join link page says about a link.
#[derive(Debug, Clone)]
pub(super) struct JoinView {
    pub(super) business: String,
    pub(super) roles: Vec<String>,
    pub(super) requires_approval: bool,
    pub(super) expires_at: OffsetDateTime,
    /// Whether the page offers "Continue" (the operator set where to).
    pub(super) can_continue: bool,
}

impl JoinView {
    fn sample(full: bool) -> Self {
        Self {
            business: "Sample Business Ltd".to_owned(),
            roles: if full { vec!["supplier".to_owned()] } else { Vec::new() },
            requires_approval: full,
            expires_at: OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
            can_continue: full,
        }
    }
}

/// The join link page of an active link.
pub(super) fn join_context(locale: Locale, brand: &Branding, join: &JoinView, continue_url: Option<String>) -> Value {
    let t = join_texts(locale, join, brand.product_name());
    let base = context! {
        lang => locale.as_str(),
        title => t.get("title").cloned().unwrap_or_default(),
        state => "join",
        t => t,
        icon => "🤝",
        roles => join.roles.clone(),
        continue_url => continue_url,
    };
    context! { ..base, ..brand_values(brand) }
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

pub(super) fn html(brand: &Branding, status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, content_security_policy(brand)))
        .body(body)
}

pub(super) fn outcome_context(
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

/// `root`: the relative link from the page to where rsvp is mounted (`../`
/// from `/invite/{token}`), which the forms' actions begin with.
pub(super) fn pending_context(
    locale: Locale,
    brand: &Branding,
    root: &str,
    token: &str,
    view: &View,
    form: &FormState,
) -> Value {
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
        root => root,
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

/// `root` as in [`pending_context`].
pub(super) fn opt_out_context(locale: Locale, brand: &Branding, root: &str, token: &str, view: &View) -> Value {
    let mut t = BTreeMap::new();
    opt_out_texts(locale, view, brand.product_name(), &mut t);
    let base = context! {
        lang => locale.as_str(),
        title => t.get("optout_title").cloned().unwrap_or_default(),
        state => "optout",
        t => t,
        root => root,
        token => token,
        sender_business => view.sender_business.clone(),
        invitee_email => view.invitee_email.clone(),
        continue_url => Option::<String>::None,
    };
    context! { ..base, ..brand_values(brand) }
}

#[derive(Default)]
pub(super) struct FormState {
    pub(super) business_name: String,
    pub(super) first_name: String,
    pub(super) last_name: String,
    pub(super) errors: BTreeMap<String, String>,
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
