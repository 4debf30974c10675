//! Which URLs may be fetched: the signing certificate's and the
//! `SubscribeURL`, both on `https://sns.<region>.amazonaws.com` (or
//! `.amazonaws.com.cn`) only, judged before anything is fetched.

use reqwest::Url;
use rsvp_app::ports::SnsError;
use url::Host;

/// The longest URL judged (longer ones are refused unread).
const MAX_URL_BYTES: usize = 2048;

/// The hosts a URL may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostRule {
    /// `sns.<region>.amazonaws.com` and `sns.<region>.amazonaws.com.cn`, on
    /// the default port.
    Aws,
    /// Tests only: exactly this host (as the URL normalizes it) and port.
    Exact {
        /// Lower case; IPv6 in brackets.
        host: String,
        /// Written in the URL.
        port: u16,
    },
}

/// What a URL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// `SigningCertURL`: its path ends in `.pem`.
    Certificate,
    /// `SubscribeURL`.
    Subscribe,
}

impl Purpose {
    fn field(self) -> &'static str {
        match self {
            Self::Certificate => "SigningCertURL",
            Self::Subscribe => "SubscribeURL",
        }
    }
}

impl HostRule {
    /// `raw` parsed, when it may be fetched for `purpose`: https, no user
    /// or password, a host (and port) of this rule, and for a certificate a
    /// path ending in `.pem`.
    ///
    /// # Errors
    /// [`SnsError::Rejected`] naming the field and the rule broken (never
    /// the URL: a `SubscribeURL` carries the subscription's token).
    pub(crate) fn check(&self, raw: &str, purpose: Purpose) -> Result<Url, SnsError> {
        let field = purpose.field();
        let refuse = |why: &str| SnsError::Rejected(format!("{field} {why}"));
        if raw.len() > MAX_URL_BYTES {
            return Err(refuse("is too long"));
        }
        let url = Url::parse(raw).map_err(|_| refuse("is not a URL"))?;
        if url.scheme() != "https" {
            return Err(refuse("is not https"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("carries a user or password"));
        }
        let allowed = match self {
            Self::Aws => url.port().is_none() && matches!(url.host(), Some(Host::Domain(host)) if is_sns_host(host)),
            Self::Exact { host, port } => url.host_str() == Some(host.as_str()) && url.port() == Some(*port),
        };
        if !allowed {
            return Err(match self {
                Self::Aws => refuse("is not on https://sns.<region>.amazonaws.com"),
                Self::Exact { .. } => refuse("is not on the test endpoint"),
            });
        }
        if purpose == Purpose::Certificate && !url.path().ends_with(".pem") {
            return Err(refuse("does not name a .pem file"));
        }
        Ok(url)
    }
}

/// Whether `host` (lower case, as a URL normalizes it) is
/// `sns.<region>.amazonaws.com` or `sns.<region>.amazonaws.com.cn`.
pub(crate) fn is_sns_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else {
        return false;
    };
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"));
    region.is_some_and(is_region)
}

