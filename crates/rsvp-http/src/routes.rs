//! The one table of rsvp's routes: every path template, its methods and
//! handlers, and the area it belongs to. [`crate::configure`] registers
//! from it (resources, `Allow`, scopes, throttles, `Idempotency-Key`); the
//! access log reads probes from it; a test holds the OpenAPI document
//! (whose operations utoipa takes from the handlers' annotations) to the
//! same routes, and the throttle's and idempotency's own route facts to it.

use actix_web::http::Method;
use actix_web::web;

use Area::{Api, Probe, Reference, Scrape};
use Verb::{Delete, Get, Patch, Post};

use crate::{admin, api, lifecycle, links, openapi, ops, page, webhooks};

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
}

/// Hands a route of the right method to its handler.
pub(crate) type Handler = fn(actix_web::Route) -> actix_web::Route;

/// One resource: a path template and its methods.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) area: Area,
    /// The template within the area's scope.
    pub(crate) path: &'static str,
    /// Each method with its handler, in the order `Allow` lists them.
    pub(crate) methods: &'static [(Verb, Handler)],
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
        .any(|e| matches!(e.area, Area::Probe | Area::Scrape) && route.ends_with(e.path))
}

/// Whether a path template of the document is the API's.
pub(crate) fn is_api_path(path: &str) -> bool {
    path.strip_prefix(API_SCOPE).is_some_and(|rest| rest.starts_with('/'))
}

const INVITE: Area = Area::Page(rsvp_app::INVITE_PATH);
const UNSUBSCRIBE: Area = Area::Page(rsvp_app::UNSUBSCRIBE_PATH);

const fn at(area: Area, path: &'static str, methods: &'static [(Verb, Handler)]) -> Endpoint {
    Endpoint { area, path, methods }
}

/// Every route, in the order it is registered (within a scope, a literal
/// segment before a `{parameter}` that would match it too).
#[rustfmt::skip]
pub(crate) static ROUTES: &[Endpoint] = &[
    at(Probe, "/healthz", &[(Get, |r| r.to(ops::healthz))]),
    at(Probe, "/readyz", &[(Get, |r| r.to(ops::readyz))]),
    at(Scrape, "/metrics", &[(Get, |r| r.to(ops::metrics))]),
    at(Reference, "/openapi.json", &[(Get, |r| r.to(openapi::openapi_json))]),
    at(Reference, "/docs", &[(Get, |r| r.to(openapi::reference_page))]),
    at(INVITE, "/{token}", &[(Get, |r| r.to(page::show))]),
    at(INVITE, "/{token}/accept", &[(Post, |r| r.to(page::accept))]),
    at(INVITE, "/{token}/decline", &[(Post, |r| r.to(page::decline))]),
    // Opting out: the page's form and the emails' RFC 8058 one-click POST.
    at(UNSUBSCRIBE, "/{token}", &[(Get, |r| r.to(page::opt_out_form)), (Post, |r| r.to(page::opt_out))]),
    at(Api, "/invitations", &[(Post, |r| r.to(api::create))]),
    at(Api, "/invitations/bulk", &[(Post, |r| r.to(api::bulk))]),
    at(Api, "/invitations/sent", &[(Get, |r| r.to(api::list_sent))]),
    at(Api, "/invitations/received", &[(Get, |r| r.to(api::list_received))]),
    at(Api, "/invitations/{id}", &[(Get, |r| r.to(api::get)), (Patch, |r| r.to(api::patch))]),
    at(Api, "/invitations/{id}/resend", &[(Post, |r| r.to(api::resend))]),
    at(Api, "/invitation-links/{token}", &[(Get, |r| r.to(links::preview))]),
    at(Api, "/invitation-links/{token}/accept", &[(Post, |r| r.to(links::accept))]),
    at(Api, "/invitation-links/{token}/decline", &[(Post, |r| r.to(links::decline))]),
    at(Api, "/connections", &[(Get, |r| r.to(api::connections))]),
    at(Api, "/events", &[(Get, |r| r.to(api::events))]),
    at(Api, "/me", &[(Get, |r| r.to(lifecycle::me))]),
    at(Api, "/admin/businesses", &[
        (Get, |r| r.to(lifecycle::list_businesses)),
        (Post, |r| r.to(admin::create_business)),
    ]),
    at(Api, "/admin/businesses/{id}", &[
        (Get, |r| r.to(lifecycle::get_business)),
        (Patch, |r| r.to(lifecycle::update_business)),
    ]),
    at(Api, "/admin/businesses/{id}/users", &[
        (Get, |r| r.to(lifecycle::list_users)),
        (Post, |r| r.to(admin::add_user)),
    ]),
    at(Api, "/admin/users/{id}", &[(Patch, |r| r.to(lifecycle::update_user))]),
    at(Api, "/admin/users/{id}/api-keys", &[
        (Get, |r| r.to(lifecycle::list_api_keys)),
        (Post, |r| r.to(lifecycle::create_api_key)),
    ]),
    at(Api, "/admin/api-keys/{id}", &[(Delete, |r| r.to(lifecycle::revoke_api_key))]),
    at(Api, "/admin/erasures", &[(Post, |r| r.to(lifecycle::erase))]),
    at(Api, "/admin/suppressions", &[(Get, |r| r.to(admin::list_suppressions))]),
    at(Api, "/admin/suppressions/{id}", &[(Delete, |r| r.to(admin::delete_suppression))]),
    at(Api, "/webhook-endpoints", &[(Get, |r| r.to(webhooks::list)), (Post, |r| r.to(webhooks::create))]),
    at(Api, "/webhook-endpoints/{id}", &[
        (Get, |r| r.to(webhooks::get)),
        (Patch, |r| r.to(webhooks::patch)),
        (Delete, |r| r.to(webhooks::delete)),
    ]),
    at(Api, "/webhook-endpoints/{id}/rotate-secret", &[(Post, |r| r.to(webhooks::rotate))]),
    at(Api, "/webhook-endpoints/{id}/deliveries", &[(Get, |r| r.to(webhooks::deliveries))]),
    at(Api, "/webhook-endpoints/{id}/redeliver", &[(Post, |r| r.to(webhooks::redeliver))]),
];

/// The scopes of the invitee's pages, in the order of the table.
pub(crate) fn page_scopes() -> Vec<&'static str> {
    let mut scopes = Vec::new();
    for endpoint in ROUTES {
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
                endpoint.path.starts_with(crate::throttle::LINK_ROUTES),
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
