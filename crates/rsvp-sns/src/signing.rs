//! AWS's signature of an SNS message: the string it signs, the signature
//! versions, the signing certificate read, and the check itself.
//!
//! The string signed is, per message type, the listed fields each as
//! `Name\nvalue\n` in this order (AWS, "Verifying the signatures of Amazon
//! SNS messages"):
//! - `Notification`: `Message`, `MessageId`, `Subject` (only when present),
//!   `Timestamp`, `TopicArn`, `Type`;
//! - `SubscriptionConfirmation` and `UnsubscribeConfirmation`: `Message`,
//!   `MessageId`, `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`, `Type`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use rsvp_app::ports::{SnsError, SnsMessage, SnsMessageType};
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::spki::ObjectIdentifier;

/// `rsaEncryption` (RFC 8017): the only key type AWS signs with.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// The longest signature read, in base64 characters (an 8192-bit key's
/// signature is 1368).
const MAX_SIGNATURE_CHARS: usize = 2048;

/// A `SignatureVersion` rsvp verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureVersion {
    /// `1`: SHA1withRSA (RSASSA-PKCS1-v1_5 with SHA-1).
    V1,
    /// `2`: SHA256withRSA (RSASSA-PKCS1-v1_5 with SHA-256).
    V2,
}

impl SignatureVersion {
    /// The version `text` names.
    ///
    /// # Errors
    /// [`SnsError::Rejected`] for any other version.
    pub(crate) fn parse(text: &str) -> Result<Self, SnsError> {
        match text {
            "1" => Ok(Self::V1),
            "2" => Ok(Self::V2),
            _ => Err(SnsError::Rejected("unknown SignatureVersion (1 or 2 only)".to_owned())),
        }
    }

    /// ring's check for it: RSA keys of 2048 to 8192 bits.
    fn algorithm(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::V1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Self::V2 => &signature::RSA_PKCS1_2048_8192_SHA256,
        }
    }
}

/// The string AWS signs for `message` (see the module's documentation).
///
/// # Errors
/// [`SnsError::Rejected`] when a confirmation lacks its `SubscribeURL` or
/// `Token`.
pub(crate) fn string_to_sign(message: &SnsMessage) -> Result<String, SnsError> {
    fn line(out: &mut String, name: &str, value: &str) {
        out.push_str(name);
        out.push('\n');
        out.push_str(value);
        out.push('\n');
    }
    let mut out = String::with_capacity(message.message.len() + 512);
    let kind = message.kind.as_str();
    match message.kind {
        SnsMessageType::Notification => {
            line(&mut out, "Message", &message.message);
            line(&mut out, "MessageId", &message.message_id);
            if let Some(subject) = &message.subject {
                line(&mut out, "Subject", subject);
            }
            line(&mut out, "Timestamp", &message.timestamp);
            line(&mut out, "TopicArn", &message.topic_arn);
            line(&mut out, "Type", kind);
        }
        SnsMessageType::SubscriptionConfirmation | SnsMessageType::UnsubscribeConfirmation => {
            let missing = |field: &str| SnsError::Rejected(format!("{kind} without {field}"));
            let subscribe_url = message
                .subscribe_url
                .as_deref()
                .ok_or_else(|| missing("SubscribeURL"))?;
            let token = message.token.as_deref().ok_or_else(|| missing("Token"))?;
            line(&mut out, "Message", &message.message);
            line(&mut out, "MessageId", &message.message_id);
            line(&mut out, "SubscribeURL", subscribe_url);
            line(&mut out, "Timestamp", &message.timestamp);
            line(&mut out, "Token", token);
            line(&mut out, "TopicArn", &message.topic_arn);
            line(&mut out, "Type", kind);
        }
    }
    Ok(out)
}

/// The `Signature` field's bytes.
///
/// # Errors
/// [`SnsError::Rejected`] when it is not standard base64 (or too long).
pub(crate) fn decode_signature(text: &str) -> Result<Vec<u8>, SnsError> {
    let refuse = || SnsError::Rejected("Signature is not base64".to_owned());
    if text.is_empty() || text.len() > MAX_SIGNATURE_CHARS {
        return Err(refuse());
    }
    STANDARD.decode(text).map_err(|_| refuse())
}

/// What rsvp keeps of a signing certificate: its RSA key and when it is
/// valid.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SigningCert {
    /// The `RSAPublicKey` (PKCS#1 DER) of its subject public key info.
    rsa_public_key: Vec<u8>,
    /// `notBefore`.
    not_before: OffsetDateTime,
    /// `notAfter`.
    not_after: OffsetDateTime,
}

