//! One job as an operator sees it (whichever account's): its page, chunks, Markdown, pages and
//! deliveries; and what an operator does to failed jobs: retry, delete, one or many.

use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use horizon_api::horizon::{
    horizon_status, ChunkWindow, Deleted, HorizonJob, LineageView, ListQuery, OffsetQuery, Retried,
    RetriedMany, RetryMade, RetryView,
};
use horizon_api::requests::{limit, PageQuery};
use horizon_api::views::{DeliveryLogView, ReplayView};
use horizon_app::dashboard::{ListName, Search};
use horizon_app::{jobs, Services};
use horizon_domain::{Error, Job, JobId, JobStatus, Result};
use horizon_runtime::documents::{self, Markdown, PagePicture};
use horizon_runtime::http::{ApiJson, ApiQuery, ApiResult, Id, Param};
use serde_json::json;

use crate::{audit, find, jobs_queue, list_since, on_queue, Dash, Op, BULK_MAX, BULK_TIME};

/// The longest retry lineage a job's page shows.
const LINEAGE_MAX: usize = 20;

/// A job's page: the job, its retries with their current status, and the failed jobs it
/// retries.
pub struct JobPage {
    job: Job,
    queue: String,
    retries: Vec<RetryView>,
    lineage: Vec<LineageView>,
}

impl IntoResponse for JobPage {
    fn into_response(self) -> Response {
        let mut view = HorizonJob::of(&self.job, &self.queue, self.job.id().as_str());
        view.retried_by = self.retries;
        view.lineage = Some(self.lineage);
        ApiJson(view).into_response()
    }
}

pub async fn job(State(s): Dash, Id(id): Id<JobId>) -> ApiResult<JobPage> {
    Ok(page_of(&s, find(&s, &id).await?).await?)
}

pub async fn failed_job(State(s): Dash, Id(id): Id<JobId>) -> ApiResult<JobPage> {
    let job = find(&s, &id).await?;
    if job.status() != JobStatus::Failed {
        return Err(Error::NotFound(format!("job {id} is {}, not failed", job.status())).into());
    }
    Ok(page_of(&s, job).await?)
}

async fn page_of(s: &Services, job: Job) -> Result<JobPage> {
    Ok(JobPage {
        queue: jobs_queue(s),
        retries: retries(s, &job).await?,
        lineage: lineage(s, &job).await?,
        job,
    })
}

/// The job's retries, newest first, each with its current status (the stored one once the
/// retry itself has expired).
async fn retries(s: &Services, job: &Job) -> Result<Vec<RetryView>> {
    let ids: Vec<JobId> = job
        .retried_by()
        .iter()
        .filter_map(|r| JobId::from_str(&r.id).ok())
        .collect();
    let current = s.dashboard.jobs(&ids).await?;
    Ok(job
        .retried_by()
        .iter()
        .rev()
        .map(|r| {
            let status = current
                .iter()
                .find(|j| j.id().as_str() == r.id)
                .map(|j| j.status())
                .unwrap_or(r.status);
            RetryView::of(r, status)
        })
        .collect())
}

/// The failed jobs this job retries, oldest first, up to [`LINEAGE_MAX`] (each with its
/// status; one that has expired ends the line).
async fn lineage(s: &Services, job: &Job) -> Result<Vec<LineageView>> {
    let mut line = Vec::new();
    let mut next = job.retry_of().cloned();
    while let Some(id) = next.take() {
        if line.len() >= LINEAGE_MAX {
            break;
        }
        match s.jobs.get(&id).await? {
            Some(j) => {
                line.push(LineageView {
                    id: j.id().to_string(),
                    status: horizon_status(j.status()),
                });
                next = j.retry_of().cloned();
            }
            None => line.push(LineageView {
                id: id.to_string(),
                status: "expired",
            }),
        }
    }
    line.reverse();
    Ok(line)
}

pub async fn retry(
    State(s): Dash,
    axum::Extension(op): Op,
    Id(id): Id<JobId>,
) -> ApiResult<ApiJson<Retried>> {
    let retry = jobs::retry(&s, &id).await?;
    audit(&op, "retry", json!({ "job": id, "retry": retry.id() }));
    Ok(ApiJson(Retried {
        id: retry.id().clone(),
        retry_of: id,
        status: horizon_status(retry.status()),
    }))
}

/// The failed jobs a bulk action applies to: those matching the query's filters, or every one
/// with `all=true`; `None` when the queue asked for has none.
fn matching(s: &Services, query: ListQuery, action: &str) -> Result<Option<Search>> {
    // A bulk action has no pages: `limit` and `starting_at` do not apply.
    let l = query.validate(1, u32::MAX)?;
    if l.search.is_empty() && l.queue.is_none() && !l.all {
        return Err(Error::field(
            "tag",
            format!(
                "give a filter (tag, type, account, q, from, until) to choose the failed jobs \
                 to {action} (or all=true for every one)"
            ),
        ));
    }
    Ok(on_queue(s, l.queue.as_deref()).then_some(l.search))
}

