//! The network of a business: its connections, and its events (every
//! state change, oldest first).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cursor;
use crate::dto::{ConnectionBody, EventBody};
use crate::params::{EventQuery, PageQuery, Query};
use crate::problem::Problem;
use crate::state::{Caller, HttpState};

/// A page of connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    /// The rows.
    pub data: Vec<ConnectionBody>,
    /// Next page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    /// The rows.
    pub data: Vec<EventBody>,
    /// Next page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// `GET /v1/connections`
#[utoipa::path(get, path = "/v1/connections", tag = "connections", params(PageQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "newest first", body = ConnectionList),
    ))]
pub async fn connections(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    Query(page): Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let page = state.app.list_connections(&caller, page).await?;
    Ok(HttpResponse::Ok().json(ConnectionList {
        data: page
            .items
            .iter()
            .map(|c| ConnectionBody::new(c, caller.business.id))
            .collect(),
        next_cursor: page.next.as_ref().map(cursor::encode),
    }))
}

/// `GET /v1/events`
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "oldest first", body = EventList),
    ))]
pub async fn events(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    Query(query): Query<EventQuery>,
) -> Result<HttpResponse, Problem> {
    let page = state.app.list_events(&caller, query).await?;
    Ok(HttpResponse::Ok().json(EventList {
        data: page
            .items
            .iter()
            .map(|e| EventBody::new(e, caller.business.id))
            .collect(),
        next_cursor: page.next.as_ref().map(cursor::encode_event),
    }))
}