impl std::fmt::Debug for SigningCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCert")
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Why a fetched certificate cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertProblem {
    /// Not a PEM X.509 certificate (the answer was not what a certificate
    /// URL serves).
    Unreadable(&'static str),
    /// A certificate, but not one AWS signs SNS messages with.
    Unusable(&'static str),
}

impl SigningCert {
    /// The first certificate of the PEM text `pem`.
    ///
    /// # Errors
    /// [`CertProblem`] when it is not a PEM certificate or its key is not RSA.
    pub(crate) fn from_pem(pem: &[u8]) -> Result<Self, CertProblem> {
        let chain = Certificate::load_pem_chain(pem)
            .map_err(|_| CertProblem::Unreadable("the answer is not a PEM X.509 certificate"))?;
        let cert = chain
            .first()
            .ok_or(CertProblem::Unreadable("the answer holds no certificate"))?;
        let tbs = cert.tbs_certificate();
        let spki = tbs.subject_public_key_info();
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Err(CertProblem::Unusable("the certificate's key is not RSA"));
        }
        let rsa_public_key = spki
            .subject_public_key
            .as_bytes()
            .ok_or(CertProblem::Unusable("the certificate's key is malformed"))?
            .to_vec();
        let time = |t: x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs())
                .ok()
                .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
                .ok_or(CertProblem::Unusable("the certificate's validity is out of range"))
        };
        let validity = tbs.validity();
        Ok(Self {
            rsa_public_key,
            not_before: time(validity.not_before)?,
            not_after: time(validity.not_after)?,
        })
    }

    /// Checks `signature` of `signed` under `version` with this
    /// certificate's key, the certificate valid at `now`.
    ///
    /// # Errors
    /// [`SnsError::Rejected`] when the certificate is not valid at `now` or
    /// the signature does not verify (a wrong key, a tampered field, a key
    /// outside 2048..=8192 bits).
    pub(crate) fn verify(
        &self,
        version: SignatureVersion,
        signed: &[u8],
        signature: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), SnsError> {
        if now < self.not_before {
            return Err(SnsError::Rejected(
                "the signing certificate is not valid yet".to_owned(),
            ));
        }
        if now > self.not_after {
            return Err(SnsError::Rejected("the signing certificate has expired".to_owned()));
        }
        UnparsedPublicKey::new(version.algorithm(), &self.rsa_public_key)
            .verify(signed, signature)
            .map_err(|_| SnsError::Rejected("bad signature".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(subject: Option<&str>) -> SnsMessage {
        SnsMessage {
            kind: SnsMessageType::Notification,
            message_id: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324".to_owned(),
            topic_arn: "arn:aws:sns:us-west-2:123456789012:MyTopic".to_owned(),
            subject: subject.map(str::to_owned),
            message: "{\"notificationType\":\"Bounce\"}\nline two".to_owned(),
            timestamp: "2012-05-02T00:54:06.655Z".to_owned(),
            token: Some("ignored".to_owned()),
            subscribe_url: Some("https://ignored.example".to_owned()),
            signature_version: "1".to_owned(),
            signature: "AAAA".to_owned(),
            signing_cert_url: "https://sns.us-west-2.amazonaws.com/x.pem".to_owned(),
        }
    }

    #[test]
    fn a_notification_signs_its_fields_with_the_subject_only_when_present() {
        assert_eq!(
            string_to_sign(&notification(Some("My First Message"))).unwrap(),
            "Message\n{\"notificationType\":\"Bounce\"}\nline two\n\
             MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
             Subject\nMy First Message\n\
             Timestamp\n2012-05-02T00:54:06.655Z\n\
             TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n\
             Type\nNotification\n"
        );
        assert_eq!(
            string_to_sign(&notification(None)).unwrap(),
            "Message\n{\"notificationType\":\"Bounce\"}\nline two\n\
             MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
             Timestamp\n2012-05-02T00:54:06.655Z\n\
             TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n\
             Type\nNotification\n"
        );
        // An empty subject is present: it is signed.
        assert!(
            string_to_sign(&notification(Some("")))
                .unwrap()
                .contains("\nSubject\n\nTimestamp\n")
        );
    }

    #[test]
    fn a_confirmation_signs_its_url_and_token_and_needs_them() {
        let mut message = notification(Some("not signed"));
        message.kind = SnsMessageType::SubscriptionConfirmation;
        message.message = "You have chosen to subscribe.".to_owned();
        message.token = Some("2336412f37".to_owned());
        message.subscribe_url =
            Some("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37".to_owned());
        assert_eq!(
            string_to_sign(&message).unwrap(),
            "Message\nYou have chosen to subscribe.\n\
             MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
             SubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37\n\
             Timestamp\n2012-05-02T00:54:06.655Z\n\
             Token\n2336412f37\n\
             TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n\
             Type\nSubscriptionConfirmation\n"
        );
        message.kind = SnsMessageType::UnsubscribeConfirmation;
        assert!(string_to_sign(&message).unwrap().ends_with(
            "Token\n2336412f37\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nUnsubscribeConfirmation\n"
        ));
        message.token = None;
        assert!(matches!(string_to_sign(&message), Err(SnsError::Rejected(_))));
        message.token = Some("t".to_owned());
        message.subscribe_url = None;
        assert!(matches!(string_to_sign(&message), Err(SnsError::Rejected(_))));
    }

    #[test]
    fn versions_one_and_two_only() {
        assert_eq!(SignatureVersion::parse("1"), Ok(SignatureVersion::V1));
        assert_eq!(SignatureVersion::parse("2"), Ok(SignatureVersion::V2));
        for other in ["3", "0", "", " 1", "1.0", "v2"] {
            assert!(
                matches!(SignatureVersion::parse(other), Err(SnsError::Rejected(_))),
                "{other:?}"
            );
        }
    }

    #[test]
    fn a_signature_must_be_standard_base64() {
        assert_eq!(decode_signature("AQID").unwrap(), vec![1, 2, 3]);
        for bad in ["", "not base64!", "AQ-_", &"A".repeat(MAX_SIGNATURE_CHARS + 4)] {
            assert!(decode_signature(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_certificate_must_be_pem() {
        assert!(matches!(
            SigningCert::from_pem(b"<html>hello</html>"),
            Err(CertProblem::Unreadable(_))
        ));
        assert!(matches!(
            SigningCert::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err(CertProblem::Unreadable(_))
        ));
    }
}
