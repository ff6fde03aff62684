//! The dashboard's API under `/horizon/api`: Laravel Horizon's JSON shapes and names (its
//! `snake_case` where Horizon has it), as typed requests with their rules and typed views.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use horizon_domain::error::{Error, Result};
use horizon_domain::monitoring::{self, Search};
use horizon_domain::{
    Job, JobError, JobId, JobOptions, JobResult, JobStatus, Progress, Retry, UploadId,
};

use crate::requests::{limit, whole_number};

/// A job list's query (`/horizon/api/jobs/{list}`, a monitored tag's jobs, the bulk actions):
/// Horizon's `starting_at` and `limit`, and the filters `tag`, `type`, `status` (ours or
/// Horizon's names), `queue`, `account`, `q` (error text), `from` and `until` (unix ms), and
/// `all=true` (a bulk action on every failed job).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub starting_at: Option<String>,
    #[serde(default, deserialize_with = "whole_number")]
    pub limit: Option<u32>,
    pub tag: Option<String>,
    #[serde(rename = "type")]
    pub job_type: Option<String>,
    pub status: Option<String>,
    pub queue: Option<String>,
    pub account: Option<String>,
    pub q: Option<String>,
    pub from: Option<String>,
    pub until: Option<String>,
    pub all: Option<String>,
}

/// A list as asked for: its filters, the queue asked for (a job's queue follows from its type),
/// where it starts, how long it is, and whether a bulk action was asked for every job.
#[derive(Debug)]
pub struct Listing {
    pub search: Search,
    pub queue: Option<String>,
    pub after: Option<String>,
    pub limit: usize,
    pub all: bool,
}

impl ListQuery {
    /// The query's rules; `default` and `max` bound its `limit`.
    pub fn validate(self, default: u32, max: u32) -> Result<Listing> {
        let text = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let ms = |v: Option<String>, name: &'static str| -> Result<Option<i64>> {
            text(v)
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| Error::field(name, "must be a time in unix milliseconds"))
                })
                .transpose()
        };
        let status = text(self.status)
            .map(|v| match v.as_str() {
                "pending" => Ok(JobStatus::Queued),
                "reserved" => Ok(JobStatus::Processing),
                other => JobStatus::ALL
                    .into_iter()
                    .find(|s| s.as_str() == other)
                    .ok_or_else(|| {
                        Error::field(
                            "status",
                            "must be queued (pending), processing (reserved), completed or failed",
                        )
                    }),
            })
            .transpose()?;
        let (from_ms, until_ms) = (ms(self.from, "from")?, ms(self.until, "until")?);
        if let (Some(from), Some(until)) = (from_ms, until_ms) {
            if until <= from {
                return Err(Error::field("until", "must be later than from"));
            }
        }
        Ok(Listing {
            search: Search {
                tag: text(self.tag),
                job_type: text(self.job_type),
                status,
                account: text(self.account),
                text: text(self.q),
                from_ms,
                until_ms,
            },
            queue: text(self.queue),
            // Horizon's `starting_at`: absent or `-1` from the top, else the `index` of the
            // last job seen.
            after: self.starting_at.filter(|v| !v.is_empty() && v != "-1"),
            limit: limit(self.limit, default, max)? as usize,
            all: self.all.as_deref() == Some("true"),
        })
    }
}

/// `POST /horizon/api/monitoring`: a tag to monitor.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorRequest {
    pub tag: String,
}

impl MonitorRequest {
    /// The tag, trimmed, if it is one.
    pub fn validate(self) -> Result<String> {
        let tag = self.tag.trim().to_owned();
        check_tag(&tag)?;
        Ok(tag)
    }
}

/// A tag as the dashboard files jobs under it.
pub fn check_tag(tag: &str) -> Result<()> {
    horizon_domain::check_tag(tag).map_err(|why| Error::field("tag", why))
}

