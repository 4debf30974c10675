//! The email providers' reports (`RSVP_POSTMARK_WEBHOOK_*`,
//! `RSVP_SES_TOPIC_ARNS`): which are accepted, read from the settings, and
//! the app wired to accept them.

use std::sync::Arc;

use anyhow::Context as _;
use rsvp_app::{App, Secret};

/// What the providers' endpoints accept.
#[derive(Debug, Clone, Default)]
pub struct ProviderFeedback {
    /// Postmark's webhook credentials (user, password); `None`: the
    /// endpoint answers 404.
    pub postmark: Option<(Secret, Secret)>,
    /// The SNS topics whose SES reports are accepted; empty: the endpoint
    /// answers 404.
    pub ses_topic_arns: Vec<String>,
}

/// Reads the providers' settings. `get` reads a setting; an error names the
/// setting and what is wrong with it.
///
/// # Errors
/// One of the Postmark credentials without the other, or a topic that is not
/// an SNS topic ARN.
pub fn provider_feedback<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
) -> Result<ProviderFeedback, (&'static str, String)> {
    let given = |name: &str| get(name).filter(|v| !v.is_empty());
    let postmark = match (
        given("RSVP_POSTMARK_WEBHOOK_USER"),
        given("RSVP_POSTMARK_WEBHOOK_PASSWORD"),
    ) {
        (None, None) => None,
        (Some(user), Some(password)) => Some((Secret::new(user), Secret::new(password))),
        (Some(_), None) => {
            return Err((
                "RSVP_POSTMARK_WEBHOOK_PASSWORD",
                "is required with RSVP_POSTMARK_WEBHOOK_USER".into(),
            ));
        }
        (None, Some(_)) => {
            return Err((
                "RSVP_POSTMARK_WEBHOOK_USER",
                "is required with RSVP_POSTMARK_WEBHOOK_PASSWORD".into(),
            ));
        }
    };
    let ses_topic_arns = given("RSVP_SES_TOPIC_ARNS")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|arn| !arn.is_empty())
                .map(|arn| {
                    // arn:<partition>:sns:<region>:<account>:<topic>
                    let parts: Vec<&str> = arn.split(':').collect();
                    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "sns" && parts.iter().all(|p| !p.is_empty())
                    {
                        Ok(arn.to_owned())
                    } else {
                        Err((
                            "RSVP_SES_TOPIC_ARNS",
                            format!("'{arn}' is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)"),
                        ))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    Ok(ProviderFeedback {
        postmark,
        ses_topic_arns,
    })
}

/// `app`, accepting the providers' reports the settings turn on.
///
/// # Errors
/// When the SNS verifier cannot be built (its https client).
pub fn with_provider_feedback(app: App, feedback: &ProviderFeedback) -> anyhow::Result<App> {
    let mut app = app;
    if let Some((user, password)) = &feedback.postmark {
        app = app.with_postmark_webhook(user.clone(), password.clone());
        tracing::info!("Postmark's webhooks accepted at /v1/provider-events/postmark");
    }
    if !feedback.ses_topic_arns.is_empty() {
        let verifier = rsvp_sns::AwsSnsVerifier::with_clock(rsvp_sns::SnsSettings::default(), app.clock())
            .context("RSVP_SES_TOPIC_ARNS: the SNS verifier")?;
        app = app.with_ses_feedback(Arc::new(verifier), feedback.ses_topic_arns.clone());
        tracing::info!(
            topics = feedback.ses_topic_arns.len(),
            "Amazon SES's reports accepted at /v1/provider-events/ses"
        );
    }
    Ok(app)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<ProviderFeedback, (&'static str, String)> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        provider_feedback(|name| map.get(name).map(String::as_str))
    }

    #[test]
    fn unset_is_off_and_both_credentials_or_neither() {
        let off = read(&[]).unwrap();
        assert!(off.postmark.is_none() && off.ses_topic_arns.is_empty());
        let on = read(&[
            ("RSVP_POSTMARK_WEBHOOK_USER", "postmark"),
            ("RSVP_POSTMARK_WEBHOOK_PASSWORD", "s3cret"),
        ])
        .unwrap();
        let (user, password) = on.postmark.unwrap();
        assert_eq!((user.expose(), password.expose()), ("postmark", "s3cret"));
        assert_eq!(
            read(&[("RSVP_POSTMARK_WEBHOOK_USER", "postmark")]).unwrap_err().0,
            "RSVP_POSTMARK_WEBHOOK_PASSWORD"
        );
        assert_eq!(
            read(&[("RSVP_POSTMARK_WEBHOOK_PASSWORD", "x")]).unwrap_err().0,
            "RSVP_POSTMARK_WEBHOOK_USER"
        );
    }

    #[test]
    fn topics_are_sns_topic_arns() {
        let topics = read(&[(
            "RSVP_SES_TOPIC_ARNS",
            "arn:aws:sns:eu-west-1:123456789012:ses-feedback, arn:aws-cn:sns:cn-north-1:1:t",
        )])
        .unwrap()
        .ses_topic_arns;
        assert_eq!(
            topics,
            [
                "arn:aws:sns:eu-west-1:123456789012:ses-feedback",
                "arn:aws-cn:sns:cn-north-1:1:t"
            ]
        );
        for bad in [
            "ses-feedback",
            "arn:aws:sqs:eu-west-1:1:q",
            "arn:aws:sns:eu-west-1::t",
            "arn:aws:sns:a:b:c:d",
        ] {
            assert_eq!(
                read(&[("RSVP_SES_TOPIC_ARNS", bad)]).unwrap_err().0,
                "RSVP_SES_TOPIC_ARNS",
                "{bad}"
            );
        }
    }
}
