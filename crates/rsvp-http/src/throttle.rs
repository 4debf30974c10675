//! Throttling of failed attempts per client address
//! (`RSVP_FAILED_ATTEMPTS_PER_MINUTE`, default 60).
//!
//! A failed attempt is a failed authentication (any 401 under `/v1`: a
//! missing, unknown or invalid API key, a wrong operator token) or a failed
//! link lookup (a 404 from `/v1/invitation-links/{token}...`, `/v1/join/{token}` or from the
//! invitee page `/invite/{token}...`). Successful requests are never counted.
//! Which endpoints are which is decided by the scope a guard wraps
//! ([`guard`] for the API, [`page_guard`] for the pages), so the rule holds
//! when a host mounts rsvp under a prefix.
//!
//! Failures are metered per client address (see [`crate::client_addr`]) by
//! a keyed GCRA limiter (`governor`): a burst of `limit` failures, then one
//! more every `60 / limit` seconds. Once an address has spent its budget,
//! *every* request of it to those endpoints is refused with 429 until the
//! limiter allows a failure again, before its key or token is checked —
//! also one that carries a good key — so that no guess past the limit is
//! ever checked. (A request already running when the budget was spent that
//! fails too is answered 429 instead of its 401/404.) The 429 carries `Retry-After` and
//! the `RateLimit-Policy` / `RateLimit` fields of
//! draft-ietf-httpapi-ratelimit-headers-10 (`"failed";q=60;w=60`,
//! `"failed";r=0;t=<seconds>`); the API answers a problem document with the
//! code `too_many_requests`, the invitee page an HTML page in the visitor's
//! language. The count is per replica (in memory): N replicas allow up to N
//! times the limit, which still bounds guessing.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};
use governor::clock::Clock as GovernorClock;
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::problem::Problem;
use crate::state::HttpState;

/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// The name of the policy in both fields.
const POLICY_NAME: &str = "failed";
/// How often forgotten addresses are swept from memory.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The application's clock as governor's: time since the Unix epoch, so
/// that tests drive the limiter with the same manual clock as the use cases.
#[derive(Clone)]
struct AppClock(Arc<dyn rsvp_app::Clock>);

impl GovernorClock for AppClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        let nanos = self.0.now().unix_timestamp_nanos();
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
    }
}

type Limiter = RateLimiter<IpAddr, HashMapStateStore<IpAddr>, AppClock, StateInformationMiddleware>;

struct Blocked {
    /// Address → the time (on [`AppClock`]) until which it is refused.
    until: HashMap<IpAddr, Duration>,
    last_sweep: Duration,
}

/// The failed-attempt meter of one replica.
pub struct FailedAttempts {
    per_minute: u32,
    clock: AppClock,
    limiter: Option<Limiter>,
    blocked: Mutex<Blocked>,
}

impl fmt::Debug for FailedAttempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailedAttempts")
            .field("per_minute", &self.per_minute)
            .finish_non_exhaustive()
    }
}

fn whole_seconds_up(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl FailedAttempts {
    /// A meter allowing `per_minute` failures a minute per address (`0`: off),
    /// on `clock`.
    pub fn new(per_minute: u32, clock: Arc<dyn rsvp_app::Clock>) -> Self {
        let clock = AppClock(clock);
        let limiter = NonZeroU32::new(per_minute)
            .map(|n| RateLimiter::hashmap_with_clock(Quota::per_minute(n), clock.clone()).with_middleware());
        let last_sweep = clock.now();
        Self {
            per_minute,
            clock,
            limiter,
            blocked: Mutex::new(Blocked {
                until: HashMap::new(),
                last_sweep,
            }),
        }
    }

    /// Whether throttling is on.
    pub fn is_on(&self) -> bool {
        self.limiter.is_some()
    }

    fn blocked(&self) -> std::sync::MutexGuard<'_, Blocked> {
        // A panic while holding the lock leaves a plain map behind: still usable.
        self.blocked.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Seconds until `ip` may try again, when it is refused now.
    pub fn refused(&self, ip: IpAddr) -> Option<u64> {
        if !self.is_on() {
            return None;
        }
        let now = self.clock.now();
        let mut blocked = self.blocked();
        let until = *blocked.until.get(&ip)?;
        if now < until {
            Some(whole_seconds_up(until - now))
        } else {
            blocked.until.remove(&ip);
            None
        }
    }

    /// Counts a failed attempt of `ip`. The failure that spends the last of
    /// the budget blocks the address until one more failure is allowed (one
    /// emission interval, `60 / limit` s, at most: a fraction of a second
    /// more than governor's exact time, which the snapshot does not tell);
    /// a failure past the budget (requests that were already running when
    /// it was spent) also answers the seconds to wait, for its 429.
    pub fn failed(&self, ip: IpAddr) -> Option<u64> {
        let limiter = self.limiter.as_ref()?;
        let now = self.clock.now();
        let verdict = limiter.check_key(&ip);
        let mut blocked = self.blocked();
        if now.saturating_sub(blocked.last_sweep) >= SWEEP_EVERY {
            // Addresses whose budget is whole again need no memory.
            limiter.retain_recent();
            limiter.shrink_to_fit();
            blocked.until.retain(|_, until| *until > now);
            blocked.last_sweep = now;
        }
        match verdict {
            Ok(snapshot) => {
                if snapshot.remaining_burst_capacity() == 0 {
                    let wait = snapshot.quota().replenish_interval();
                    blocked.until.insert(ip, now + wait);
                }
                None
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(now);
                blocked.until.insert(ip, now + wait);
                Some(whole_seconds_up(wait))
            }
        }
    }

    /// `RateLimit-Policy`: the quota `q` over the window `w` (seconds).
    fn policy(&self) -> String {
        format!("\"{POLICY_NAME}\";q={};w=60", self.per_minute)
    }
}

/// `RateLimit`: nothing remains (`r=0`) for `t` seconds.
fn remaining_none(seconds: u64) -> String {
    format!("\"{POLICY_NAME}\";r=0;t={seconds}")
}

/// Which endpoints a guard stands in front of: what counts as a failure and
/// how a refusal is answered. Chosen per scope, never from the request's
/// path, so that it holds under whatever prefix a host mounts rsvp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guarded {
    /// The JSON API (`/v1`, `/metrics`): a 401, or a 404 of a link route.
    Api,
    /// The invitee's pages (`/invite`, `/unsubscribe`): a 401 or any 404,
    /// refused with an HTML page.
    Page,
}

