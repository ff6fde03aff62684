//! The reaper, run on a schedule (EventBridge in AWS, a timer in the local runner): no job stays
//! `queued` or `processing` forever. A processing job whose lease ran out (its worker died and
//! its message is gone) goes back on the queue, or fails with `max_tries_exceeded` once it has
//! had its tries; a queued job whose message may have been lost is queued again. A message
//! that turns out to be a duplicate is harmless: claims are conditional writes.

use horizon_shared::domain::{JobError, JobStatus};
use horizon_shared::ports::WorkMessage;
use horizon_shared::{Error, Result, Services};

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Reaped {
    pub requeued: usize,
    pub failed: usize,
}

/// Looks at up to 100 overdue jobs.
pub async fn reap(services: &Services) -> Result<Reaped> {
    let mut reaped = Reaped::default();
    let grace = time::Duration::try_from(services.config.queued_grace).unwrap_or_default();
    let now = services.clock.now();
    for id in services.jobs.overdue(now - grace, now, 100).await? {
        // The index lags the table a little: decide on the job as it is now.
        let Some(job) = services.jobs.get(&id).await? else {
            continue;
        };
        if job.overdue_at(grace).is_none_or(|at| at > now) {
            continue;
        }
        let next =
            if job.status == JobStatus::Processing && job.attempts >= services.config.max_tries {
                let error = JobError::new(
                    "max_tries_exceeded",
                    format!(
                        "the job's worker stopped {} times without finishing it",
                        job.attempts
                    ),
                );
                job.failed(error, now)?
            } else if job.status == JobStatus::Processing {
                job.requeued(now)?
            } else {
                job.touched(now)
            };
        match services.jobs.replace(&next).await {
            Ok(()) => {}
            Err(Error::Conflict(_)) => continue, // it moved meanwhile: not ours to touch
            Err(e) => return Err(e),
        }
        if next.status == JobStatus::Failed {
            tracing::warn!(job_id = %id, attempts = job.attempts, "reaper: job failed after its tries");
            horizon_shared::events::emit_logged(services, &next).await;
            reaped.failed += 1;
        } else {
            services
                .queue
                .enqueue(&WorkMessage {
                    job_id: id.to_string(),
                })
                .await?;
            tracing::warn!(job_id = %id, was = %job.status, "reaper: job queued again");
            reaped.requeued += 1;
        }
    }
    Ok(reaped)
}
