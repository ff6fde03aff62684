//! The dashboard's model (Laravel Horizon's, on serverless): job lists, counts by time bucket,
//! metric counters and snapshots, worker heartbeats, supervisors. Pure types and functions; the
//! stores are behind `ports::DashboardStore`, the heartbeat that workers send in `dashboard`.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::{Job, JobId, JobStatus};

/// The dashboard's job lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListName {
    /// Every job, by creation.
    Recent,
    /// Queued or processing, by creation.
    Pending,
    /// By when they finished.
    Completed,
    Failed,
}

/// The smallest job id made at or after `ms`: ids sort by creation.
pub fn first_id_at(ms: i64) -> String {
    format!(
        "{}{}",
        JobId::PREFIX,
        ulid::Ulid::from_parts(ms.max(0) as u64, 0)
    )
}

/// The lower bound of a list's sort key for jobs since `ms` (lists by creation sort by job
/// id, lists by finish by the finishing time in milliseconds, 13 digits, then the id).
pub fn list_lower_bound(list: ListName, ms: i64) -> String {
    match list {
        ListName::Recent | ListName::Pending => first_id_at(ms),
        ListName::Completed | ListName::Failed => format!("{ms:013}"),
    }
}

/// A search of a dashboard list: every field given must match. `tag`, `job_type`, `status`,
/// `account` and `text` are checked on each job of the list's window (a bounded read per page,
/// see `DashboardStore::list`); `from_ms`/`until_ms` narrow the window itself (the index's sort
/// key: by creation for recent and pending jobs, by finish for completed and failed ones).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    pub tag: Option<String>,
    pub job_type: Option<String>,
    pub status: Option<JobStatus>,
    pub account: Option<String>,
    /// Matched case-insensitively against the error's code and message.
    pub text: Option<String>,
    /// Unix ms, inclusive.
    pub from_ms: Option<i64>,
    /// Unix ms, exclusive.
    pub until_ms: Option<i64>,
}

impl Search {
    pub fn is_empty(&self) -> bool {
        *self == Search::default()
    }

    /// Whether `job` passes the per-job filters (the time window is the store's key range).
    pub fn matches(&self, job: &Job) -> bool {
        self.tag.as_ref().is_none_or(|t| tags(job).contains(t))
            && self
                .job_type
                .as_ref()
                .is_none_or(|t| job.job_type().as_str() == t)
            && self.status.is_none_or(|s| job.status() == s)
            && self.account.as_ref().is_none_or(|a| job.account().0 == *a)
            && self.text.as_ref().is_none_or(|text| {
                job.error().as_ref().is_some_and(|e| {
                    search_text(&e.code, &e.message).contains(&text.to_lowercase())
                })
            })
    }

    /// The list's sort-key range for this search's window, as `[lower, upper)`; `since_ms` is
    /// the list's own period.
    pub fn key_range(
        &self,
        list: ListName,
        since_ms: Option<i64>,
    ) -> (Option<String>, Option<String>) {
        let from = match (since_ms, self.from_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        (
            from.map(|ms| list_lower_bound(list, ms)),
            self.until_ms.map(|ms| list_lower_bound(list, ms)),
        )
    }
}

impl Search {
    /// Whether the window holds nothing (it ends before it starts): no store is asked.
    pub fn key_range_is_empty(&self, list: ListName, since_ms: Option<i64>) -> bool {
        matches!(self.key_range(list, since_ms), (Some(from), Some(to)) if from >= to)
    }
}

/// The text an error is searched by: its code and message, lower case.
pub fn search_text(code: &str, message: &str) -> String {
    format!("{code} {message}").to_lowercase()
}

/// The widths of the time buckets jobs are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Width {
    Minute,
    Hour,
}

impl Width {
    pub fn seconds(self) -> i64 {
        match self {
            Width::Minute => 60,
            Width::Hour => 3600,
        }
    }

    /// The bucket holding instant `t`.
    pub fn bucket(self, t: OffsetDateTime) -> i64 {
        t.unix_timestamp().div_euclid(self.seconds())
    }

    /// For a period of `minutes` ending now: the bucket width to sum, the first bucket, and the
    /// instant that bucket starts (the window a list shows, so that list and count agree).
    pub fn window(minutes: i64, now: OffsetDateTime) -> (Width, i64, i64) {
        let width = if minutes <= 180 {
            Width::Minute
        } else {
            Width::Hour
        };
        let span = (minutes * 60 / width.seconds()).max(1);
        let first = width.bucket(now) - span + 1;
        (width, first, first * width.seconds() * 1000)
    }
}

/// Jobs counted in a range of buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub pushed: u64,
    pub completed: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    Job,
    Queue,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Job => "job",
            MetricKind::Queue => "queue",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricId {
    pub kind: MetricKind,
    pub name: String,
}

/// A metric's counters since its last snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub metric: MetricId,
    pub processed: u64,
    pub failed: u64,
    pub runtime_ms: u64,
    pub wait_ms: u64,
    /// When counting began (the last snapshot, or the first job after it), unix ms.
    pub since_ms: i64,
}

