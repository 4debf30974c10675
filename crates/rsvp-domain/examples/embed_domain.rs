//! Embedding the rules alone: validate an invitation request, then run the
//! state machine. No IO, no async: `now` is always a parameter.
//!
//! ```text
//! cargo run -p rsvp-domain --example embed_domain
//! ```

use rsvp_domain::{
    Actor, BusinessId, Invitation, InvitationId, InvitationInput, InvitationStatus, TransitionError, UserId,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn main() {
    // 1. Validation reports every invalid field at once.
    let refused = InvitationInput {
        email: Some("not-an-email".into()),
        expires_in_days: Some(365),
        ..Default::default()
    }
    .validate()
    .expect_err("two fields are invalid");
    for error in refused.errors() {
        println!("refused: {} ({}): {}", error.field, error.code, error.message);
    }

    // 2. A valid request becomes a pending invitation.
    let request = InvitationInput {
        email: Some("  Ivy@Globex.example ".into()),
        message: Some("Let's work together.".into()),
        expires_in_days: Some(7),
        ..Default::default()
    }
    .validate()
    .expect("a valid request");
    let now = OffsetDateTime::now_utc();
    let sender = UserId::from_uuid(Uuid::from_u128(1));
    let invitation = Invitation::new(
        InvitationId::from_uuid(Uuid::from_u128(2)),
        BusinessId::from_uuid(Uuid::from_u128(3)),
        sender,
        request,
        now,
    );
    println!(
        "invited {} ({}), expires {}",
        invitation.email(),
        invitation.status().as_str(),
        invitation.expires_at()
    );

    // 3. The state machine: the invitee accepts; a later cancel is refused.
    let invitee = Actor::Invitee { user_id: None };
    let invitee_business = BusinessId::from_uuid(Uuid::from_u128(4));
    let accepted = invitation
        .accept(&invitee, invitee_business, now + Duration::hours(1))
        .expect("pending, so it may be accepted");
    assert_eq!(accepted.status(), InvitationStatus::Accepted);
    match accepted.cancel(&Actor::Sender { user_id: sender }, now + Duration::hours(2)) {
        Err(TransitionError::InvalidTransition { current, .. }) => {
            println!("cancel refused: the invitation is {}", current.as_str());
        }
        other => panic!("a terminal invitation cannot change: {other:?}"),
    }

    // 4. Unanswered past its time, it reads as expired before anything persists it.
    let later = now + Duration::days(8);
    assert_eq!(invitation.status_at(later), InvitationStatus::Expired);
    println!(
        "eight days on, the untouched invitation reads {}",
        invitation.status_at(later).as_str()
    );
}
