//! The Horizon dashboard: Laravel Horizon's API under `/horizon/api` (its JSON shapes and names)
//! on this serverless system, and the single-page app at `/horizon/{view?}`, whose assets are
//! embedded in the function.
//!
//! Access: the admin key (`HORIZON_ADMIN_KEY`) as a bearer token, or the signed session cookie
//! `/horizon/login` sets for it; without either, `403`. The local runner bound to loopback opens
//! it without credentials.

mod gate;
mod views;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::routing::{any, get, post, MethodRouter};
use axum::Extension;
use horizon_api::requests::PageQuery;
use horizon_app::dashboard::{self, ListName, MetricId, MetricKind, Search, Width};
use horizon_app::ports::QueueDepth;
use horizon_app::{jobs, Services};
use horizon_domain::{Error, Result};
use horizon_domain::{Job, JobError, JobId, JobStatus};
use horizon_runtime::documents;
use horizon_runtime::http::{self, query, query_param, ApiQuery, Id, Param, Req};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

pub use gate::Operator;
pub use views::job_view;

/// Jobs per page of a list, as Horizon's.
const PAGE: usize = 50;
/// Jobs per page of a monitored tag.
const TAG_PAGE: usize = 25;
/// At most this many jobs are retried, deleted or cancelled by one bulk action, and for at most
/// [`BULK_TIME`] (a request's time limit is 29 s): the response says when more match, and the
/// operator repeats it.
const BULK_MAX: usize = 500;
const BULK_TIME: std::time::Duration = std::time::Duration::from_secs(20);

#[derive(Clone)]
pub struct Dashboard {
    services: Services,
}

impl Dashboard {
    pub fn new(services: Services) -> Self {
        Dashboard { services }
    }
}

impl axum::extract::FromRef<Dashboard> for Services {
    fn from_ref(dashboard: &Dashboard) -> Services {
        dashboard.services.clone()
    }
}

type Dash = State<Dashboard>;
type Op = Extension<Operator>;

/// The dashboard's routes: the single-page app, its assets and login page, and Horizon's API
/// (behind the gate; an unknown API path is a `404` there too).
pub fn routes(services: Services) -> axum::Router {
    let api = axum::Router::new()
        .route("/horizon/api/stats", get(|State(d): Dash| async move { d.stats().await }))
        .route("/horizon/api/workload", get(|State(d): Dash| async move { d.workload().await }))
        .route("/horizon/api/masters", get(|State(d): Dash| async move { d.masters().await }))
        .route(
            "/horizon/api/monitoring",
            get(|State(d): Dash| async move { d.monitoring().await })
                .post(|State(d): Dash, Req(r): Req| async move { d.monitor(&r).await }),
        )
        .route(
            "/horizon/api/monitoring/{tag}",
            get(|State(d): Dash, Param(tag): Param<String>, Req(r): Req| async move {
                d.monitored_jobs(&r, &tag).await
            })
            .delete(|State(d): Dash, Param(tag): Param<String>| async move {
                d.unmonitor(&tag).await
            }),
        )
        .route(
            "/horizon/api/metrics/{kind}",
            get(|State(d): Dash, Param(kind): Param<String>| async move {
                d.metric_names(&kind).await
            }),
        )
        .route(
            "/horizon/api/metrics/{kind}/{name}",
            get(|State(d): Dash, Param((kind, name)): Param<(String, String)>| async move {
                d.metric(&kind, &name).await
            }),
        )
        .route("/horizon/api/jobs/recent", list(ListName::Recent))
        .route("/horizon/api/jobs/pending", list(ListName::Pending))
        .route("/horizon/api/jobs/completed", list(ListName::Completed))
        .route("/horizon/api/jobs/failed", list(ListName::Failed))
        .route(
            "/horizon/api/jobs/failed",
            axum::routing::delete(|State(d): Dash, Extension(op): Op, Req(r): Req| async move {
                d.delete_matching(&op, &r).await
            }),
        )
        .route(
            "/horizon/api/jobs/failed/{id}",
            get(|State(d): Dash, Id(id): Id<JobId>| async move { d.failed_job(&id).await })
                .delete(|State(d): Dash, Extension(op): Op, Id(id): Id<JobId>| async move {
                    d.delete_failed(&op, &id).await
                }),
        )
        .route(
            "/horizon/api/jobs/retry",
            post(|State(d): Dash, Extension(op): Op, Req(r): Req| async move {
                d.retry_matching(&op, &r).await
            }),
        )
        .route(
            "/horizon/api/jobs/retry/{id}",
            post(|State(d): Dash, Extension(op): Op, Id(id): Id<JobId>| async move {
                d.retry(&op, &id).await
            }),
        )
        .route(
            "/horizon/api/jobs/{id}",
            get(|State(d): Dash, Id(id): Id<JobId>| async move { d.job(&id).await }),
        )
        .route(
            "/horizon/api/jobs/{id}/chunks",
            get(|State(d): Dash, Id(id): Id<JobId>, Req(r): Req| async move {
                d.chunks(&id, &r).await
            }),
        )
        .route(
            "/horizon/api/jobs/{id}/markdown",
            get(|State(d): Dash, Id(id): Id<JobId>| async move {
                documents::markdown(&d.services, &d.find(&id).await?).await
            }),
        )
        .route(
            "/horizon/api/jobs/{id}/pages/{page}",
            get(|State(d): Dash, Param((id, page)): Param<(String, u32)>, ApiQuery(q): ApiQuery<PageQuery>| async move {
                let job = d.find(&JobId::from_str(&id)?).await?;
                documents::page(&d.services, &job, page, q.w).await
            }),
        )
        .route(
            "/horizon/api/jobs/{id}/deliveries",
            get(|State(d): Dash, Id(id): Id<JobId>| async move { d.deliveries(&id).await }),
        )
        .route(
            "/horizon/api/jobs/{id}/deliveries/{delivery}/replay",
            post(|State(d): Dash, Extension(op): Op, Param((id, delivery)): Param<(String, String)>| async move {
                d.replay(&op, &JobId::from_str(&id)?, &delivery).await
            }),
        )
        .route(
            "/horizon/api/queues/{queue}/pause",
            post(|State(d): Dash, Extension(op): Op, Param(q): Param<String>| async move {
                d.pause(&op, &q, true).await
            }),
        )
        .route(
            "/horizon/api/queues/{queue}/continue",
            post(|State(d): Dash, Extension(op): Op, Param(q): Param<String>| async move {
                d.pause(&op, &q, false).await
            }),
        )
        .route(
            "/horizon/api/queues/{queue}/purge",
            post(|State(d): Dash, Extension(op): Op, Param(q): Param<String>| async move {
                d.purge(&op, &q).await
            }),
        )
        .route(
            "/horizon/api/{*rest}",
            any(|method: Method, uri: Uri| async move {
                Error::NotFound(format!("no dashboard API route for {method} {}", uri.path()))
            }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            services.clone(),
            |State(s): State<Services>, mut req: axum::extract::Request, next: Next| async move {
                match gate::check(&s, req.headers()) {
                    Ok(operator) => {
                        req.extensions_mut().insert(operator);
                        next.run(req).await
                    }
                    Err(e) => e.into_response(),
                }
            },
        ));
    axum::Router::new()
        .route(
            "/horizon/login",
            get(|| async { gate::login_page(200, None) })
                .post(|State(d): Dash, Req(r): Req| async move { gate::login(&d.services, &r) }),
        )
        .route(
            "/horizon/assets/{name}",
            get(|Param(name): Param<String>| async move { views::asset(&name) }),
        )
        .route("/playground", get(|| async { views::playground() }))
        .route(
            "/playground/assets/{name}",
            get(|Param(name): Param<String>| async move { views::asset(&name) }),
        )
        .route("/horizon", get(page))
        .route("/horizon/{*view}", get(page))
        .merge(api)
        .with_state(Dashboard::new(services))
}

