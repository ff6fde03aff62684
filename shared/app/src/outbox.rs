//! The job table's stream is the outbox. Requests and workers write a job and nothing else;
//! every side effect of that write follows from the write itself (the job before and after it,
//! as the table's stream delivers them), here and only here: webhook deliveries, the dashboard's
//! time buckets and pending gauge, the metric counters, and the lists of monitored tags. A crash
//! right after a job's write loses nothing: its stream record is still to be processed.
//!
//! In AWS a stream-triggered function calls [`apply`] (`functions/job-events`); locally the
//! runner reads the table's stream and calls the same function; the in-memory store keeps a
//! stream of its own (`memory::Memory::pump`).
//!
//! A stream delivers each record at least once, so every effect is idempotent. Delivery ids and
//! event bodies are derived from the job, its version and the subscription: a second run queues
//! the same deliveries under the same ids. The counts are added in one transaction with the mark
//! that the write was applied; a write found marked is skipped whole, and a second transaction
//! for it changes nothing.

use time::OffsetDateTime;

use crate::dashboard;
use crate::ports::{Counts, JobMeasure, WorkMessage};
use crate::services::Services;
use horizon_domain::deliveries::Then;
use horizon_domain::error::Result;
use horizon_domain::{monitoring, Job, JobStatus};

/// What a write of a job did, as far as a client cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A worker took the job up for the first time.
    Started,
    Completed,
    Failed,
}

/// The event of the change from `before` to `after`, if any (a new job has none: the client
/// that made it knows).
pub fn event(before: &Job, after: &Job) -> Option<Event> {
    if before.status() == after.status() {
        return None;
    }
    match after.status() {
        JobStatus::Processing if after.attempts() == 1 => Some(Event::Started),
        JobStatus::Completed => Some(Event::Completed),
        JobStatus::Failed => Some(Event::Failed),
        JobStatus::Processing | JobStatus::Queued => None,
    }
}

/// Everything one write of a job causes besides itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Effects {
    /// A new job: file it under the monitored tags it carries.
    pub file_under_tags: bool,
    /// Queue the webhook deliveries of the job's new state.
    pub webhooks: bool,
    /// The job stopped processing: one of its account's waiting jobs may go (`fair`).
    pub freed: bool,
    /// Work for the workers: a job read in parts has parts to read (its window moved on), or
    /// every part read and the whole to assemble.
    pub work: Vec<WorkMessage>,
    /// What the write adds to the dashboard's counts (and the mark that it was applied).
    pub counts: Counts,
}

/// The effects of the write that turned `before` (`None`: nothing, a new job) into `after`;
/// `None` when it has none (a progress report, a lease renewed). `queue` is the
/// name of the queue the job's type runs on, for its metric; `parts_at_once` how many of a
/// job's parts may be queued or running at once.
pub fn effects(
    before: Option<&Job>,
    after: &Job,
    queue: &str,
    parts_at_once: usize,
) -> Option<Effects> {
    let event = before.and_then(|b| event(b, after));
    let tally = monitoring::counted(before.map(Job::status), after)
        .map(|(field, gauge)| (field, after.updated_at(), gauge));
    let measure = matches!(event, Some(Event::Completed | Event::Failed)).then(|| {
        (
            after.job_type().as_str().to_owned(),
            queue.to_owned(),
            measure(after),
        )
    });
    let file_under_tags = before.is_none();
    // A new job was counted by its own write (`JobStore::create_within`); an ending one is
    // taken off here.
    let active = before
        .map(|b| live(after) - live(b))
        .filter(|by| *by != 0)
        .map(|by| (after.account().clone(), by));
    // Jobs processing are counted by the writes that start and stop them
    // (`JobStore::replace_counting`); the one that stops a job makes room for a waiting one.
    let freed = before.is_some_and(|b| processing(b) == 1 && processing(after) == 0);
    let work = work(before, after, parts_at_once);
    if event.is_none()
        && tally.is_none()
        && !file_under_tags
        && active.is_none()
        && !freed
        && work.is_empty()
    {
        return None;
    }
    Some(Effects {
        file_under_tags,
        webhooks: event.is_some(),
        freed,
        work,
        counts: Counts {
            job: after.id().clone(),
            version: after.version(),
            keep_until: after.expires_at() + MARKS_OUTLIVE,
            tally,
            measure,
            active,
            processing: None,
        },
    })
}

