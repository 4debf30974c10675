//! Amazon SES's reports through Amazon SNS: the message's topic, age and
//! signature checked (the use case and the `SnsVerifier` port), a
//! subscription confirmed, and a notification's SES event (Bounce,
//! Complaint, Delivery) read into a report.

use actix_web::{HttpRequest, HttpResponse, web};
use rsvp_app::{EmailProvider, ProviderReport, SnsMessage, SnsMessageType, SnsReceipt};
use rsvp_domain::EmailFeedback;
use serde_json::Value;

use super::{ProviderEventAck, ProviderEventResult, acknowledge, answer, invalid_payload, read_object};
use crate::problem::Problem;
use crate::state::HttpState;

fn field(envelope: &Value, name: &str) -> Option<String> {
    envelope.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn required(envelope: &Value, name: &str) -> Result<String, String> {
    field(envelope, name).ok_or_else(|| format!("an SNS message needs {name}"))
}

/// The SNS message of a POST body (SNS sends JSON as `text/plain`).
///
/// # Errors
/// What makes it no SNS message (the handler's 400 `invalid_payload`).
pub(crate) fn sns_message(envelope: &Value) -> Result<SnsMessage, String> {
    let kind = required(envelope, "Type")?;
    let kind = SnsMessageType::parse(&kind).ok_or_else(|| format!("unknown SNS Type {kind:?}"))?;
    let confirmation = kind != SnsMessageType::Notification;
    Ok(SnsMessage {
        kind,
        message_id: required(envelope, "MessageId")?,
        topic_arn: required(envelope, "TopicArn")?,
        subject: field(envelope, "Subject"),
        message: required(envelope, "Message")?,
        timestamp: required(envelope, "Timestamp")?,
        token: if confirmation {
            Some(required(envelope, "Token")?)
        } else {
            None
        },
        subscribe_url: if confirmation {
            Some(required(envelope, "SubscribeURL")?)
        } else {
            None
        },
        signature_version: required(envelope, "SignatureVersion")?,
        signature: required(envelope, "Signature")?,
        signing_cert_url: required(envelope, "SigningCertURL")?,
    })
}

/// The report an SES event (a notification's `Message`) makes; `None` for
/// an event rsvp does not act on (Send, Open, Click, DeliveryDelay, ...).
///
/// # Errors
/// What makes the message no SES event (the handler's 400 `invalid_payload`).
pub(crate) fn report_of(report_id: &str, message: &str) -> Result<Option<ProviderReport>, String> {
    let event: Value =
        serde_json::from_str(message).map_err(|_| "the SNS Message is not an SES event (JSON)".to_owned())?;
    // SES's feedback notifications say notificationType; event publishing, eventType.
    let kind = event
        .get("notificationType")
        .or_else(|| event.get("eventType"))
        .and_then(Value::as_str)
        .ok_or("the SES event has no notificationType or eventType")?;
    let feedback = match kind {
        "Bounce" => {
            let bounce_type = event.pointer("/bounce/bounceType").and_then(Value::as_str);
            EmailFeedback::Bounced {
                // Transient and Undetermined leave the address usable.
                permanent: bounce_type == Some("Permanent"),
            }
        }
        "Complaint" => EmailFeedback::Complained,
        "Delivery" => EmailFeedback::Delivered,
        _ => return Ok(None),
    };
    let mail = event.get("mail").ok_or("the SES event has no mail")?;
    let header_message_id = mail
        .pointer("/commonHeaders/messageId")
        .and_then(Value::as_str)
        .or_else(|| {
            mail.get("headers").and_then(Value::as_array).and_then(|headers| {
                headers
                    .iter()
                    .find(|h| {
                        h.get("name")
                            .and_then(Value::as_str)
                            .is_some_and(|n| n.eq_ignore_ascii_case("Message-ID"))
                    })
                    .and_then(|h| h.get("value").and_then(Value::as_str))
            })
        });
    let job_id = header_message_id.and_then(rsvp_app::EmailDispatcher::job_of_message_id);
    let provider_message_id = mail.get("messageId").and_then(Value::as_str).map(str::to_owned);
    if job_id.is_none() && provider_message_id.is_none() {
        return Err("the SES event names no message (mail.messageId)".to_owned());
    }
    Ok(Some(ProviderReport {
        provider: EmailProvider::Ses,
        report_id: report_id.to_owned(),
        job_id,
        provider_message_id,
        feedback,
    }))
}

/// `POST /v1/provider-events/ses`
#[utoipa::path(post, path = "/v1/provider-events/ses", tag = "provider events",
    request_body(content = Object, description = "An Amazon SNS message (Notification of an SES event, SubscriptionConfirmation, UnsubscribeConfirmation), signed by AWS. SNS sends it with Content-Type: text/plain; any content type is read as JSON.", content_type = "application/json",
        example = json!({"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-feedback",
            "Message": "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\"},\"mail\":{\"messageId\":\"0100018c-ses\"}}",
            "Timestamp": "2026-12-06T10:00:00.000Z", "SignatureVersion": "2", "Signature": "c2lnbmF0dXJl",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-example.pem"})),
    responses(
        (status = 200, description = "received: `result` says what came of it", body = ProviderEventAck),
        (status = 400, description = "`invalid_payload` or `malformed_json`: not an SNS message"),
        (status = 401, description = "`unauthorized`: a topic not in RSVP_SES_TOPIC_ARNS, a stale message, or a signature not AWS's"),
        (status = 404, description = "`not_found`: SES's reports are not configured"),
        (status = 413, description = "`payload_too_large`"),
        (status = 503, description = "`unavailable`: the signing certificate cannot be fetched now (SNS retries)"),
    ))]
pub async fn ses(
    state: web::Data<HttpState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    if !state.app.accepts_ses() {
        return Err(Problem::not_found());
    }
    let envelope = read_object(&req, payload, "an Amazon SNS message").await?;
    let message = sns_message(&envelope).map_err(invalid_payload)?;
    match state.app.receive_sns(&message).await? {
        SnsReceipt::SubscriptionConfirmed => Ok(answer(&state, "ses", ProviderEventResult::SubscriptionConfirmed)),
        SnsReceipt::Unsubscribed => Ok(answer(&state, "ses", ProviderEventResult::Ignored)),
        SnsReceipt::Notification => {
            let report = report_of(&message.message_id, &message.message).map_err(invalid_payload)?;
            acknowledge(&state, "ses", report).await
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const JOB: &str = "01a24d4a-8755-73ec-a20c-f3c15b91662a";

    fn event(kind: &str, extra: Value) -> String {
        let mut event = json!({
            "notificationType": kind,
            "mail": {"messageId": "0100018c-ses", "commonHeaders": {"messageId": format!("<{JOB}@rsvp.example.test>")}},
        });
        if let (Some(target), Some(extra)) = (event.as_object_mut(), extra.as_object()) {
            target.extend(extra.clone());
        }
        event.to_string()
    }

    #[test]
    fn ses_events_become_reports_matched_by_rsvps_message_id_and_sess_own() {
        let hard = report_of(
            "sns-1",
            &event("Bounce", json!({"bounce": {"bounceType": "Permanent"}})),
        )
        .unwrap()
        .unwrap();
        assert_eq!(hard.feedback, EmailFeedback::Bounced { permanent: true });
        assert_eq!(hard.job_id.map(|j| j.to_string()), Some(JOB.to_owned()));
        assert_eq!(hard.provider_message_id.as_deref(), Some("0100018c-ses"));
        assert_eq!(hard.report_id, "sns-1");
        for soft in ["Transient", "Undetermined"] {
            let report = report_of("sns-2", &event("Bounce", json!({"bounce": {"bounceType": soft}})))
                .unwrap()
                .unwrap();
            assert_eq!(report.feedback, EmailFeedback::Bounced { permanent: false }, "{soft}");
        }
        assert_eq!(
            report_of("sns-3", &event("Complaint", json!({})))
                .unwrap()
                .unwrap()
                .feedback,
            EmailFeedback::Complained
        );
        let published = json!({"eventType": "Delivery", "mail": {"messageId": "ses-9"}}).to_string();
        let delivered = report_of("sns-4", &published).unwrap().unwrap();
        assert_eq!((delivered.feedback, delivered.job_id), (EmailFeedback::Delivered, None));
        assert_eq!(report_of("sns-5", &event("Open", json!({}))).unwrap(), None);
        for bad in [
            "not json",
            "{}",
            r#"{"notificationType":"Bounce"}"#,
            r#"{"notificationType":"Bounce","mail":{}}"#,
        ] {
            assert!(report_of("sns-6", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_sns_envelope_needs_every_signed_field_of_its_type() {
        let notification = json!({
            "Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:eu-west-1:1:ses", "Message": "{}",
            "Timestamp": "2026-12-06T10:00:00.000Z", "SignatureVersion": "2", "Signature": "c2ln",
            "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/x.pem",
        });
        let message = sns_message(&notification).unwrap();
        assert_eq!(
            (message.kind, message.token, message.subscribe_url),
            (SnsMessageType::Notification, None, None)
        );
        let mut confirmation = notification.clone();
        confirmation["Type"] = json!("SubscriptionConfirmation");
        assert!(
            sns_message(&confirmation).is_err(),
            "a confirmation needs Token and SubscribeURL"
        );
        confirmation["Token"] = json!("t");
        confirmation["SubscribeURL"] = json!("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription");
        assert_eq!(sns_message(&confirmation).unwrap().token.as_deref(), Some("t"));
        for field in [
            "Type",
            "MessageId",
            "TopicArn",
            "Message",
            "Timestamp",
            "SignatureVersion",
            "Signature",
            "SigningCertURL",
        ] {
            let mut missing = notification.clone();
            missing.as_object_mut().unwrap().remove(field);
            assert!(sns_message(&missing).is_err(), "{field}");
        }
        let mut unknown = notification;
        unknown["Type"] = json!("Spam");
        assert!(sns_message(&unknown).is_err());
    }
}