/// Whether `name` is written as an AWS region: a two-letter area, one or
/// more words, a number (`us-east-1`, `us-gov-west-1`, `cn-north-1`).
fn is_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let (Some(area), Some(number)) = (parts.first(), parts.last()) else {
        return false;
    };
    let letters = |part: &&str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase());
    parts.len() >= 3
        && area.len() == 2
        && letters(area)
        && parts[1..parts.len() - 1].iter().all(letters)
        && !number.is_empty()
        && number.len() <= 2
        && number.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(rule: &HostRule, url: &str) -> Result<String, SnsError> {
        rule.check(url, Purpose::Certificate).map(|u| u.to_string())
    }

    #[test]
    fn aws_hosts_of_every_partition_are_recognized() {
        for host in [
            "sns.us-east-1.amazonaws.com",
            "sns.eu-west-2.amazonaws.com",
            "sns.us-gov-west-1.amazonaws.com",
            "sns.ap-southeast-4.amazonaws.com",
            "sns.cn-north-1.amazonaws.com.cn",
        ] {
            assert!(is_sns_host(host), "{host}");
        }
        for host in [
            "sns.amazonaws.com",
            "sns..amazonaws.com",
            "sns.us-east.amazonaws.com",
            "sns.us-east-1x.amazonaws.com",
            "sns.useast-1.amazonaws.com",
            "sns.us--1.amazonaws.com",
            "sns.us-east-1.evil.amazonaws.com",
            "sns.evil.us-east-1.amazonaws.com",
            "sns.us-east-1.amazonaws.com.evil.test",
            "sns.us-east-1.amazonaws.com.",
            "evil-sns.us-east-1.amazonaws.com",
            "sqs.us-east-1.amazonaws.com",
            "evil.test",
        ] {
            assert!(!is_sns_host(host), "{host}");
        }
    }

    #[test]
    fn a_certificate_url_must_be_https_on_sns_with_a_pem_path() {
        let rule = HostRule::Aws;
        let good = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem";
        assert_eq!(cert(&rule, good).as_deref(), Ok(good));
        // A written default port is the default port.
        assert!(cert(&rule, "https://sns.us-east-1.amazonaws.com:443/a.pem").is_ok());
        assert!(cert(&rule, "https://SNS.US-EAST-1.AMAZONAWS.COM/a.pem").is_ok());
        assert!(cert(&rule, "https://sns.cn-north-1.amazonaws.com.cn/a.pem").is_ok());
        for bad in [
            "http://sns.us-east-1.amazonaws.com/a.pem",
            "ftp://sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com:8443/a.pem",
            "https://user@sns.us-east-1.amazonaws.com/a.pem",
            "https://user:pw@sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com.evil.test/a.pem",
            "https://sns.us-east-1.amazonaws.com@evil.test/a.pem",
            "https://evil.test/a.pem",
            "https://54.239.0.1/a.pem",
            "https://sns.us-east-1.amazonaws.com/a.pem.txt",
            "https://sns.us-east-1.amazonaws.com/",
            "//sns.us-east-1.amazonaws.com/a.pem",
            "not a url",
        ] {
            assert!(matches!(cert(&rule, bad), Err(SnsError::Rejected(_))), "{bad} accepted");
        }
        let long = format!("https://sns.us-east-1.amazonaws.com/{}.pem", "a".repeat(MAX_URL_BYTES));
        assert!(cert(&rule, &long).is_err());
    }

    #[test]
    fn a_subscribe_url_follows_the_host_rule_without_a_pem_path() {
        let rule = HostRule::Aws;
        let good = "https://sns.eu-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn&Token=t";
        assert!(rule.check(good, Purpose::Subscribe).is_ok());
        let refused = rule.check(
            "https://evil.test/?Action=ConfirmSubscription&Token=secret",
            Purpose::Subscribe,
        );
        let Err(SnsError::Rejected(why)) = refused else {
            panic!("accepted: {refused:?}");
        };
        assert!(!why.contains("secret"), "the reason repeats the URL: {why}");
        assert!(
            rule.check("http://sns.eu-west-2.amazonaws.com/?x", Purpose::Subscribe)
                .is_err()
        );
    }

    #[test]
    fn the_test_rule_allows_exactly_its_host_and_port() {
        let rule = HostRule::Exact {
            host: "127.0.0.1".to_owned(),
            port: 8443,
        };
        assert!(cert(&rule, "https://127.0.0.1:8443/cert.pem").is_ok());
        for bad in [
            "https://127.0.0.1:8444/cert.pem",
            "https://127.0.0.1/cert.pem",
            "https://localhost:8443/cert.pem",
            "http://127.0.0.1:8443/cert.pem",
            "https://u@127.0.0.1:8443/cert.pem",
            "https://sns.us-east-1.amazonaws.com/cert.pem",
        ] {
            assert!(cert(&rule, bad).is_err(), "{bad} accepted");
        }
    }
}