/// The messages a write of a job read in parts calls for: the parts its window now lets go
/// (all of the first ones when it was just divided, the next one as each is read), and the
/// assembly when its last part was read. A record applied twice queues them twice; a worker
/// drops a part already taken or read, and an assembly already done.
fn work(before: Option<&Job>, after: &Job, at_once: usize) -> Vec<WorkMessage> {
    if after.parts().is_empty() || after.status() != JobStatus::Processing {
        return Vec::new();
    }
    let was = before
        .filter(|b| !b.parts().is_empty())
        .map_or(0, |b| b.parts_released(at_once));
    let mut work: Vec<WorkMessage> = (was..after.parts_released(at_once))
        .map(|i| WorkMessage::part(after.id(), i))
        .collect();
    if after.parts_read() && !before.is_some_and(Job::parts_read) {
        work.push(WorkMessage::assembly(after.id()));
    }
    work
}

/// How long an applied mark outlives its job's own expiry: as long as the stream keeps a
/// record (a day), so that a record of the job read again after the job is gone (expired, or
/// removed at its expiry) is still known as applied.
const MARKS_OUTLIVE: time::Duration = time::Duration::days(1);

/// Whether a job counts among its account's active jobs (queued or processing).
fn live(job: &Job) -> i64 {
    i64::from(!job.status().is_terminal())
}

/// Whether a job counts among its account's jobs processing.
fn processing(job: &Job) -> i64 {
    i64::from(job.status() == JobStatus::Processing)
}

/// What removing a job takes from the counts: a failed job removed (deleted by its tenant or
/// an operator, or expired) leaves the failed count of the bucket it was counted in, as it
/// leaves the failed list; an active one removed (expired before it ended) leaves its
/// account's active jobs; other jobs leave the counts as they are (they record what happened).
/// Counted once, as the write after the job's last version.
pub fn removal(before: &Job) -> Option<Counts> {
    let failed = before.status() == JobStatus::Failed;
    let active = live(before) == 1;
    (failed || active).then(|| Counts {
        job: before.id().clone(),
        version: before.version() + 1,
        keep_until: before.expires_at() + MARKS_OUTLIVE,
        tally: failed.then(|| {
            (
                "deleted",
                before.finished_at().unwrap_or(before.updated_at()),
                0,
            )
        }),
        measure: None,
        active: active.then(|| (before.account().clone(), -1)),
        processing: (processing(before) == 1).then(|| (before.account().clone(), -1)),
    })
}

/// A finished job's wait (created to last claimed) and runtime (last claimed to finished;
/// nothing when no worker ever held it).
fn measure(job: &Job) -> JobMeasure {
    let ms = |from: OffsetDateTime, to: OffsetDateTime| {
        u64::try_from((to - from).whole_milliseconds()).unwrap_or(0)
    };
    let finished = job.finished_at().unwrap_or(job.updated_at());
    JobMeasure {
        failed: job.status() == JobStatus::Failed,
        runtime_ms: job.started_at().map(|s| ms(s, finished)).unwrap_or(0),
        wait_ms: ms(job.created_at(), job.started_at().unwrap_or(finished)),
    }
}

/// Applies the effects of one write (one stream record: the job before and after it). `Ok(true)`
/// when this call applied them, `Ok(false)` when there were none or they had been applied. An
/// error leaves the record to be processed again: everything done so far is done again the same
/// way, and the counts are added once. ([`prepare`], then [`commit`].)
pub async fn apply(services: &Services, before: Option<&Job>, after: &Job) -> Result<bool> {
    match prepare(services, before, after).await? {
        Some(counts) => Ok(commit(services, &[counts]).await? > 0),
        None => Ok(false),
    }
}

