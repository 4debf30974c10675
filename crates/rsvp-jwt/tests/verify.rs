//! What a token must be: algorithms, keys, signature and claims, judged
//! against a real JWKS server on 127.0.0.1.

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsvp_app::{TokenIdentity, TokenRejected, TokenVerifier};
use rsvp_jwt::{JwtConfigError, JwtSettings, JwtVerifier};
use serde_json::{Value, json};
use support::*;

async fn standard() -> (JwksServer, JwtVerifier) {
    let server = JwksServer::start(&standard_jwks()).await;
    let verifier = verifier(settings(&server.url()), &ManualClock::new());
    (server, verifier)
}

fn invalid(reason: &'static str) -> Result<TokenIdentity, TokenRejected> {
    Err(TokenRejected::Invalid(reason))
}

fn identity() -> TokenIdentity {
    TokenIdentity {
        business_external_id: "org-42".to_owned(),
        user_external_id: "user-7".to_owned(),
    }
}

#[tokio::test]
async fn an_rs256_token_names_its_business_and_user() {
    let (server, verifier) = standard().await;
    let token = sign(Algorithm::RS256, Some("rsa-a"), &claims(), &rsa_a());
    assert_eq!(verifier.verify(&token).await, Ok(identity()));
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn an_es256_token_verifies_with_an_ec_key_without_alg() {
    let (_server, verifier) = standard().await;
    let token = sign(Algorithm::ES256, Some("ec-1"), &claims(), &ec_p256());
    assert_eq!(verifier.verify(&token).await, Ok(identity()));
}

#[tokio::test]
async fn the_claims_to_read_are_configurable() {
    let server = JwksServer::start(&standard_jwks()).await;
    let mut settings = settings(&server.url());
    settings.business_claim = "tenant".to_owned();
    settings.user_claim = "preferred_username".to_owned();
    let verifier = verifier(settings, &ManualClock::new());
    let claims = claims_with(|c| {
        c.insert("tenant".into(), json!("t-1"));
        c.insert("preferred_username".into(), json!("ann"));
    });
    let token = sign(Algorithm::RS256, Some("rsa-a"), &claims, &rsa_a());
    assert_eq!(
        verifier.verify(&token).await,
        Ok(TokenIdentity {
            business_external_id: "t-1".to_owned(),
            user_external_id: "ann".to_owned(),
        })
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let (server, verifier) = standard().await;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"rsa-a"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    for token in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
        assert!(matches!(verifier.verify(&token).await, Err(TokenRejected::Invalid(_))));
    }
    assert_eq!(server.requests(), 0, "refused before any key is looked for");
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let (server, verifier) = standard().await;
    let forged = sign(
        Algorithm::HS256,
        Some("rsa-a"),
        &claims(),
        &EncodingKey::from_secret(RSA_A_PUBLIC_PEM).unwrap(),
    );
    assert_eq!(verifier.verify(&forged).await, invalid("algorithm not allowed"));
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn hmac_algorithms_and_empty_settings_are_refused_at_construction() {
    let url = "https://id.example.test/jwks";
    let mut hmac = JwtSettings::new(ISSUER, AUDIENCE, url);
    hmac.algorithms = vec![Algorithm::RS256, Algorithm::HS256];
    assert_eq!(
        JwtVerifier::new(hmac).err(),
        Some(JwtConfigError::SymmetricAlgorithm(Algorithm::HS256))
    );
    let mut none = JwtSettings::new(ISSUER, AUDIENCE, url);
    none.algorithms.clear();
    assert_eq!(
        JwtVerifier::new(none).err(),
        Some(JwtConfigError::Missing("algorithms"))
    );
    assert_eq!(
        JwtVerifier::new(JwtSettings::new("", AUDIENCE, url)).err(),
        Some(JwtConfigError::Missing("issuer"))
    );
    assert_eq!(
        JwtVerifier::new(JwtSettings::new(ISSUER, " ", url)).err(),
        Some(JwtConfigError::Missing("audience"))
    );
    for bad in ["ftp://id.example.test/jwks", "not a url", "file:///etc/jwks.json"] {
        assert!(matches!(
            JwtVerifier::new(JwtSettings::new(ISSUER, AUDIENCE, bad)),
            Err(JwtConfigError::JwksUrl(_))
        ));
    }
    assert!(JwtVerifier::new(JwtSettings::new(ISSUER, AUDIENCE, url)).is_ok());
}

#[tokio::test]
async fn another_issuer_or_audience_is_refused() {
    let (_server, verifier) = standard().await;
    let cases = [
        ("iss", json!("https://evil.example.test"), "wrong issuer"),
        ("aud", json!("another-service"), "wrong audience"),
        ("aud", json!(["another-service", "billing"]), "wrong audience"),
    ];
    for (claim, value, reason) in cases {
        let claims = claims_with(|c| {
            c.insert(claim.into(), value);
        });
        let token = sign(Algorithm::RS256, Some("rsa-a"), &claims, &rsa_a());
        assert_eq!(verifier.verify(&token).await, invalid(reason), "{claim}");
    }
    // A list of audiences holding ours is accepted.
    let claims = claims_with(|c| {
        c.insert("aud".into(), json!(["billing", AUDIENCE]));
    });
    let token = sign(Algorithm::RS256, Some("rsa-a"), &claims, &rsa_a());
    assert_eq!(verifier.verify(&token).await, Ok(identity()));
}

#[tokio::test]
async fn exp_iss_and_aud_are_required() {
    let (_server, verifier) = standard().await;
    for claim in ["exp", "iss", "aud"] {
        let claims = claims_with(|c| {
            c.remove(claim);
        });
        let token = sign(Algorithm::RS256, Some("rsa-a"), &claims, &rsa_a());
        assert_eq!(
            verifier.verify(&token).await,
            invalid("a required claim (exp, iss, aud) is missing"),
            "{claim}"
        );
    }
}

#[tokio::test]
async fn expiry_and_not_before_allow_sixty_seconds_of_skew() {
    let (_server, verifier) = standard().await;
    let now = jsonwebtoken::get_current_timestamp();
    let expired = claims_with(|c| {
        c.insert("exp".into(), json!(now - 120));
    });
    let token = sign(Algorithm::RS256, Some("rsa-a"), &expired, &rsa_a());
    assert_eq!(verifier.verify(&token).await, invalid("expired"));

    let within_leeway = claims_with(|c| {
        c.insert("exp".into(), json!(now - 30));
    });
    let token = sign(Algorithm::RS256, Some("rsa-a"), &within_leeway, &rsa_a());
    assert_eq!(verifier.verify(&token).await, Ok(identity()));

    let not_yet = claims_with(|c| {
        c.insert("nbf".into(), json!(now + 300));
    });
    let token = sign(Algorithm::RS256, Some("rsa-a"), &not_yet, &rsa_a());
    assert_eq!(verifier.verify(&token).await, invalid("not yet valid"));

    let nbf_within_leeway = claims_with(|c| {
        c.insert("nbf".into(), json!(now + 30));
    });
    let token = sign(Algorithm::RS256, Some("rsa-a"), &nbf_within_leeway, &rsa_a());
    assert_eq!(verifier.verify(&token).await, Ok(identity()));
}

#[tokio::test]
async fn the_business_and_user_claims_must_be_non_empty_strings() {
    let (_server, verifier) = standard().await;
    let business = "the business claim is missing or not a non-empty string";
    let user = "the user claim is missing or not a non-empty string";
    let cases: [(&str, Option<Value>, &str); 6] = [
        ("org_id", None, business),
        ("org_id", Some(json!(42)), business),
        ("org_id", Some(json!("")), business),
        ("org_id", Some(json!(["org-42"])), business),
        ("sub", None, user),
        ("sub", Some(json!("  ")), user),
    ];
    for (claim, value, reason) in cases {
        let claims = claims_with(|c| match value.clone() {
            Some(value) => {
                c.insert(claim.into(), value);
            }
            None => {
                c.remove(claim);
            }
        });
        let token = sign(Algorithm::RS256, Some("rsa-a"), &claims, &rsa_a());
        assert_eq!(verifier.verify(&token).await, invalid(reason), "{claim} = {value:?}");
    }
}

#[tokio::test]
async fn an_algorithm_not_configured_is_refused_even_with_a_fitting_key() {
    // The RSA key without `alg` would fit PS256; only RS256 and ES256 are configured.
    let server = JwksServer::start(&jwks(vec![jwk(&rsa_a(), Algorithm::RS256, "rsa-a", false)])).await;
    let verifier = verifier(settings(&server.url()), &ManualClock::new());
    let token = sign(Algorithm::PS256, Some("rsa-a"), &claims(), &rsa_a());
    assert_eq!(verifier.verify(&token).await, invalid("algorithm not allowed"));
    let token = sign(Algorithm::RS384, Some("rsa-a"), &claims(), &rsa_a());
    assert_eq!(verifier.verify(&token).await, invalid("algorithm not allowed"));
}

#[tokio::test]
async fn a_key_verifies_only_its_own_algorithm_and_family() {
    let server = JwksServer::start(&jwks(vec![
        jwk(&rsa_a(), Algorithm::RS256, "rsa-a", true),
        jwk(&ec_p256(), Algorithm::ES256, "ec-1", true),
    ]))
    .await;
    let mut settings = settings(&server.url());
    settings.algorithms = vec![Algorithm::RS256, Algorithm::PS256, Algorithm::ES256];
    let verifier = verifier(settings, &ManualClock::new());
    // The RSA key says RS256: a PS256 token naming it finds no key.
    let token = sign(Algorithm::PS256, Some("rsa-a"), &claims(), &rsa_a());
    assert_eq!(verifier.verify(&token).await, invalid("unknown key"));
    // An RS256 token naming the EC key finds no key either.
    let token = sign(Algorithm::RS256, Some("ec-1"), &claims(), &rsa_a());
    assert_eq!(verifier.verify(&token).await, invalid("unknown key"));
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature() {
    let (_server, verifier) = standard().await;
    let genuine = sign(Algorithm::RS256, Some("rsa-a"), &claims(), &rsa_a());
    let other = sign(
        Algorithm::RS256,
        Some("rsa-a"),
        &claims_with(|c| {
            c.insert("org_id".into(), json!("org-1"));
        }),
        &rsa_a(),
    );
    let parts: Vec<&str> = genuine.split('.').collect();
    let other_parts: Vec<&str> = other.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], other_parts[1], parts[2]);
    assert_eq!(verifier.verify(&tampered).await, invalid("bad signature"));
    // Signed by another key under the same kid.
    let forged = sign(Algorithm::RS256, Some("rsa-a"), &claims(), &rsa_b());
    assert_eq!(verifier.verify(&forged).await, invalid("bad signature"));
}

#[tokio::test]
async fn malformed_and_oversized_tokens_are_refused() {
    let (server, verifier) = standard().await;
    for token in ["", "abc", "a.b", "a.b.c.d", "%%%.%%%.%%%"] {
        assert_eq!(verifier.verify(token).await, invalid("malformed token"), "{token:?}");
    }
    let huge = "a".repeat(rsvp_jwt::MAX_TOKEN_BYTES + 1);
    assert_eq!(verifier.verify(&huge).await, invalid("token too long"));
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn a_token_without_kid_is_tried_with_the_keys_of_its_type() {
    let server = JwksServer::start(&jwks(vec![
        jwk(&ec_p256(), Algorithm::ES256, "ec-1", true),
        jwk(&rsa_b(), Algorithm::RS256, "rsa-b", true),
        jwk(&rsa_a(), Algorithm::RS256, "rsa-a", true),
    ]))
    .await;
    let verifier = verifier(settings(&server.url()), &ManualClock::new());
    let token = sign(Algorithm::RS256, None, &claims(), &rsa_a());
    assert_eq!(verifier.verify(&token).await, Ok(identity()));
    let token = sign(Algorithm::ES256, None, &claims(), &ec_p256());
    assert_eq!(verifier.verify(&token).await, Ok(identity()));
    let token = sign(Algorithm::RS256, None, &claims(), &rsa_1024());
    assert_eq!(verifier.verify(&token).await, invalid("bad signature"));
}

#[tokio::test]
async fn jku_x5u_and_jwk_headers_are_never_followed_nor_trusted() {
    let (server, verifier) = standard().await;
    // The attacker's server serves the attacker's key B as `rsa-a`.
    let attacker = JwksServer::start(&jwks(vec![jwk(&rsa_b(), Algorithm::RS256, "rsa-a", true)])).await;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-a".to_owned());
    header.jku = Some(attacker.url());
    header.x5u = Some(attacker.url());
    header.jwk = Some(Jwk::from_encoding_key(&rsa_b(), Algorithm::RS256).unwrap());
    let forged = sign_with(&header, &claims(), &rsa_b());
    assert_eq!(verifier.verify(&forged).await, invalid("bad signature"));
    // The same headers on a genuine token change nothing.
    let genuine = sign_with(&header, &claims(), &rsa_a());
    assert_eq!(verifier.verify(&genuine).await, Ok(identity()));
    assert_eq!(attacker.requests(), 0, "the jku/x5u URL was fetched");
    assert_eq!(server.requests(), 1);
}
