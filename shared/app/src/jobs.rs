//! A job's lifecycle, written in one place. A new job takes one path ([`submit`]), whether the
//! API creates it or the dashboard retries a failed one: stored, filed under its monitored tags,
//! queued. Every later change goes through [`update`], which owns the version-checked
//! read-modify-write and then runs the listeners of the events the change caused ([`Event`],
//! [`listeners`]): a new side effect of a transition is one line in that table.

use time::OffsetDateTime;

use crate::dashboard;
use crate::ports::{JobMeasure, StoreError, WorkMessage};
use crate::services::Services;
use horizon_domain::error::{Error, Result};
use horizon_domain::{Job, JobError, JobId, JobStatus};

/// How often [`update`] reads again after losing a race before it gives up (`503`, retry).
const TRIES: usize = 5;

/// What a change makes of the job it read.
#[allow(clippy::large_enum_variant)] // one lives for a moment per write
pub enum Step<T> {
    /// Write this job (its next version), then answer `T`.
    Write(Job, T),
    /// Write nothing; answer `T`.
    Stop(T),
}

/// The one read-modify-write of a job. `decide` sees the job as stored (`None`: unknown or
/// expired) and the time, and says what to write; the write holds only if nobody wrote since
/// the read (`Error::Stale` otherwise), and then `decide` is asked again about the fresh job.
/// `start` is a job already in hand, decided on before any read. After a write, the listeners
/// of the events it caused run. Gives up with `Stale` after a few lost races.
pub async fn update<T>(
    services: &Services,
    id: &JobId,
    start: Option<Job>,
    mut decide: impl FnMut(Option<&Job>, OffsetDateTime) -> Result<Step<T>>,
) -> Result<T> {
    let mut read = start;
    for _ in 0..TRIES {
        let job = match read.take() {
            Some(job) => Some(job),
            None => services.jobs.get(id).await?,
        };
        match decide(job.as_ref(), services.clock.now())? {
            Step::Stop(answer) => return Ok(answer),
            Step::Write(next, answer) => match services.jobs.replace(&next).await {
                Ok(()) => {
                    if let Some(before) = &job {
                        for event in events(before, &next) {
                            for listener in listeners(event) {
                                listener.run(services, &next).await;
                            }
                        }
                    }
                    return Ok(answer);
                }
                Err(StoreError::Stale(_)) => continue, // someone wrote in between: read, decide again
                Err(e) => return Err(e.into()),
            },
        }
    }
    Err(Error::Stale(format!(
        "job {id} kept changing while being written; retry"
    )))
}

/// What a write of a job did, as far as anything else cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A worker took the job up for the first time.
    Started,
    Completed,
    Failed,
}

/// The events of the change from `before` to `after`.
pub fn events(before: &Job, after: &Job) -> Vec<Event> {
    if before.status() == after.status() {
        return Vec::new();
    }
    match after.status() {
        JobStatus::Processing if after.attempts() == 1 => vec![Event::Started],
        JobStatus::Completed => vec![Event::Completed],
        JobStatus::Failed => vec![Event::Failed],
        JobStatus::Processing | JobStatus::Queued => Vec::new(),
    }
}

/// Something that happens because of an event, best effort: the job's change stands whatever
/// becomes of it (its errors are logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Queue the webhook deliveries of the job's new state.
    Webhooks,
    /// Count the finished job in the dashboard's metrics (per job type and per queue).
    Metrics,
}

/// Which listeners each event has (Laravel Horizon's `EventMap`). The dashboard's lists and
/// tallies follow every write in the job store itself.
pub fn listeners(event: Event) -> &'static [Listener] {
    match event {
        Event::Started => &[Listener::Webhooks],
        Event::Completed | Event::Failed => &[Listener::Metrics, Listener::Webhooks],
    }
}

impl Listener {
    async fn run(self, services: &Services, job: &Job) {
        match self {
            Listener::Webhooks => crate::events::emit_logged(services, job).await,
            Listener::Metrics => record(services, job).await,
        }
    }
}

/// Adds a finished job to the dashboard's counters: its wait (created to last claimed) and its
/// runtime (last claimed to finished; nothing when no worker ever held it).
async fn record(services: &Services, job: &Job) {
    let ms = |from: OffsetDateTime, to: OffsetDateTime| {
        u64::try_from((to - from).whole_milliseconds()).unwrap_or(0)
    };
    let finished = job.finished_at().unwrap_or(job.updated_at());
    let measure = JobMeasure {
        failed: job.status() == JobStatus::Failed,
        runtime_ms: job.started_at().map(|s| ms(s, finished)).unwrap_or(0),
        wait_ms: ms(job.created_at(), job.started_at().unwrap_or(finished)),
    };
    let queue = dashboard::queue_name(&services.config.stack.extract_queue_url);
    if let Err(e) = services
        .metrics
        .record(job.job_type().as_str(), queue, measure)
        .await
    {
        tracing::warn!(job_id = %job.id(), error = %e, "metrics not recorded");
    }
}

