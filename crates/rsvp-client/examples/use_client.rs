//! Using rsvp from another Rust service over HTTP: provision a tenant with
//! the operator token, invite by link, answer as the link holder, list the
//! connection.
//!
//! Against a running server (`rsvp serve` with `RSVP_ADMIN_TOKEN` set, or
//! the `host_app` example of rsvp-http, whose base URL ends in `/network`):
//!
//! ```text
//! RSVP_URL=http://127.0.0.1:8080 RSVP_ADMIN_TOKEN=... cargo run -p rsvp-client --example use_client
//! ```

use rsvp_client::{AcceptLink, Client, NewBusiness, NewInvitation, NewUser, PageRequest};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("RSVP_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".to_owned());
    let admin_token =
        std::env::var("RSVP_ADMIN_TOKEN").map_err(|_| "set RSVP_ADMIN_TOKEN to the server's operator token")?;

    // The operator provisions a tenant and gets its first user's API key.
    let operator = Client::new(&url, &admin_token)?;
    let suffix = std::process::id();
    let acme = operator
        .create_business(&NewBusiness {
            name: "Acme".to_owned(),
            user: NewUser {
                email: format!("ann+{suffix}@acme.example"),
                first_name: Some("Ann".to_owned()),
                last_name: None,
                external_id: None,
            },
            external_id: None,
        })
        .await?;
    println!("provisioned {} ({})", acme.business.name, acme.business.id);

    // Acme invites without an email: the answer carries the link, once.
    let acme = Client::new(&url, &acme.api_key)?;
    let invitation = acme
        .create_invitation(&NewInvitation::to(format!("ivy+{suffix}@globex.example")).without_email())
        .await?;
    let accept_url = invitation
        .accept_url
        .ok_or("an invitation without email carries its link")?;
    let token = accept_url.rsplit('/').next().unwrap_or_default().to_owned();
    println!("invited {}: {accept_url}", invitation.email);

    // The link holder answers (no API key: the token is the credential).
    let holder = Client::anonymous(&url)?;
    let preview = holder.preview_link(&token).await?;
    println!("the invitee sees an invitation that is {}", preview.status);
    let answer = holder
        .accept_link(
            &token,
            &AcceptLink {
                business_name: Some("Globex".to_owned()),
                ..AcceptLink::default()
            },
        )
        .await?;
    println!("answered: {}", answer.status);

    // Errors are the API's problem documents, with a stable code.
    if let Err(error) = holder.decline_link(&token).await {
        println!("declining now is refused: {}", error.code().unwrap_or("?"));
    }

    let connections = acme.connections(&PageRequest::default()).await?;
    println!("Acme has {} connection(s)", connections.data.len());
    Ok(())
}
