//! The host platform's identity provider (`RSVP_JWT_*`): which bearer JWTs
//! are accepted beside API keys, read from the settings into the verifier's
//! [`JwtSettings`](rsvp_jwt::JwtSettings).

use std::str::FromStr;

use rsvp_jwt::{Algorithm, JwtSettings};

/// The JWT settings, if the operator turned JWT callers on (by setting
/// `RSVP_JWT_JWKS_URL`). `get` reads a setting; an error names the setting
/// and what is wrong with it.
///
/// # Errors
/// A JWKS URL without an issuer or an audience, an issuer or audience
/// without a JWKS URL, an unknown algorithm, `none`, or an `HS*` algorithm.
pub fn jwt_settings<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Option<JwtSettings>, (&'static str, String)> {
    let given = |name: &str| get(name).map(str::trim).filter(|v| !v.is_empty());
    let Some(jwks_url) = given("RSVP_JWT_JWKS_URL") else {
        for name in [
            "RSVP_JWT_ISSUER",
            "RSVP_JWT_AUDIENCE",
            "RSVP_JWT_ALGORITHMS",
            "RSVP_JWT_BUSINESS_CLAIM",
            "RSVP_JWT_USER_CLAIM",
        ] {
            if given(name).is_some() {
                return Err(("RSVP_JWT_JWKS_URL", format!("is required when {name} is set")));
            }
        }
        return Ok(None);
    };
    let issuer =
        given("RSVP_JWT_ISSUER").ok_or(("RSVP_JWT_ISSUER", "is required with RSVP_JWT_JWKS_URL".to_owned()))?;
    let audience =
        given("RSVP_JWT_AUDIENCE").ok_or(("RSVP_JWT_AUDIENCE", "is required with RSVP_JWT_JWKS_URL".to_owned()))?;
    let mut settings = JwtSettings::new(issuer, audience, jwks_url);
    if let Some(list) = given("RSVP_JWT_ALGORITHMS") {
        settings.algorithms = list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(algorithm)
            .collect::<Result<Vec<_>, _>>()?;
    }
    if let Some(claim) = given("RSVP_JWT_BUSINESS_CLAIM") {
        claim.clone_into(&mut settings.business_claim);
    }
    if let Some(claim) = given("RSVP_JWT_USER_CLAIM") {
        claim.clone_into(&mut settings.user_claim);
    }
    Ok(Some(settings))
}

/// One algorithm of `RSVP_JWT_ALGORITHMS`: asymmetric only (RFC 8725).
fn algorithm(name: &str) -> Result<Algorithm, (&'static str, String)> {
    let refuse = |why: &str| Err(("RSVP_JWT_ALGORITHMS", format!("'{name}' {why}")));
    if name.eq_ignore_ascii_case("none") {
        return refuse("is never accepted: an unsigned token proves nothing");
    }
    if name.to_ascii_uppercase().starts_with("HS") {
        return refuse("is a shared-secret algorithm: with keys from a public JWKS anyone could sign");
    }
    match Algorithm::from_str(name) {
        Ok(alg) => Ok(alg),
        Err(_) => refuse("is not an algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Option<JwtSettings>, (&'static str, String)> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        jwt_settings(|name| map.get(name).map(String::as_str))
    }

    const BASE: [(&str, &str); 3] = [
        ("RSVP_JWT_JWKS_URL", "https://idp.example/.well-known/jwks.json"),
        ("RSVP_JWT_ISSUER", "https://idp.example/"),
        ("RSVP_JWT_AUDIENCE", "rsvp"),
    ];

    #[test]
    fn unset_is_off_and_the_defaults_are_the_briefs() {
        assert_eq!(read(&[]), Ok(None));
        let settings = read(&BASE).unwrap().unwrap();
        assert_eq!(settings.algorithms, vec![Algorithm::RS256, Algorithm::ES256]);
        assert_eq!(
            (settings.business_claim.as_str(), settings.user_claim.as_str()),
            ("org_id", "sub")
        );
        assert_eq!(settings.leeway.as_secs(), 60);
    }

    #[test]
    fn claims_and_algorithms_are_read_and_none_or_hs_are_refused() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("RSVP_JWT_ALGORITHMS", "ES256, PS256"),
            ("RSVP_JWT_BUSINESS_CLAIM", "tenant"),
            ("RSVP_JWT_USER_CLAIM", "uid"),
        ]);
        let settings = read(&pairs).unwrap().unwrap();
        assert_eq!(settings.algorithms, vec![Algorithm::ES256, Algorithm::PS256]);
        assert_eq!(
            (settings.business_claim.as_str(), settings.user_claim.as_str()),
            ("tenant", "uid")
        );
        for bad in ["none", "HS256", "hs512", "RS1024", "RS256,none"] {
            let mut pairs = BASE.to_vec();
            pairs.push(("RSVP_JWT_ALGORITHMS", bad));
            let (name, _) = read(&pairs).unwrap_err();
            assert_eq!(name, "RSVP_JWT_ALGORITHMS", "{bad}");
        }
    }

    #[test]
    fn a_half_configuration_names_what_is_missing() {
        assert_eq!(read(&BASE[..2]).unwrap_err().0, "RSVP_JWT_AUDIENCE");
        assert_eq!(read(&[BASE[0], BASE[2]]).unwrap_err().0, "RSVP_JWT_ISSUER");
        assert_eq!(read(&BASE[1..]).unwrap_err().0, "RSVP_JWT_JWKS_URL");
    }
}
