//! A job's lifecycle, written in one place. A new job takes one path ([`submit`]), whether the
//! API creates it or the dashboard retries a failed one: stored, then queued. Every later change
//! goes through [`update`], which owns the version-checked read-modify-write. Neither does
//! anything else: the side effects of a job's write follow from the write, through the table's
//! stream ([`crate::outbox`]).

use time::OffsetDateTime;

use crate::ports::{Along, ProcessingChange, StoreError, WorkMessage};
use crate::retry::Backoff;
use crate::services::Services;
use horizon_domain::error::{Error, Result};
use horizon_domain::{Job, JobError, JobId, JobStatus};

/// What a change makes of the job it read.
#[allow(clippy::large_enum_variant)] // one lives for a moment per write
pub enum Step<T> {
    /// Write this job (its next version), then answer `T`.
    Write(Job, T),
    /// Write nothing; answer `T`.
    Stop(T),
    /// Write this job, a claim of a queued job, counting it among its account's jobs
    /// processing, within the cap (`StoreError::AtLimit` beyond it); then answer `T`.
    Take(Job, T, Option<u32>),
}

/// The one read-modify-write of a job. `decide` sees the job as stored (`None`: unknown or
/// expired) and the time, and says what to write; the write holds only if nobody wrote since
/// the read (`Error::Stale` otherwise), and then `decide` is asked again about the fresh job.
/// `start` is a job already in hand, decided on before any read. Gives up with `Stale` after a
/// few lost races.
pub async fn update<T>(
    services: &Services,
    id: &JobId,
    start: Option<Job>,
    mut decide: impl FnMut(Option<&Job>, OffsetDateTime) -> Result<Step<T>>,
) -> Result<T> {
    let mut read = start;
    for attempt in 0..Backoff::RACE.tries {
        if attempt > 0 {
            Backoff::RACE.wait(attempt - 1).await;
        }
        let job = match read.take() {
            Some(job) => Some(job),
            None => services.jobs.get(id).await?,
        };
        let (written, answer) = match decide(job.as_ref(), services.clock.now())? {
            Step::Stop(answer) => return Ok(answer),
            // A write that stops the job processing takes it off its account's count in the
            // same transaction.
            Step::Write(next, answer)
                if job
                    .as_ref()
                    .is_some_and(|j| j.status() == JobStatus::Processing)
                    && next.status() != JobStatus::Processing =>
            {
                let change = ProcessingChange::Release;
                (services.jobs.replace_counting(&next, change).await, answer)
            }
            Step::Write(next, answer) => (services.jobs.replace(&next).await, answer),
            Step::Take(next, answer, cap) => {
                let change = ProcessingChange::Take(cap);
                (services.jobs.replace_counting(&next, change).await, answer)
            }
        };
        match written {
            Ok(()) => return Ok(answer),
            Err(StoreError::Stale(_)) => continue, // someone wrote in between: read, decide again
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Stale(format!(
        "job {id} kept changing while being written; retry"
    )))
}

/// Stores the new job, with what goes `along` with it in the same transaction, and queues it. If it
/// cannot be queued the job is failed (never left queued where no worker will see it) and the
/// error returned.
pub async fn submit(services: &Services, job: &Job, along: Along<'_>) -> Result<()> {
    // Admitted only within the account's limit of active jobs, in the job's own write (so no
    // burst passes it). An operator's retry is not the tenant's request: it is counted, not
    // limited.
    let max = services.config.jobs.max_active;
    let limit = (max > 0 && !matches!(along, Along::Replacing(_))).then_some(max);
    services.jobs.create_within(job, along, limit).await?;
    let message = WorkMessage {
        job_id: job.id().to_string(),
        account: Some(job.account().0.clone()),
        ..Default::default()
    };
    if let Err(e) = crate::fair::queue(services, job.account(), &message).await {
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
        return Err(e);
    }
    Ok(())
}

/// A job's request made again (its `Idempotency-Key` replayed): a job still queued and never
/// taken up is queued again, in case the first request stopped between storing it and queuing
/// it (the table or the queue out of reach; the client was answered 503). A second message for
/// a job queued already is harmless: the worker finds it taken or done.
pub async fn resume(services: &Services, job: &Job) -> Result<()> {
    if job.status() != JobStatus::Queued || job.attempts() > 0 {
        return Ok(());
    }
    let message = WorkMessage {
        job_id: job.id().to_string(),
        account: Some(job.account().0.clone()),
        ..Default::default()
    };
    crate::fair::queue(services, job.account(), &message).await
}

/// What a job refused at its account's limit of `max` active jobs is told.
pub fn at_limit(max: u32) -> String {
    format!(
        "this account has {max} jobs queued or processing, and its limit is {max}: submit more \
         as they finish"
    )
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

/// Ends a queued or processing job as `failed` with `error` (a tenant's cancel, an operator's
/// purge of its queue); `mine` decides whether the caller may (an unknown or another account's
/// job is its error). A finished job is a `Conflict`.
pub async fn cancel(
    services: &Services,
    id: &JobId,
    error: JobError,
    mine: impl for<'a> Fn(Option<&'a Job>) -> Result<&'a Job>,
) -> Result<Job> {
    update(services, id, None, |current, now| {
        let job = mine(current)?;
        if job.status().is_terminal() {
            return Err(Error::Conflict(format!(
                "job {id} is already {}",
                job.status()
            )));
        }
        let cancelled = job.failed(error.clone(), now)?;
        Ok(Step::Write(cancelled.clone(), cancelled))
    })
    .await
}

/// Runs a failed job again as a new job (`retry_of` the original), noted in the original's
/// `retried_by` in the same transaction (so two retries of one job cannot both land). Returns
/// the new job.
pub async fn retry(services: &Services, id: &JobId) -> Result<Job> {
    let retention =
        time::Duration::try_from(services.config.jobs.retention).unwrap_or(time::Duration::days(1));
    let mut attempt = 0;
    let retry = loop {
        let original = services
            .jobs
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no job {id} (it may have expired)")))?;
        let now = services.clock.now();
        let retry = original.retry(JobId::new(now), now, retention)?;
        let noted = original.retried_as(&retry, now);
        match submit(services, &retry, Along::Replacing(&noted)).await {
            Ok(()) => break retry,
            // The original changed since it was read: read it and decide again.
            Err(Error::Stale(_)) if attempt + 1 < Backoff::RACE.tries => {
                Backoff::RACE.wait(attempt).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    tracing::info!(job_id = %id, retry = %retry.id(), "failed job retried");
    Ok(retry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{queued_job, test_config};
    use crate::ports::Clock;

    /// A request replayed for a job that was stored but never queued (its first request
    /// stopped in between) queues it; a job a worker took up already is left alone.
    #[tokio::test]
    async fn a_replayed_request_queues_a_job_that_was_never_queued() {
        let m = Services::in_memory(test_config().unwrap());
        let s = &m.services;
        let job = queued_job(m.clock.now());
        s.jobs.create(&job, Along::Nothing).await.unwrap();
        assert!(m.queue.work().unwrap().is_empty());
        resume(s, &job).await.unwrap();
        let queued = m.queue.work().unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].job_id, job.id().to_string());

        let taken = job
            .claimed(m.clock.now(), time::Duration::minutes(1))
            .unwrap()
            .requeued(m.clock.now())
            .unwrap();
        resume(s, &taken).await.unwrap();
        assert_eq!(
            m.queue.work().unwrap().len(),
            1,
            "tried once: not queued again"
        );
    }
}