impl Counter {
    /// Adds another part of the same metric's count (a shard of it): the sums, and counting
    /// began at the earlier start.
    pub fn add(&mut self, other: &Counter) {
        self.processed += other.processed;
        self.failed += other.failed;
        self.runtime_ms += other.runtime_ms;
        self.wait_ms += other.wait_ms;
        self.since_ms = self.since_ms.min(other.since_ms);
    }

    /// Average runtime in seconds (three decimals); 0 without jobs.
    pub fn runtime(&self) -> f64 {
        per_job_seconds(self.runtime_ms, self.processed)
    }

    /// The snapshot Horizon keeps: throughput, average runtime and (for queues) average wait.
    pub fn snapshot(&self, now: OffsetDateTime) -> Snapshot {
        Snapshot {
            throughput: self.processed,
            runtime: self.runtime(),
            wait: (self.metric.kind == MetricKind::Queue)
                .then(|| per_job_seconds(self.wait_ms, self.processed)),
            time: now.unix_timestamp(),
        }
    }
}

fn per_job_seconds(total_ms: u64, jobs: u64) -> f64 {
    if jobs == 0 {
        return 0.0;
    }
    (total_ms as f64 / jobs as f64).round() / 1000.0
}

/// One interval's figures for a job type or queue.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub throughput: u64,
    /// Average seconds per job.
    pub runtime: f64,
    /// Queues: average seconds a job waited to be picked up.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub wait: Option<f64>,
    /// Unix seconds.
    pub time: i64,
}

/// Appends `next` and keeps the newest `keep`.
pub fn rotate(mut kept: Vec<Snapshot>, next: Snapshot, keep: usize) -> Vec<Snapshot> {
    kept.push(next);
    let excess = kept.len().saturating_sub(keep.max(1));
    kept.drain(..excess);
    kept
}

/// Seconds to clear a queue: its length times the average runtime, spread over the processes
/// working on it (one when none is, so an idle queue with jobs still shows a wait).
pub fn wait_seconds(length: u64, runtime_seconds: f64, processes: u64) -> u64 {
    (length as f64 * runtime_seconds / processes.max(1) as f64).ceil() as u64
}

/// A live worker: one polling loop of the local runner, or one Lambda execution environment
/// while it is invoked. Kept by TTL; counted while fresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The deployment (stage and region, or the local runner's host).
    pub master: String,
    /// The worker function.
    pub supervisor: String,
    pub queue: String,
    pub instance: String,
    pub pid: u32,
    pub seen_at_ms: i64,
}

/// The local runner's pollers: messages per batch, and seconds a receive waits (long poll).
pub const LOCAL_BATCH_SIZE: i32 = 10;
pub const LOCAL_POLL_WAIT_SECONDS: i32 = 2;

/// How long a heartbeat counts after it was sent; workers send one at most every
/// [`BEAT_EVERY`] while they work or poll.
pub const HEARTBEAT_TTL: Duration = Duration::from_secs(45);
pub const BEAT_EVERY: Duration = Duration::from_secs(15);

/// A worker function and how it consumes its queue: Horizon's supervisor, from the real
/// configuration (the event source mapping and function, or the local runner's settings).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Supervisor {
    /// The worker function, e.g. `extract-worker`.
    pub name: String,
    pub queue: String,
    #[serde(skip)]
    pub queue_url: String,
    pub max_processes: u64,
    pub min_processes: u64,
    pub batch_size: u64,
    /// Seconds a run may take (the function's timeout, or the job deadline locally).
    pub timeout: u64,
    pub memory: u64,
    /// Seconds a poll waits for messages.
    pub sleep: u64,
    /// `false` while the queue is paused.
    pub enabled: bool,
}

/// What a job's write adds to the dashboard's counts: its arrival (`pushed`, the pending gauge
/// up one), or its move from active to finished (`completed` or `failed`, the gauge down one);
/// nothing otherwise. `before` is the status it had, `None` for a new job.
pub fn counted(before: Option<JobStatus>, job: &Job) -> Option<(&'static str, i64)> {
    match (before, job.status) {
        (None, _) => Some(("pushed", 1)),
        (Some(b), after) if !b.is_terminal() && after.is_terminal() => Some((after.as_str(), -1)),
        _ => None,
    }
}