/// Calls `act` on each failed job matching `search`, newest first, at most [`BULK_MAX`] times
/// and for at most [`BULK_TIME`]; returns what it gave for the jobs it acted on, how many it
/// skipped (`None`), and whether more may remain.
async fn each_failed<T, F, Fut>(
    s: &Services,
    search: &Search,
    act: F,
) -> Result<(Vec<T>, u64, bool)>
where
    F: Fn(Job) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let since = list_since(s, ListName::Failed);
    let started = std::time::Instant::now();
    let mut after: Option<String> = None;
    let (mut done, mut skipped) = (Vec::new(), 0u64);
    loop {
        let (page, next) = s
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

/// Retries every failed job matching the filters that has not been retried yet, newest first,
/// at most [`BULK_MAX`].
pub async fn retry_matching(
    State(s): Dash,
    axum::Extension(op): Op,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<ApiJson<RetriedMany>> {
    let Some(search) = matching(&s, query, "retry")? else {
        return Ok(ApiJson(RetriedMany {
            retried: 0,
            skipped_already_retried: 0,
            more: false,
            jobs: Vec::new(),
        }));
    };
    let (retried, skipped, more) = each_failed(&s, &search, |job| {
        let services = s.clone();
        async move {
            if !job.retried_by().is_empty() {
                return Ok(None);
            }
            let retry = jobs::retry(&services, job.id()).await?;
            Ok(Some(RetryMade {
                id: retry.id().clone(),
                retry_of: job.id().clone(),
            }))
        }
    })
    .await?;
    audit(
        &op,
        "retry-matching",
        json!({ "filter": format!("{search:?}"), "retried": retried.len() }),
    );
    Ok(ApiJson(RetriedMany {
        retried: retried.len(),
        skipped_already_retried: skipped,
        more,
        jobs: retried,
    }))
}

pub async fn delete_failed(
    State(s): Dash,
    axum::Extension(op): Op,
    Id(id): Id<JobId>,
) -> ApiResult<ApiJson<Deleted>> {
    let job = find(&s, &id).await?;
    if job.status() != JobStatus::Failed {
        return Err(Error::Conflict(format!(
            "job {id} is {}; only failed jobs are deleted here",
            job.status()
        ))
        .into());
    }
    jobs::delete(&s, &job).await?;
    audit(&op, "delete", json!({ "job": id }));
    Ok(ApiJson(Deleted {
        deleted: 1,
        more: false,
        jobs: vec![id],
    }))
}

/// Deletes every failed job matching the filters, newest first, at most [`BULK_MAX`].
pub async fn delete_matching(
    State(s): Dash,
    axum::Extension(op): Op,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<ApiJson<Deleted>> {
    let Some(search) = matching(&s, query, "delete")? else {
        return Ok(ApiJson(Deleted {
            deleted: 0,
            more: false,
            jobs: Vec::new(),
        }));
    };
    let (deleted, _, more) = each_failed(&s, &search, |job| {
        let services = s.clone();
        async move {
            jobs::delete(&services, &job).await?;
            Ok(Some(job.id().clone()))
        }
    })
    .await?;
    audit(
        &op,
        "delete-matching",
        json!({ "filter": format!("{search:?}"), "deleted": deleted.len() }),
    );
    Ok(ApiJson(Deleted {
        deleted: deleted.len(),
        more,
        jobs: deleted,
    }))
}

/// A window of the job's chunks, by position (`offset`, `limit` up to 1000), within a function's
/// response as /v1's pages are (the rest on the next window).
pub async fn chunks(
    State(s): Dash,
    Id(id): Id<JobId>,
    ApiQuery(query): ApiQuery<OffsetQuery>,
) -> ApiResult<ApiJson<ChunkWindow>> {
    let job = find(&s, &id).await?;
    let limit = limit(query.limit, 500, 1000)?;
    let offset = query.offset.unwrap_or(0);
    let total = job.result().as_ref().map_or(0, |r| r.chunk_count);
    let mut chunks = s.results.chunks(job.id(), total, offset, limit).await?;
    horizon_api::views::cut_at_page_bytes(&mut chunks);
    Ok(ApiJson(ChunkWindow {
        chunks,
        total,
        offset,
    }))
}

pub async fn markdown(State(s): Dash, Id(id): Id<JobId>) -> ApiResult<Markdown> {
    Ok(documents::markdown(&s, &find(&s, &id).await?).await?)
}

pub async fn page(
    State(s): Dash,
    Param((id, page)): Param<(String, u32)>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<PagePicture> {
    let job = find(&s, &id.parse()?).await?;
    Ok(documents::page(&s, &job, page, query.w).await?)
}

pub async fn deliveries(State(s): Dash, Id(id): Id<JobId>) -> ApiResult<ApiJson<DeliveryLogView>> {
    let job = find(&s, &id).await?;
    let attempts = s.delivery_log.attempts(job.id()).await?;
    Ok(ApiJson(DeliveryLogView::page(&job, attempts, 0, 1000)))
}

pub async fn replay(
    State(s): Dash,
    axum::Extension(op): Op,
    Param((id, delivery)): Param<(String, String)>,
) -> ApiResult<(StatusCode, ApiJson<ReplayView>)> {
    let id: JobId = id.parse()?;
    let job = find(&s, &id).await?;
    horizon_app::events::replay(&s, &job, &delivery).await?;
    audit(
        &op,
        "replay-delivery",
        json!({ "job": id, "delivery": delivery }),
    );
    Ok((StatusCode::ACCEPTED, ApiJson(ReplayView::queued(delivery))))
}
