//! Fair share between accounts. At most `HORIZON_MAX_PROCESSING_PER_ACCOUNT` jobs of one account
//! process at once (held in the claim's own write, `JobStore::replace_counting`). A job whose
//! account is at its cap does not wait in the queue: it is set aside on its account's waiting
//! list in the table, when it is submitted ([`queue`]) or, if it got into the queue, by the
//! worker that finds the cap ([`set_aside`], deleting its message). The queue holds only work
//! that can run, so another account's job is not behind a backlog. As a job of the account
//! stops processing (its write takes it off the account's count, exactly), the outbox queues
//! the oldest waiting one again ([`release`], from that write's record).
//!
//! Both sides write, then read: whoever sets a job aside then reads the account's count; the
//! write that stops a job lowers the count, and then the outbox reads the list. Whichever comes second sees the other's
//! write, so no job is left waiting while its account has room (at worst one is released
//! twice, and the second message finds it taken). The reaper, which queues again any job
//! queued for longer than `HORIZON_QUEUED_GRACE_SECONDS`, is the net under both.

use std::str::FromStr;

use crate::ports::WorkMessage;
use crate::services::Services;
use horizon_domain::error::Result;
use horizon_domain::{AccountId, JobId, JobStatus};

/// Queues a new job, or, while its account has its cap of jobs processing, sets it aside: a
/// large account's backlog stays out of the queue, and other accounts' jobs are not behind it.
///
/// When the account's count cannot be read (the table is out of reach), the job goes to the
/// queue: the worker's claim holds the cap in its own write, and sets the job aside if need be.
pub async fn queue(services: &Services, account: &AccountId, message: &WorkMessage) -> Result<()> {
    match room(services, account).await {
        Ok(0) => set_aside(services, account, message).await,
        Ok(_) => Ok(services.queue.enqueue(message).await?),
        Err(e) => {
            tracing::warn!(error = %e, "the account's jobs processing cannot be read; the job goes to the queue");
            Ok(services.queue.enqueue(message).await?)
        }
    }
}

/// Sets a job of `account`, which has its cap of jobs processing, aside until one of them ends.
pub async fn set_aside(
    services: &Services,
    account: &AccountId,
    message: &WorkMessage,
) -> Result<()> {
    let message = WorkMessage {
        account: Some(account.0.clone()),
        ..message.clone()
    };
    services.waiting.wait(account, &message).await?;
    let room = room(services, account).await?;
    if room > 0 {
        release(services, account, room).await?;
    }
    Ok(())
}

/// How many more of `account`'s jobs may start processing now (no cap: as many as there are).
async fn room(services: &Services, account: &AccountId) -> Result<usize> {
    let cap = i64::from(services.config.jobs.max_processing);
    if cap == 0 {
        return Ok(usize::MAX);
    }
    let processing = services.metrics.processing_jobs(account).await?;
    Ok((cap - processing).max(0) as usize)
}