/// The effects of one write that may run beside other jobs' (monitored tags, webhook
/// deliveries: each idempotent), unless the write was applied already; returns the counts still
/// to [`commit`], `None` when there is nothing left to do.
pub async fn prepare(
    services: &Services,
    before: Option<&Job>,
    after: &Job,
) -> Result<Option<Counts>> {
    let queue = dashboard::queue_name(&services.config.stack.extract_queue_url);
    let at_once = services.config.jobs.parts_at_once;
    let Some(effects) = effects(before, after, queue, at_once) else {
        return Ok(None);
    };
    if services
        .metrics
        .applied(after.id(), after.version())
        .await?
    {
        return Ok(None);
    }
    if effects.file_under_tags {
        file_under_monitored_tags(services, after).await?;
    }
    if effects.webhooks && still_there(services, after).await? {
        crate::events::emit(services, after).await?;
    }
    if effects.freed {
        crate::fair::release(services, after.account(), 1).await?;
    }
    for message in &effects.work {
        services.queue.enqueue(message).await?;
    }
    Ok(Some(effects.counts))
}

/// Whether `job` is still stored. A job deleted since this write (by its tenant, or expired)
/// emits nothing more: its results and event bodies are gone, and its subscribers asked for
/// nothing after the delete. Its counts still count: they record what happened.
async fn still_there(services: &Services, job: &Job) -> Result<bool> {
    let there = services.jobs.get(job.id()).await?.is_some();
    if !there {
        tracing::info!(job_id = %job.id(), version = job.version(), "job deleted since this write; no webhook events");
    }
    Ok(there)
}

/// Adds the counts of writes and marks them applied, in transactions that hold both (a write
/// applied already is left out); returns how many it applied. The counters are few and shared by
/// every job: a consumer commits a batch's writes together, in the stream's order, rather than
/// one transaction per write contending for them. A refused transaction is tried again.
///
/// A job removed while processing (it expired) is taken off its account's jobs processing
/// here, so the room it leaves is given to a waiting job once the count is lower (`fair`); a
/// write read again releases again, which queues nothing the account has no room for.
pub async fn commit(services: &Services, writes: &[Counts]) -> Result<usize> {
    let commit = || services.metrics.apply(writes);
    let applied = crate::retry::Backoff::STORE
        .retry("committing counts", commit)
        .await?;
    for (account, by) in writes.iter().filter_map(|w| w.processing.as_ref()) {
        if *by < 0 {
            crate::fair::release(services, account, by.unsigned_abs() as usize).await?;
        }
    }
    Ok(applied)
}

/// Carries out what follows a delivery attempt, as its record in the delivery log says (the
/// record's stream delivers it): the next attempt queued with its delay, or the message
/// dead-lettered. A record handled twice queues its sequel twice under one log key; the
/// dispatcher drops an attempt already recorded.
pub async fn follow(services: &Services, then: &Then) -> Result<()> {
    match then {
        Then::Retry {
            message,
            delay_seconds,
        } => {
            services
                .deliveries
                .send(message, std::time::Duration::from_secs(*delay_seconds))
                .await?
        }
        Then::DeadLetter { message } => services.deliveries.dead_letter(message).await?,
    }
    Ok(())
}

/// Files a new job under the monitored tags it carries (each entry kept for the monitoring
/// window; writing one twice changes nothing).
async fn file_under_monitored_tags(services: &Services, job: &Job) -> Result<()> {
    let monitored = services.dashboard.monitored().await?;
    let tags = dashboard::tags(job);
    let keep_until =
        job.created_at() + time::Duration::minutes(services.config.dashboard.monitored_minutes);
    for (tag, _) in monitored.iter().filter(|(t, _)| tags.contains(t)) {
        services
            .dashboard
            .tag_job(tag, job.id(), keep_until)
            .await?;
    }
    Ok(())
}

/// The most parked records read at once (listed, or replayed by one request).
pub const PARKED_PAGE: usize = 1_000;