/// A page of the app (any view: the app routes in the browser), or the login page.
async fn page(State(d): Dash, headers: HeaderMap) -> Response<Body> {
    match gate::check(&d.services, &headers) {
        Ok(_) => views::page(),
        Err(_) => gate::login_page(403, None),
    }
}

/// One of Horizon's job lists.
fn list(name: ListName) -> MethodRouter<Dashboard> {
    get(move |State(d): Dash, Req(r): Req| async move { d.list(&r, name).await })
}

/// The live workers, queues and their configuration, read once per request.
struct Fleet {
    supervisors: Vec<dashboard::Supervisor>,
    heartbeats: Vec<dashboard::Heartbeat>,
    depths: HashMap<String, QueueDepth>,
    /// Average seconds per job, per queue: this interval's counters, else the last snapshot.
    runtimes: HashMap<String, f64>,
    max_tries: HashMap<String, Option<u32>>,
}

impl Fleet {
    fn processes(&self, queue: &str) -> u64 {
        self.heartbeats.iter().filter(|h| h.queue == queue).count() as u64
    }

    fn length(&self, queue: &str) -> u64 {
        self.depths
            .get(queue)
            .map(|d| d.visible + d.delayed)
            .unwrap_or(0)
    }

    fn wait(&self, queue: &str) -> u64 {
        dashboard::wait_seconds(
            self.length(queue),
            self.runtimes.get(queue).copied().unwrap_or(0.0),
            self.processes(queue),
        )
    }

    fn all_paused(&self) -> bool {
        !self.supervisors.is_empty() && self.supervisors.iter().all(|s| !s.enabled)
    }
}