/// The queue name at the end of an SQS queue URL.
pub fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// The tags the dashboard files a job under: the automatic ones (its type, upload, account and
/// the job it retries), then the client's.
pub fn tags(job: &Job) -> Vec<String> {
    let mut tags = job.auto_tags();
    for tag in &job.tags {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    tags
}

/// This execution environment's id: Lambda's log stream (one per environment), else the pid.
pub fn instance_id() -> String {
    std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_else(|_| std::process::id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Every field of a search must match; the time window narrows the list's key range.
    #[test]
    fn a_search_matches_every_field_and_windows_the_keys() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let job = Job::new_queued(
            JobId::new(now),
            crate::JobType::ExtractPdf,
            crate::AccountId("acct_a".into()),
            crate::UploadId::new(now),
            now,
            time::Duration::hours(24),
        )
        .as_requested(vec!["blue".into()], None, Default::default(), Vec::new());
        let failed = job
            .claimed(now, time::Duration::minutes(5))
            .unwrap()
            .failed(crate::JobError::new("invalid_pdf", "Not A PDF"), now)
            .unwrap();
        let all = Search {
            tag: Some("blue".into()),
            job_type: Some("extract/pdf".into()),
            status: Some(JobStatus::Failed),
            account: Some("acct_a".into()),
            text: Some("not a".into()),
            ..Search::default()
        };
        assert!(all.matches(&failed));
        assert!(!all.matches(&job), "queued, not failed");
        for miss in [
            Search {
                tag: Some("red".into()),
                ..all.clone()
            },
            Search {
                job_type: Some("extract/image".into()),
                ..all.clone()
            },
            Search {
                account: Some("acct_b".into()),
                ..all.clone()
            },
            Search {
                text: Some("timeout".into()),
                ..all.clone()
            },
        ] {
            assert!(!miss.matches(&failed), "{miss:?}");
        }
        assert!(Search::default().is_empty() && !all.is_empty());
        let window = Search {
            from_ms: Some(5_000),
            until_ms: Some(9_000),
            ..Search::default()
        };
        // The later of the list's period and the window's start; the window's end.
        assert_eq!(
            window.key_range(ListName::Failed, Some(7_000)),
            (Some("0000000007000".into()), Some("0000000009000".into()))
        );
        assert_eq!(
            window.key_range(ListName::Recent, None),
            (Some(first_id_at(5_000)), Some(first_id_at(9_000)))
        );
    }

    #[test]
    fn windows_align_to_buckets() {
        let now = datetime!(2026-11-23 10:30:20 UTC);
        let (w, first, since) = Width::window(60, now);
        assert_eq!(w, Width::Minute);
        assert_eq!(first, Width::Minute.bucket(now) - 59);
        assert_eq!(since, first * 60_000);
        // 60 buckets, the current one included: the window starts 59 min and 20 s ago.
        assert_eq!(now.unix_timestamp() * 1000 - since, (59 * 60 + 20) * 1000);
        let (w, first, _) = Width::window(10_080, now);
        assert_eq!(w, Width::Hour);
        assert_eq!(first, Width::Hour.bucket(now) - 167);
    }

    #[test]
    fn snapshots_average_and_rotate() {
        let now = datetime!(2026-11-23 10:30 UTC);
        let c = Counter {
            metric: MetricId {
                kind: MetricKind::Queue,
                name: "q".into(),
            },
            processed: 3,
            failed: 1,
            runtime_ms: 1000,
            wait_ms: 4500,
            since_ms: 0,
        };
        let s = c.snapshot(now);
        assert_eq!(s.throughput, 3);
        assert_eq!(s.runtime, 0.333);
        assert_eq!(s.wait, Some(1.5));
        assert_eq!(s.time, now.unix_timestamp());
        let job = Counter {
            metric: MetricId {
                kind: MetricKind::Job,
                name: "extract/pdf".into(),
            },
            processed: 0,
            ..c
        };
        assert_eq!(job.snapshot(now).wait, None);
        assert_eq!(job.snapshot(now).runtime, 0.0);

        let mut kept = Vec::new();
        for t in 0..30 {
            kept = rotate(
                kept,
                Snapshot {
                    throughput: t,
                    runtime: 0.0,
                    wait: None,
                    time: t as i64,
                },
                24,
            );
        }
        assert_eq!(kept.len(), 24);
        assert_eq!(kept.first().map(|s| s.time), Some(6));
        assert_eq!(kept.last().map(|s| s.time), Some(29));
    }

    #[test]
    fn wait_spreads_over_processes() {
        assert_eq!(wait_seconds(10, 2.0, 4), 5);
        assert_eq!(wait_seconds(10, 2.0, 0), 20);
        assert_eq!(wait_seconds(0, 2.0, 4), 0);
        assert_eq!(wait_seconds(1, 0.2, 1), 1);
    }

    #[test]
    fn automatic_tags_come_first_and_are_not_repeated() {
        let now = datetime!(2026-11-23 10:30 UTC);
        let mut job = Job::new_queued(
            crate::JobId::new(now),
            crate::JobType::ExtractPdf,
            crate::AccountId("acct_a".into()),
            crate::UploadId::new(now),
            now,
            time::Duration::hours(1),
        );
        job.tags = vec!["invoices".into(), "account:acct_a".into()];
        let t = tags(&job);
        assert_eq!(t[0], "type:extract/pdf");
        assert_eq!(t[1], format!("upload:{}", job.upload_id));
        assert_eq!(t[2], "account:acct_a");
        assert_eq!(t[3], "invoices");
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn queue_names_come_from_urls() {
        assert_eq!(
            queue_name("http://localhost:4566/000000000000/horizon-extract"),
            "horizon-extract"
        );
    }
}
