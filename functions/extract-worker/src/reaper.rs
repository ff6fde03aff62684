//! The reaper, run on a schedule (EventBridge in AWS, a timer in the local runner): no job stays
//! `queued` or `processing` forever. A processing job whose lease ran out (its worker died and
//! its message is gone) goes back on the queue, or fails with `max_tries_exceeded` once it has
//! had its tries; a queued job whose message may have been lost is queued again. A message
//! that turns out to be a duplicate is harmless: claims are conditional writes.

use horizon_app::jobs::{self, Step};
use horizon_app::ports::WorkMessage;
use horizon_app::Services;
use horizon_domain::parts::PartState;
use horizon_domain::Result;
use horizon_domain::{JobError, JobStatus};

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Reaped {
    pub requeued: usize,
    pub failed: usize,
}

/// Looks at up to 100 overdue jobs.
pub async fn reap(services: &Services) -> Result<Reaped> {
    let mut reaped = Reaped::default();
    let grace = time::Duration::try_from(services.config.jobs.queued_grace).unwrap_or_default();
    let now = services.clock.now();
    let max_tries = services.config.jobs.max_tries;
    let lease = time::Duration::try_from(services.config.jobs.lease).unwrap_or_default();
    for id in services.jobs.overdue(now - grace, now, 100).await? {
        // The index lags the table a little: decide on the job as it is now.
        let reaped_one = jobs::update(services, &id, None, |current, now| {
            let Some(job) = current.filter(|j| j.overdue_at(grace).is_some_and(|at| at <= now))
            else {
                return Ok(Step::Stop(None));
            };
            if !job.parts().is_empty() {
                let next = parts(job, now, lease, max_tries)?;
                return Ok(Step::Write(next.clone(), Some((job.status(), next))));
            }
            let next = if job.status() == JobStatus::Processing && job.attempts() >= max_tries {
                let error = JobError::new(
                    "max_tries_exceeded",
                    format!(
                        "the job's worker stopped {} times without finishing it",
                        job.attempts()
                    ),
                );
                job.failed(error, now)?
            } else if job.status() == JobStatus::Processing {
                job.requeued(now)?
            } else {
                job.touched(now)
            };
            Ok(Step::Write(next.clone(), Some((job.status(), next))))
        })
        .await?;
        let Some((was, next)) = reaped_one else {
            continue;
        };
        if next.status() == JobStatus::Failed {
            tracing::warn!(job_id = %id, attempts = next.attempts(), "reaper: job failed after its tries");
            reaped.failed += 1;
        } else if !next.parts().is_empty() {
            // The parts not read within the job's window, or its assembly, go to the queue again.
            let at_once = services.config.jobs.parts_at_once;
            let message = |part: Option<u32>, assemble: bool| WorkMessage {
                job_id: id.to_string(),
                account: None,
                part,
                assemble,
            };
            let messages: Vec<WorkMessage> = if next.parts_read() {
                vec![message(None, true)]
            } else {
                (0..next.parts_released(at_once))
                    .filter(|&i| next.parts()[i].state == PartState::Queued)
                    .map(|i| message(Some(i as u32), false))
                    .collect()
            };
            for m in &messages {
                services.queue.enqueue(m).await?;
            }
            tracing::warn!(job_id = %id, messages = messages.len(), "reaper: a job's stopped parts queued again");
            reaped.requeued += 1;
        } else {
            // Through `fair`: a job of an account at its cap waits on its list, not in the queue.
            let message = WorkMessage {
                job_id: id.to_string(),
                account: None,
                ..Default::default()
            };
            horizon_app::fair::queue(services, next.account(), &message).await?;
            tracing::warn!(job_id = %id, %was, "reaper: job queued again");
            reaped.requeued += 1;
        }
    }
    Ok(reaped)
}

/// A job read in parts whose heartbeat stopped: failed when a part that stopped has had its
/// tries, else its stopped parts handed back.
fn parts(
    job: &horizon_domain::Job,
    now: time::OffsetDateTime,
    lease: time::Duration,
    max_tries: u32,
) -> Result<horizon_domain::Job> {
    let stopped = job.parts().iter().find(|p| {
        p.state == PartState::Running
            && p.attempts >= max_tries
            && p.lease_until
                .is_none_or(|u| u <= (now.unix_timestamp_nanos() / 1_000_000) as i64)
    });
    match stopped {
        Some(part) => job.failed(
            JobError::new(
                "max_tries_exceeded",
                format!(
                    "the workers reading pages {} stopped {} times without finishing them",
                    part.pages.as_str(),
                    part.attempts
                ),
            ),
            now,
        ),
        None => Ok(job.parts_requeued(now, lease)),
    }
}

/// The reaper's decisions over in-memory services (the end-to-end tests run it on LocalStack).
#[cfg(test)]
mod tests {
    use super::*;
    use horizon_app::memory::{queued_job, test_config, Memory};
    use horizon_domain::Job;

    async fn claimed_job(memory: &Memory, attempts: u32) -> Job {
        let now = memory.services.clock.now();
        let mut job = queued_job(now);
        memory
            .services
            .jobs
            .create(&job, horizon_app::ports::Along::Nothing)
            .await
            .unwrap();
        for _ in 0..attempts {
            let claimed = job.claimed(now, time::Duration::seconds(30)).unwrap();
            memory.services.jobs.replace(&claimed).await.unwrap();
            job = claimed;
            if job.attempts() < attempts {
                let back = job.requeued(now).unwrap();
                memory.services.jobs.replace(&back).await.unwrap();
                job = back;
            }
        }
        job
    }

    #[tokio::test]
    async fn a_job_whose_worker_died_is_queued_again_then_failed_after_its_tries() {
        let memory = Services::in_memory(test_config().unwrap());
        let max = memory.services.config.jobs.max_tries;
        let once = claimed_job(&memory, 1).await;
        let spent = claimed_job(&memory, max).await;
        // Nothing is overdue while the leases hold.
        assert_eq!(reap(&memory.services).await.unwrap(), Reaped::default());
        memory.clock.advance(time::Duration::minutes(5));
        let reaped = reap(&memory.services).await.unwrap();
        assert_eq!(
            reaped,
            Reaped {
                requeued: 1,
                failed: 1
            }
        );
        let again = memory.services.jobs.get(once.id()).await.unwrap().unwrap();
        assert_eq!(again.status(), JobStatus::Queued);
        let work = memory.queue.work().unwrap();
        assert_eq!(work.len(), 1);
        assert_eq!(work[0].job_id, once.id().to_string());
        let failed = memory.services.jobs.get(spent.id()).await.unwrap().unwrap();
        assert_eq!(failed.status(), JobStatus::Failed);
        assert_eq!(failed.error().unwrap().code, "max_tries_exceeded");
        // Failing it went through the one write path: the dashboard counts it, from the stream.
        memory.pump().await.unwrap();
        let counters = memory.services.dashboard.counters().await.unwrap();
        assert!(counters.iter().any(|c| c.failed == 1), "{counters:?}");
    }
}