/// The link routes of the API, as the path left after the `/v1` scope
/// (`/invitation-links/{token}...`, `/join/{token}`): whatever prefix the
/// host mounted rsvp under is consumed by then.
pub(crate) const LINK_ROUTES: [&str; 2] = ["/invitation-links/", "/join/"];

/// Whether `path` (after the `/v1` scope) is a link route's.
pub(crate) fn is_link_route(path: &str) -> bool {
    LINK_ROUTES.iter().any(|prefix| path.starts_with(prefix))
}

/// A failed authentication or a failed link lookup (`link`: the request
/// was for a link route).
fn is_failure(guarded: Guarded, link: bool, status: StatusCode) -> bool {
    match status {
        StatusCode::UNAUTHORIZED => true,
        StatusCode::NOT_FOUND => guarded == Guarded::Page || link,
        _ => false,
    }
}

fn too_many_requests(state: &HttpState, guarded: Guarded, req: &HttpRequest, seconds: u64) -> HttpResponse {
    let mut response = if guarded == Guarded::Page {
        crate::page::too_many_requests(req, seconds)
    } else {
        let mut problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "too many failed attempts from your address; retry after the time in Retry-After",
        );
        problem.retry_after = Some(seconds);
        problem.error_response()
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (RATELIMIT_POLICY, state.throttle.policy()),
        (RATELIMIT, remaining_none(seconds)),
        (actix_web::http::header::RETRY_AFTER, seconds.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

/// The middleware of the API endpoints that check a key or a link token
/// (the `/v1` scope, `/metrics`): refuses a blocked address before the
/// check, counts the failures after it, answers problem documents.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guarded(Guarded::Api, req, next).await
}

/// [`guard`] for the invitee's pages (the `/invite` and `/unsubscribe`
/// scopes): every 404 is a failed link lookup, and a refusal is an HTML
/// page in the visitor's language.
pub async fn page_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guarded(Guarded::Page, req, next).await
}

async fn guarded(
    guarded: Guarded,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<HttpState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if !state.throttle.is_on() {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let ip = state.config.trusted_proxies.client_of(req.request());
    if let Some(seconds) = state.throttle.refused(ip) {
        let response = too_many_requests(&state, guarded, req.request(), seconds);
        return Ok(req.into_response(response));
    }
    // Read before routing goes on: in the scope's middleware, what is left
    // of the path is the part after the scope (and any host prefix).
    let link = is_link_route(req.match_info().unprocessed());
    let response = next.call(req).await?;
    if is_failure(guarded, link, response.status())
        && let Some(seconds) = state.throttle.failed(ip)
    {
        let request = response.request().clone();
        let refusal = too_many_requests(&state, guarded, &request, seconds);
        return Ok(ServiceResponse::new(request, refusal));
    }
    Ok(response.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use rsvp_memory::ManualClock;
    use time::OffsetDateTime;

    use super::*;

    fn meter(per_minute: u32) -> (Arc<ManualClock>, FailedAttempts) {
        let clock = Arc::new(ManualClock::new(
            OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        ));
        (clock.clone(), FailedAttempts::new(per_minute, clock))
    }

    #[test]
    fn the_failure_that_spends_the_budget_blocks_the_address_until_one_more_is_allowed() {
        let (clock, meter) = meter(60);
        let attacker: IpAddr = "203.0.113.9".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        for n in 1..=59 {
            assert_eq!(meter.failed(attacker), None, "failure {n} is within the limit");
            assert_eq!(meter.refused(attacker), None);
        }
        assert_eq!(meter.failed(attacker), None, "the 60th is answered as it is");
        assert_eq!(
            meter.refused(attacker),
            Some(1),
            "then the address waits: one a second refills"
        );
        assert_eq!(
            meter.failed(attacker),
            Some(1),
            "one already running when it was spent is past it"
        );
        assert_eq!(meter.refused(other), None, "per address");
        assert_eq!(meter.failed(other), None);
        clock.advance(time::Duration::seconds(1));
        assert_eq!(
            meter.refused(attacker),
            None,
            "one second later one more try is allowed"
        );
        assert_eq!(meter.failed(attacker), None);
        assert_eq!(meter.refused(attacker), Some(1), "and only one");
        clock.advance(time::Duration::minutes(2));
        for _ in 1..=59 {
            assert_eq!(meter.failed(attacker), None, "quiet minutes refill the whole burst");
        }
        assert_eq!(meter.refused(attacker), None);
    }

    #[test]
    fn a_limit_of_zero_turns_throttling_off() {
        let (_, meter) = meter(0);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        assert!(!meter.is_on());
        for _ in 0..1000 {
            assert_eq!(meter.failed(ip), None);
        }
        assert_eq!(meter.refused(ip), None);
    }

    #[test]
    fn the_policy_and_the_remaining_fields_follow_the_ratelimit_draft() {
        let (_, meter) = meter(60);
        assert_eq!(meter.policy(), "\"failed\";q=60;w=60");
        assert_eq!(remaining_none(7), "\"failed\";r=0;t=7");
    }
}