impl Dashboard {
    fn now_ms(&self) -> i64 {
        (self.services.clock.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    async fn fleet(&self) -> Result<Fleet> {
        let s = &self.services;
        let since = self.now_ms() - dashboard::HEARTBEAT_TTL.as_millis() as i64;
        let (supervisors, heartbeats, counters) = tokio::try_join!(
            s.fleet.supervisors(),
            s.dashboard.heartbeats(since),
            s.dashboard.counters(),
        )?;
        let mut depths = HashMap::new();
        let mut runtimes = HashMap::new();
        let mut max_tries = HashMap::new();
        for sup in &supervisors {
            let (depth, tries) = tokio::try_join!(
                s.queues.depth(&sup.queue_url),
                s.queues.max_receive_count(&sup.queue_url)
            )?;
            depths.insert(sup.queue.clone(), depth);
            max_tries.insert(sup.queue.clone(), tries);
            let metric = MetricId {
                kind: MetricKind::Queue,
                name: sup.queue.clone(),
            };
            let runtime = match counters
                .iter()
                .find(|c| c.metric == metric && c.processed > 0)
            {
                Some(c) => c.runtime(),
                None => s
                    .dashboard
                    .snapshots(&metric)
                    .await?
                    .iter()
                    .rev()
                    .find(|snap| snap.throughput > 0)
                    .map(|snap| snap.runtime)
                    .unwrap_or(0.0),
            };
            runtimes.insert(sup.queue.clone(), runtime);
        }
        Ok(Fleet {
            supervisors,
            heartbeats,
            depths,
            runtimes,
            max_tries,
        })
    }

    async fn stats(&self) -> Result<Response<Body>> {
        let s = &self.services;
        let now = s.clock.now();
        let c = &s.config;
        let (rw, rfirst, _) = Width::window(c.dashboard.recent_minutes, now);
        let (fw, ffirst, _) = Width::window(c.dashboard.failed_minutes, now);
        let stored = async {
            Ok::<_, Error>(tokio::try_join!(
                s.dashboard.tallies(rw, rfirst),
                s.dashboard.tallies(fw, ffirst),
                s.dashboard.counters(),
                s.dashboard.last_snapshot_at(),
            )?)
        };
        let ((recent, failed, counters, last_snapshot), fleet) =
            tokio::try_join!(stored, self.fleet())?;
        // Jobs processed since the last snapshot, per minute since then (at least one minute).
        let job_counters: Vec<_> = counters
            .iter()
            .filter(|c| c.metric.kind == MetricKind::Job)
            .collect();
        let processed: u64 = job_counters.iter().map(|c| c.processed).sum();
        let since = last_snapshot.or_else(|| {
            job_counters
                .iter()
                .filter(|c| c.processed > 0)
                .map(|c| c.since_ms)
                .min()
        });
        let minutes = since
            .map(|ms| ((self.now_ms() - ms) as f64 / 60_000.0).max(1.0))
            .unwrap_or(1.0);
        let jobs_per_minute = (processed as f64 / minutes * 100.0).round() / 100.0;

        let mut max_runtime: Option<(String, f64)> = None;
        let mut max_throughput: Option<(String, u64)> = None;
        for name in s.dashboard.metric_names(MetricKind::Queue).await? {
            let metric = MetricId {
                kind: MetricKind::Queue,
                name: name.clone(),
            };
            if let Some(last) = s.dashboard.snapshots(&metric).await?.pop() {
                if max_runtime.as_ref().is_none_or(|(_, r)| last.runtime > *r) {
                    max_runtime = Some((name.clone(), last.runtime));
                }
                if max_throughput
                    .as_ref()
                    .is_none_or(|(_, t)| last.throughput > *t)
                {
                    max_throughput = Some((name, last.throughput));
                }
            }
        }
        let worst = fleet
            .supervisors
            .iter()
            .map(|sup| (format!("sqs:{}", sup.queue), fleet.wait(&sup.queue)))
            .max_by_key(|(_, w)| *w);
        let status = if fleet.heartbeats.is_empty() {
            "inactive"
        } else if fleet.all_paused() {
            "paused"
        } else {
            "running"
        };
        Ok(http::json(
            200,
            &json!({
                "jobsPerMinute": jobs_per_minute,
                "processes": fleet.heartbeats.len(),
                "queueWithMaxRuntime": max_runtime.map(|(n, _)| n),
                "queueWithMaxThroughput": max_throughput.map(|(n, _)| n),
                "recentJobs": recent.pushed,
                "failedJobs": failed.failed,
                "recentlyFailed": failed.failed,
                "status": status,
                "wait": worst.map(|(q, w)| json!({ q: w })).unwrap_or_else(|| json!({})),
                "periods": { "recentJobs": c.dashboard.recent_minutes, "failedJobs": c.dashboard.failed_minutes },
                "pausedMasters": u8::from(status == "paused"),
            }),
        ))
    }

    async fn workload(&self) -> Result<Response<Body>> {
        let fleet = self.fleet().await?;
        let mut rows: Vec<Value> = fleet
            .supervisors
            .iter()
            .map(|sup| {
                json!({
                    "name": sup.queue,
                    "length": fleet.length(&sup.queue),
                    "wait": fleet.wait(&sup.queue),
                    "processes": fleet.processes(&sup.queue),
                    "split_queues": null,
                    "paused": !sup.enabled,
                })
            })
            .collect();
        rows.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        Ok(http::json(200, &rows))
    }

    async fn masters(&self) -> Result<Response<Body>> {
        let fleet = self.fleet().await?;
        let config = &self.services.config;
        let mut names: Vec<String> = fleet.heartbeats.iter().map(|h| h.master.clone()).collect();
        names.push(config.dashboard.master.clone());
        names.sort();
        names.dedup();
        let mut masters = BTreeMap::new();
        for master in names {
            let beats: Vec<_> = fleet
                .heartbeats
                .iter()
                .filter(|h| h.master == master)
                .collect();
            // This deployment's supervisors come from its configuration; another deployment's
            // only from its heartbeats.
            let mut supervisors = Vec::new();
            let own = master == config.dashboard.master;
            for sup in fleet.supervisors.iter().filter(|_| own) {
                let live = beats.iter().filter(|h| h.supervisor == sup.name).count();
                supervisors.push(json!({
                    "name": format!("{master}:{}", sup.name),
                    "master": master,
                    "pid": beats.iter().find(|h| h.supervisor == sup.name).map(|h| h.pid),
                    "status": if !sup.enabled { "paused" } else if live == 0 { "inactive" } else { "running" },
                    "processes": { format!("sqs:{}", sup.queue): live },
                    "options": {
                        "queue": sup.queue,
                        "connection": "sqs",
                        "balance": if config.stack.extract_function.is_some() { "lambda" } else { "local-pollers" },
                        "maxProcesses": sup.max_processes,
                        "minProcesses": sup.min_processes,
                        "maxTries": fleet.max_tries.get(&sup.queue).copied().flatten(),
                        "timeout": sup.timeout,
                        "memory": sup.memory,
                        "sleep": sup.sleep,
                        "batchSize": sup.batch_size,
                    },
                }));
            }
            if !own {
                let mut by_sup: BTreeMap<(&str, &str), usize> = BTreeMap::new();
                for h in &beats {
                    *by_sup.entry((&h.supervisor, &h.queue)).or_default() += 1;
                }
                for ((sup, queue), live) in by_sup {
                    supervisors.push(json!({
                        "name": format!("{master}:{sup}"),
                        "master": master,
                        "status": "running",
                        "processes": { format!("sqs:{queue}"): live },
                        "options": { "queue": queue, "connection": "sqs" },
                    }));
                }
            }
            let status = if beats.is_empty() {
                "inactive"
            } else if own && fleet.all_paused() {
                "paused"
            } else {
                "running"
            };
            masters.insert(
                master.clone(),
                json!({
                    "name": master,
                    "environment": master.split(':').next(),
                    "pid": beats.first().map(|h| h.pid),
                    "status": status,
                    "supervisors": supervisors,
                }),
            );
        }
        Ok(http::json(200, &masters))
    }

    async fn monitoring(&self) -> Result<Response<Body>> {
        let s = &self.services;
        let mut out = Vec::new();
        for (tag, since) in s.dashboard.monitored().await? {
            let count = s
                .dashboard
                .tagged_count(&tag, self.tag_since(since))
                .await?;
            out.push(json!({ "tag": tag, "count": count }));
        }
        out.sort_by(|a, b| a["tag"].as_str().cmp(&b["tag"].as_str()));
        Ok(http::json(200, &out))
    }

    /// A monitored tag's list starts when monitoring began, and keeps the monitored period.
    fn tag_since(&self, monitored_since: i64) -> i64 {
        monitored_since
            .max(self.now_ms() - self.services.config.dashboard.monitored_minutes * 60_000)
    }

    async fn monitor(&self, req: &Request) -> Result<Response<Body>> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            tag: String,
        }
        let body: Body = http::parse_json(req)?;
        let tag = body.tag.trim();
        check_tag(tag)?;
        self.services
            .dashboard
            .monitor(tag, self.services.clock.now())
            .await?;
        Ok(http::json(200, &json!({ "tag": tag })))
    }