/// `GET /horizon/api/jobs/{id}/chunks`: a window of a job's chunks by position.
#[derive(Debug, Default, Deserialize)]
pub struct OffsetQuery {
    #[serde(default, deserialize_with = "whole_number")]
    pub offset: Option<u32>,
    #[serde(default, deserialize_with = "whole_number")]
    pub limit: Option<u32>,
}

/// Horizon's names for the statuses: queued jobs are `pending`, running ones `reserved`.
pub fn horizon_status(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Queued => "pending",
        JobStatus::Processing => "reserved",
        JobStatus::Completed => "completed",
        JobStatus::Failed => "failed",
    }
}

/// Unix seconds with milliseconds, as Horizon shows times.
fn seconds(t: time::OffsetDateTime) -> f64 {
    (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

/// One job as Horizon's API shows it.
#[derive(Debug, Serialize)]
pub struct HorizonJob<'a> {
    pub id: &'a JobId,
    /// The cursor for the next page (`starting_at`).
    pub index: String,
    pub connection: &'static str,
    pub queue: String,
    pub name: &'static str,
    pub status: &'static str,
    pub account: &'a str,
    pub payload: Payload<'a>,
    pub progress: Option<&'a Progress>,
    pub result: Option<&'a JobResult>,
    pub error: Option<&'a JobError>,
    pub exception: Option<String>,
    pub context: Option<FailureContext<'a>>,
    pub reserved_at: Option<f64>,
    pub completed_at: Option<f64>,
    pub failed_at: Option<f64>,
    /// Its retries, newest first.
    pub retried_by: Vec<RetryView>,
    pub retry_of: Option<&'a JobId>,
    pub history: Vec<StepView<'a>>,
    /// A long job's parts, in page order (none: read in one piece).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartView<'a>>,
    /// On a job's own page: the failed jobs it retries, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Vec<LineageView>>,
}

/// Horizon's payload of a job.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload<'a> {
    pub display_name: &'static str,
    pub tags: Vec<String>,
    pub pushed_at: f64,
    pub attempts: u32,
    pub max_tries: Option<u32>,
    #[serde(rename = "retry_of")]
    pub retry_of: Option<&'a JobId>,
    pub data: JobData<'a>,
}

/// What the job was asked to do.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobData<'a> {
    pub upload_id: &'a UploadId,
    pub account: &'a str,
    pub tags: &'a [String],
    pub metadata: Option<&'a serde_json::Value>,
    pub options: &'a JobOptions,
}

/// A failed job's context.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureContext<'a> {
    pub attempts: u32,
    pub upload_id: &'a UploadId,
    pub account: &'a str,
    pub code: Option<&'a str>,
}

/// A retry of a job, with its status.
#[derive(Debug, Serialize)]
pub struct RetryView {
    pub id: String,
    pub status: &'static str,
    /// Unix seconds.
    pub retried_at: i64,
}

impl RetryView {
    /// `retry` with `status` (its current one, where it is known).
    pub fn of(retry: &Retry, status: JobStatus) -> RetryView {
        RetryView {
            id: retry.id.clone(),
            status: horizon_status(status),
            retried_at: retry.retried_at,
        }
    }
}

/// A step of a job's history.
#[derive(Debug, Serialize)]
pub struct StepView<'a> {
    pub status: &'static str,
    /// Unix seconds.
    pub at: f64,
    pub attempt: u32,
    pub worker: Option<&'a str>,
}

/// A part of a job read in parts: its pages, where it is, and when it was taken and read.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartView<'a> {
    pub pages: &'a str,
    pub state: horizon_domain::parts::PartState,
    pub attempts: u32,
    /// Unix seconds.
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    pub worker: Option<&'a str>,
}

/// A job of a retry lineage: its status, or `expired`.
#[derive(Debug, Serialize)]
pub struct LineageView {
    pub id: String,
    pub status: &'static str,
}

