//! The one table of rsvp's routes: every handler, and the area it belongs
//! to. A documented operation's method and path are written once, in its
//! handler's `#[utoipa::path]`: the table reads them from there, and the
//! OpenAPI document is built from the table ([`document_routes`]), so the
//! document lists exactly what is registered. Routes outside the document
//! (the invitee's pages, the reference) carry theirs here.
//! [`crate::configure`] registers from the table (resources, `Allow`,
//! scopes, throttles, `Idempotency-Key`); the access log reads probes from
//! it; tests hold the throttle's and idempotency's own route facts to it.

use std::sync::LazyLock;

use actix_web::http::Method;
use actix_web::web;
use utoipa::__dev::{SchemaReferences, Tags};
use utoipa::openapi::path::{HttpMethod, Paths};
use utoipa::openapi::{OpenApi, RefOr, Schema};

use Area::{Api, Probe, Reference, Scrape};
use Verb::{Get, Post};

use crate::{
    analytics, invitations, join_links, links, network, openapi, operator, ops, page, provider_events, webhooks,
};

/// The scope of the JSON API.
pub(crate) const API_SCOPE: &str = "/v1";

/// What a route is, which decides where it is mounted, what guards it and
/// whether the OpenAPI document lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    /// Health and readiness, polled: logged at debug; in the document.
    Probe,
    /// Metrics, scraped: a probe whose token a wrong guess fails like any
    /// other authentication, so behind the API's throttle; in the document.
    Scrape,
    /// The document itself and its reference page; not in the document.
    Reference,
    /// An invitee's page under its scope (`/invite`, `/unsubscribe`):
    /// every route there checks a link token, so behind the page's
    /// throttle (a refusal is an HTML page); not in the document.
    Page(&'static str),
    /// The JSON API under [`API_SCOPE`]: every route there checks an API
    /// key, the operator token or a link token, so behind the API's
    /// throttle; its POST and PATCH honour `Idempotency-Key`; in the
    /// document.
    Api,
}

/// A method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
    Patch,
    Delete,
}

impl Verb {
    pub(crate) fn method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Post => Method::POST,
            Self::Patch => Method::PATCH,
            Self::Delete => Method::DELETE,
        }
    }

    /// The verb of a documented method (the table documents only these four).
    fn of(method: &HttpMethod) -> Option<Self> {
        match method {
            HttpMethod::Get => Some(Self::Get),
            HttpMethod::Post => Some(Self::Post),
            HttpMethod::Patch => Some(Self::Patch),
            HttpMethod::Delete => Some(Self::Delete),
            _ => None,
        }
    }
}

/// Hands a route of the right method to its handler.
pub(crate) type Handler = fn(actix_web::Route) -> actix_web::Route;

/// One resource: a path template and its methods.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) area: Area,
    /// The template within the area's scope.
    pub(crate) path: String,
    /// Each method with its handler, in the order `Allow` lists them.
    pub(crate) methods: Vec<(Verb, Handler)>,
}

impl Endpoint {
    /// The template from where rsvp is mounted: `/v1/invitations/{id}`.
    #[cfg(test)]
    pub(crate) fn template(&self) -> String {
        let scope = match self.area {
            Area::Probe | Area::Scrape | Area::Reference => "",
            Area::Page(scope) => scope,
            Area::Api => API_SCOPE,
        };
        format!("{scope}{}", self.path)
    }

