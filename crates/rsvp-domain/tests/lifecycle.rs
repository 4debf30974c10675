//! The brief's lifecycle section, one test per rule.

use rsvp_domain::*;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const SENDER_USER: u128 = 2;

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn pending() -> Invitation {
    let request = InvitationInput {
        email: Some("bob@globex.test".into()),
        ..Default::default()
    }
    .validate()
    .unwrap();
    Invitation::new(
        InvitationId::from_uuid(Uuid::from_u128(1)),
        BusinessId::from_uuid(Uuid::from_u128(10)),
        UserId::from_uuid(Uuid::from_u128(SENDER_USER)),
        request,
        t0(),
    )
}

fn sender() -> Actor {
    Actor::Sender {
        user_id: UserId::from_uuid(Uuid::from_u128(SENDER_USER)),
    }
}

fn invitee() -> Actor {
    Actor::Invitee {
        user_id: Some(UserId::from_uuid(Uuid::from_u128(99))),
    }
}

fn globex() -> BusinessId {
    BusinessId::from_uuid(Uuid::from_u128(20))
}

fn in_status(status: InvitationStatus) -> Invitation {
    let invitation = pending();
    let soon = t0() + Duration::hours(1);
    match status {
        InvitationStatus::Pending => invitation,
        InvitationStatus::Accepted => invitation.accept(&invitee(), globex(), soon).unwrap(),
        InvitationStatus::Rejected => invitation.reject(&invitee(), soon).unwrap(),
        InvitationStatus::Cancelled => invitation.cancel(&sender(), soon).unwrap(),
        InvitationStatus::Expired => invitation.expire(invitation.expires_at()).unwrap(),
    }
}

fn apply(invitation: &Invitation, action: Action, at: OffsetDateTime) -> Result<Invitation, TransitionError> {
    let actor = match action {
        Action::Accept | Action::Reject => invitee(),
        Action::Cancel => sender(),
        Action::Expire => Actor::System,
    };
    invitation.transition(action, &actor, at)
}

const ACTIONS: [Action; 4] = [Action::Accept, Action::Reject, Action::Cancel, Action::Expire];

#[test]
fn a_new_invitation_is_pending_and_expires_after_fourteen_days_by_default() {
    let invitation = pending();
    assert_eq!(invitation.status(), InvitationStatus::Pending);
    assert_eq!(invitation.expires_at() - invitation.created_at(), Duration::days(14));
    assert_eq!(invitation.resolved_at(), None);
}

#[test]
fn pending_accepted_by_the_invitee_becomes_accepted() {
    let at = t0() + Duration::hours(2);
    let accepted = pending().accept(&invitee(), globex(), at).unwrap();
    assert_eq!(accepted.status(), InvitationStatus::Accepted);
    assert_eq!(accepted.resolved_at(), Some(at));
    assert_eq!(accepted.updated_at(), at);
}

#[test]
fn accepting_records_the_invitees_business_which_the_connection_joins() {
    let accepted = pending().accept(&invitee(), globex(), t0()).unwrap();
    assert_eq!(pending().invitee_business_id(), None);
    assert_eq!(accepted.invitee_business_id(), Some(globex()));
    let connection =
        Connection::from_invitation(ConnectionId::from_uuid(Uuid::from_u128(7)), &accepted, globex(), t0());
    assert_eq!(connection.other_business(accepted.business_id()), Some(globex()));
}

#[test]
fn a_refused_acceptance_records_no_business() {
    let cancelled = in_status(InvitationStatus::Cancelled);
    assert!(cancelled.accept(&invitee(), globex(), t0()).is_err());
    assert_eq!(
        pending().accept(&sender(), globex(), t0()),
        Err(TransitionError::NotPermitted { action: Action::Accept })
    );
}

#[test]
fn an_answer_records_the_invitees_business_when_known_and_only_an_answer_does() {
    let member = pending().with_invitee_business(Some(globex()));
    assert_eq!(member.invitee_business_id(), Some(globex()), "known from the start");
    let other = BusinessId::from_uuid(Uuid::from_u128(30));
    let rejected = pending().answer(Action::Reject, &invitee(), Some(other), t0()).unwrap();
    assert_eq!(rejected.invitee_business_id(), Some(other));
    let unknown = member.answer(Action::Reject, &invitee(), None, t0()).unwrap();
    assert_eq!(
        unknown.invitee_business_id(),
        Some(globex()),
        "kept when the answer knows none"
    );
    let cancelled = pending().answer(Action::Cancel, &sender(), Some(other), t0()).unwrap();
    assert_eq!(
        cancelled.invitee_business_id(),
        None,
        "the sender's cancel says nothing of the invitee"
    );
}