/// Stores the new job, files it under the monitored tags it carries, and queues it. If it
/// cannot be queued the job is failed (never left queued where no worker will see it) and the
/// error returned.
pub async fn submit(services: &Services, job: &Job) -> Result<()> {
    services.jobs.create(job).await?;
    file_under_monitored_tags(services, job).await;
    let message = WorkMessage {
        job_id: job.id().to_string(),
    };
    if let Err(e) = services.queue.enqueue(&message).await {
        let error = JobError::new(
            "enqueue_failed",
            "the job could not be queued; submit it again",
        );
        let failed = update(
            services,
            job.id(),
            Some(job.clone()),
            |current, now| match current.filter(|j| !j.status().is_terminal()) {
                Some(j) => Ok(Step::Write(j.failed(error.clone(), now)?, ())),
                None => Ok(Step::Stop(())),
            },
        )
        .await;
        if let Err(f) = failed {
            tracing::warn!(job_id = %job.id(), error = %f, "a job that could not be queued is not marked failed");
        }
        return Err(e.into());
    }
    Ok(())
}

/// Best effort: a job missing from a monitored tag's list is a smaller harm than a job refused.
async fn file_under_monitored_tags(services: &Services, job: &Job) {
    let monitored = match services.dashboard.monitored().await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(job_id = %job.id(), error = %e, "monitored tags not read; job not filed under them");
            return;
        }
    };
    let tags = dashboard::tags(job);
    let keep_until =
        services.clock.now() + time::Duration::minutes(services.config.dashboard.monitored_minutes);
    for (tag, _) in monitored.iter().filter(|(t, _)| tags.contains(t)) {
        if let Err(e) = services.dashboard.tag_job(tag, job.id(), keep_until).await {
            tracing::warn!(job_id = %job.id(), tag, error = %e, "job not filed under a monitored tag");
        }
    }
}

/// Removes a finished job at once: its results and event bodies, then its record and delivery
/// log (in that order, so that a failure half-way can be tried again). A job still queued or
/// processing is refused: a worker would write its results after them.
pub async fn delete(services: &Services, job: &Job) -> Result<()> {
    if !job.status().is_terminal() {
        return Err(Error::Conflict(format!(
            "job {} is {}: cancel it first (POST /v1/jobs/{}/cancel), then delete it",
            job.id(),
            job.status(),
            job.id()
        )));
    }
    services
        .blobs
        .delete_prefix(&crate::ports::results_prefix(job.id()))
        .await?;
    services
        .blobs
        .delete_prefix(&crate::events::bodies_prefix(job.id()))
        .await?;
    services.jobs.delete(job.id()).await?;
    Ok(())
}

/// Runs a failed job again as a new job (`retry_of` the original), and notes the retry in the
/// original's `retried_by`. Returns the new job.
pub async fn retry(services: &Services, id: &JobId) -> Result<Job> {
    let original = services
        .jobs
        .get(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no job {id} (it may have expired)")))?;
    let now = services.clock.now();
    let retention =
        time::Duration::try_from(services.config.jobs.retention).unwrap_or(time::Duration::days(1));
    let retry = original.retry(JobId::new(now), now, retention)?;
    submit(services, &retry).await?;
    let noted = update(services, id, Some(original), |current, now| {
        Ok(match current {
            Some(j) => Step::Write(j.retried_as(&retry, now), ()),
            None => Step::Stop(()),
        })
    })
    .await;
    if let Err(e) = noted {
        // The retry runs and names its original (`retry_of`); only the back-link is lost.
        tracing::warn!(job_id = %id, retry = %retry.id(), error = %e, "retry not noted on the original");
    }
    tracing::info!(job_id = %id, retry = %retry.id(), "failed job retried");
    Ok(retry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use horizon_domain::{JobResult, Progress};

    use crate::memory::queued_job as queued;

    #[test]
    fn each_transition_names_its_events_and_each_event_its_listeners() {
        let now = OffsetDateTime::now_utc();
        let lease = time::Duration::minutes(5);
        let job = queued(now);
        let first = job.claimed(now, lease).unwrap();
        assert_eq!(events(&job, &first), [Event::Started]);
        let progressed = first.with_progress(
            Progress {
                pages_done: 1,
                pages_total: 2,
            },
            now,
            lease,
        );
        assert!(events(&first, &progressed).is_empty());
        let back = first.requeued(now).unwrap();
        assert!(events(&first, &back).is_empty());
        // A second claim starts nothing new: the client heard `processing` once.
        let second = back.claimed(now, lease).unwrap();
        assert!(events(&back, &second).is_empty());
        let done = second.completed(JobResult::default(), now).unwrap();
        assert_eq!(events(&second, &done), [Event::Completed]);
        let failed = second
            .failed(JobError::new("cancelled", "by its owner"), now)
            .unwrap();
        assert_eq!(events(&second, &failed), [Event::Failed]);
        assert!(events(&done, &done.touched(now)).is_empty());

        assert_eq!(listeners(Event::Started), [Listener::Webhooks]);
        for end in [Event::Completed, Event::Failed] {
            assert!(listeners(end).contains(&Listener::Metrics));
            assert!(listeners(end).contains(&Listener::Webhooks));
        }
    }
}