    async fn unmonitor(&self, tag: &str) -> Result<Response<Body>> {
        if self.services.dashboard.unmonitor(tag).await? {
            Ok(http::json(200, &json!({ "tag": tag })))
        } else {
            Err(Error::NotFound(format!("tag {tag:?} is not monitored")))
        }
    }

    async fn monitored_jobs(&self, req: &Request, tag: &str) -> Result<Response<Body>> {
        let s = &self.services;
        let params = query(req);
        let after = starting_at(&params)?;
        let limit = http::limit_param(&params, TAG_PAGE as u32, 100)? as usize;
        let (mut search, queue) = self.search(&params)?;
        if !self.on_queue(queue.as_deref()) {
            return Ok(no_jobs());
        }
        // The dashboard's failed tab of a tag: the failed jobs carrying it.
        if let Some(tag) = tag.strip_prefix("failed:") {
            search.tag = Some(tag.to_owned());
            let since = self.list_since(ListName::Failed);
            return self
                .list_page(ListName::Failed, since, &search, after.as_deref(), limit)
                .await;
        }
        let since = s
            .dashboard
            .monitored()
            .await?
            .into_iter()
            .find(|(t, _)| t == tag)
            .map(|(_, since)| self.tag_since(since))
            .ok_or_else(|| Error::NotFound(format!("tag {tag:?} is not monitored")))?;
        if !search.is_empty() {
            // Filtered: the recent jobs carrying the tag, read from the dashboard's index.
            search.tag = Some(tag.to_owned());
            return self
                .list_page(
                    ListName::Recent,
                    Some(since),
                    &search,
                    after.as_deref(),
                    limit,
                )
                .await;
        }
        let (ids, more) = s
            .dashboard
            .tagged(tag, since, after.as_deref(), limit)
            .await?;
        let (jobs, total) =
            tokio::try_join!(s.dashboard.jobs(&ids), s.dashboard.tagged_count(tag, since))?;
        let views: Vec<Value> = jobs
            .iter()
            .map(|j| job_view(j, &self.queue_of(j), j.id().as_str()))
            .collect();
        Ok(http::json(
            200,
            &json!({ "jobs": views, "total": total, "totalExact": true, "more": more }),
        ))
    }