/// Queues again up to `n` of `account`'s waiting jobs, oldest first; returns how many. A job
/// no longer queued (taken up meanwhile from another message, cancelled, deleted) leaves the
/// list without taking a place.
pub async fn release(services: &Services, account: &AccountId, n: usize) -> Result<usize> {
    if n == 0 || services.config.jobs.max_processing == 0 {
        return Ok(0);
    }
    let mut released = 0;
    // Bounded: each round takes its entries off the list, queued or not.
    for _ in 0..4 {
        let asked = n - released;
        let waiting = services.waiting.waiting(account, asked).await?;
        for message in &waiting {
            // Taken off first: of two releases that read the same entry, one queues it; and
            // a worker that sets the job aside again after it is queued keeps its entry.
            if !services.waiting.unwait(account, &message.job_id).await? {
                continue;
            }
            let still_queued = match JobId::from_str(&message.job_id) {
                Ok(id) => services
                    .jobs
                    .get(&id)
                    .await?
                    .is_some_and(|job| job.status() == JobStatus::Queued),
                Err(_) => false,
            };
            if !still_queued {
                continue;
            }
            if let Err(e) = services.queue.enqueue(message).await {
                // Back on the list: a job is never dropped between the two.
                services.waiting.wait(account, message).await?;
                return Err(e.into());
            }
            released += 1;
        }
        if released >= n || waiting.len() < asked {
            break;
        }
    }
    if released > 0 {
        tracing::info!(account = %account, released, "waiting jobs queued again");
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{queued_job, test_config, Memory};
    use crate::ports::{Along, Counts};

    fn memory(cap: u32) -> Memory {
        let mut config = test_config().unwrap();
        config.jobs.max_processing = cap;
        Services::in_memory(config)
    }

    /// What the outbox counts of a write that changed `account`'s jobs processing `by`.
    fn processing(services: &Services, account: &AccountId, version: u64, by: i64) -> Counts {
        let now = services.clock.now();
        Counts {
            job: JobId::new(now),
            version,
            keep_until: now + time::Duration::hours(1),
            tally: None,
            measure: None,
            active: None,
            processing: Some((account.clone(), by)),
        }
    }

    /// `n` queued jobs of account `acct_a`, stored, oldest first, with their messages.
    async fn queued(services: &Services, n: usize) -> Vec<WorkMessage> {
        let mut messages = Vec::new();
        for i in 0..n {
            let job = queued_job(services.clock.now() + time::Duration::milliseconds(i as i64));
            services.jobs.create(&job, Along::Nothing).await.unwrap();
            messages.push(WorkMessage {
                job_id: job.id().to_string(),
                account: None,
                ..Default::default()
            });
        }
        messages
    }

    /// Two queued jobs of `account`, set aside while its one job allowed is processing
    /// (counted as the claim counts it), oldest first.
    async fn two_set_aside_at_the_cap(
        services: &Services,
        account: &AccountId,
    ) -> Vec<WorkMessage> {
        let jobs = queued(services, 2).await;
        services
            .metrics
            .apply(&[processing(services, account, 1, 1)])
            .await
            .unwrap();
        for message in &jobs {
            set_aside(services, account, message).await.unwrap();
        }
        jobs
    }

    fn ids(messages: &[WorkMessage]) -> Vec<&str> {
        messages.iter().map(|m| m.job_id.as_str()).collect()
    }

    #[tokio::test]
    async fn a_job_set_aside_waits_until_its_account_has_room_then_goes_oldest_first() {
        let memory = memory(1);
        let services = &memory.services;
        let a = AccountId("acct_a".into());
        let jobs = two_set_aside_at_the_cap(services, &a).await;
        assert!(
            memory.queue.work().unwrap().is_empty(),
            "nothing queued while the account is at its cap"
        );
        // Its job ends (the write takes it off the count), and the outbox releases one: the
        // oldest waiting one is queued, with its account.
        services
            .metrics
            .apply(&[processing(services, &a, 2, -1)])
            .await
            .unwrap();
        release(services, &a, 1).await.unwrap();
        let queued = memory.queue.work().unwrap();
        assert_eq!(ids(&queued), [jobs[0].job_id.as_str()]);
        assert_eq!(queued[0].account.as_deref(), Some("acct_a"));
        let left = services.waiting.waiting(&a, 10).await.unwrap();
        assert_eq!(ids(&left), [jobs[1].job_id.as_str()]);
    }

    /// A job that expires while processing is taken off its account's count by the outbox's
    /// removal, and that commit gives its room to the oldest waiting job.
    #[tokio::test]
    async fn a_job_removed_while_processing_gives_its_room_to_a_waiting_one() {
        let memory = memory(1);
        let services = &memory.services;
        let a = AccountId("acct_a".into());
        let jobs = two_set_aside_at_the_cap(services, &a).await;
        let mut removed = processing(services, &a, 2, -1);
        removed.active = Some((a.clone(), -1));
        crate::outbox::commit(services, &[removed]).await.unwrap();
        assert_eq!(
            ids(&memory.queue.work().unwrap()),
            [jobs[0].job_id.as_str()]
        );
    }

    #[tokio::test]
    async fn a_job_set_aside_as_its_account_frees_up_is_queued_at_once() {
        let memory = memory(1);
        // The count already fell (the outbox found nothing to release): the worker's own look
        // after its write queues the job.
        let a = AccountId("acct_a".into());
        let jobs = queued(&memory.services, 1).await;
        set_aside(&memory.services, &a, &jobs[0]).await.unwrap();
        assert_eq!(
            ids(&memory.queue.work().unwrap()),
            [jobs[0].job_id.as_str()]
        );
        assert!(memory
            .services
            .waiting
            .waiting(&a, 10)
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn a_waiting_job_no_longer_queued_leaves_the_list_and_the_next_goes() {
        let memory = memory(1);
        let services = &memory.services;
        let a = AccountId("acct_a".into());
        let jobs = two_set_aside_at_the_cap(services, &a).await;
        // The oldest was cancelled meanwhile.
        let id = JobId::from_str(&jobs[0].job_id).unwrap();
        let job = services.jobs.get(&id).await.unwrap().unwrap();
        let cancelled = job
            .failed(
                horizon_domain::JobError::new("cancelled", "by its client"),
                services.clock.now(),
            )
            .unwrap();
        services.jobs.replace(&cancelled).await.unwrap();
        assert_eq!(release(services, &a, 1).await.unwrap(), 1);
        assert_eq!(
            ids(&memory.queue.work().unwrap()),
            [jobs[1].job_id.as_str()]
        );
        assert!(services.waiting.waiting(&a, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_new_job_goes_to_the_queue_while_its_account_has_room_and_aside_after() {
        let memory = memory(1);
        let services = &memory.services;
        let a = AccountId("acct_a".into());
        let jobs = queued(services, 2).await;
        queue(services, &a, &jobs[0]).await.unwrap();
        services
            .metrics
            .apply(&[processing(services, &a, 1, 1)])
            .await
            .unwrap();
        queue(services, &a, &jobs[1]).await.unwrap();
        assert_eq!(
            ids(&memory.queue.work().unwrap()),
            [jobs[0].job_id.as_str()]
        );
        let waiting = services.waiting.waiting(&a, 10).await.unwrap();
        assert_eq!(ids(&waiting), [jobs[1].job_id.as_str()]);
    }
}