impl<'a> HorizonJob<'a> {
    /// `job` on `queue`; `index` is its cursor in the list it is shown in.
    pub fn of(job: &'a Job, queue: &str, index: &str) -> HorizonJob<'a> {
        let failed = job.status() == JobStatus::Failed;
        let account = job.account().0.as_str();
        HorizonJob {
            id: job.id(),
            index: index.to_owned(),
            connection: "sqs",
            queue: queue.to_owned(),
            name: job.job_type().as_str(),
            status: horizon_status(job.status()),
            account,
            payload: Payload {
                display_name: job.job_type().as_str(),
                tags: monitoring::tags(job),
                pushed_at: seconds(job.created_at()),
                attempts: job.attempts(),
                max_tries: None,
                retry_of: job.retry_of(),
                data: JobData {
                    upload_id: job.upload_id(),
                    account,
                    tags: job.tags(),
                    metadata: job.metadata(),
                    options: job.options(),
                },
            },
            progress: job.progress(),
            result: job.result(),
            error: job.error(),
            exception: job.error().map(|e| format!("{}: {}", e.code, e.message)),
            context: failed.then(|| FailureContext {
                attempts: job.attempts(),
                upload_id: job.upload_id(),
                account,
                code: job.error().map(|e| e.code.as_str()),
            }),
            reserved_at: job.started_at().map(seconds),
            completed_at: (job.status() == JobStatus::Completed)
                .then(|| job.finished_at().map(seconds))
                .flatten(),
            failed_at: failed.then(|| job.finished_at().map(seconds)).flatten(),
            retried_by: job
                .retried_by()
                .iter()
                .rev()
                .map(|r| RetryView::of(r, r.status))
                .collect(),
            retry_of: job.retry_of(),
            history: job
                .history()
                .iter()
                .map(|h| StepView {
                    status: horizon_status(h.status),
                    at: h.at as f64 / 1000.0,
                    attempt: h.attempt,
                    worker: h.worker.as_deref(),
                })
                .collect(),
            parts: job
                .parts()
                .iter()
                .map(|p| PartView {
                    pages: p.pages.as_str(),
                    state: p.state,
                    attempts: p.attempts,
                    started_at: p.started_at.map(|t| t as f64 / 1000.0),
                    finished_at: p.finished_at.map(|t| t as f64 / 1000.0),
                    worker: p.worker.as_deref(),
                })
                .collect(),
            lineage: None,
        }
    }
}

/// A page of a job list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobsPage<'a> {
    pub jobs: Vec<HorizonJob<'a>>,
    pub total: u64,
    /// `false` when `total` is a lower bound (a filtered count that stopped early).
    pub total_exact: bool,
    pub more: bool,
    /// `starting_at` of the next page.
    pub next: Option<String>,
}

impl JobsPage<'_> {
    /// A list with nothing in it.
    pub fn empty() -> Self {
        JobsPage {
            jobs: Vec::new(),
            total: 0,
            total_exact: true,
            more: false,
            next: None,
        }
    }
}

/// `GET /horizon/api/stats`: the dashboard's headline figures.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub jobs_per_minute: f64,
    pub processes: usize,
    pub queue_with_max_runtime: Option<String>,
    pub queue_with_max_throughput: Option<String>,
    pub recent_jobs: u64,
    pub failed_jobs: u64,
    pub recently_failed: u64,
    /// `running`, `paused` or `inactive`.
    pub status: &'static str,
    /// The queue with the longest wait, in seconds (`{"sqs:<queue>": s}`), or `{}`.
    pub wait: BTreeMap<String, u64>,
    pub periods: Periods,
    pub paused_masters: u8,
}

/// The minutes the recent and failed figures cover.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Periods {
    pub recent_jobs: i64,
    pub failed_jobs: i64,
}

/// `GET /horizon/api/workload`: one queue.
#[derive(Debug, Serialize)]
pub struct QueueLoad {
    pub name: String,
    pub length: u64,
    pub wait: u64,
    pub processes: u64,
    pub split_queues: Option<Vec<String>>,
    pub paused: bool,
}

/// `GET /horizon/api/masters`: one deployment and its supervisors.
#[derive(Debug, Serialize)]
pub struct MasterView {
    pub name: String,
    pub environment: Option<String>,
    pub pid: Option<u32>,
    pub status: &'static str,
    pub supervisors: Vec<SupervisorView>,
}

