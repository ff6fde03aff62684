//! The one path a new job takes, whether the API creates it or the dashboard retries a failed
//! one: stored, filed under its monitored tags, queued.

use crate::dashboard;
use crate::domain::{Job, JobError, JobId};
use crate::error::{Error, Result};
use crate::ports::WorkMessage;
use crate::Services;

/// Stores the new job, files it under the monitored tags it carries, and queues it. If it
/// cannot be queued the job is failed (never left queued where no worker will see it) and the
/// error returned.
pub async fn submit(services: &Services, job: &Job) -> Result<()> {
    services.jobs.create(job).await?;
    file_under_monitored_tags(services, job).await;
    let message = WorkMessage {
        job_id: job.id.to_string(),
    };
    if let Err(e) = services.queue.enqueue(&message).await {
        let error = JobError::new(
            "enqueue_failed",
            "the job could not be queued; submit it again",
        );
        if let Ok(failed) = job.failed(error, services.clock.now()) {
            let _ = services.jobs.replace(&failed).await;
        }
        return Err(e);
    }
    Ok(())
}

/// Best effort: a job missing from a monitored tag's list is a smaller harm than a job refused.
async fn file_under_monitored_tags(services: &Services, job: &Job) {
    let monitored = match services.dashboard.monitored().await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(job_id = %job.id, error = %e, "monitored tags not read; job not filed under them");
            return;
        }
    };
    let tags = dashboard::tags(job);
    let keep_until =
        services.clock.now() + time::Duration::minutes(services.config.monitored_minutes);
    for (tag, _) in monitored.iter().filter(|(t, _)| tags.contains(t)) {
        if let Err(e) = services.dashboard.tag_job(tag, &job.id, keep_until).await {
            tracing::warn!(job_id = %job.id, tag, error = %e, "job not filed under a monitored tag");
        }
    }
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
        time::Duration::try_from(services.config.retention).unwrap_or(time::Duration::days(1));
    let retry = original.retry(JobId::new(now), now, retention)?;
    submit(services, &retry).await?;
    let mut current = original;
    for _ in 0..5 {
        match services
            .jobs
            .replace(&current.retried_by(&retry, services.clock.now()))
            .await
        {
            Ok(()) => break,
            Err(Error::Conflict(_)) => match services.jobs.get(id).await? {
                Some(fresh) => current = fresh,
                None => break,
            },
            Err(e) => {
                // The retry runs and names its original (`retry_of`); only the back-link is lost.
                tracing::warn!(job_id = %id, retry = %retry.id, error = %e, "retry not noted on the original");
                break;
            }
        }
    }
    tracing::info!(job_id = %id, retry = %retry.id, "failed job retried");
    Ok(retry)
}
