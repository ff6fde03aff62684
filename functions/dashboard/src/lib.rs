//! The Horizon dashboard: Laravel Horizon's API under `/horizon/api` (its JSON shapes and names)
//! on this serverless system, and the single-page app at `/horizon/{view?}`, whose assets are
//! embedded in the function.
//!
//! Access: the admin key (`HORIZON_ADMIN_KEY`) as a bearer token, or the signed session cookie
//! `/horizon/login` sets for it; without either, `403`. The local runner bound to loopback opens
//! it without credentials.
//!
//! Each route's handler takes typed extractors and returns a typed view
//! (`horizon_api::horizon`); they live by concern: [`fleet`] (workers and queues), [`lists`]
//! (job lists, monitored tags, metrics), [`jobs`] (one job, retries, deletions) and [`outbox`]
//! (the outbox's parked records, and their replay).

mod fleet;
mod gate;
mod jobs;
mod lists;
mod outbox;
mod views;

use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use horizon_app::dashboard::{self, ListName, Width};
use horizon_app::Services;
use horizon_domain::{Error, Job, JobId, Result};
use horizon_runtime::http::{ApiError, ClientAddr};
use serde_json::Value;

pub use gate::Operator;

/// Jobs per page of a list, as Horizon's.
const PAGE: u32 = 50;
/// Jobs per page of a monitored tag.
const TAG_PAGE: u32 = 25;
/// At most this many jobs are retried, deleted or cancelled by one bulk action, and for at most
/// [`BULK_TIME`] (a request's time limit is 29 s): the response says when more match, and the
/// operator repeats it.
const BULK_MAX: usize = 500;
const BULK_TIME: std::time::Duration = std::time::Duration::from_secs(20);

type Dash = State<Services>;
type Op = axum::Extension<Operator>;

/// The dashboard's routes: the single-page app, its assets and login page, and Horizon's API
/// (behind the gate; an unknown API path is a `404` there too).
pub fn routes(services: Services) -> axum::Router {
    let api = axum::Router::new()
        .route("/horizon/api/stats", get(fleet::stats))
        .route("/horizon/api/workload", get(fleet::workload))
        .route("/horizon/api/masters", get(fleet::masters))
        .route("/horizon/api/queues/{queue}/pause", post(fleet::pause))
        .route("/horizon/api/queues/{queue}/continue", post(fleet::resume))
        .route("/horizon/api/queues/{queue}/purge", post(fleet::purge))
        .route(
            "/horizon/api/monitoring",
            get(lists::monitoring).post(lists::monitor),
        )
        .route(
            "/horizon/api/monitoring/{tag}",
            get(lists::monitored_jobs).delete(lists::unmonitor),
        )
        .route("/horizon/api/metrics/{kind}", get(lists::metric_names))
        .route("/horizon/api/metrics/{kind}/{name}", get(lists::metric))
        .route("/horizon/api/jobs/recent", lists::of(ListName::Recent))
        .route("/horizon/api/jobs/pending", lists::of(ListName::Pending))
        .route(
            "/horizon/api/jobs/completed",
            lists::of(ListName::Completed),
        )
        .route(
            "/horizon/api/jobs/failed",
            lists::of(ListName::Failed).delete(jobs::delete_matching),
        )
        .route(
            "/horizon/api/jobs/failed/{id}",
            get(jobs::failed_job).delete(jobs::delete_failed),
        )
        .route("/horizon/api/jobs/retry", post(jobs::retry_matching))
        .route("/horizon/api/jobs/retry/{id}", post(jobs::retry))
        .route("/horizon/api/jobs/{id}", get(jobs::job))
        .route("/horizon/api/jobs/{id}/chunks", get(jobs::chunks))
        .route("/horizon/api/jobs/{id}/markdown", get(jobs::markdown))
        .route("/horizon/api/jobs/{id}/pages/{page}", get(jobs::page))
        .route("/horizon/api/jobs/{id}/deliveries", get(jobs::deliveries))
        .route(
            "/horizon/api/jobs/{id}/deliveries/{delivery}/replay",
            post(jobs::replay),
        )
        .route("/horizon/api/outbox", get(outbox::parked))
        .route("/horizon/api/outbox/replay", post(outbox::replay_all))
        .route("/horizon/api/outbox/{id}/replay", post(outbox::replay_one))
        .route("/horizon/api/{*rest}", any(no_api_route))
        .route_layer(axum::middleware::from_fn_with_state(
            services.clone(),
            gated,
        ));
    axum::Router::new()
        .route("/horizon/login", get(gate::login_form).post(gate::login))
        .route("/horizon/assets/{name}", get(views::asset))
        .route("/playground", get(views::playground))
        .route("/playground/assets/{name}", get(views::asset))
        .route("/horizon", get(page))
        .route("/horizon/{*view}", get(page))
        .merge(api)
        .with_state(services)
}

/// The API's gate: the operator, from the admin key or the session cookie, or a `403`; and a
/// change asked for by another site, a `403` too.
async fn gated(
    State(s): Dash,
    ClientAddr(client): ClientAddr,
    mut req: axum::extract::Request,
    next: Next,
) -> Response {
    match gate::admit(&s, &client, req.method(), req.headers()).await {
        Ok(operator) => {
            req.extensions_mut().insert(operator);
            next.run(req).await
        }
        Err(e) => ApiError(e).into_response(),
    }
}

async fn no_api_route(method: Method, uri: Uri) -> ApiError {
    ApiError(Error::NotFound(format!(
        "no dashboard API route for {method} {}",
        uri.path()
    )))
}

/// A page of the app (any view: the app routes in the browser), or the login page.
async fn page(State(s): Dash, headers: HeaderMap) -> Response {
    match gate::check(&s, &headers) {
        Ok(_) => views::page().into_response(),
        Err(_) => gate::SignIn::Form(axum::http::StatusCode::FORBIDDEN, None).into_response(),
    }
}

fn now_ms(s: &Services) -> i64 {
    (s.clock.now().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The queue jobs run on (one job type, one queue today).
fn jobs_queue(s: &Services) -> String {
    dashboard::queue_name(&s.config.stack.extract_queue_url).to_owned()
}

/// Whether jobs of this deployment run on `queue` (any, when none is asked for).
fn on_queue(s: &Services, queue: Option<&str>) -> bool {
    let ours = dashboard::queue_name(&s.config.stack.extract_queue_url);
    queue.is_none_or(|q| q == ours)
}

/// Where a list starts: recent, pending (all of them) and completed keep the recent period,
/// failed the failed period; aligned with the counters' buckets.
fn list_since(s: &Services, list: ListName) -> Option<i64> {
    let c = &s.config;
    let now = s.clock.now();
    match list {
        ListName::Pending => None,
        ListName::Recent | ListName::Completed => {
            Some(Width::window(c.dashboard.recent_minutes, now).2)
        }
        ListName::Failed => Some(Width::window(c.dashboard.failed_minutes, now).2),
    }
}

/// The job, whichever account's; `404` when it is not (or no longer) there.
async fn find(s: &Services, id: &JobId) -> Result<Job> {
    s.jobs
        .get(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no job {id} (it may have expired)")))
}

/// Writes down an operator's action in the audit log (target `horizon::audit`): who, what, on
/// what.
fn audit(op: &Operator, action: &str, detail: Value) {
    tracing::info!(target: "horizon::audit", actor = %op.0, action, detail = %detail, "operator action");
}