/// A worker function as Horizon's supervisor.
#[derive(Debug, Serialize)]
pub struct SupervisorView {
    pub name: String,
    pub master: String,
    pub pid: Option<u32>,
    pub status: &'static str,
    /// Live workers per `sqs:<queue>`.
    pub processes: BTreeMap<String, usize>,
    pub options: SupervisorOptions,
}

/// A supervisor's options: its queue, and for this deployment's own, its configuration.
#[derive(Debug, Serialize)]
pub struct SupervisorOptions {
    pub queue: String,
    pub connection: &'static str,
    #[serde(flatten)]
    pub config: Option<SupervisorConfig>,
}

/// How a worker function consumes its queue.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SupervisorConfig {
    /// `lambda`, or `local-pollers` for the local runner.
    pub balance: &'static str,
    pub max_processes: u64,
    pub min_processes: u64,
    pub max_tries: Option<u32>,
    pub timeout: u64,
    pub memory: u64,
    pub sleep: u64,
    pub batch_size: u64,
}

/// A monitored tag, and how many jobs carry it.
#[derive(Debug, Serialize)]
pub struct TagCount {
    pub tag: String,
    pub count: u64,
}

/// A tag monitored, or no longer.
#[derive(Debug, Serialize)]
pub struct TagView {
    pub tag: String,
}

/// A queue paused or continued.
#[derive(Debug, Serialize)]
pub struct QueueState {
    pub queue: String,
    pub paused: bool,
}

/// A queue purged: its messages, and its waiting jobs failed as `purged`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Purged {
    pub queue: String,
    pub messages: u64,
    pub jobs_failed: usize,
    /// More waiting jobs remain: purge again.
    pub more: bool,
}

/// A job retried.
#[derive(Debug, Serialize)]
pub struct Retried {
    pub id: JobId,
    pub retry_of: JobId,
    pub status: &'static str,
}

/// One retry made by a bulk action.
#[derive(Debug, Serialize)]
pub struct RetryMade {
    pub id: JobId,
    pub retry_of: JobId,
}

/// Failed jobs retried by a bulk action.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetriedMany {
    pub retried: usize,
    pub skipped_already_retried: u64,
    /// More may match: repeat the action.
    pub more: bool,
    pub jobs: Vec<RetryMade>,
}

/// Failed jobs deleted.
#[derive(Debug, Serialize)]
pub struct Deleted {
    pub deleted: usize,
    /// More may match: repeat the action.
    pub more: bool,
    pub jobs: Vec<JobId>,
}

/// A window of a job's chunks.
#[derive(Debug, Serialize)]
pub struct ChunkWindow {
    pub chunks: Vec<horizon_domain::Chunk>,
    pub total: u32,
    pub offset: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> ListQuery {
        let text = url_pairs(pairs);
        serde_json::from_value(text).unwrap()
    }

    fn url_pairs(pairs: &[(&str, &str)]) -> serde_json::Value {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    #[test]
    fn a_list_s_filters_take_horizon_s_names_and_refuse_nonsense() {
        let l = query(&[
            ("status", "pending"),
            ("tag", "  batch:7 "),
            ("starting_at", "-1"),
        ])
        .validate(50, 200)
        .unwrap();
        assert_eq!(l.search.status, Some(JobStatus::Queued));
        assert_eq!(l.search.tag.as_deref(), Some("batch:7"));
        assert_eq!(l.after, None);
        assert_eq!(l.limit, 50);
        assert!(query(&[("status", "asleep")]).validate(50, 200).is_err());
        assert!(query(&[("from", "5"), ("until", "5")])
            .validate(50, 200)
            .is_err());
        assert!(query(&[("from", "yesterday")]).validate(50, 200).is_err());
    }

    #[test]
    fn tags_are_checked() {
        assert!(check_tag("type:extract/pdf").is_ok());
        assert!(check_tag("").is_err());
        assert!(check_tag("a b").is_err());
        assert!(check_tag(&"a".repeat(129)).is_err());
    }
}