    async fn metric_names(&self, kind: &str) -> Result<Response<Body>> {
        let names = self
            .services
            .dashboard
            .metric_names(metric_kind(kind)?)
            .await?;
        Ok(http::json(200, &names))
    }

    async fn metric(&self, kind: &str, name: &str) -> Result<Response<Body>> {
        let metric = MetricId {
            kind: metric_kind(kind)?,
            name: name.to_owned(),
        };
        Ok(http::json(
            200,
            &self.services.dashboard.snapshots(&metric).await?,
        ))
    }

    fn queue_of(&self, _job: &Job) -> String {
        // One job type, one queue today.
        dashboard::queue_name(&self.services.config.stack.extract_queue_url).to_owned()
    }

    /// Where a list starts: recent, pending (all of them) and completed keep the recent period,
    /// failed the failed period; aligned with the counters' buckets.
    fn list_since(&self, list: ListName) -> Option<i64> {
        let c = &self.services.config;
        let now = self.services.clock.now();
        match list {
            ListName::Pending => None,
            ListName::Recent | ListName::Completed => {
                Some(Width::window(c.dashboard.recent_minutes, now).2)
            }
            ListName::Failed => Some(Width::window(c.dashboard.failed_minutes, now).2),
        }
    }

    async fn list(&self, req: &Request, list: ListName) -> Result<Response<Body>> {
        let params = query(req);
        let after = starting_at(&params)?;
        let limit = http::limit_param(&params, PAGE as u32, 200)? as usize;
        let (search, queue) = self.search(&params)?;
        if !self.on_queue(queue.as_deref()) {
            return Ok(no_jobs());
        }
        self.list_page(
            list,
            self.list_since(list),
            &search,
            after.as_deref(),
            limit,
        )
        .await
    }

