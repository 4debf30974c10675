//! Properties: terminal states never change, no transition leaves a
//! non-pending state, parsers never panic and accept what they print.

use proptest::prelude::*;
use rsvp_domain::*;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn base() -> Invitation {
    let request = InvitationInput {
        email: Some("bob@globex.test".into()),
        ..Default::default()
    }
    .validate()
    .unwrap();
    Invitation::new(
        InvitationId::from_uuid(Uuid::from_u128(1)),
        BusinessId::from_uuid(Uuid::from_u128(10)),
        UserId::from_uuid(Uuid::from_u128(2)),
        request,
        OffsetDateTime::UNIX_EPOCH,
    )
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Accept),
        Just(Action::Reject),
        Just(Action::Cancel),
        Just(Action::Expire)
    ]
}

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        Just(Actor::Sender {
            user_id: UserId::from_uuid(Uuid::from_u128(2))
        }),
        Just(Actor::Invitee { user_id: None }),
        Just(Actor::System),
    ]
}

proptest! {
    /// Any sequence of (action, actor, time) leaves at most one successful
    /// transition, and after it the status never changes again.
    #[test]
    fn terminal_states_never_change(steps in prop::collection::vec((action(), actor(), 0i64..40 * 24 * 3600), 1..20)) {
        let mut invitation = base();
        let mut terminal: Option<InvitationStatus> = None;
        for (action, actor, offset) in steps {
            let at = OffsetDateTime::UNIX_EPOCH + Duration::seconds(offset);
            match invitation.transition(action, &actor, at) {
                Ok(next) => {
                    prop_assert!(terminal.is_none(), "moved out of {:?}", terminal);
                    prop_assert_eq!(invitation.status(), InvitationStatus::Pending);
                    prop_assert!(next.status().is_terminal());
                    terminal = Some(next.status());
                    invitation = next;
                }
                Err(_) => {
                    if let Some(status) = terminal {
                        prop_assert_eq!(invitation.status(), status);
                    }
                }
            }
        }
    }

    /// From every non-pending status, every action by every actor at any time is refused.
    #[test]
    fn no_transition_leaves_a_non_pending_state(action in action(), actor in actor(), offset in 0i64..100 * 24 * 3600, which in 0usize..4) {
        let at = OffsetDateTime::UNIX_EPOCH + Duration::seconds(offset);
        let b = base();
        let start = match which {
            0 => b.accept(&Actor::Invitee { user_id: None }, BusinessId::from_uuid(Uuid::from_u128(20)), OffsetDateTime::UNIX_EPOCH).unwrap(),
            1 => b.reject(&Actor::Invitee { user_id: None }, OffsetDateTime::UNIX_EPOCH).unwrap(),
            2 => b.cancel(&Actor::Sender { user_id: b.sent_by_user_id() }, OffsetDateTime::UNIX_EPOCH).unwrap(),
            _ => b.expire(b.expires_at()).unwrap(),
        };
        prop_assert!(start.transition(action, &actor, at).is_err());
        prop_assert!(start.status_at(at).is_terminal());
    }

    #[test]
    fn email_parser_never_panics_and_accepts_what_it_prints(input in "\\PC{0,300}") {
        if let Ok(email) = EmailAddress::parse(&input) {
            let again = EmailAddress::parse(&email.to_string());
            prop_assert_eq!(again.as_ref().ok(), Some(&email));
            prop_assert_eq!(again.map(|e| e.as_str().to_owned()).ok(), Some(email.as_str().to_owned()));
        }
    }

    #[test]
    fn plausible_emails_round_trip(local in "[a-zA-Z0-9._%+-]{1,30}", domain in "[a-z0-9-]{1,20}\\.[a-z]{2,6}") {
        if let Ok(email) = EmailAddress::parse(&format!("{local}@{domain}")) {
            prop_assert_eq!(EmailAddress::parse(email.as_str()).ok(), Some(email));
        }
    }

    #[test]
    fn text_parsers_never_panic_and_accept_what_they_print(input in "\\PC{0,1200}") {
        if let Ok(m) = Message::parse(&input) { prop_assert_eq!(Message::parse(m.as_str()).ok(), Some(m)); }
        if let Ok(n) = PersonName::parse(&input) { prop_assert_eq!(PersonName::parse(n.as_str()).ok(), Some(n)); }
        if let Ok(x) = ExternalId::parse(&input) { prop_assert_eq!(ExternalId::parse(x.as_str()).ok(), Some(x)); }
        if let Ok(r) = Role::parse(&input) { prop_assert_eq!(Role::parse(r.as_str()).ok(), Some(r)); }
        if let Ok(p) = Phone::parse(&input) { prop_assert_eq!(Phone::parse(p.as_str()).ok(), Some(p)); }
        let _ = BusinessName::parse(&input);
    }

    #[test]
    fn expiry_parser_accepts_exactly_one_to_ninety(days in any::<i64>()) {
        prop_assert_eq!(ExpiryDays::new(days).is_ok(), (1..=90).contains(&days));
    }

    #[test]
    fn custom_data_parser_never_panics_and_accepts_what_it_prints(
        entries in prop::collection::vec(("\\PC{0,260}", prop_oneof![
            Just(RawValue::Null),
            any::<bool>().prop_map(RawValue::Bool),
            any::<i64>().prop_map(|n| RawValue::Number(CustomNumber::Int(n))),
            any::<f64>().prop_map(|n| RawValue::Number(CustomNumber::Float(n))),
            "\\PC{0,260}".prop_map(RawValue::String),
            Just(RawValue::Array),
        ]), 0..13)
    ) {
        if let Ok(data) = CustomData::parse(&RawValue::Object(entries)) {
            prop_assert!(data.len() <= 10);
            prop_assert_eq!(CustomData::parse(&data.to_raw()).ok(), Some(data));
        }
    }
}

