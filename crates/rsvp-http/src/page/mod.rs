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
//!
//! The forms' actions are relative links (`../invite/{token}/accept` from
//! `/invite/{token}`), so that the page works under whatever prefix a host
//! app mounts rsvp (the template's `root` variable).

mod templates;
mod texts;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use rsvp_app::{AcceptLinkInput, AppError, LinkPreview, Locale};
use rsvp_domain::{Invitation, InvitationStatus, JoinLinkStatus, OptOutScope};

use templates::{
    FormState, JoinView, View, builtin_pages, html, join_context, opt_out_context, outcome_context, pending_context,
};
pub use templates::{PAGE_TEMPLATE, PageTemplates};
use texts::{Outcome, form_error};

const FORM_LIMIT: usize = 16 * 1024;

/// The way back to where rsvp is mounted from a page at `/invite/{token}`
/// or `/unsubscribe/{token}` (whatever the host's prefix before them).
const FROM_LINK: &str = "../";
/// The way back from a page answering `POST /invite/{token}/accept`.
const FROM_ANSWER: &str = "../../";

/// The page's language, from `Accept-Language` (an extractor).
pub(crate) struct PageLocale(Locale);

impl actix_web::FromRequest for PageLocale {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Ok(Self(locale(req))))
    }
}

/// A form post's fields, or why it cannot be read (an extractor: the page
/// answers a refusal itself, in the invitee's language).
pub(crate) struct FormPost(Result<Vec<(String, String)>, FormRefusal>);

impl actix_web::FromRequest for FormPost {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move { Ok(Self(read_form(&req, payload).await)) })
    }
}

fn locale(req: &HttpRequest) -> Locale {
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(from_accept_language)
        .unwrap_or_default()
}

/// The first language rsvp speaks in an HTTP `Accept-Language` header, by
/// quality (`de-DE,de;q=0.9,en;q=0.8` → German).
fn from_accept_language(header: &str) -> Option<Locale> {
    let mut candidates: Vec<(f32, Locale)> = header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let locale = Locale::from_tag(pieces.next()?)?;
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (quality > 0.0).then_some((quality, locale))
        })
        .collect();
    // Stable sort keeps the header's order among equal qualities.
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    candidates.first().map(|c| c.1)
}

fn pages(state: &crate::HttpState) -> &PageTemplates {
    state.config.pages.as_deref().unwrap_or_else(|| builtin_pages())
}

/// "Continue": the invitation's `redirect_url` with its outcome, once
/// accepted or rejected.
fn continue_url(invitation: &Invitation) -> Option<String> {
    let status = invitation.status();
    matches!(status, InvitationStatus::Accepted | InvitationStatus::Rejected)
        .then_some(())
        .and(invitation.redirect_url())
        .map(|url| url.with_outcome(invitation.id(), status))
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
        Outcome::Expired | Outcome::Cancelled | Outcome::Withdrawn | Outcome::JoinUnusable(_) => StatusCode::GONE,
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
        outcome_of(preview.invitation.status()).unwrap_or(Outcome::Unknown),
        preview.sender.name.as_str(),
        continue_url(&preview.invitation),
    )
}