    /// The `Allow` header of the resource: `GET, PATCH`.
    pub(crate) fn allow(&self) -> String {
        self.methods
            .iter()
            .map(|(verb, _)| verb.method().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether requests of this method honour `Idempotency-Key`: POST and
    /// PATCH of the API.
    pub(crate) fn is_keyed(&self, verb: Verb) -> bool {
        self.area == Area::Api && matches!(verb, Verb::Post | Verb::Patch)
    }

    /// Whether the OpenAPI document lists the route (utoipa lists the
    /// annotated handlers; the tests hold the two lists together).
    #[cfg(test)]
    pub(crate) fn is_documented(&self) -> bool {
        matches!(self.area, Area::Probe | Area::Scrape | Area::Api)
    }
}

/// Whether a matched route template (which begins with the host's prefix
/// when rsvp is mounted under one) is a probe or a scrape.
pub(crate) fn is_probe(route: &str) -> bool {
    ROUTES
        .iter()
        .any(|e| matches!(e.area, Area::Probe | Area::Scrape) && route.ends_with(e.path.as_str()))
}

/// Whether a path template of the document is the API's.
pub(crate) fn is_api_path(path: &str) -> bool {
    path.strip_prefix(API_SCOPE).is_some_and(|rest| rest.starts_with('/'))
}

const INVITE: Area = Area::Page(rsvp_app::INVITE_PATH);
const UNSUBSCRIBE: Area = Area::Page(rsvp_app::UNSUBSCRIBE_PATH);
const JOIN: Area = Area::Page(rsvp_app::JOIN_PATH);

/// The schemas an operation's bodies name (utoipa's own derive collects
/// them the same way for `#[openapi(paths(...))]`).
type SchemaList = Vec<(String, RefOr<Schema>)>;

/// One row of the table.
enum Row {
    /// A route outside the document: its path and method are written here.
    Plain(Area, &'static str, Verb, Handler),
    /// A documented operation: its path and methods are its handler's
    /// `#[utoipa::path]` (`P`), read through these.
    Documented {
        area: Area,
        path: fn() -> String,
        methods: fn() -> Vec<HttpMethod>,
        document: fn(&mut Paths),
        schemas: fn(&mut SchemaList),
        handler: Handler,
    },
}

/// The operation of `P` in `paths`, with its tags, as utoipa's derive puts it.
fn add_operation<P: utoipa::Path + for<'t> Tags<'t>>(paths: &mut Paths) {
    let mut operation = P::operation();
    operation
        .tags
        .get_or_insert_with(Vec::new)
        .extend(P::tags().iter().map(ToString::to_string));
    paths.add_path_operation(P::path(), P::methods(), operation);
}

/// A documented operation of `area`, whose handler's annotation is `P`.
const fn doc<P: utoipa::Path + for<'t> Tags<'t> + SchemaReferences>(area: Area, handler: Handler) -> Row {
    Row::Documented {
        area,
        path: P::path,
        methods: P::methods,
        document: add_operation::<P>,
        schemas: <P as SchemaReferences>::schemas,
        handler,
    }
}

/// A documented operation of the JSON API.
macro_rules! api {
    ($module:ident :: $handler:ident, $annotation:ident) => {
        doc::<$module::$annotation>(Api, |r| r.to($module::$handler))
    };
}

/// Every route, in the order it is registered (within a scope, a literal
/// segment before a `{parameter}` that would match it too). The rows of
/// one path make one resource, its methods in the order `Allow` lists them.
#[rustfmt::skip]
static TABLE: &[Row] = &[
    doc::<ops::__path_healthz>(Probe, |r| r.to(ops::healthz)),
    doc::<ops::__path_readyz>(Probe, |r| r.to(ops::readyz)),
    doc::<ops::__path_metrics>(Scrape, |r| r.to(ops::metrics)),
    Row::Plain(Reference, "/openapi.json", Get, |r| r.to(openapi::openapi_json)),
    Row::Plain(Reference, "/docs", Get, |r| r.to(openapi::reference_page)),
    Row::Plain(INVITE, "/{token}", Get, |r| r.to(page::show)),
    Row::Plain(INVITE, "/{token}/accept", Post, |r| r.to(page::accept)),
    Row::Plain(INVITE, "/{token}/decline", Post, |r| r.to(page::decline)),
    // Opting out: the page's form and the emails' RFC 8058 one-click POST.
    Row::Plain(UNSUBSCRIBE, "/{token}", Get, |r| r.to(page::opt_out_form)),
    Row::Plain(UNSUBSCRIBE, "/{token}", Post, |r| r.to(page::opt_out)),
    // The join link page; redeeming is the API's (`POST /v1/join/{token}`).
    Row::Plain(JOIN, "/{token}", Get, |r| r.to(page::join)),
    api!(invitations::create, __path_create),
    api!(invitations::bulk, __path_bulk),
    api!(invitations::list_sent, __path_list_sent),
    api!(invitations::list_received, __path_list_received),
    api!(invitations::get, __path_get),
    api!(invitations::patch, __path_patch),
    api!(invitations::resend, __path_resend),
    api!(links::preview, __path_preview),
    api!(links::accept, __path_accept),
    api!(links::decline, __path_decline),
    api!(join_links::create, __path_create),
    api!(join_links::list, __path_list),
    api!(join_links::get, __path_get),
    api!(join_links::revoke, __path_revoke),
    api!(join_links::preview, __path_preview),
    api!(join_links::redeem, __path_redeem),
    api!(join_links::received, __path_received),
    api!(join_links::sent, __path_sent),
    api!(join_links::get_request, __path_get_request),
    api!(join_links::answer, __path_answer),
    api!(network::connections, __path_connections),
    api!(network::events, __path_events),
    api!(analytics::invitation_funnel, __path_invitation_funnel),
    api!(operator::me, __path_me),
    api!(operator::list_businesses, __path_list_businesses),
    api!(operator::create_business, __path_create_business),
    api!(operator::get_business, __path_get_business),
    api!(operator::update_business, __path_update_business),
    api!(operator::list_users, __path_list_users),
    api!(operator::add_user, __path_add_user),
    api!(operator::find_users, __path_find_users),
    api!(operator::update_user, __path_update_user),
    api!(operator::list_api_keys, __path_list_api_keys),
    api!(operator::create_api_key, __path_create_api_key),
    api!(operator::revoke_api_key, __path_revoke_api_key),
    api!(operator::erase, __path_erase),
    api!(operator::list_suppressions, __path_list_suppressions),
    api!(operator::delete_suppression, __path_delete_suppression),
    api!(webhooks::list, __path_list),
    api!(webhooks::create, __path_create),
    api!(webhooks::get, __path_get),
    api!(webhooks::patch, __path_patch),
    api!(webhooks::delete, __path_delete),
    api!(webhooks::rotate, __path_rotate),
    api!(webhooks::deliveries, __path_deliveries),
    api!(webhooks::redeliver, __path_redeliver),
    api!(provider_events::postmark, __path_postmark),
    api!(provider_events::ses, __path_ses),
];

/// The table's rows grouped into resources, in the table's order.
pub(crate) static ROUTES: LazyLock<Vec<Endpoint>> = LazyLock::new(|| {
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for row in TABLE {
        let (area, path, verbs, handler) = match row {
            Row::Plain(area, path, verb, handler) => (*area, (*path).to_owned(), vec![*verb], *handler),
            Row::Documented {
                area,
                path,
                methods,
                handler,
                ..
            } => {
                let full = path();
                // The document's paths are whole; the table's are within the area's scope.
                let path = match area {
                    Area::Api => full.strip_prefix(API_SCOPE).map(str::to_owned).unwrap_or(full),
                    _ => full,
                };
                (*area, path, methods().iter().filter_map(Verb::of).collect(), *handler)
            }
        };
        let methods = verbs.into_iter().map(|verb| (verb, handler));
        match endpoints.iter_mut().find(|e| e.area == area && e.path == path) {
            Some(endpoint) => endpoint.methods.extend(methods),
            None => endpoints.push(Endpoint {
                area,
                path,
                methods: methods.collect(),
            }),
        }
    }
    endpoints
});

/// Puts every documented operation of the table, and the schemas its
/// bodies name, into `openapi`: the document lists what is registered.
pub(crate) fn document_routes(openapi: &mut OpenApi) {
    let mut schemas = SchemaList::new();
    for row in TABLE {
        if let Row::Documented {
            document,
            schemas: named,
            ..
        } = row
        {
            document(&mut openapi.paths);
            named(&mut schemas);
        }
    }
    let components = openapi.components.get_or_insert_with(Default::default);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
}

/// The scopes of the invitee's pages, in the order of the table.
pub(crate) fn page_scopes() -> Vec<&'static str> {
    let mut scopes = Vec::new();
    for endpoint in ROUTES.iter() {
        if let Area::Page(scope) = endpoint.area
            && !scopes.contains(&scope)
        {
            scopes.push(scope);
        }
    }
    scopes
}

/// The routes of one area, in the order of the table.
pub(crate) fn in_area(area: Area) -> impl Iterator<Item = &'static Endpoint> {
    ROUTES.iter().filter(move |e| e.area == area)
}

/// A route of `endpoint`'s method: `Idempotency-Key` on those it applies to.
pub(crate) fn route(endpoint: &Endpoint, verb: Verb, handler: Handler) -> actix_web::Route {
    let route = handler(web::method(verb.method()));
    if endpoint.is_keyed(verb) {
        crate::keyed(route)
    } else {
        route
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::from_str(&openapi::document()).unwrap()
    }

    fn registered(filter: impl Fn(&Endpoint, Verb) -> bool) -> BTreeSet<(String, String)> {
        ROUTES
            .iter()
            .flat_map(|e| e.methods.iter().map(move |(verb, _)| (e, *verb)))
            .filter(|(e, verb)| filter(e, *verb))
            .map(|(e, verb)| (verb.method().as_str().to_lowercase(), e.template()))
            .collect()
    }

    #[test]
    fn the_openapi_document_lists_exactly_the_registered_api_probe_and_metrics_routes() {
        let doc = document();
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| item.as_object().unwrap().keys().map(|m| (m.clone(), path.clone())))
            .collect();
        assert_eq!(documented, registered(|e, _| e.is_documented()));
    }