#[test]
fn pending_rejected_by_the_invitee_becomes_rejected() {
    let rejected = pending().reject(&invitee(), t0()).unwrap();
    assert_eq!(rejected.status(), InvitationStatus::Rejected);
}

#[test]
fn pending_cancelled_by_the_sender_becomes_cancelled() {
    let cancelled = pending().cancel(&sender(), t0()).unwrap();
    assert_eq!(cancelled.status(), InvitationStatus::Cancelled);
}

#[test]
fn pending_expires_when_time_reaches_expires_at() {
    let invitation = pending();
    let just_before = invitation.expires_at() - Duration::nanoseconds(1);
    assert_eq!(
        invitation.expire(just_before),
        Err(TransitionError::InvalidTransition {
            action: Action::Expire,
            current: InvitationStatus::Pending
        })
    );
    let expired = invitation.expire(invitation.expires_at()).unwrap();
    assert_eq!(expired.status(), InvitationStatus::Expired);
    assert_eq!(expired.resolved_at(), Some(invitation.expires_at()));
}

#[test]
fn only_the_invitee_may_accept_or_reject() {
    for action in [Action::Accept, Action::Reject] {
        for actor in [sender(), Actor::System] {
            assert_eq!(
                pending().transition(action, &actor, t0()),
                Err(TransitionError::NotPermitted { action })
            );
        }
    }
}

#[test]
fn only_the_sender_may_cancel() {
    for actor in [invitee(), Actor::System] {
        assert_eq!(
            pending().cancel(&actor, t0()),
            Err(TransitionError::NotPermitted { action: Action::Cancel })
        );
    }
}

#[test]
fn only_time_expires_an_invitation() {
    let late = pending().expires_at();
    for actor in [sender(), invitee()] {
        assert_eq!(
            pending().transition(Action::Expire, &actor, late),
            Err(TransitionError::NotPermitted { action: Action::Expire })
        );
    }
}

#[test]
fn every_other_transition_is_refused_naming_the_current_status() {
    for status in [
        InvitationStatus::Accepted,
        InvitationStatus::Rejected,
        InvitationStatus::Cancelled,
        InvitationStatus::Expired,
    ] {
        let invitation = in_status(status);
        for action in ACTIONS {
            let at = invitation.expires_at() + Duration::days(1);
            assert_eq!(
                apply(&invitation, action, at),
                Err(TransitionError::InvalidTransition {
                    action,
                    current: status
                }),
                "{action} from {status}"
            );
        }
    }
}

#[test]
fn a_pending_invitation_past_expires_at_reads_as_expired_before_any_sweep() {
    let invitation = pending();
    let late = invitation.expires_at() + Duration::seconds(1);
    assert_eq!(invitation.status(), InvitationStatus::Pending, "nothing was persisted");
    assert_eq!(invitation.status_at(late), InvitationStatus::Expired);
    assert_eq!(invitation.as_of(late).status(), InvitationStatus::Expired);
    assert_eq!(invitation.as_of(late).updated_at(), invitation.expires_at());
    for at in [invitation.created_at(), invitation.expires_at(), late] {
        assert_eq!(
            invitation.clone().into_as_of(at),
            invitation.as_of(at),
            "into_as_of at {at}"
        );
    }
    for action in [Action::Accept, Action::Reject, Action::Cancel] {
        assert_eq!(
            apply(&invitation, action, late),
            Err(TransitionError::InvalidTransition {
                action,
                current: InvitationStatus::Expired
            })
        );
    }
}

#[test]
fn a_transition_error_names_the_current_status() {
    let error = in_status(InvitationStatus::Rejected)
        .accept(&invitee(), globex(), t0())
        .unwrap_err();
    assert_eq!(error.to_string(), "cannot accept an invitation that is rejected");
}

#[test]
fn events_record_the_actor_and_the_status_before_and_after() {
    let before = pending();
    let after = before.accept(&invitee(), globex(), t0()).unwrap();
    let event = Event::transition(EventId::from_uuid(Uuid::from_u128(5)), &before, &after, invitee()).unwrap();
    assert_eq!(event.kind, EventKind::InvitationAccepted);
    assert_eq!(event.kind.as_str(), "invitation.accepted");
    assert_eq!(event.data.status_before, Some(InvitationStatus::Pending));
    assert_eq!(event.data.status_after, Some(InvitationStatus::Accepted));
    assert_eq!(event.data.actor, invitee());
    assert!(Event::transition(EventId::from_uuid(Uuid::from_u128(6)), &after, &after, invitee()).is_none());
}

#[test]
fn event_kinds_read_back_from_their_wire_names() {
    for kind in EventKind::ALL {
        assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
    }
    for status in InvitationStatus::ALL {
        assert_eq!(status.as_str().parse::<InvitationStatus>(), Ok(status));
    }
}