/// An address of letters whose upper case is one letter that lowercases
/// back, so a case variant of it is the same address: (local, label, tld).
fn idn_address() -> impl Strategy<Value = (String, String, String)> {
    (
        "[a-z0-9äöüéèñçåøł][a-z0-9äöüéèñçåøł+_-]{0,15}",
        "[a-z0-9äöüéèñçåøł]{1,12}",
        "[a-z]{2,6}",
    )
}

fn nfd(text: &str) -> String {
    icu_normalizer::DecomposingNormalizerBorrowed::new_nfd()
        .normalize(text)
        .into_owned()
}

fn flip_case(text: &str, mask: &[bool]) -> String {
    text.chars()
        .zip(mask.iter().cycle())
        .map(|(c, upper)| {
            if *upper {
                c.to_uppercase().collect::<String>()
            } else {
                c.to_string()
            }
        })
        .collect()
}

proptest! {
    // A few hundred cases each: seconds in a debug build.
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any string at all, control characters and lone marks included.
    #[test]
    fn email_parser_never_panics_on_any_string(input in any::<String>()) {
        if let Ok(email) = EmailAddress::parse(&input) {
            prop_assert!(email.normalized().is_ascii() || email.domain().is_ascii());
        }
    }

    /// The normalized form is an address whose normalized form is itself.
    #[test]
    fn normalizing_an_email_is_idempotent(
        input in "\\PC{0,80}@\\PC{0,40}",
        unicode in "[\\p{L}\\p{M}\\p{N}İΣß.+_-]{1,20}@[\\p{L}\\p{M}\\p{N}-]{1,20}\\.[\\p{L}]{2,6}",
        (local, label, tld) in idn_address(),
    ) {
        for candidate in [input, unicode, format!("{local}@{label}.{tld}")] {
            if let Ok(email) = EmailAddress::parse(&candidate) {
                let again = EmailAddress::parse(email.normalized());
                prop_assert_eq!(again.as_ref().map(EmailAddress::normalized).ok(), Some(email.normalized()), "{:?}", candidate);
                prop_assert!(email.domain().is_ascii());
            }
        }
    }

    /// Upper/lower case, NFC/NFD and Unicode/punycode spellings of one
    /// address are one address.
    #[test]
    fn case_nfc_and_idna_variants_of_one_address_are_equal(
        (local, label, tld) in idn_address(),
        mask in prop::collection::vec(any::<bool>(), 1..8),
    ) {
        let address = format!("{local}@{label}.{tld}");
        let email = EmailAddress::parse(&address);
        prop_assert!(email.is_ok(), "{:?}: {:?}", address, email);
        let Ok(email) = email else { unreachable!() };
        let punycode = idna::domain_to_ascii(&format!("{label}.{tld}")).unwrap_or_default();
        for variant in [
            address.to_uppercase(),
            flip_case(&address, &mask),
            nfd(&address),
            nfd(&flip_case(&address, &mask)),
            format!("{local}@{punycode}"),
            format!("{}@{}", nfd(&local).to_uppercase(), punycode.to_uppercase()),
        ] {
            let other = EmailAddress::parse(&variant);
            prop_assert_eq!(other.as_ref().map(EmailAddress::normalized).ok(), Some(email.normalized()), "{:?}", variant);
            prop_assert_eq!(other.map(|e| e.as_str().to_owned()).ok(), Some(variant.clone()), "the spelling is kept");
        }
    }

    /// Names, roles and external ids never hold a format control; a message
    /// never holds a bidi override.
    #[test]
    fn accepted_text_never_holds_a_refused_invisible_character(
        before in "\\PC{0,20}",
        hidden in prop::sample::select(vec!['\u{00AD}', '\u{061C}', '\u{200B}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202E}', '\u{2060}', '\u{2066}', '\u{2069}', '\u{FEFF}', '\u{E0041}']),
        after in "\\PC{0,20}",
    ) {
        let text = format!("{before}{hidden}{after}");
        prop_assert!(PersonName::parse(&text).is_err());
        prop_assert!(BusinessName::parse(&text).is_err());
        prop_assert!(ExternalId::parse(&text).is_err());
        prop_assert!(Role::parse(&text).is_err());
        if let Ok(message) = Message::parse(&text) {
            prop_assert!(!message.as_str().chars().any(is_bidi_override));
            prop_assert!(!is_bidi_override(hidden));
        }
    }
}

