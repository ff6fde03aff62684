//! Job lists (recent, pending, completed, failed), monitored tags and their jobs, and the
//! metrics of job types and queues.

use axum::extract::State;
use axum::routing::{get, MethodRouter};
use horizon_api::horizon::{HorizonJob, JobsPage, ListQuery, MonitorRequest, TagCount, TagView};
use horizon_app::dashboard::{ListName, MetricId, MetricKind, Search, Snapshot, Width};
use horizon_app::Services;
use horizon_domain::{Error, Job, Result};
use horizon_runtime::http::{ApiError, ApiJson, ApiQuery, ApiResult, Param};

use crate::{jobs_queue, list_since, now_ms, on_queue, Dash, PAGE, TAG_PAGE};

/// The route of one of Horizon's job lists.
pub fn of(name: ListName) -> MethodRouter<Services> {
    get(
        move |State(s): Dash, ApiQuery(q): ApiQuery<ListQuery>| async move {
            Ok::<_, ApiError>(list(&s, name, q).await?)
        },
    )
}

async fn list(s: &Services, name: ListName, query: ListQuery) -> Result<Jobs> {
    let l = query.validate(PAGE, 200)?;
    if !on_queue(s, l.queue.as_deref()) {
        return Ok(Jobs::none());
    }
    let since = list_since(s, name);
    page(s, name, since, &l.search, l.after.as_deref(), l.limit).await
}

/// A page of jobs as Horizon shows them, with the jobs it borrows from.
pub struct Jobs {
    jobs: Vec<(Job, String)>,
    queue: String,
    total: u64,
    exact: bool,
    next: Option<String>,
    more: bool,
}

impl Jobs {
    fn none() -> Jobs {
        Jobs {
            jobs: Vec::new(),
            queue: String::new(),
            total: 0,
            exact: true,
            next: None,
            more: false,
        }
    }
}

impl axum::response::IntoResponse for Jobs {
    fn into_response(self) -> axum::response::Response {
        let view = JobsPage {
            jobs: self
                .jobs
                .iter()
                .map(|(j, index)| HorizonJob::of(j, &self.queue, index))
                .collect(),
            total: self.total,
            total_exact: self.exact,
            more: self.more,
            next: self.next,
        };
        ApiJson(view).into_response()
    }
}

/// A page of `list` from `since`, filtered by `search`, after the cursor `after`, with its total
/// (exact, or a lower bound when filtered).
async fn page(
    s: &Services,
    list: ListName,
    since: Option<i64>,
    search: &Search,
    after: Option<&str>,
    limit: usize,
) -> Result<Jobs> {
    let jobs = s.dashboard.list(list, since, search, after, limit);
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
    let ((jobs, next), (total, exact)) = tokio::try_join!(jobs, total)?;
    Ok(Jobs {
        jobs,
        queue: jobs_queue(s),
        total,
        exact,
        more: next.is_some(),
        next,
    })
}

pub async fn monitoring(State(s): Dash) -> ApiResult<ApiJson<Vec<TagCount>>> {
    let mut out = Vec::new();
    for (tag, since) in s.dashboard.monitored().await? {
        let count = s.dashboard.tagged_count(&tag, tag_since(&s, since)).await?;
        out.push(TagCount { tag, count });
    }
    out.sort_by(|a, b| a.tag.cmp(&b.tag));
    Ok(ApiJson(out))
}

/// A monitored tag's list starts when monitoring began, and keeps the monitored period.
fn tag_since(s: &Services, monitored_since: i64) -> i64 {
    monitored_since.max(now_ms(s) - s.config.dashboard.monitored_minutes * 60_000)
}

pub async fn monitor(
    State(s): Dash,
    ApiJson(body): ApiJson<MonitorRequest>,
) -> ApiResult<ApiJson<TagView>> {
    let tag = body.validate()?;
    s.dashboard.monitor(&tag, s.clock.now()).await?;
    Ok(ApiJson(TagView { tag }))
}

pub async fn unmonitor(State(s): Dash, Param(tag): Param<String>) -> ApiResult<ApiJson<TagView>> {
    if s.dashboard.unmonitor(&tag).await? {
        Ok(ApiJson(TagView { tag }))
    } else {
        Err(Error::NotFound(format!("tag {tag:?} is not monitored")).into())
    }
}

/// A monitored tag's jobs; `failed:<tag>` is the failed jobs carrying it.
pub async fn monitored_jobs(
    State(s): Dash,
    Param(tag): Param<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Jobs> {
    let l = query.validate(TAG_PAGE, 100)?;
    let mut search = l.search;
    if !on_queue(&s, l.queue.as_deref()) {
        return Ok(Jobs::none());
    }
    // The dashboard's failed tab of a tag: the failed jobs carrying it.
    if let Some(tag) = tag.strip_prefix("failed:") {
        search.tag = Some(tag.to_owned());
        let since = list_since(&s, ListName::Failed);
        let after = l.after.as_deref();
        return Ok(page(&s, ListName::Failed, since, &search, after, l.limit).await?);
    }
    let since = s
        .dashboard
        .monitored()
        .await?
        .into_iter()
        .find(|(t, _)| *t == tag)
        .map(|(_, since)| tag_since(&s, since))
        .ok_or_else(|| Error::NotFound(format!("tag {tag:?} is not monitored")))?;
    if !search.is_empty() {
        // Filtered: the recent jobs carrying the tag, read from the dashboard's index.
        search.tag = Some(tag);
        let after = l.after.as_deref();
        return Ok(page(&s, ListName::Recent, Some(since), &search, after, l.limit).await?);
    }
    let (ids, more) = s
        .dashboard
        .tagged(&tag, since, l.after.as_deref(), l.limit)
        .await?;
    let (jobs, total) = tokio::try_join!(
        s.dashboard.jobs(&ids),
        s.dashboard.tagged_count(&tag, since)
    )?;
    Ok(Jobs {
        jobs: jobs
            .into_iter()
            .map(|j| {
                let index = j.id().to_string();
                (j, index)
            })
            .collect(),
        queue: jobs_queue(&s),
        total,
        exact: true,
        next: None,
        more,
    })
}

pub async fn metric_names(
    State(s): Dash,
    Param(kind): Param<String>,
) -> ApiResult<ApiJson<Vec<String>>> {
    let names = s.dashboard.metric_names(metric_kind(&kind)?).await?;
    Ok(ApiJson(names))
}

pub async fn metric(
    State(s): Dash,
    Param((kind, name)): Param<(String, String)>,
) -> ApiResult<ApiJson<Vec<Snapshot>>> {
    let metric = MetricId {
        kind: metric_kind(&kind)?,
        name,
    };
    Ok(ApiJson(s.dashboard.snapshots(&metric).await?))
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
