use super::*;
use crate::jobs::{self, Step};
use horizon_domain::deliveries::Scope;
use horizon_domain::Error;
use horizon_domain::{rfc3339, EventType, JobError, JobResult};

fn memory() -> Memory {
    Services::in_memory(test_config().unwrap())
}

fn new_job(m: &Memory) -> Job {
    queued_job(m.clock.now())
}

fn subscription(m: &Memory, events: Vec<EventType>) -> Subscription {
    Subscription {
        id: WebhookId::new(m.clock.now()),
        url: "https://hooks.example.com/horizon".into(),
        events,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        created_at: rfc3339(m.clock.now()),
        disabled: false,
        previous: None,
    }
}

fn lease() -> time::Duration {
    time::Duration::minutes(5)
}

/// Claims the job, as a worker does.
async fn claim(m: &Memory, id: &JobId) -> Job {
    jobs::update(&m.services, id, None, |current, now| {
        let job = current.ok_or_else(|| Error::NotFound("job".into()))?;
        let next = job.claimed(now, lease())?;
        Ok(Step::Write(next.clone(), next))
    })
    .await
    .unwrap()
}

/// Finishes the job, as a worker does: completed, or failed with `error`.
async fn finish(m: &Memory, id: &JobId, error: Option<JobError>) -> Job {
    jobs::update(&m.services, id, None, |current, now| {
        let job = current.ok_or_else(|| Error::NotFound("job".into()))?;
        let next = match &error {
            Some(e) => job.failed(e.clone(), now)?,
            None => job.completed(
                JobResult {
                    pages: 1,
                    ..JobResult::default()
                },
                now,
            )?,
        };
        Ok(Step::Write(next.clone(), next))
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn submit_stores_files_and_queues_the_job() {
    let m = memory();
    let s = &m.services;
    s.dashboard
        .monitor("type:extract/pdf", m.clock.now())
        .await
        .unwrap();
    let job = new_job(&m);
    jobs::submit(s, &job, Along::Nothing).await.unwrap();
    // The job's side effects follow from its write, through the stream.
    assert_eq!(s.dashboard.pending_count().await.unwrap(), 0);
    assert_eq!(m.pump().await.unwrap(), 1);

    assert_eq!(s.jobs.get(job.id()).await.unwrap(), Some(job.clone()));
    assert_eq!(
        m.queue.work().unwrap(),
        [WorkMessage {
            job_id: job.id().to_string(),
            account: Some(job.account().0.clone()),
            ..Default::default()
        }]
    );
    let (tagged, more) = s
        .dashboard
        .tagged("type:extract/pdf", 0, None, 10)
        .await
        .unwrap();
    assert_eq!((tagged, more), (vec![job.id().clone()], false));
    assert_eq!(s.dashboard.pending_count().await.unwrap(), 1);

    // The same id again is refused, and nothing more is queued.
    assert!(matches!(
        jobs::submit(s, &job, Along::Nothing).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(m.queue.work().unwrap().len(), 1);
}

/// An account at its limit of active jobs gets a 429 for the next one, until one finishes;
/// another account, and an operator's retry, are not held back.
#[tokio::test]
async fn new_jobs_wait_while_the_account_has_its_limit_active() {
    let mut config = test_config().unwrap();
    config.jobs.max_active = 2;
    let m = Services::in_memory(config);
    let s = &m.services;
    let (first, second) = (new_job(&m), new_job(&m));
    for job in [&first, &second] {
        jobs::submit(s, job, Along::Nothing).await.unwrap();
    }
    // Counted in the job's own write: no stream lag lets a burst past the limit.
    let third = new_job(&m);
    match jobs::submit(s, &third, Along::Nothing).await {
        Err(Error::TooManyRequests {
            detail,
            retry_after,
        }) => {
            assert!(detail.contains("2 jobs queued or processing"), "{detail}");
            assert!(retry_after > 0);
        }
        other => panic!("a third active job was let in: {other:?}"),
    }
    assert_eq!(s.jobs.get(third.id()).await.unwrap(), None);
    let elsewhere = Job::new_queued(
        JobId::new(m.clock.now()),
        horizon_domain::JobType::ExtractPdf,
        AccountId("acct_b".into()),
        UploadId::new(m.clock.now()),
        m.clock.now(),
        time::Duration::days(1),
    );
    jobs::submit(s, &elsewhere, Along::Nothing).await.unwrap();

    // One finishes (failed: it is also retried): room for one more, counted once however
    // often its write is read.
    jobs::update(s, first.id(), None, |current, now| {
        let job = current.ok_or_else(|| Error::NotFound("job".into()))?;
        Ok(Step::Write(job.failed(JobError::new("x", "y"), now)?, ()))
    })
    .await
    .unwrap();
    m.pump().await.unwrap();
    assert_eq!(s.metrics.active_jobs(first.account()).await.unwrap(), 1);
    jobs::submit(s, &third, Along::Nothing).await.unwrap();
    // At the limit again, an operator's retry still goes in (and counts).
    jobs::retry(s, first.id()).await.unwrap();
    assert_eq!(s.metrics.active_jobs(first.account()).await.unwrap(), 3);
    let fourth = new_job(&m);
    assert!(jobs::submit(s, &fourth, Along::Nothing).await.is_err());

    // A job that expires before it ends (its record removed) leaves the count too.
    s.jobs.delete(second.id()).await.unwrap();
    m.pump().await.unwrap();
    assert_eq!(s.metrics.active_jobs(first.account()).await.unwrap(), 2);
}

#[tokio::test]
async fn update_reads_again_after_a_lost_race() {
    let m = memory();
    let job = new_job(&m);
    jobs::submit(&m.services, &job, Along::Nothing)
        .await
        .unwrap();
    m.store.fail_next_replaces(2).unwrap();

    let mut decided = 0;
    let written = jobs::update(&m.services, job.id(), None, |current, now| {
        decided += 1;
        let job = current.ok_or_else(|| Error::NotFound("job".into()))?;
        Ok(Step::Write(job.touched(now), job.version()))
    })
    .await
    .unwrap();

    assert_eq!(decided, 3, "two lost races, then the write");
    assert_eq!(written, 1, "each try decided on the stored version");
    let stored = m.services.jobs.get(job.id()).await.unwrap().unwrap();
    assert_eq!(stored.version(), job.version() + 1);
}

#[tokio::test]
async fn update_gives_up_when_every_try_loses() {
    let m = memory();
    let job = new_job(&m);
    jobs::submit(&m.services, &job, Along::Nothing)
        .await
        .unwrap();
    m.store.fail_next_replaces(100).unwrap();

    let mut decided = 0;
    let outcome = jobs::update(&m.services, job.id(), None, |current, now| {
        decided += 1;
        let job = current.ok_or_else(|| Error::NotFound("job".into()))?;
        Ok(Step::Write(job.touched(now), ()))
    })
    .await;

    assert!(matches!(outcome, Err(Error::Stale(_))), "{outcome:?}");
    assert!(decided > 1, "it tried again before giving up");
    let stored = m.services.jobs.get(job.id()).await.unwrap().unwrap();
    assert_eq!(stored, job, "nothing was written");
}

#[tokio::test]
async fn completing_a_job_counts_it_and_queues_its_webhook() {
    let m = memory();
    let s = &m.services;
    let job = new_job(&m)
        .with_webhook(subscription(&m, vec![EventType::Completed]), m.clock.now())
        .unwrap();
    jobs::submit(s, &job, Along::Nothing).await.unwrap();
    claim(&m, job.id()).await;
    m.pump().await.unwrap();
    // Not subscribed to `job.processing`: the claim queued nothing.
    assert!(m.queue.deliveries().unwrap().is_empty());

    m.clock.advance(time::Duration::seconds(2));
    let done = finish(&m, job.id(), None).await;
    assert_eq!(done.status(), JobStatus::Completed);
    assert!(
        m.queue.deliveries().unwrap().is_empty(),
        "not before the stream is read"
    );
    m.pump().await.unwrap();

    let counters = s.dashboard.counters().await.unwrap();
    let of = |kind, name: &str| {
        counters
            .iter()
            .find(|c| c.metric.kind == kind && c.metric.name == name)
            .cloned()
    };
    let by_type = of(MetricKind::Job, "extract/pdf").expect("a counter for the job type");
    assert_eq!((by_type.processed, by_type.failed), (1, 0));
    assert_eq!(by_type.runtime_ms, 2000);
    let by_queue = of(MetricKind::Queue, "horizon-extract").expect("a counter for the queue");
    assert_eq!(by_queue.processed, 1);

    let deliveries = m.queue.deliveries().unwrap();
    assert_eq!(deliveries.len(), 1);
    let (message, delay) = &deliveries[0];
    assert_eq!(*delay, Duration::ZERO);
    assert_eq!(message.job_id, *job.id());
    assert_eq!(message.subscription_id, job.webhooks()[0].id);
    assert_eq!(
        (message.scope, message.event),
        (Scope::Job, EventType::Completed)
    );
    assert_eq!(message.attempt, 1);

    let events: Vec<String> = m
        .blobs
        .keys()
        .unwrap()
        .into_iter()
        .filter(|k| k.starts_with("events/"))
        .collect();
    assert_eq!(events, [message.body_key.as_str()]);
    let body = s.blobs.get(&message.body_key).await.unwrap().unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body.bytes).unwrap();
    assert_eq!(body["type"], "job.completed");
    assert_eq!(body["data"]["jobId"], job.id().to_string());
    assert_eq!(body["data"]["status"], "completed");

    // The store's own dashboard counts followed the writes.
    let now = m.clock.now();
    let tally = s
        .dashboard
        .tallies(Width::Minute, Width::Minute.bucket(now) - 5)
        .await
        .unwrap();
    assert_eq!((tally.pushed, tally.completed, tally.failed), (1, 1, 0));
    assert_eq!(s.dashboard.pending_count().await.unwrap(), 0);
}

/// A tenant deletes a completed job before the outbox reads its completion: the record is
/// applied without its webhook (the job, its results and its subscribers' interest are gone)
/// instead of failing for ever; its counts still count, once, and the record read again after
/// the delete is known as applied (the marks outlive the job).
#[tokio::test]
async fn a_job_deleted_before_its_record_is_read_emits_nothing_and_counts_once() {
    let m = memory();
    let s = &m.services;
    let job = new_job(&m)
        .with_webhook(subscription(&m, vec![EventType::Completed]), m.clock.now())
        .unwrap();
    jobs::submit(s, &job, Along::Nothing).await.unwrap();
    let running = claim(&m, job.id()).await;
    m.pump().await.unwrap();
    let done = finish(&m, job.id(), None).await;
    s.jobs.delete(job.id()).await.unwrap();

    m.pump()
        .await
        .expect("a deleted job's record is not an error");
    assert!(m.queue.deliveries().unwrap().is_empty());
    assert_eq!(processed(&m).await, Some(1));
    let again = crate::outbox::apply(s, Some(&running), &done)
        .await
        .unwrap();
    assert!(!again, "applied once");
    assert_eq!(processed(&m).await, Some(1));
}

/// How many jobs the job-type counter has seen finish.
async fn processed(m: &Memory) -> Option<u64> {
    let counters = m.services.dashboard.counters().await.unwrap();
    counters
        .iter()
        .find(|c| c.metric.kind == MetricKind::Job)
        .map(|c| c.processed)
}

#[tokio::test]
async fn retrying_a_failed_job_queues_a_new_one_and_notes_it() {
    let m = memory();
    let s = &m.services;
    let job = new_job(&m);
    jobs::submit(s, &job, Along::Nothing).await.unwrap();
    claim(&m, job.id()).await;
    let failed = finish(&m, job.id(), Some(JobError::new("timeout", "too slow"))).await;
    assert_eq!(failed.status(), JobStatus::Failed);

    m.clock.advance(time::Duration::seconds(1));
    let retry = jobs::retry(s, job.id()).await.unwrap();

    assert_ne!(retry.id(), job.id());
    assert_eq!(retry.retry_of(), Some(job.id()));
    assert_eq!(retry.status(), JobStatus::Queued);
    assert_eq!(s.jobs.get(retry.id()).await.unwrap(), Some(retry.clone()));
    let queued: Vec<String> = m
        .queue
        .work()
        .unwrap()
        .into_iter()
        .map(|w| w.job_id)
        .collect();
    assert_eq!(queued, [job.id().to_string(), retry.id().to_string()]);

    let original = s.jobs.get(job.id()).await.unwrap().unwrap();
    assert_eq!(original.status(), JobStatus::Failed);
    assert_eq!(original.version(), failed.version() + 1);
    assert_eq!(original.retried_by().len(), 1);
    assert_eq!(original.retried_by()[0].id, retry.id().to_string());
    assert_eq!(original.retried_by()[0].status, JobStatus::Queued);

    // Only failed jobs are retried.
    assert!(matches!(
        jobs::retry(s, retry.id()).await,
        Err(Error::Conflict(_))
    ));
}

#[tokio::test]
async fn the_job_store_keeps_the_ports_promises() {
    let m = memory();
    let s = &m.services;
    let account = AccountId("acct_a".into());
    let mut made = Vec::new();
    for _ in 0..3 {
        let job = new_job(&m);
        s.jobs.create(&job, Along::Nothing).await.unwrap();
        made.push(job);
        m.clock.advance(time::Duration::milliseconds(5));
    }
    let first = &made[0];
    assert!(matches!(
        s.jobs.create(first, Along::Nothing).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.jobs.get(&JobId::new(m.clock.now())).await.unwrap(), None);

    // Versioned writes: only the next version of what is stored.
    let skipped = first.touched(m.clock.now()).touched(m.clock.now());
    assert!(matches!(
        s.jobs.replace(&skipped).await,
        Err(StoreError::Stale(_))
    ));
    s.jobs.replace(&first.touched(m.clock.now())).await.unwrap();
    assert!(matches!(
        s.jobs.replace(&first.touched(m.clock.now())).await,
        Err(StoreError::Stale(_))
    ));

    // Newest first, a page at a time.
    let filter = JobFilter::default();
    let (page, next) = s.jobs.list(&account, &filter, None, 2).await.unwrap();
    let ids: Vec<&JobId> = page.iter().map(|j| j.id()).collect();
    assert_eq!(ids, [made[2].id(), made[1].id()]);
    assert_eq!(next.as_ref(), Some(made[1].id()));
    let (page, next) = s
        .jobs
        .list(&account, &filter, next.as_ref(), 2)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id(), first.id());
    assert_eq!(next, None);
    let other = AccountId("acct_b".into());
    assert!(s
        .jobs
        .list(&other, &filter, None, 2)
        .await
        .unwrap()
        .0
        .is_empty());

    // Idempotency keys and retries written with their job: tests/contract.rs, which runs
    // on these adapters too (tests/contracts.rs).

    // Past their retention, jobs read as gone.
    m.clock.advance(time::Duration::days(2));
    assert_eq!(s.jobs.get(first.id()).await.unwrap(), None);
    assert!(s
        .jobs
        .list(&account, &filter, None, 10)
        .await
        .unwrap()
        .0
        .is_empty());
}