    /// A list's filters from the query: `tag`, `type`, `status` (ours or Horizon's names),
    /// `queue`, `account`, `q` (error text), `from` and `until` (unix ms). The queue is given
    /// apart: a job's queue follows from its type.
    fn search(&self, params: &[(String, String)]) -> Result<(Search, Option<String>)> {
        let text = |name: &str| -> Result<Option<String>> {
            Ok(query_param(params, name)?
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()))
        };
        let ms = |name: &'static str| -> Result<Option<i64>> {
            text(name)?
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| Error::field(name, "must be a time in unix milliseconds"))
                })
                .transpose()
        };
        let status = text("status")?
            .map(|v| match v.as_str() {
                "pending" => Ok(JobStatus::Queued),
                "reserved" => Ok(JobStatus::Processing),
                other => JobStatus::from_str(other).map_err(|_| {
                    Error::field(
                        "status",
                        "must be queued (pending), processing (reserved), completed or failed",
                    )
                }),
            })
            .transpose()?;
        let (from_ms, until_ms) = (ms("from")?, ms("until")?);
        if let (Some(from), Some(until)) = (from_ms, until_ms) {
            if until <= from {
                return Err(Error::field("until", "must be later than from"));
            }
        }
        let search = Search {
            tag: text("tag")?,
            job_type: text("type")?,
            status,
            account: text("account")?,
            text: text("q")?,
            from_ms,
            until_ms,
        };
        Ok((search, text("queue")?))
    }

    /// Whether jobs of this deployment run on `queue` (any, when none is asked for).
    fn on_queue(&self, queue: Option<&str>) -> bool {
        let ours = dashboard::queue_name(&self.services.config.stack.extract_queue_url);
        queue.is_none_or(|q| q == ours)
    }

    async fn list_page(
        &self,
        list: ListName,
        since: Option<i64>,
        search: &Search,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Response<Body>> {
        let s = &self.services;
        let page = s.dashboard.list(list, since, search, after, limit);
        let total = async {
            let c = &s.config;
            let now = s.clock.now();
            if !search.is_empty() {
                return s.dashboard.count(list, since, search).await;
            }
            Ok((
                match list {
                    ListName::Pending => s.dashboard.pending_count().await?.max(0) as u64,
                    ListName::Recent | ListName::Completed => {
                        let (w, first, _) = Width::window(c.dashboard.recent_minutes, now);
                        let t = s.dashboard.tallies(w, first).await?;
                        if list == ListName::Recent {
                            t.pushed
                        } else {
                            t.completed
                        }
                    }
                    ListName::Failed => {
                        let (w, first, _) = Width::window(c.dashboard.failed_minutes, now);
                        s.dashboard.tallies(w, first).await?.failed
                    }
                },
                true,
            ))
        };
        let ((jobs, next), (total, exact)) = tokio::try_join!(page, total)?;
        let views: Vec<Value> = jobs
            .iter()
            .map(|(j, cursor)| job_view(j, &self.queue_of(j), cursor))
            .collect();
        Ok(http::json(
            200,
            &json!({ "jobs": views, "total": total, "totalExact": exact, "more": next.is_some(), "next": next }),
        ))
    }

    async fn find(&self, id: &JobId) -> Result<Job> {
        self.services
            .jobs
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no job {id} (it may have expired)")))
    }

    async fn job(&self, id: &JobId) -> Result<Response<Body>> {
        let job = self.find(id).await?;
        let mut view = job_view(&job, &self.queue_of(&job), job.id().as_str());
        view["retried_by"] = self.retries(&job).await?;
        view["lineage"] = self.lineage(&job).await?;
        Ok(http::json(200, &view))
    }

    async fn failed_job(&self, id: &JobId) -> Result<Response<Body>> {
        let job = self.find(id).await?;
        if job.status() != JobStatus::Failed {
            return Err(Error::NotFound(format!(
                "job {id} is {}, not failed",
                job.status()
            )));
        }
        self.job(id).await
    }

    /// The job's retries, newest first, each with its current status (the stored one once the
    /// retry itself has expired).
    async fn retries(&self, job: &Job) -> Result<Value> {
        let ids: Vec<JobId> = job
            .retried_by()
            .iter()
            .filter_map(|r| JobId::from_str(&r.id).ok())
            .collect();
        let current = self.services.dashboard.jobs(&ids).await?;
        let mut out: Vec<Value> = job
            .retried_by()
            .iter()
            .map(|r| {
                let status = current
                    .iter()
                    .find(|j| j.id().as_str() == r.id)
                    .map(|j| j.status())
                    .unwrap_or(r.status);
                json!({ "id": r.id, "status": views::horizon_status(status), "retried_at": r.retried_at })
            })
            .collect();
        out.reverse();
        Ok(Value::Array(out))
    }

    /// The failed jobs this job retries, oldest first, up to [`LINEAGE_MAX`] (each with its
    /// status; one that has expired ends the line).
    async fn lineage(&self, job: &Job) -> Result<Value> {
        let mut line = Vec::new();
        let mut next = job.retry_of().cloned();
        while let Some(id) = next.take() {
            if line.len() >= LINEAGE_MAX {
                break;
            }
            match self.services.jobs.get(&id).await? {
                Some(j) => {
                    line.push(json!({ "id": j.id(), "status": views::horizon_status(j.status()) }));
                    next = j.retry_of().cloned();
                }
                None => line.push(json!({ "id": id, "status": "expired" })),
            }
        }
        line.reverse();
        Ok(Value::Array(line))
    }

    async fn retry(&self, op: &Operator, id: &JobId) -> Result<Response<Body>> {
        let retry = jobs::retry(&self.services, id).await?;
        audit(op, "retry", json!({ "job": id, "retry": retry.id() }));
        Ok(http::json(
            200,
            &json!({ "id": retry.id(), "retry_of": id, "status": views::horizon_status(retry.status()) }),
        ))
    }

    /// The failed jobs a bulk action applies to: those matching the query's filters (see
    /// [`Dashboard::search`]), or every one with `all=true`; `None` when the queue asked for
    /// has none.
    fn matching(&self, params: &[(String, String)], action: &str) -> Result<Option<Search>> {
        let (search, queue) = self.search(params)?;
        if search.is_empty()
            && queue.is_none()
            && query_param(params, "all")?.as_deref() != Some("true")
        {
            return Err(Error::field(
                "tag",
                format!(
                    "give a filter (tag, type, account, q, from, until) to choose the failed jobs \
                     to {action} (or all=true for every one)"
                ),
            ));
        }
        Ok(self.on_queue(queue.as_deref()).then_some(search))
    }

    /// Calls `act` on each failed job matching `search`, newest first, at most [`BULK_MAX`]
    /// times and for at most [`BULK_TIME`]; returns what it gave for the jobs it acted on, how
    /// many it skipped (`None`), and whether more may remain.
    async fn each_failed<F, Fut>(&self, search: &Search, act: F) -> Result<(Vec<Value>, u64, bool)>
    where
        F: Fn(Job) -> Fut,
        Fut: std::future::Future<Output = Result<Option<Value>>>,
    {
        let since = self.list_since(ListName::Failed);
        let started = std::time::Instant::now();
        let mut after: Option<String> = None;
        let (mut done, mut skipped) = (Vec::new(), 0u64);
        loop {
            let (page, next) = self
                .services
                .dashboard
                .list(ListName::Failed, since, search, after.as_deref(), 100)
                .await?;
            for (job, _) in page {
                if done.len() >= BULK_MAX || started.elapsed() > BULK_TIME {
                    return Ok((done, skipped, true));
                }
                match act(job).await? {
                    Some(record) => done.push(record),
                    None => skipped += 1,
                }
            }
            match next {
                Some(cursor) => after = Some(cursor),
                None => return Ok((done, skipped, false)),
            }
        }
    }

    /// Retries every failed job matching the filters that has not been retried yet, newest
    /// first, at most [`BULK_MAX`].
    async fn retry_matching(&self, op: &Operator, req: &Request) -> Result<Response<Body>> {
        let Some(search) = self.matching(&query(req), "retry")? else {
            return Ok(http::json(
                200,
                &json!({ "retried": 0, "skippedAlreadyRetried": 0, "jobs": [] }),
            ));
        };
        let (retried, skipped, more) = self
            .each_failed(&search, |job| {
                let services = self.services.clone();
                async move {
                    if !job.retried_by().is_empty() {
                        return Ok(None);
                    }
                    let retry = jobs::retry(&services, job.id()).await?;
                    Ok(Some(json!({ "id": retry.id(), "retry_of": job.id() })))
                }
            })
            .await?;
        audit(
            op,
            "retry-matching",
            json!({ "filter": format!("{search:?}"), "retried": retried.len() }),
        );
        Ok(http::json(
            200,
            &json!({ "retried": retried.len(), "skippedAlreadyRetried": skipped, "more": more, "jobs": retried }),
        ))
    }

    async fn delete_failed(&self, op: &Operator, id: &JobId) -> Result<Response<Body>> {
        let job = self.find(id).await?;
        if job.status() != JobStatus::Failed {
            return Err(Error::Conflict(format!(
                "job {id} is {}; only failed jobs are deleted here",
                job.status()
            )));
        }
        jobs::delete(&self.services, &job).await?;
        audit(op, "delete", json!({ "job": id }));
        Ok(http::json(200, &json!({ "deleted": 1, "jobs": [id] })))
    }

    /// Deletes every failed job matching the filters, newest first, at most [`BULK_MAX`].
    async fn delete_matching(&self, op: &Operator, req: &Request) -> Result<Response<Body>> {
        let Some(search) = self.matching(&query(req), "delete")? else {
            return Ok(http::json(
                200,
                &json!({ "deleted": 0, "more": false, "jobs": [] }),
            ));
        };
        let (deleted, _, more) = self
            .each_failed(&search, |job| {
                let services = self.services.clone();
                async move {
                    jobs::delete(&services, &job).await?;
                    Ok(Some(json!(job.id())))
                }
            })
            .await?;
        audit(
            op,
            "delete-matching",
            json!({ "filter": format!("{search:?}"), "deleted": deleted.len() }),
        );
        Ok(http::json(
            200,
            &json!({ "deleted": deleted.len(), "more": more, "jobs": deleted }),
        ))
    }

    /// Empties a queue: its jobs still queued fail as `purged` (their clients hear of it), then
    /// every message goes (SQS's PurgeQueue). Jobs already processing finish.
    async fn purge(&self, op: &Operator, queue: &str) -> Result<Response<Body>> {
        let s = &self.services;
        let sup = s
            .fleet
            .supervisors()
            .await?
            .into_iter()
            .find(|sup| sup.queue == queue)
            .ok_or_else(|| Error::NotFound(format!("no worker reads a queue {queue:?}")))?;
        let depth = s.queues.depth(&sup.queue_url).await?;
        let messages = depth.visible + depth.delayed;
        // Messages first: SQS refuses a second purge within a minute, and then nothing changed.
        let started = std::time::Instant::now();
        let at_ms = self.now_ms();
        s.queues.purge(&sup.queue_url).await?;
        audit(op, "purge", json!({ "queue": queue, "messages": messages }));
        // Then the jobs that waited in it (made before the purge, still queued) fail as purged:
        // no message will run them now.
        let mut cancelled = 0usize;
        let mut left = false;
        if sup.queue_url == s.config.stack.extract_queue_url {
            let waiting = Search {
                status: Some(JobStatus::Queued),
                until_ms: Some(at_ms + 1),
                ..Search::default()
            };
            let mut after: Option<String> = None;
            loop {
                let (page, next) = s
                    .dashboard
                    .list(ListName::Pending, None, &waiting, after.as_deref(), 100)
                    .await?;
                for (job, _) in page {
                    let error = JobError::new(
                        "purged",
                        format!("the queue {queue} was purged by an operator before the job ran"),
                    );
                    match jobs::cancel(s, job.id(), error, |j| {
                        j.ok_or_else(|| Error::NotFound("gone".into()))
                    })
                    .await
                    {
                        Ok(_) => cancelled += 1,
                        // It started, finished or went meanwhile: nothing to purge.
                        Err(Error::Conflict(_) | Error::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                match next {
                    Some(_) if started.elapsed() > BULK_TIME => {
                        left = true;
                        break;
                    }
                    Some(cursor) => after = Some(cursor),
                    None => break,
                }
            }
        }
        audit(
            op,
            "purge-jobs",
            json!({ "queue": queue, "jobsFailed": cancelled, "more": left }),
        );
        Ok(http::json(
            200,
            &json!({ "queue": queue, "messages": messages, "jobsFailed": cancelled, "more": left }),
        ))
    }

    async fn chunks(&self, id: &JobId, req: &Request) -> Result<Response<Body>> {
        let job = self.find(id).await?;
        let params = query(req);
        let limit = http::limit_param(&params, 500, 1000)?;
        let offset = match query_param(&params, "offset")? {
            Some(o) => o
                .parse::<u32>()
                .map_err(|_| Error::field("offset", "must be a whole number"))?,
            None => 0,
        };
        let total = job.result().as_ref().map_or(0, |r| r.chunk_count);
        let mut chunks = self
            .services
            .results
            .chunks(job.id(), total, offset, limit)
            .await?;
        // Within a function's response, as /v1's pages are (the rest on the next page).
        horizon_api::views::cut_at_page_bytes(&mut chunks);
        Ok(http::json(
            200,
            &json!({ "chunks": chunks, "total": total, "offset": offset }),
        ))
    }

    async fn deliveries(&self, id: &JobId) -> Result<Response<Body>> {
        let job = self.find(id).await?;
        let attempts = self.services.delivery_log.attempts(job.id()).await?;
        let subscriptions: Vec<_> = job
            .webhooks()
            .iter()
            .map(|s| horizon_api::views::SubscriptionView::of(s, None))
            .collect();
        Ok(http::json(
            200,
            &horizon_api::views::DeliveryLogView::page(subscriptions, attempts, 0, 1000),
        ))
    }

    async fn replay(&self, op: &Operator, id: &JobId, delivery: &str) -> Result<Response<Body>> {
        let job = self.find(id).await?;
        horizon_app::events::replay(&self.services, &job, delivery).await?;
        audit(
            op,
            "replay-delivery",
            json!({ "job": id, "delivery": delivery }),
        );
        Ok(http::json(
            202,
            &json!({ "deliveryId": delivery, "status": "queued" }),
        ))
    }

    async fn pause(&self, op: &Operator, queue: &str, paused: bool) -> Result<Response<Body>> {
        let known = self
            .services
            .fleet
            .supervisors()
            .await?
            .into_iter()
            .any(|s| s.queue == queue);
        if !known {
            return Err(Error::NotFound(format!(
                "no worker reads a queue {queue:?}"
            )));
        }
        self.services.fleet.set_paused(queue, paused).await?;
        audit(
            op,
            if paused { "pause" } else { "continue" },
            json!({ "queue": queue }),
        );
        Ok(http::json(
            200,
            &json!({ "queue": queue, "paused": paused }),
        ))
    }
}

/// The longest retry lineage a job's page shows.
const LINEAGE_MAX: usize = 20;

/// An empty page of a list.
fn no_jobs() -> Response<Body> {
    http::json(
        200,
        &json!({ "jobs": [], "total": 0, "totalExact": true, "more": false }),
    )
}

/// Writes down an operator's action in the audit log (target `horizon::audit`): who, what, on
/// what.
fn audit(op: &Operator, action: &str, detail: Value) {
    tracing::info!(target: "horizon::audit", actor = %op.0, action, detail = %detail, "operator action");
}

fn metric_kind(kind: &str) -> Result<MetricKind> {
    match kind {
        "jobs" => Ok(MetricKind::Job),
        "queues" => Ok(MetricKind::Queue),
        other => Err(Error::NotFound(format!(
            "no metrics of {other:?}; there are jobs and queues"
        ))),
    }
}

/// Horizon's `starting_at`: absent or `-1` from the top, else the `index` of the last job seen.
fn starting_at(params: &[(String, String)]) -> Result<Option<String>> {
    Ok(query_param(params, "starting_at")?.filter(|v| !v.is_empty() && v != "-1"))
}

fn check_tag(tag: &str) -> Result<()> {
    horizon_domain::check_tag(tag).map_err(|why| Error::field("tag", why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked() {
        assert!(check_tag("type:extract/pdf").is_ok());
        assert!(check_tag("").is_err());
        assert!(check_tag("a b").is_err());
        assert!(check_tag(&"a".repeat(129)).is_err());
    }
}
