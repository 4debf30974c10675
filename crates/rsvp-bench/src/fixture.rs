//! What every benchmark needs: the use cases over the production adapters,
//! a sender business, and new-invitation records built as `App::invite`
//! builds them.

use std::sync::Arc;

use anyhow::Context as _;
use rsvp_app::{
    App, EmailJob, EmailJobStatus, IdGenerator, LinkTokenRecord, NewBusinessInput, NewInvitationRecord, NewUserInput,
    Ports, Principal, SecretGenerator, Settings,
};
use rsvp_domain::{
    Actor, BusinessId, EmailJobId, Event, EventId, Invitation, InvitationId, InvitationInput, InvitationRequest, UserId,
};
use rsvp_store_diesel::DieselStore;
use rsvp_system::{RandomSecrets, SystemClock, UuidV7Ids};
use time::OffsetDateTime;

/// The production ports over `store`.
pub fn ports(store: Arc<DieselStore>) -> Ports {
    Ports {
        store,
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
        secrets: Arc::new(RandomSecrets),
    }
}

/// The use cases over the production adapters, with the email cap on as
/// the benchmark's server runs it (never reached by a run, so its cost is
/// measured, not its refusals).
pub fn app(store: Arc<DieselStore>) -> App {
    let settings = Settings {
        emails_per_hour: crate::server::BENCH_EMAILS_PER_HOUR,
        ..Settings::default()
    };
    App::new(ports(store), settings)
}

/// Provisions a business with its first user; returns who acts for it.
pub async fn sender(app: &App, name: &str, email: &str) -> anyhow::Result<Principal> {
    let provisioned = app
        .provision_business(NewBusinessInput {
            name: Some(name.to_owned()),
            user: NewUserInput {
                email: Some(email.to_owned()),
                first_name: Some("Ann".to_owned()),
                last_name: Some("Lee".to_owned()),
                external_id: None,
            },
            external_id: None,
        })
        .await
        .map_err(|e| anyhow::anyhow!("provisioning {name}: {e}"))?;
    Ok(Principal {
        business: provisioned.business,
        user: provisioned.user,
    })
}

/// The create request of the benchmarks: what a typical `POST
/// /v1/invitations` carries (email, invitee name, a short message).
pub fn request(email: &str) -> anyhow::Result<InvitationRequest> {
    InvitationInput {
        email: Some(email.to_owned()),
        message: Some("We would like to add you to our supplier network on rsvp.".to_owned()),
        first_name: Some("Bob".to_owned()),
        last_name: Some("Builder".to_owned()),
        ..InvitationInput::default()
    }
    .validate()
    .map_err(|e| anyhow::anyhow!("invalid benchmark request: {e}"))
}

/// The distinct email of invitation number `n` of a run labelled `run`.
pub fn email(run: &str, n: usize) -> String {
    format!("invitee{n}.{run}@company{}.example", n % 997)
}

/// Builds what `App::invite` writes for `request` (an invitation, its link,
/// its `invitation.created` event and its email job), with the production
/// id and secret generators, exactly as `App::invite` does after its checks.
pub fn new_record(
    business: BusinessId,
    user: UserId,
    request: InvitationRequest,
    now: OffsetDateTime,
) -> NewInvitationRecord {
    let ids = UuidV7Ids;
    let secrets = RandomSecrets;
    let invitation = Invitation::new(InvitationId::from_uuid(ids.new_id()), business, user, request, now);
    let token = secrets.generate();
    let link = LinkTokenRecord {
        hash: secrets.hash(token.expose()),
        invitation_id: invitation.id(),
        created_at: now,
    };
    let event = Event::created(
        EventId::from_uuid(ids.new_id()),
        &invitation,
        Actor::Sender { user_id: user },
    );
    let email_job = EmailJob {
        id: EmailJobId::from_uuid(ids.new_id()),
        invitation_id: invitation.id(),
        to: invitation.email().clone(),
        link_token: Some(token),
        attempts: 0,
        status: EmailJobStatus::Queued,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        kind: rsvp_app::EmailKind::Invitation,
    };
    NewInvitationRecord {
        invitation,
        link,
        event,
        email_job: Some(email_job),
    }
}

/// A short label unique to this run, for emails.
pub fn run_label() -> String {
    format!(
        "r{:x}",
        OffsetDateTime::now_utc().unix_timestamp_nanos() as u64 & 0xffff_ffff
    )
}

/// Reads one `bigint` from the database.
pub fn count(conn: &mut diesel::PgConnection, sql: &str) -> anyhow::Result<i64> {
    use diesel::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: Count = diesel::sql_query(sql)
        .get_result(conn)
        .with_context(|| sql.to_owned())?;
    Ok(row.n)
}