    #[test]
    fn the_document_says_idempotency_key_on_exactly_the_keyed_routes() {
        let doc = document();
        let mut keyed = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
                if parameters.iter().any(|p| p["name"] == "Idempotency-Key") {
                    keyed.insert((method.clone(), path.clone()));
                }
            }
        }
        assert_eq!(keyed, registered(|e, verb| e.is_keyed(verb)));
    }

    #[test]
    fn the_throttles_link_routes_are_the_apis_routes_keyed_by_a_link_token() {
        for endpoint in in_area(Area::Api) {
            assert_eq!(
                crate::throttle::is_link_route(&endpoint.path),
                endpoint.path.contains("{token}"),
                "{}",
                endpoint.path
            );
        }
    }

    #[test]
    fn the_bulk_route_of_the_larger_body_limit_is_a_registered_post() {
        assert_eq!(
            registered(|e, verb| verb == Verb::Post && e.template() == crate::idempotency::BULK_ROUTE).len(),
            1
        );
    }

    #[test]
    fn probes_are_told_from_other_routes_under_any_prefix() {
        for probe in ["/healthz", "/readyz", "/metrics", "/network/healthz"] {
            assert!(is_probe(probe), "{probe}");
        }
        for other in ["/v1/invitations", "/invite/{token}", "/docs", "/openapi.json"] {
            assert!(!is_probe(other), "{other}");
        }
    }

    #[test]
    fn allow_lists_every_method_of_a_resource_in_order() {
        let webhook = ROUTES.iter().find(|e| e.path == "/webhook-endpoints/{id}").unwrap();
        assert_eq!(webhook.allow(), "GET, PATCH, DELETE");
        assert_eq!(webhook.template(), "/v1/webhook-endpoints/{id}");
    }
}
