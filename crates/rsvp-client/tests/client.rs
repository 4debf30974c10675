//! The client against the real server (rsvp-http over the diesel store, on a
//! real socket), on SQLite and on PostgreSQL, and its types against the
//! committed OpenAPI document.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::mpsc;

use actix_web::{App as ActixApp, HttpServer};
use rsvp_client::{
    AcceptLink, Client, Error, Joined, ListFilter, NewBusiness, NewInvitation, NewJoinLink, NewUser, PageRequest,
    RequestAnswer, StatusChange,
};
use rsvp_store_diesel::testing::TestDatabase;
use serde_json::{Map, Value, json};

const ADMIN: &str = "client-test-operator-token";

/// A server on a free port; stopped (and its database dropped) on drop.
struct Server {
    base: String,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(database: TestDatabase) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let public = base.clone();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let store = database.migrated_store().await;
                let ports = rsvp_app::Ports {
                    store: Arc::new(store),
                    clock: Arc::new(rsvp_system::SystemClock),
                    ids: Arc::new(rsvp_system::UuidV7Ids),
                    secrets: Arc::new(rsvp_system::RandomSecrets),
                };
                let app = rsvp_app::App::new(ports, rsvp_app::Settings::default());
                let mut config = rsvp_http::HttpConfig::new(public);
                config.admin_token = Some(rsvp_app::Secret::new(ADMIN));
                let state = rsvp_http::HttpState::new(app, config);
                let server = HttpServer::new(move || {
                    ActixApp::new()
                        .configure(rsvp_http::configure(state.clone()))
                        .default_service(rsvp_http::default_service())
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                tx.send(server.handle()).unwrap();
                let _ = server.await;
                drop(database);
            });
        });
        let handle = rx.recv().unwrap();
        Self {
            base,
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let stopping = self.handle.stop(false);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(stopping);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn token_of(accept_url: &str) -> String {
    accept_url.rsplit('/').next().unwrap().to_owned()
}

async fn every_operation_round_trips(server: &Server) {
    let operator = Client::new(&server.base, ADMIN).unwrap();
    let acme = operator
        .create_business(&NewBusiness {
            name: "Acme".into(),
            user: NewUser {
                email: "ann@acme.test".into(),
                first_name: Some("Ann".into()),
                last_name: Some("Lee".into()),
                external_id: Some("idp|ann".into()),
            },
            external_id: Some("org_acme".into()),
        })
        .await
        .unwrap();
    assert_eq!(acme.business.name, "Acme");
    assert_eq!(acme.business.external_id.as_deref(), Some("org_acme"));
    assert_eq!(acme.user.external_id.as_deref(), Some("idp|ann"));
    assert!(acme.api_key.starts_with("rsvp_"));
    let added = operator
        .add_user(
            &acme.business.id,
            &NewUser {
                email: "bea@acme.test".into(),
                ..NewUser::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(added.user.business_id, acme.business.id);
    let globex = operator
        .create_business(&NewBusiness {
            name: "Globex".into(),
            user: NewUser {
                email: "bob@globex.test".into(),
                ..NewUser::default()
            },
            external_id: None,
        })
        .await
        .unwrap();
    let as_acme = operator.with_token(&acme.api_key);
    assert_eq!(as_acme.me().await.unwrap().business.id, acme.business.id);
    let second = operator
        .create_api_key(
            &acme.user.id,
            &rsvp_client::NewApiKey {
                name: "ci".into(),
                expires_at: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        operator.with_token(&second.api_key).me().await.unwrap().user.id,
        acme.user.id
    );
    let keys = operator.list_api_keys(&acme.user.id).await.unwrap();
    assert!(
        keys.data.iter().any(|k| k.id == second.key.id && k.name == "ci"),
        "{keys:?}"
    );
    operator.revoke_api_key(&second.key.id).await.unwrap();
    let revoked = operator.with_token(&second.api_key).me().await.unwrap_err();
    assert_eq!(revoked.code(), Some("unauthorized"));
    let as_globex = operator.with_token(&globex.api_key);

    // Create, and the API's refusals as typed errors.
    let invitation = as_acme
        .create_invitation(
            &NewInvitation::to("bob@globex.test")
                .message("Let us trade.")
                .roles(["supplier"]),
        )
        .await
        .unwrap();
    assert_eq!(
        (invitation.status.as_str(), invitation.roles.as_slice()),
        ("pending", ["supplier".to_owned()].as_slice())
    );
    let again = as_acme
        .create_invitation(&NewInvitation::to("BOB@globex.test"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("already_invited"), "{again}");
    let invalid = as_acme
        .create_invitation(&NewInvitation::to("not an email"))
        .await
        .unwrap_err();
    match &invalid {
        Error::Api(problem) => {
            assert_eq!((problem.status, problem.code.as_str()), (422, "validation_failed"));
            assert_eq!(problem.errors[0].field, "email");
        }
        other => panic!("{other}"),
    }
    let unauthorized = operator
        .with_token("rsvp_wrong")
        .list_sent(&ListFilter::default())
        .await;
    assert_eq!(unauthorized.unwrap_err().code(), Some("unauthorized"));

    // Bulk, lists with filters, one invitation.
    let mut custom = Map::new();
    custom.insert("tier".into(), json!("gold"));
    let bulk = as_acme
        .create_invitations(&[
            NewInvitation {
                custom_data: Some(custom.clone()),
                ..NewInvitation::to("dan@initech.test")
            },
            NewInvitation::to("bob@globex.test"),
        ])
        .await
        .unwrap();
    assert_eq!(bulk.successful.len(), 1);
    assert_eq!(bulk.successful[0].custom_data.as_ref(), Some(&custom));
    assert_eq!(
        (bulk.failed[0].index, bulk.failed[0].error.code.as_str()),
        (1, "already_invited")
    );
    let pending = as_acme
        .list_sent(&ListFilter {
            statuses: vec!["pending".into()],
            page: PageRequest {
                limit: Some(1),
                cursor: None,
            },
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(pending.data.len(), 1);
    let rest = as_acme
        .list_sent(&ListFilter {
            statuses: vec!["pending".into()],
            page: PageRequest {
                limit: Some(1),
                cursor: pending.next_cursor.clone(),
            },
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.data.len(), 1, "the cursor pages on");
    assert_ne!(rest.data[0].id, pending.data[0].id);
    let by_email = as_acme
        .list_sent(&ListFilter {
            email: Some("bob@globex.test".into()),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_email.data.len(), 1);
    let received = as_globex.list_received(&ListFilter::default()).await.unwrap();
    assert_eq!(received.data[0].id, invitation.id);
    assert_eq!(received.data[0].custom_data, None, "custom_data is the sender's");
    let got = as_acme.get_invitation(&invitation.id).await.unwrap();
    assert_eq!(got.message.as_deref(), Some("Let us trade."));
    let resend = as_acme.resend(&invitation.id, false).await.unwrap_err();
    assert_eq!(resend.code(), Some("resend_cooldown"));

    // Answer, connect, and the log.
    let accepted = as_globex
        .set_status(&invitation.id, StatusChange::Accepted)
        .await
        .unwrap();
    assert_eq!(accepted.status, "accepted");
    let cancel = as_acme
        .set_status(&invitation.id, StatusChange::Cancelled)
        .await
        .unwrap_err();
    assert_eq!(cancel.code(), Some("invalid_transition"));
    let connections = as_acme.connections(&PageRequest::default()).await.unwrap();
    assert_eq!(connections.data[0].connected_business_id, globex.business.id);
    let events = as_acme.events(&PageRequest::default()).await.unwrap();
    assert!(events.data.iter().any(|e| e.kind == "connection.created"), "{events:?}");

    // By link, without credentials.
    let shared = as_acme
        .create_invitation(&NewInvitation::to("carl@umbrella.test").without_email())
        .await
        .unwrap();
    let token = token_of(shared.accept_url.as_deref().unwrap());
    let link = Client::anonymous(&server.base).unwrap();
    let preview = link.preview_link(&token).await.unwrap();
    assert_eq!(
        (preview.sender_name.as_str(), preview.status.as_str()),
        ("Acme", "pending")
    );
    let answer = link
        .accept_link(
            &token,
            &AcceptLink {
                business_name: Some("Umbrella".into()),
                ..AcceptLink::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(answer.status, "accepted");
    assert!(answer.connection.is_some());
    let late = link.decline_link(&token).await.unwrap_err();
    assert_eq!(late.code(), Some("invalid_transition"));
    let unknown = link.preview_link("no-such-token").await.unwrap_err();
    assert_eq!(unknown.code(), Some("not_found"));

    // Join links: one that connects at once, one that Acme approves.
    let initech = operator
        .create_business(&NewBusiness {
            name: "Initech".into(),
            user: NewUser {
                email: "peter@initech.test".into(),
                ..NewUser::default()
            },
            external_id: None,
        })
        .await
        .unwrap();
    let as_initech = Client::new(&server.base, &initech.api_key).unwrap();
    let open = as_acme
        .create_join_link(&NewJoinLink {
            max_uses: Some(1),
            roles: vec!["supplier".into()],
            ..NewJoinLink::default()
        })
        .await
        .unwrap();
    let open_token = open.token.clone().unwrap();
    assert!(open.url.as_deref().unwrap().ends_with(&format!("/join/{open_token}")));
    let preview = link.preview_join_link(&open_token).await.unwrap();
    assert_eq!(
        (preview.business.name.as_str(), preview.status.as_str()),
        ("Acme", "active")
    );
    let Joined::Connected(joined) = as_initech.redeem_join_link(&open_token).await.unwrap() else {
        panic!("a link without approval connects");
    };
    assert_eq!(joined.join_link_id.as_deref(), Some(open.id.as_str()));
    assert_eq!(joined.invitation_id, None);
    let used_up = as_globex.redeem_join_link(&open_token).await.unwrap_err();
    assert_eq!(used_up.code(), Some("already_connected"));
    let events = as_initech.events(&PageRequest::default()).await.unwrap();
    assert!(
        events
            .data
            .iter()
            .any(|e| e.kind == "join_link.redeemed" && e.join_link_id.as_deref() == Some(open.id.as_str())),
        "{events:?}"
    );
    let approved_link = as_globex
        .create_join_link(&NewJoinLink {
            requires_approval: true,
            ..NewJoinLink::default()
        })
        .await
        .unwrap();
    let Joined::Requested(request) = as_initech
        .redeem_join_link(approved_link.token.as_deref().unwrap())
        .await
        .unwrap()
    else {
        panic!("a link with approval makes a request");
    };
    let received = as_globex
        .received_connection_requests(&PageRequest::default())
        .await
        .unwrap();
    assert_eq!(received.data[0].id, request.id);
    assert_eq!(received.data[0].other_business_name.as_deref(), Some("Initech"));
    let answered = as_globex
        .answer_connection_request(&request.id, RequestAnswer::Approved)
        .await
        .unwrap();
    assert_eq!(answered.connection_request.status, "approved");
    assert!(answered.connection.is_some());
    let sent = as_initech
        .sent_connection_requests(&PageRequest::default())
        .await
        .unwrap();
    assert_eq!(sent.data[0].status, "approved");
    as_acme.revoke_join_link(&open.id).await.unwrap();
    let links = as_acme.join_links(&PageRequest::default()).await.unwrap();
    assert_eq!(links.data[0].status, "revoked");
    assert_eq!(links.data[0].token, None, "the token is shown once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_round_trips_against_the_server_on_sqlite() {
    let server = tokio::task::spawn_blocking(|| Server::start(TestDatabase::sqlite()))
        .await
        .unwrap();
    every_operation_round_trips(&server).await;
    tokio::task::spawn_blocking(move || drop(server)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_round_trips_against_the_server_on_postgresql() {
    let server = tokio::task::spawn_blocking(|| Server::start(TestDatabase::postgres()))
        .await
        .unwrap();
    every_operation_round_trips(&server).await;
    tokio::task::spawn_blocking(move || drop(server)).await.unwrap();
}

/// The fields of each response type are the properties of the schema of the
/// same answer in docs/openapi.json: a field added to the API and not to the
/// client (or renamed in either) fails here.
#[test]
fn the_response_types_have_the_fields_of_the_openapi_schemas() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let fields = |value: Value| -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let invitation = rsvp_client::Invitation {
        custom_data: Some(Map::new()),
        accept_url: Some(String::new()),
        ..Default::default()
    };
    let answer = rsvp_client::Answer {
        connection: Some(rsvp_client::Connection::default()),
        ..Default::default()
    };
    let pairs: Vec<(&str, Value)> = vec![
        ("InvitationBody", serde_json::to_value(&invitation).unwrap()),
        (
            "BulkBody",
            serde_json::to_value(rsvp_client::BulkOutcome::default()).unwrap(),
        ),
        (
            "BulkFailureBody",
            serde_json::to_value(rsvp_client::BulkFailure::default()).unwrap(),
        ),
        (
            "ItemError",
            serde_json::to_value(rsvp_client::ItemError::default()).unwrap(),
        ),
        (
            "ConnectionBody",
            serde_json::to_value(rsvp_client::Connection::default()).unwrap(),
        ),
        (
            "EventBody",
            serde_json::to_value(rsvp_client::Event::default()).unwrap(),
        ),
        (
            "LinkPreviewBody",
            serde_json::to_value(rsvp_client::LinkPreview::default()).unwrap(),
        ),
        ("AnswerBody", serde_json::to_value(&answer).unwrap()),
        (
            "BusinessBody",
            serde_json::to_value(rsvp_client::Business::default()).unwrap(),
        ),
        ("UserBody", serde_json::to_value(rsvp_client::User::default()).unwrap()),
        ("MeBody", serde_json::to_value(rsvp_client::Me::default()).unwrap()),
        (
            "ApiKeyBody",
            serde_json::to_value(rsvp_client::ApiKey::default()).unwrap(),
        ),
        (
            "CreatedApiKeyBody",
            serde_json::to_value(rsvp_client::CreatedApiKey::default()).unwrap(),
        ),
        (
            "ProvisionedUserBody",
            serde_json::to_value(rsvp_client::ProvisionedUser::default()).unwrap(),
        ),
        (
            "Problem",
            serde_json::to_value(rsvp_client::Problem::default()).unwrap(),
        ),
        (
            "ProblemField",
            serde_json::to_value(rsvp_client::FieldProblem::default()).unwrap(),
        ),
    ];
    for (schema, sample) in pairs {
        let properties = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no schema {schema}"));
        let mut expected: Vec<String> = properties.keys().cloned().collect();
        expected.sort();
        assert_eq!(fields(sample), expected, "{schema}");
    }
    // ProvisionedBusinessBody may carry more than the client reads (ids of
    // keys, say); what the client reads must be there.
    let provisioned = fields(serde_json::to_value(rsvp_client::ProvisionedBusiness::default()).unwrap());
    let schema = doc["components"]["schemas"]["ProvisionedBusinessBody"]["properties"]
        .as_object()
        .unwrap();
    assert!(provisioned.iter().all(|f| schema.contains_key(f)), "{provisioned:?}");
}