/// Asks for parked records to be replayed: the one with `id`, or all of them (up to
/// [`PARKED_PAGE`]). Each request is a write the outbox's consumer reads from the stream; it
/// applies the record and unparks it, or leaves it parked with the new error. Returns how many
/// were asked for; `NotFound` for an `id` that is not parked.
pub async fn replay_parked(services: &Services, id: Option<&str>) -> Result<usize> {
    let ids: Vec<String> = match id {
        Some(id) => vec![id.to_owned()],
        None => services
            .parked
            .parked(PARKED_PAGE)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect(),
    };
    let mut asked = 0;
    for one in &ids {
        if services.parked.request_replay(one).await? {
            asked += 1;
        } else if id.is_some() {
            return Err(horizon_domain::Error::NotFound(format!(
                "no parked record {one}"
            )));
        }
    }
    tracing::info!(records = asked, "replay of parked outbox records asked for");
    Ok(asked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use horizon_domain::{JobError, JobResult, Progress};

    use crate::memory::queued_job as queued;

    #[test]
    fn each_write_names_its_effects() {
        let now = OffsetDateTime::now_utc();
        let lease = time::Duration::minutes(5);
        let job = queued(now);
        let new = effects(None, &job, "q", 10).unwrap();
        assert!(new.file_under_tags && !new.webhooks);
        assert_eq!(new.counts.tally, Some(("pushed", job.updated_at(), 1)));
        assert_eq!(new.counts.measure, None);

        let first = job.claimed(now, lease).unwrap();
        assert_eq!(event(&job, &first), Some(Event::Started));
        let started = effects(Some(&job), &first, "q", 10).unwrap();
        assert!(started.webhooks && !started.file_under_tags);
        assert_eq!((started.counts.tally, started.counts.measure), (None, None));
        assert_eq!(started.counts.version, first.version());

        let progress = Progress {
            pages_done: 1,
            pages_total: 2,
        };
        let progressed = first.with_progress(progress, now, lease);
        assert_eq!(effects(Some(&first), &progressed, "q", 10), None);
        assert_eq!(
            started.counts.processing, None,
            "a claim counts itself, in its own write"
        );
        // Back in the queue: it counted itself off in its own write; room for a waiting job.
        let back = first.requeued(now).unwrap();
        let requeued = effects(Some(&first), &back, "q", 10).unwrap();
        assert!(!requeued.webhooks && requeued.counts.tally.is_none());
        assert_eq!(requeued.counts.processing, None);
        assert!(requeued.freed && !started.freed);
        // A second claim starts nothing new: the client heard `processing` once.
        let second = back.claimed(now, lease).unwrap();
        assert_eq!(effects(Some(&back), &second, "q", 10), None);

        let done = second.completed(JobResult::default(), now).unwrap();
        let finished = effects(Some(&second), &done, "q", 10).unwrap();
        assert!(finished.webhooks);
        assert_eq!(
            finished.counts.tally,
            Some(("completed", done.updated_at(), -1))
        );
        let (job_type, queue, m) = finished.counts.measure.unwrap();
        assert_eq!(
            (job_type.as_str(), queue.as_str(), m.failed),
            ("extract/pdf", "q", false)
        );

        let failed = second
            .failed(JobError::new("cancelled", "by its owner"), now)
            .unwrap();
        let fx = effects(Some(&second), &failed, "q", 10).unwrap();
        assert_eq!(fx.counts.tally.map(|t| (t.0, t.2)), Some(("failed", -1)));
        assert!(fx.counts.measure.unwrap().2.failed);
        assert_eq!(effects(Some(&done), &done.touched(now), "q", 10), None);
    }

    /// A job divided into parts queues its first parts, one more as each is read, and its
    /// assembly once the last is read; a part taken queues nothing.
    #[test]
    fn parts_are_let_go_through_their_window_then_assembled() {
        let now = OffsetDateTime::now_utc();
        let lease = time::Duration::minutes(5);
        let first = queued(now).claimed(now, lease).unwrap();
        let split = first
            .split(&[vec![1], vec![2], vec![3]], now, lease)
            .unwrap();
        let parts = |fx: Option<Effects>| -> Vec<(Option<u32>, bool)> {
            fx.map(|f| f.work.iter().map(|m| (m.part, m.assemble)).collect())
                .unwrap_or_default()
        };
        assert_eq!(
            parts(effects(Some(&first), &split, "q", 2)),
            [(Some(0), false), (Some(1), false)]
        );
        let taken = split.part_claimed(1, now, lease, "w").unwrap();
        assert_eq!(parts(effects(Some(&split), &taken, "q", 2)), []);
        let read = taken.part_read(1, 1, now, lease).unwrap();
        assert_eq!(
            parts(effects(Some(&taken), &read, "q", 2)),
            [(Some(2), false)]
        );
        let mut all = read;
        for i in [0, 2] {
            let taken = all.part_claimed(i, now, lease, "w").unwrap();
            let next = taken.part_read(i, 1, now, lease).unwrap();
            let work = parts(effects(Some(&taken), &next, "q", 2));
            assert_eq!(work.last() == Some(&(None, true)), i == 2, "{work:?}");
            all = next;
        }
        // Assembled: nothing more.
        let done = all.completed(JobResult::default(), now).unwrap();
        assert!(effects(Some(&all), &done, "q", 2).unwrap().work.is_empty());
    }

    /// A failed job deleted leaves the failed count it was in, once however often its removal
    /// is read; a completed one leaves the counts as they were.
    #[tokio::test]
    async fn a_deleted_failed_job_leaves_the_failed_count_once() {
        use horizon_domain::monitoring::Width;
        let memory = crate::Services::in_memory(crate::memory::test_config().unwrap());
        let services = &memory.services;
        let now = services.clock.now();
        let lease = time::Duration::minutes(5);
        let failed_count = || async {
            let (w, first, _) = Width::window(60, now);
            services.dashboard.tallies(w, first).await.unwrap().failed
        };
        let job = queued(now);
        let claimed = job.claimed(now, lease).unwrap();
        let failed = claimed.failed(JobError::new("x", "y"), now).unwrap();
        apply(services, None, &job).await.unwrap();
        apply(services, Some(&claimed), &failed).await.unwrap();
        assert_eq!(failed_count().await, 1);
        for _ in 0..2 {
            commit(services, &[removal(&failed).unwrap()])
                .await
                .unwrap();
        }
        assert_eq!(failed_count().await, 0);
        let done = claimed.completed(JobResult::default(), now).unwrap();
        assert_eq!(removal(&done), None);
    }

    #[tokio::test]
    async fn a_write_processed_twice_is_counted_and_delivered_once() {
        let memory = crate::Services::in_memory(crate::memory::test_config().unwrap());
        let services = &memory.services;
        let now = services.clock.now();
        let hook = horizon_domain::Subscription {
            id: horizon_domain::WebhookId::new(now),
            url: "https://hooks.example.com/horizon".into(),
            events: vec![horizon_domain::EventType::Completed],
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            created_at: horizon_domain::rfc3339(now),
            disabled: false,
            previous: None,
        };
        let job = queued(now).with_webhook(hook, now).unwrap();
        let nothing = crate::ports::Along::Nothing;
        services.jobs.create(&job, nothing).await.unwrap(); // still there: its events go out
        assert!(apply(services, None, &job).await.unwrap());
        assert!(!apply(services, None, &job).await.unwrap());
        assert_eq!(services.dashboard.pending_count().await.unwrap(), 1);
        let lease = time::Duration::minutes(5);
        let claimed = job.claimed(now, lease).unwrap();
        let done = claimed.completed(JobResult::default(), now).unwrap();
        for _ in 0..2 {
            apply(services, Some(&claimed), &done).await.unwrap();
        }
        assert_eq!(services.dashboard.pending_count().await.unwrap(), 0);
        assert_eq!(memory.queue.deliveries().unwrap().len(), 1);
        // Even when the mark is lost (a crash before it), the delivery comes again under the
        // same id, and the counts are added once.
        let first = memory.queue.deliveries().unwrap()[0].0.clone();
        let again = effects(Some(&claimed), &done, "q", 10).unwrap();
        assert_eq!(services.metrics.apply(&[again.counts]).await.unwrap(), 0);
        crate::events::emit(services, &done).await.unwrap();
        let again = &memory.queue.deliveries().unwrap()[1].0;
        assert_eq!(
            (&again.delivery_id, &again.body_key),
            (&first.delivery_id, &first.body_key)
        );
        let counters = services.dashboard.counters().await.unwrap();
        assert!(counters.iter().all(|c| c.processed == 1), "{counters:?}");
        assert_eq!(counters.len(), 2, "one per job type and one per queue");
    }
}