fn pending_page(
    state: &crate::HttpState,
    locale: Locale,
    root: &str,
    token: &str,
    preview: &LinkPreview,
    form: &FormState,
    status: StatusCode,
) -> HttpResponse {
    let brand = &state.config.branding;
    let ctx = pending_context(locale, brand, root, token, &View::of(preview), form);
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
pub async fn show(
    state: web::Data<crate::HttpState>,
    token: web::Path<String>,
    PageLocale(locale): PageLocale,
) -> HttpResponse {
    let preview = state.app.preview_link(&token).await;
    if let Ok(preview) = &preview {
        // The funnel's `page_viewed`: the first opening only; a failure is
        // logged, never the page's.
        state.app.record_page_view(preview.invitation.id()).await;
    }
    match preview {
        Ok(preview) if preview.invitation.status() == InvitationStatus::Pending => pending_page(
            &state,
            locale,
            FROM_LINK,
            &token,
            &preview,
            &FormState::default(),
            StatusCode::OK,
        ),
        Ok(preview) => answered_page(&state, locale, &preview),
        Err(error) => page_for_error(&state, locale, &token, error).await,
    }
}

/// Why a form body was not read: the page says so and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormRefusal {
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
async fn read_form(req: &HttpRequest, payload: actix_web::dev::Payload) -> Result<Vec<(String, String)>, FormRefusal> {
    let body = crate::body::read_bytes(req.headers(), payload, FORM_LIMIT)
        .await
        .map_err(|problem| {
            if problem.status == StatusCode::PAYLOAD_TOO_LARGE.as_u16() {
                FormRefusal::TooLarge
            } else {
                FormRefusal::Unreadable
            }
        })?;
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
    PageLocale(locale): PageLocale,
    FormPost(form): FormPost,
) -> HttpResponse {
    let fields = match form {
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
            state.metrics.observe_transition(outcome.invitation.status().as_str());
            let sender = sender_name(&state, outcome.invitation.business_id()).await;
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
                    FROM_ANSWER,
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
    state.app.business_name(business).await.unwrap_or_default()
}

/// The page again (at `/invite/{token}/accept`), unchanged, saying why the
/// form was not read.
async fn refused_form_page(
    state: &crate::HttpState,
    locale: Locale,
    token: &str,
    refusal: FormRefusal,
) -> HttpResponse {
    match state.app.preview_link(token).await {
        Ok(preview) if preview.invitation.status() == InvitationStatus::Pending => {
            let mut form = FormState::default();
            form.errors.insert("form".to_owned(), refusal.text(locale).to_owned());
            pending_page(state, locale, FROM_ANSWER, token, &preview, &form, refusal.status())
        }
        Ok(preview) => answered_page(state, locale, &preview),
        Err(error) => page_for_error(state, locale, token, error).await,
    }
}

/// `POST /invite/{token}/decline` (a form post)
pub async fn decline(
    state: web::Data<crate::HttpState>,
    token: web::Path<String>,
    PageLocale(locale): PageLocale,
) -> HttpResponse {
    match state.app.decline_link(&token).await {
        Ok(invitation) => {
            state.metrics.observe_transition(invitation.status().as_str());
            let sender = sender_name(&state, invitation.business_id()).await;
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
    PageLocale(locale): PageLocale,
) -> HttpResponse {
    match state.app.preview_link(&token).await {
        Ok(preview) => {
            let brand = &state.config.branding;
            let ctx = opt_out_context(locale, brand, FROM_LINK, &token, &View::of(&preview));
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
    FormPost(form): FormPost,
    PageLocale(locale): PageLocale,
) -> HttpResponse {
    let scope = match form {
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
                state.metrics.observe_transition(done.invitation.status().as_str());
            }
            let sender = sender_name(&state, done.invitation.business_id()).await;
            let outcome = Outcome::OptedOut {
                scope: done.suppression.scope(),
                declined: done.declined,
            };
            outcome_page(&state, locale, outcome, &sender, None)
        }
        Err(error) => page_for_error(&state, locale, &token, error).await,
    }
}

/// `GET /join/{token}`: the join link page (who the link connects with, the
/// roles, whether the business approves, "Continue" to the operator's
/// `RSVP_JOIN_CONTINUE_URL` with the token). Looking never uses the link:
/// redeeming takes the redeeming business's API key (`POST /v1/join/{token}`).
pub async fn join(
    state: web::Data<crate::HttpState>,
    token: web::Path<String>,
    PageLocale(locale): PageLocale,
) -> HttpResponse {
    match state.app.preview_join_link(&token).await {
        Ok(preview) if preview.status == JoinLinkStatus::Active => {
            let continue_url = state
                .config
                .join_continue_url
                .as_ref()
                .map(|url| url.with_query("token", &token));
            let view = JoinView {
                business: preview.business.name.to_string(),
                roles: preview.link.roles.to_strings(),
                requires_approval: preview.link.requires_approval,
                expires_at: preview.link.expires_at,
                can_continue: continue_url.is_some(),
            };
            let brand = &state.config.branding;
            let ctx = join_context(locale, brand, &view, continue_url);
            html(brand, StatusCode::OK, pages(&state).render(&ctx))
        }
        Ok(preview) => outcome_page(
            &state,
            locale,
            Outcome::JoinUnusable(preview.status),
            preview.business.name.as_str(),
            None,
        ),
        Err(AppError::SenderSuspended) => {
            outcome_page(&state, locale, Outcome::JoinUnusable(JoinLinkStatus::Revoked), "", None)
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
    use super::{Locale, from_accept_language};

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(from_accept_language("de-DE,de;q=0.9,en;q=0.8"), Some(Locale::De));
        assert_eq!(
            from_accept_language("fr-FR,fr;q=0.9,en;q=0.5,de;q=0.4"),
            Some(Locale::En)
        );
        assert_eq!(from_accept_language("en;q=0.1, de;q=0.2"), Some(Locale::De));
        assert_eq!(from_accept_language("fr, es"), None);
        assert_eq!(from_accept_language("de;q=0"), None);
        assert_eq!(from_accept_language(""), None);
    }
}
