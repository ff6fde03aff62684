//! The reaper, run on a schedule (EventBridge in AWS, a timer in the local runner): no job stays
//! `queued` or `processing` forever. A processing job whose lease ran out (its worker died and
//! its message is gone) goes back on the queue, or fails with `max_tries_exceeded` once it has
//! had its tries; a queued job whose message may have been lost is queued again. A message
//! that turns out to be a duplicate is harmless: claims are conditional writes.

use horizon_shared::domain::{JobError, JobStatus};
use horizon_shared::jobs::{self, Step};
use horizon_shared::ports::WorkMessage;
use horizon_shared::{Result, Services};

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
    let max_tries = services.config.max_tries;
    for id in services.jobs.overdue(now - grace, now, 100).await? {
        // The index lags the table a little: decide on the job as it is now.
        let reaped_one = jobs::update(services, &id, None, |current, now| {
            let Some(job) = current.filter(|j| j.overdue_at(grace).is_some_and(|at| at <= now))
            else {
                return Ok(Step::Stop(None));
            };
            let next = if job.status == JobStatus::Processing && job.attempts >= max_tries {
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
            Ok(Step::Write(next.clone(), Some((job.status, next))))
        })
        .await?;
        let Some((was, next)) = reaped_one else {
            continue;
        };
        if next.status == JobStatus::Failed {
            tracing::warn!(job_id = %id, attempts = next.attempts, "reaper: job failed after its tries");
            reaped.failed += 1;
        } else {
            services
                .queue
                .enqueue(&WorkMessage {
                    job_id: id.to_string(),
                })
                .await?;
            tracing::warn!(job_id = %id, %was, "reaper: job queued again");
            reaped.requeued += 1;
        }
    }
    Ok(reaped)
}
