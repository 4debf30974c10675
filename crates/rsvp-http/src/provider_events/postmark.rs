//! Postmark's webhooks: Bounce, SpamComplaint and Delivery records, sent
//! with the HTTP Basic credentials `RSVP_POSTMARK_WEBHOOK_USER` /
//! `RSVP_POSTMARK_WEBHOOK_PASSWORD`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine as _;
use rsvp_app::{AppError, EmailProvider, ProviderReport};
use rsvp_domain::{EmailFeedback, EmailJobId};
use serde_json::Value;

use super::{ProviderEventAck, acknowledge, invalid_payload, read_object};
use crate::problem::Problem;
use crate::state::HttpState;

/// Postmark's bounce `TypeCode`s that mean the address takes no mail:
/// `HardBounce` (1) and `BadEmailAddress` (100000). Every other bounce
/// (soft, transient, DNS, auto-responder, ...) leaves the address usable.
const PERMANENT_BOUNCE_CODES: [i64; 2] = [1, 100_000];

/// Bounce `TypeCode`s that are really complaints: `SpamNotification` (512)
/// and `SpamComplaint` (100001).
const COMPLAINT_CODES: [i64; 2] = [512, 100_001];

/// The metadata key rsvp sends its email job id under.
pub(crate) const JOB_METADATA_KEY: &str = "rsvp_email_job";

/// The user and password of an `Authorization: Basic` header.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// 401 asking for Basic credentials.
fn basic_unauthorized() -> HttpResponse {
    let problem = Problem::new(
        actix_web::http::StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the webhook's HTTP Basic credentials are required (RSVP_POSTMARK_WEBHOOK_USER / _PASSWORD)",
    );
    let mut response = problem.error_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"rsvp provider events\""),
    );
    response
}

fn text<'a>(record: &'a Value, field: &str) -> Option<&'a str> {
    record.get(field).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The report a Postmark record makes, `None` for a record rsvp does not
/// act on (Open, Click, SubscriptionChange, ...).
///
/// # Errors
/// What a record rsvp acts on lacks (the handler's 400 `invalid_payload`).
pub(crate) fn report_of(record: &Value) -> Result<Option<ProviderReport>, String> {
    let record_type = text(record, "RecordType").ok_or_else(|| "RecordType is required".to_owned())?;
    let message_id = text(record, "MessageID").map(str::to_owned);
    let job_id = record
        .get("Metadata")
        .and_then(|m| m.get(JOB_METADATA_KEY))
        .and_then(Value::as_str)
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .map(EmailJobId::from_uuid);
    let record_id = || {
        record
            .get("ID")
            .and_then(|id| {
                id.as_i64()
                    .map(|n| n.to_string())
                    .or_else(|| id.as_str().map(str::to_owned))
            })
            .ok_or_else(|| format!("a {record_type} record needs its ID"))
    };
    let (report_id, feedback) = match record_type {
        "Bounce" => {
            let code = record
                .get("TypeCode")
                .and_then(Value::as_i64)
                .ok_or("a Bounce record needs its TypeCode")?;
            let feedback = if COMPLAINT_CODES.contains(&code) {
                EmailFeedback::Complained
            } else {
                EmailFeedback::Bounced {
                    permanent: PERMANENT_BOUNCE_CODES.contains(&code),
                }
            };
            (format!("bounce:{}", record_id()?), feedback)
        }
        "SpamComplaint" => (format!("complaint:{}", record_id()?), EmailFeedback::Complained),
        // A Delivery record has no id of its own: one per message and recipient.
        "Delivery" => {
            let message = message_id.as_deref().ok_or("a Delivery record needs its MessageID")?;
            let recipient = text(record, "Recipient").unwrap_or_default();
            (format!("delivery:{message}:{recipient}"), EmailFeedback::Delivered)
        }
        _ => return Ok(None),
    };
    if job_id.is_none() && message_id.is_none() {
        return Err("the record names no message (MessageID or Metadata)".to_owned());
    }
    Ok(Some(ProviderReport {
        provider: EmailProvider::Postmark,
        report_id,
        job_id,
        provider_message_id: message_id,
        feedback,
    }))
}

