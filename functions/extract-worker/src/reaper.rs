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
use horizon_domain::{Job, JobError, JobStatus};

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
    let at_once = services.config.jobs.parts_at_once;
    for id in services.jobs.overdue(now - grace, now, 100).await? {
        // The index lags the table a little: decide on the job as it is now.
        let reaped_one = jobs::update(services, &id, None, |current, now| {
            let Some(job) = current.filter(|j| j.overdue_at(grace).is_some_and(|at| at <= now))
            else {
                return Ok(Step::Stop(None));
            };
            if !job.parts().is_empty() {
                return Ok(match parts(job, now, (lease, grace), max_tries, at_once)? {
                    Some((next, work)) => {
                        Step::Write(next.clone(), Some((job.status(), next, work)))
                    }
                    None => Step::Stop(None),
                });
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
            Ok(Step::Write(
                next.clone(),
                Some((job.status(), next, Vec::new())),
            ))
        })
        .await?;
        let Some((was, next, work)) = reaped_one else {
            continue;
        };
        if next.status() == JobStatus::Failed {
            tracing::warn!(job_id = %id, attempts = next.attempts(), "reaper: job failed after its tries");
            reaped.failed += 1;
        } else if !next.parts().is_empty() {
            for message in &work {
                services.queue.enqueue(message).await?;
            }
            tracing::warn!(job_id = %id, messages = work.len(), "reaper: a job's stopped parts or assembly queued again");
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

/// A job read in parts whose heartbeat ran out: failed when what stopped (a part, or the
/// assembly) has had its tries; else the job with its stopped parts handed back and the
/// messages that take them up again (or the assembly), or `None` when nothing stopped (its
/// parts wait in a busy queue). After `grace` without any write, every part let go is queued
/// again too (a message may have been lost).
fn parts(
    job: &Job,
    now: time::OffsetDateTime,
    (lease, grace): (time::Duration, time::Duration),
    max_tries: u32,
    at_once: usize,
) -> Result<Option<(Job, Vec<WorkMessage>)>> {
    let tries_out = |what: String, attempts: u32| {
        job.failed(
            JobError::new(
                "max_tries_exceeded",
                format!("{what} stopped {attempts} times without finishing"),
            ),
            now,
        )
    };
    if job.parts_read() {
        if job.assembly_attempts() >= max_tries {
            let failed = tries_out("the assembly of its parts".into(), job.assembly_attempts())?;
            return Ok(Some((failed, Vec::new())));
        }
        return Ok(Some((
            job.touched(now),
            vec![WorkMessage::assembly(job.id())],
        )));
    }
    let millis = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let stopped: Vec<usize> = (0..job.parts().len())
        .filter(|&i| {
            let p = &job.parts()[i];
            p.state == PartState::Running && p.lease_until.is_none_or(|u| u <= millis)
        })
        .collect();
    if let Some(&i) = stopped
        .iter()
        .find(|&&i| job.parts()[i].attempts >= max_tries)
    {
        let part = &job.parts()[i];
        let failed = tries_out(
            format!("the reading of pages {}", part.pages.as_str()),
            part.attempts,
        )?;
        return Ok(Some((failed, Vec::new())));
    }
    let quiet = job.updated_at() + grace <= now;
    if stopped.is_empty() && !quiet {
        return Ok(None);
    }
    let next = job.parts_requeued(now, lease);
    let work = (0..next.parts_released(at_once))
        .filter(|&i| stopped.contains(&i) || (quiet && next.parts()[i].state == PartState::Queued))
        .map(|i| WorkMessage::part(job.id(), i))
        .collect();
    Ok(Some((next, work)))
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

    /// A job in parts whose part's worker died: the part is handed back and queued again (the
    /// others, waiting their turn, are left alone), then the job fails once that part has had
    /// its tries; an assembly that keeps stopping fails the job too.
    #[tokio::test]
    async fn a_job_in_parts_gets_its_stopped_part_back_then_fails_after_its_tries() {
        let memory = Services::in_memory(test_config().unwrap());
        let max = memory.services.config.jobs.max_tries;
        let lease = time::Duration::seconds(30);
        let job = claimed_job(&memory, 1).await;
        let now = memory.services.clock.now();
        let job = job.split(&[vec![1], vec![2], vec![3]], now, lease).unwrap();
        memory.services.jobs.replace(&job).await.unwrap();
        let job = job.part_claimed(0, now, lease, "w").unwrap();
        memory.services.jobs.replace(&job).await.unwrap();
        for attempt in 1..=max {
            memory.clock.advance(time::Duration::minutes(5));
            let reaped = reap(&memory.services).await.unwrap();
            let stored = memory.services.jobs.get(job.id()).await.unwrap().unwrap();
            if attempt < max {
                assert_eq!(reaped.requeued, 1, "attempt {attempt}");
                assert_eq!(stored.parts()[0].state, PartState::Queued);
                let work = memory.queue.work().unwrap();
                assert_eq!(work.last().unwrap().part, Some(0), "{work:?}");
                assert!(
                    work.iter().all(|w| w.part == Some(0)),
                    "the waiting parts stay: {work:?}"
                );
                let now = memory.services.clock.now();
                let taken = stored.part_claimed(0, now, lease, "w").unwrap();
                memory.services.jobs.replace(&taken).await.unwrap();
            } else {
                assert_eq!(reaped.failed, 1);
                assert_eq!(stored.status(), JobStatus::Failed);
                let error = stored.error().unwrap();
                assert_eq!(error.code, "max_tries_exceeded");
                assert!(error.message.contains("pages 1"), "{}", error.message);
            }
        }

        // Every part read; the assembly claimed and stopped, each time.
        let job = claimed_job(&memory, 1).await;
        let now = memory.services.clock.now();
        let mut job = job.split(&[vec![1], vec![2]], now, lease).unwrap();
        memory.services.jobs.replace(&job).await.unwrap();
        for i in 0..2 {
            job = job.part_claimed(i, now, lease, "w").unwrap();
            memory.services.jobs.replace(&job).await.unwrap();
            job = job.part_read(i, 1, now, lease).unwrap();
            memory.services.jobs.replace(&job).await.unwrap();
        }
        for _ in 0..max {
            let now = memory.services.clock.now();
            let assembling = memory.services.jobs.get(job.id()).await.unwrap().unwrap();
            let claimed = assembling.assembly_claimed(now, lease).unwrap();
            memory.services.jobs.replace(&claimed).await.unwrap();
            memory.clock.advance(time::Duration::minutes(5));
            reap(&memory.services).await.unwrap();
        }
        let stored = memory.services.jobs.get(job.id()).await.unwrap().unwrap();
        assert_eq!(stored.status(), JobStatus::Failed);
        assert!(stored.error().unwrap().message.contains("assembly"));
    }
}