/// One step on a join link: a business (0..6) redeems it, the link's
/// business declines or approves the n-th pending request, or revokes it.
#[derive(Debug, Clone)]
enum JoinStep {
    Redeem(u128),
    Decline(usize),
    Approve(usize),
    Revoke,
}

fn join_step() -> impl Strategy<Value = JoinStep> {
    prop_oneof![
        4 => (0u128..6).prop_map(JoinStep::Redeem),
        1 => (0usize..4).prop_map(JoinStep::Decline),
        1 => (0usize..4).prop_map(JoinStep::Approve),
        1 => Just(JoinStep::Revoke),
    ]
}

proptest! {
    /// Whatever the order of redemptions, declines, approvals and the
    /// revocation: uses never exceed `max_uses`, every use is a live
    /// redemption (a declined request gives its use back), and nothing is
    /// redeemed after the revocation.
    #[test]
    fn join_link_uses_never_exceed_max_uses(
        max_uses in 1i64..4,
        requires_approval in any::<bool>(),
        steps in proptest::collection::vec(join_step(), 0..40),
    ) {
        let now = OffsetDateTime::UNIX_EPOCH;
        let owner = BusinessId::from_uuid(Uuid::from_u128(1_000));
        let request = JoinLinkInput { max_uses: Some(max_uses), requires_approval: Some(requires_approval), ..Default::default() }
            .validate()
            .unwrap();
        let mut link = JoinLink::new(JoinLinkId::from_uuid(Uuid::from_u128(1)), owner, UserId::from_uuid(Uuid::from_u128(2)), request, now);
        let mut pending: Vec<ConnectionRequest> = Vec::new();
        let mut connected: Vec<BusinessId> = Vec::new();
        let mut revoked = false;
        for (n, step) in steps.into_iter().enumerate() {
            let n = n as u128;
            match step {
                JoinStep::Redeem(business) => {
                    let redeemer = BusinessId::from_uuid(Uuid::from_u128(10 + business));
                    let facts = JoinFacts {
                        connected: connected.contains(&redeemer),
                        requested: pending.iter().any(|r| r.requester_business_id == redeemer),
                    };
                    let result = link.redeem(redeemer, facts, now);
                    if facts.connected || facts.requested {
                        prop_assert!(result.is_err());
                        continue;
                    }
                    if revoked {
                        prop_assert_eq!(result, Err(JoinRefusal::Revoked));
                    }
                    if result.is_ok() {
                        if link.requires_approval {
                            pending.push(ConnectionRequest::new(ConnectionRequestId::from_uuid(Uuid::from_u128(100 + n)), &link, redeemer, UserId::from_uuid(Uuid::from_u128(3)), now));
                        } else {
                            connected.push(redeemer);
                        }
                    }
                }
                JoinStep::Decline(index) if index < pending.len() => {
                    let request = pending.remove(index);
                    prop_assert!(request.decline(now).is_ok());
                    link.release_use();
                }
                JoinStep::Approve(index) if index < pending.len() => {
                    let request = pending.remove(index);
                    let approved = request.approve(ConnectionId::from_uuid(Uuid::from_u128(200 + n)), now).unwrap();
                    connected.push(approved.requester_business_id);
                }
                JoinStep::Decline(_) | JoinStep::Approve(_) => {}
                JoinStep::Revoke => {
                    link.revoke(now);
                    revoked = true;
                }
            }
            prop_assert!(i64::from(link.uses) <= max_uses);
            prop_assert_eq!(link.uses as usize, pending.len() + connected.len());
        }
    }
}