/// `POST /v1/provider-events/postmark`
#[utoipa::path(post, path = "/v1/provider-events/postmark", tag = "provider events",
    security(("postmark_basic" = [])),
    request_body(content = Object, description = "A Postmark webhook record (RecordType Bounce, SpamComplaint, Delivery; others are ignored)", content_type = "application/json",
        example = json!({"RecordType": "Bounce", "ID": 4_323_372_036_854_775_807_i64, "Type": "HardBounce", "TypeCode": 1,
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Metadata": {"rsvp_email_job": "01a24d4a-8755-73ec-a20c-f3c15b91662a"},
            "Email": "bob@globex.test", "BouncedAt": "2026-12-06T10:00:02Z", "Inactive": true})),
    responses(
        (status = 200, description = "received: `result` says what came of it", body = ProviderEventAck),
        (status = 400, description = "`invalid_payload` or `malformed_json`: not a Postmark record"),
        (status = 401, description = "`unauthorized`: wrong or missing HTTP Basic credentials"),
        (status = 404, description = "`not_found`: Postmark's webhooks are not configured"),
        (status = 413, description = "`payload_too_large`"),
    ))]
pub async fn postmark(
    state: web::Data<HttpState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    if !state.app.accepts_postmark() {
        return Err(Problem::not_found());
    }
    let Some((user, password)) = basic_credentials(&req) else {
        return Ok(basic_unauthorized());
    };
    match state.app.authenticate_postmark(&user, &password) {
        Ok(()) => {}
        Err(AppError::Unauthorized) => return Ok(basic_unauthorized()),
        Err(other) => return Err(other.into()),
    }
    let record = read_object(&req, payload, "a Postmark webhook record").await?;
    let report = report_of(&record).map_err(invalid_payload)?;
    acknowledge(&state, "postmark", report).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn bounces_are_hard_only_for_hard_bounce_and_bad_address_and_spam_codes_are_complaints() {
        let job = "01a24d4a-8755-73ec-a20c-f3c15b91662a";
        let bounce = |code: i64| {
            json!({"RecordType": "Bounce", "ID": 42, "TypeCode": code, "MessageID": "pm-1",
                   "Metadata": {"rsvp_email_job": job}})
        };
        let feedback = |code| report_of(&bounce(code)).unwrap().unwrap().feedback;
        assert_eq!(feedback(1), EmailFeedback::Bounced { permanent: true });
        assert_eq!(feedback(100_000), EmailFeedback::Bounced { permanent: true });
        for soft in [2, 16, 64, 256, 4096, 2048] {
            assert_eq!(feedback(soft), EmailFeedback::Bounced { permanent: false }, "{soft}");
        }
        assert_eq!(feedback(512), EmailFeedback::Complained);
        let report = report_of(&bounce(1)).unwrap().unwrap();
        assert_eq!(report.report_id, "bounce:42");
        assert_eq!(report.job_id.map(|j| j.to_string()), Some(job.to_owned()));
        assert_eq!(report.provider_message_id.as_deref(), Some("pm-1"));
    }

    #[test]
    fn deliveries_are_keyed_by_message_and_recipient_and_other_records_are_ignored() {
        let delivery = json!({"RecordType": "Delivery", "MessageID": "pm-2", "Recipient": "bob@globex.test"});
        let report = report_of(&delivery).unwrap().unwrap();
        assert_eq!(
            (report.report_id.as_str(), report.feedback),
            ("delivery:pm-2:bob@globex.test", EmailFeedback::Delivered)
        );
        assert_eq!(
            report_of(&json!({"RecordType": "Open", "MessageID": "pm-2"})).unwrap(),
            None
        );
        for bad in [
            json!({}),
            json!({"RecordType": "Bounce", "MessageID": "pm"}),
            json!({"RecordType": "SpamComplaint", "MessageID": "pm"}),
            json!({"RecordType": "Delivery"}),
            json!({"RecordType": "SpamComplaint", "ID": 7}),
        ] {
            assert!(report_of(&bad).is_err(), "{bad}");
        }
    }
}
