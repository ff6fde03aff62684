//! The SQS-triggered extraction worker. For each message `{jobId}`: claim the job with a
//! conditional write (so two workers never both run it), extract the PDF's text under a deadline
//! with panics contained, chunk it, and finish the job as `completed` or `failed`.
//!
//! Only transient failures (a dependency down or throttled) are returned in `batchItemFailures`,
//! so SQS redelivers just those; on the last allowed receive the job is failed with
//! `max_tries_exceeded` and the message goes on to the dead-letter queue.
//!
//! What happens before the claim is no try: trouble reading the job, another worker's lease on
//! it, or its account having its cap of jobs processing at once
//! (`HORIZON_MAX_PROCESSING_PER_ACCOUNT`) queue the message anew, after a wait, with a fresh
//! receive count. The last is the fair share: while one account's jobs wait for its cap, the
//! workers take up other accounts' jobs.

pub mod child;
pub mod engine;
mod parts;
pub mod reaper;

use std::str::FromStr;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use horizon_app::jobs::{self, Step};
use horizon_app::ports::{StoreError, WorkMessage};
use horizon_app::spool::Spooled;
use horizon_app::Services;
use horizon_domain::{Chunk, Job, JobError, JobId, JobResult, JobStatus, Progress};
use horizon_domain::{Error, Result};
use horizon_runtime::lambda::{EventHandler, Handled, SqsHandler};
use tracing::Instrument;

/// Runs the worker in Lambda; started as an extraction child (see [`child`]), the same executable
/// extracts one document instead.
pub async fn run() -> std::result::Result<(), lambda_runtime::Error> {
    child::serve_if_child();
    horizon_runtime::lambda::run_events(ExtractWorker::new).await
}

pub struct ExtractWorker {
    services: Services,
    /// Accounts this worker found at their cap of jobs processing, and when: for a moment
    /// after, their jobs are set aside without a read (a large backlog's messages cost little).
    capped: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

/// How long a worker takes an account it found at its cap to be still at it.
const CAPPED_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// What to do with a message once handled.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Delete it: the job is finished, or there is nothing to do.
    Done,
    /// Leave it on the queue, to be handed out again after this delay (SQS moves it to the
    /// dead-letter queue once it has been received `maxReceiveCount` times).
    Retry(std::time::Duration),
    /// Leave it exactly as received, neither deleted nor re-timed: what a worker killed
    /// mid-job leaves behind (only under fault injection).
    Abandon,
    /// Not claimed, and no try: queue the job anew after this delay (a new message, whose
    /// receive count starts again), and delete this one.
    Requeue(std::time::Duration),
    /// Not claimed, and no try: its account has its cap of jobs processing. The job waits on
    /// the account's list, out of the queue, until one of them ends (`fair`).
    SetAside(horizon_domain::AccountId),
}

/// Whether a job may be claimed now.
#[allow(clippy::large_enum_variant)] // one lives for a moment per message
enum Admit {
    /// Claim it; the job as read (`None`: not there).
    Claim(Option<Job>),
    /// Its account has its cap of jobs processing: the job waits.
    Wait(horizon_domain::AccountId),
}

enum Claim {
    Got(Box<Job>),
    /// Unknown, expired or already finished: nothing to do.
    Nothing,
    /// Another worker holds a live lease on it, until then.
    Busy(time::OffsetDateTime),
    /// Its account has its cap of jobs processing.
    Capped(horizon_domain::AccountId),
}

impl ExtractWorker {
    pub fn new(services: Services) -> Self {
        ExtractWorker {
            services,
            capped: Default::default(),
        }
    }
}

#[async_trait::async_trait]
impl EventHandler for ExtractWorker {
    /// The Lambda entry's dispatch: an SQS batch; the metrics snapshot's EventBridge schedule
    /// (its input is `{"task": "snapshot"}`); the reconciler's (`{"task": "reconcile"}`); or
    /// the reaper's schedule (any other event).
    /// `request_id` is the invocation's, for the logs.
    async fn handle_event(
        &self,
        event: serde_json::Value,
        request_id: &str,
    ) -> Result<serde_json::Value> {
        let json = |e: serde_json::Error| Error::Internal(format!("event: {e}"));
        if event.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(event).map_err(json)?;
            horizon_runtime::lambda::beat(&self.services, "extract-worker", &batch).await;
            let response = horizon_runtime::lambda::handle_batch(self, batch, request_id).await;
            serde_json::to_value(response).map_err(json)
        } else if event.get("task").and_then(|t| t.as_str()) == Some("snapshot") {
            let taken = horizon_app::dashboard::snapshot(&self.services).await?;
            tracing::info!(taken, "metrics snapshot");
            Ok(serde_json::json!({ "snapshotTaken": taken }))
        } else if event.get("task").and_then(|t| t.as_str()) == Some("reconcile") {
            let done = horizon_app::reconcile::reconcile(&self.services).await?;
            tracing::info!(
                checked = done.checked,
                repaired = done.repaired,
                unsettled = done.unsettled,
                "reconciler ran"
            );
            serde_json::to_value(done).map_err(json)
        } else {
            let reaped = reaper::reap(&self.services).await?;
            tracing::info!(
                requeued = reaped.requeued,
                failed = reaped.failed,
                "reaper ran"
            );
            serde_json::to_value(reaped).map_err(json)
        }
    }
}

#[async_trait::async_trait]
impl SqsHandler for ExtractWorker {
    /// Handles one message of an SQS batch, as Lambda's event source mapping delivers it.
    async fn handle_message(&self, message: &SqsMessage) -> Handled {
        match self.process(message).await {
            Outcome::Abandon => Handled::Again(None),
            Outcome::Requeue(wait) => {
                let body = message.body.as_deref().unwrap_or("");
                let requeued = match serde_json::from_str::<WorkMessage>(body) {
                    Ok(work) => self.services.queue.enqueue_after(&work, wait).await,
                    Err(e) => Err(StoreError::Internal(e.to_string())),
                };
                match requeued {
                    Ok(()) => Handled::Done,
                    Err(e) => {
                        tracing::warn!(error = %e, "a job's message not queued anew; it comes back");
                        Handled::Again(Some(wait))
                    }
                }
            }
            Outcome::SetAside(account) => {
                let body = message.body.as_deref().unwrap_or("");
                let set_aside = match serde_json::from_str::<WorkMessage>(body) {
                    Ok(work) => horizon_app::fair::set_aside(&self.services, &account, &work).await,
                    Err(e) => Err(Error::Internal(e.to_string())),
                };
                match set_aside {
                    Ok(()) => Handled::Done,
                    Err(e) => {
                        tracing::warn!(error = %e, "a job not set aside for its account's cap; its message comes back");
                        Handled::Again(Some(std::time::Duration::from_secs(5)))
                    }
                }
            }
            // Back off by this message's own delay rather than the queue's whole visibility
            // timeout.
            Outcome::Retry(delay) => Handled::Again(Some(delay)),
            _ => Handled::Done,
        }
    }

    async fn come_back_after(&self, receipt_handle: &str, wait: std::time::Duration) -> Result<()> {
        Ok(self
            .services
            .queue
            .retry_later(receipt_handle, wait)
            .await?)
    }
}

impl ExtractWorker {
    async fn process(&self, message: &SqsMessage) -> Outcome {
        let receive_count: u32 = message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let body = message.body.as_deref().unwrap_or("");
        let (id, work) = match serde_json::from_str::<WorkMessage>(body)
            .map_err(|e| e.to_string())
            .and_then(|m| {
                let id = JobId::from_str(&m.job_id).map_err(|e| e.to_string())?;
                Ok((id, m))
            }) {
            Ok(found) => found,
            Err(reason) => {
                // Nothing can succeed for it and no job can be named; it is not dropped but
                // kept for people to see: it goes to the dead-letter queue after its tries.
                tracing::error!(message_id = ?message.message_id, %reason, receive_count, "malformed work message; it will go to the dead-letter queue");
                return Outcome::Retry(self.backoff(receive_count));
            }
        };
        let span = horizon_runtime::telemetry::job_span(&id);
        if let Some(account) = work.account.filter(|a| self.capped_lately(a)) {
            return Outcome::SetAside(horizon_domain::AccountId(account));
        }
        let what = match (work.part, work.assemble) {
            (Some(part), _) => format!("part {part} of the job"),
            (None, true) => "the job's assembly".to_owned(),
            (None, false) => "the job".to_owned(),
        };
        let ran = match (work.part, work.assemble) {
            (Some(part), _) => self.run_part(&id, part as usize).instrument(span).await,
            (None, true) => self.assemble(&id).instrument(span).await,
            (None, false) => self.run(&id, receive_count).instrument(span).await,
        };
        match ran {
            Ok(outcome) => outcome,
            Err(e) if e.is_transient() => {
                if receive_count >= self.services.config.jobs.max_tries {
                    tracing::error!(job_id = %id, error = %e, receive_count, "giving up: last try failed");
                    let error = JobError::new(
                        "max_tries_exceeded",
                        format!(
                            "{what} failed {receive_count} times on a transient error; last: {e}"
                        ),
                    );
                    if let Err(e2) = self.fail(&id, error).await {
                        tracing::error!(job_id = %id, error = %e2, "could not record the failure");
                    }
                } else {
                    tracing::warn!(job_id = %id, error = %e, receive_count, "transient failure; the message will be retried");
                }
                Outcome::Retry(self.backoff(receive_count))
            }
            Err(e) => {
                tracing::error!(job_id = %id, error = %e, "job failed on an internal error");
                let error = JobError::new("internal", "an internal error stopped the job");
                match self.fail(&id, error).await {
                    Ok(()) => Outcome::Done,
                    Err(_) => Outcome::Retry(self.backoff(receive_count)),
                }
            }
        }
    }

    async fn run(&self, id: &JobId, receive_count: u32) -> Result<Outcome> {
        // Before the claim, nothing counts as a try.
        let claim = match self.admit(id).await {
            Ok(Admit::Claim(start)) => self.claim(id, start).await,
            Ok(Admit::Wait(account)) => return Ok(Outcome::SetAside(account)),
            Err(e) => Err(e),
        };
        let mut job = match claim {
            Ok(Claim::Got(job)) => *job,
            Ok(Claim::Nothing) => return Ok(Outcome::Done),
            Ok(Claim::Capped(account)) => return Ok(Outcome::SetAside(account)),
            // Another worker holds it: look again just after its lease ends.
            Ok(Claim::Busy(until)) => {
                let left = (until - self.services.clock.now()).max(time::Duration::ZERO);
                let left = std::time::Duration::try_from(left).unwrap_or_default();
                let wait = left + std::time::Duration::from_secs(1);
                return Ok(Outcome::Requeue(wait));
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(job_id = %id, error = %e, "the job could not be claimed; queued anew (no try counted)");
                return Ok(Outcome::Requeue(self.backoff(receive_count)));
            }
            Err(e) => return Err(e),
        };
        if self
            .services
            .config
            .faults
            .strikes(horizon_app::faults::Fault::Kill)
        {
            tracing::warn!(job_id = %id, "fault injected: the worker dies after its claim");
            return Ok(Outcome::Abandon);
        }
        horizon_runtime::telemetry::record_account(job.account());
        let started = std::time::Instant::now();
        let outcome = match self.extract(&mut job).await {
            Ok(Some(outcome)) => outcome,
            Ok(None) => return Ok(Outcome::Done), // cancelled, or taken over: nothing to write
            Err(e) => {
                // Hand the job back so the retry need not wait for the lease to run out.
                let released = self.write_own(&job, |j, now| j.requeued(now)).await;
                if let Err(r) = released {
                    tracing::warn!(job_id = %id, error = %r, "job not handed back; it returns when its lease ends");
                }
                return Err(e);
            }
        };
        let extract_ms = started.elapsed().as_millis() as u64;
        let next = self.settle(&job, outcome).await?;
        let Some(next) = next else {
            tracing::warn!(job_id = %id, "the job was cancelled or taken over while running; result discarded");
            return Ok(Outcome::Done);
        };
        // The job's summary: one line with what it was and where its time went (queued, then
        // extracting, then storing the chunks and the record).
        tracing::info!(
            status = %next.status(),
            error_code = next.error().as_ref().map(|e| e.code.as_str()),
            attempt = next.attempts(),
            pages = next.result().as_ref().map(|r| r.pages),
            chunks = next.result().as_ref().map(|r| r.chunk_count),
            wait_ms = job.started_at().map(|s| millis_between(job.created_at(), s)),
            extract_ms,
            store_ms = (started.elapsed().as_millis() as u64).saturating_sub(extract_ms),
            total_ms = millis_between(job.created_at(), self.services.clock.now()),
            "job finished"
        );
        Ok(Outcome::Done)
    }

    /// Stores a finished job's chunks and Markdown and completes it, or fails it; `None` when
    /// the job was cancelled or taken over meanwhile.
    async fn settle(
        &self,
        job: &Job,
        outcome: std::result::Result<Finished, JobError>,
    ) -> Result<Option<Job>> {
        match outcome {
            Ok(Finished {
                result,
                chunks,
                markdown,
            }) => {
                // The chunks and the Markdown first: a completed job never points at results
                // that are not there.
                self.services.results.put_chunks(job.id(), &chunks).await?;
                self.services
                    .results
                    .put_markdown(job.id(), markdown)
                    .await?;
                self.write_own(job, |j, now| j.completed(result.clone(), now))
                    .await
            }
            Err(error) => {
                self.write_own(job, |j, now| j.failed(error.clone(), now))
                    .await
            }
        }
    }

    /// Writes a change of the job this worker holds. When someone else wrote in between, the
    /// job is read again: if it is still ours (processing, same attempt) the change is applied on
    /// top of theirs (a webhook added or disabled, say), so that no update is lost; if it was
    /// cancelled, finished or taken over, `None`.
    async fn write_own(
        &self,
        mine: &Job,
        change: impl Fn(&Job, time::OffsetDateTime) -> Result<Job>,
    ) -> Result<Option<Job>> {
        jobs::update(
            &self.services,
            mine.id(),
            Some(mine.clone()),
            |current, now| match current
                .filter(|c| c.status() == JobStatus::Processing && c.attempts() == mine.attempts())
            {
                Some(ours) => {
                    let next = change(ours, now)?;
                    Ok(Step::Write(next.clone(), Some(next)))
                }
                None => Ok(Step::Stop(None)),
            },
        )
        .await
    }

    /// Whether the job may be claimed now: `Wait` while its account has its cap of jobs
    /// processing at once (the job is set aside; other accounts' jobs go first), else the job
    /// as read, for the claim.
    async fn admit(&self, id: &JobId) -> Result<Admit> {
        let job = self.services.jobs.get(id).await?;
        let cap = self.services.config.jobs.max_processing;
        let Some(waiting) = job
            .as_ref()
            .filter(|j| cap > 0 && j.status() == JobStatus::Queued)
        else {
            return Ok(Admit::Claim(job));
        };
        let processing = self
            .services
            .metrics
            .processing_jobs(waiting.account())
            .await?;
        if processing < i64::from(cap) {
            return Ok(Admit::Claim(job));
        }
        tracing::info!(job_id = %id, account = %waiting.account(), processing, cap, "account at its cap of jobs processing; the job waits");
        self.note_capped(waiting.account());
        Ok(Admit::Wait(waiting.account().clone()))
    }

    /// Remembers that `account` is at its cap, for [`CAPPED_FOR`].
    fn note_capped(&self, account: &horizon_domain::AccountId) {
        if let Ok(mut capped) = self.capped.lock() {
            capped.retain(|_, at| at.elapsed() < CAPPED_FOR);
            capped.insert(account.0.clone(), std::time::Instant::now());
        }
    }

    /// Whether this worker found `account` at its cap within [`CAPPED_FOR`].
    fn capped_lately(&self, account: &str) -> bool {
        self.capped
            .lock()
            .is_ok_and(|c| c.get(account).is_some_and(|at| at.elapsed() < CAPPED_FOR))
    }

    async fn claim(&self, id: &JobId, start: Option<Job>) -> Result<Claim> {
        let lease = duration(self.services.config.jobs.lease);
        let cap = self.services.config.jobs.max_processing;
        let worker = self.name();
        let claim = jobs::update(&self.services, id, start, |current, now| {
            let Some(job) = current else {
                tracing::warn!(job_id = %id, "message for an unknown or expired job dropped");
                return Ok(Step::Stop(Claim::Nothing));
            };
            if job.status().is_terminal() {
                tracing::info!(job_id = %id, status = %job.status(), "already finished; redelivery acknowledged");
                return Ok(Step::Stop(Claim::Nothing));
            }
            if !job.parts().is_empty() {
                // Read in parts: its parts' own messages carry it.
                return Ok(Step::Stop(Claim::Nothing));
            }
            if !job.claimable(now) {
                return Ok(Step::Stop(Claim::Busy(job.lease_until().unwrap_or(now))));
            }
            let claimed = job.claimed_by(now, lease, &worker)?;
            let got = Claim::Got(Box::new(claimed.clone()));
            Ok(match job.status() {
                // Taken up from the queue: counted among its account's jobs processing, within
                // the cap, in the same write.
                JobStatus::Queued => Step::Take(claimed, got, (cap > 0).then_some(cap)),
                // Taken over after its lease ended: it was counted when first taken.
                _ => Step::Write(claimed, got),
            })
        })
        .await;
        match claim {
            // Others kept writing first: look again a little later.
            Err(Error::Stale(_)) => Ok(Claim::Busy(self.services.clock.now())),
            // Its account reached its cap since `admit` looked.
            Err(Error::TooManyRequests { .. }) => match self.services.jobs.get(id).await? {
                Some(job) => {
                    self.note_capped(job.account());
                    Ok(Claim::Capped(job.account().clone()))
                }
                None => Ok(Claim::Nothing),
            },
            other => other,
        }
    }

    /// This worker's name, as a job's history and parts keep it.
    fn name(&self) -> String {
        format!(
            "{}:{}",
            self.services.config.dashboard.master,
            horizon_app::dashboard::instance_id()
        )
    }

    /// The delay before the `receive_count`-th retry: the base, doubling, at most 15 minutes.
    fn backoff(&self, receive_count: u32) -> std::time::Duration {
        let backoff = horizon_app::retry::Backoff {
            first: self.services.config.jobs.retry_base,
            cap: std::time::Duration::from_secs(900),
            tries: self.services.config.jobs.max_tries,
        };
        backoff.delay(receive_count.saturating_sub(1))
    }

    /// Marks the job failed unless it already finished.
    async fn fail(&self, id: &JobId, error: JobError) -> Result<()> {
        jobs::update(&self.services, id, None, |current, now| {
            match current.filter(|j| !j.status().is_terminal()) {
                Some(job) => Ok(Step::Write(job.failed(error.clone(), now)?, ())),
                None => Ok(Step::Stop(())),
            }
        })
        .await
    }

    /// Runs the extraction, writing progress as it goes. The outer `Result` is for transient
    /// trouble (retry the message); `None` means the job changed under us (cancelled, or taken
    /// over) and there is nothing more to do; inside is the job's own outcome.
    async fn extract(&self, job: &mut Job) -> Result<Option<Result<Finished, JobError>>> {
        let config = &self.services.config;
        let missing = || {
            Ok(Some(Err(JobError::new(
                "upload_missing",
                format!(
                    "upload {} no longer exists (it may have expired)",
                    job.upload_id()
                ),
            ))))
        };
        let Some(upload) = self.services.uploads.get(job.upload_id()).await? else {
            return missing();
        };
        let document = match self.spool(job, &upload).await? {
            Ok(Some(document)) => document,
            Ok(None) => return missing(),
            Err(too_large) => return Ok(Some(Err(too_large))),
        };
        let request = self.request(job, Some(&upload.content_type), config.jobs.max_run)?;
        // A long document is read in parts, by as many workers: its pages' expected cost says
        // (a PDF of a few pages cannot be long enough to ask).
        let size = config.extraction.part_size;
        if upload.pages.is_none_or(|n| f64::from(n) > size.units) {
            let planned = self
                .attend(job, request.clone(), child::Task::Plan, &document)
                .await?;
            let Some(asked) = planned else {
                return Ok(None);
            };
            let plan = match asked.answer {
                Ok(child::Answer::Plan(plan)) => plan,
                Ok(_) => return Err(Error::Internal("the child answered another task".into())),
                Err(e) if e.code == "engine_unavailable" => {
                    return Err(Error::Unavailable(e.message))
                }
                Err(e) => return Ok(Some(Err(e))),
            };
            let parts = horizon_domain::parts::divide(&plan, size);
            if parts.len() > 1 {
                let lease = duration(config.jobs.lease);
                let split = self
                    .write_own(job, |j, now| j.split(&parts, now, lease))
                    .await?;
                if split.is_some() {
                    tracing::info!(job_id = %job.id(), parts = parts.len(), pages = plan.len(), "the job is read in parts");
                }
                return Ok(None);
            }
        }
        let extracted = self
            .attend(job, request, child::Task::Extract, &document)
            .await?;
        let Some(asked) = extracted else {
            return Ok(None);
        };
        let extraction = match asked.answer {
            Ok(child::Answer::Extraction(x)) => x,
            Ok(_) => return Err(Error::Internal("the child answered another task".into())),
            // A worker without its engine is broken, not the job: retry after the fix.
            Err(e) if e.code == "engine_unavailable" => return Err(Error::Unavailable(e.message)),
            Err(e) => return Ok(Some(Err(e))),
        };
        tracing::debug!(job_id = %job.id(), peak_rss_kb = asked.peak_rss_kb, child = asked.child, "extraction process finished");
        drop(document);
        Ok(Some(Ok(self.finished(
            job,
            extraction,
            Some(&upload.content_type),
        ))))
    }

    /// Has a child do `task` with the job's document, writing the job's progress as pages are
    /// done (which renews its lease); `None` when the job was cancelled or taken over meanwhile
    /// (dropping the task stops the child).
    async fn attend(
        &self,
        job: &mut Job,
        request: child::Request,
        task: child::Task,
        document: &Spooled,
    ) -> Result<Option<child::Asked>> {
        let config = &self.services.config;
        let (progress_tx, mut progress_rx) = tokio::sync::watch::channel(None::<Progress>);
        let doc = child::Document::from(document);
        let mut running = tokio::spawn(async move {
            child::ask(&request, task, doc, |p| {
                let _ = progress_tx.send(Some(p));
            })
            .await
        });
        let mut ticker = tokio::time::interval(config.jobs.progress_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let joined = loop {
            tokio::select! {
                joined = &mut running => break joined,
                _ = ticker.tick() => {
                    let latest = *progress_rx.borrow_and_update();
                    if let Some(p) = latest.filter(|p| job.progress() != Some(p)) {
                        let lease = duration(config.jobs.lease);
                        match self.write_own(job, |j, now| Ok(j.with_progress(p, now, lease))).await {
                            Ok(Some(next)) => *job = next,
                            // Cancelled or taken over: stop here.
                            Ok(None) => {
                                running.abort();
                                return Ok(None);
                            }
                            // Progress is best effort: a failed write must not fail the job.
                            Err(e) => tracing::warn!(job_id = %job.id(), error = %e, "progress not recorded"),
                        }
                    }
                }
            }
        };
        let asked = joined.map_err(|e| Error::Internal(format!("extraction task: {e}")))??;
        Ok(Some(asked))
    }

    /// The job's document, downloaded to a file of its own in the work directory (the child maps
    /// it; nothing holds it in memory whole). `Err` when it is over the size limit, `None`
    /// when it is gone.
    async fn spool(
        &self,
        job: &Job,
        upload: &horizon_domain::Upload,
    ) -> Result<std::result::Result<Option<Spooled>, JobError>> {
        let config = &self.services.config.extraction;
        let limit = config.max_pdf_bytes;
        let spooled = Spooled::new(&config.work_dir, job.id().as_str());
        match self
            .services
            .blobs
            .download(&upload.blob_key(), spooled.path(), limit)
            .await
        {
            Ok(Some(_)) => Ok(Ok(Some(spooled))),
            Ok(None) => Ok(Ok(None)),
            Err(StoreError::TooLarge(_)) => Ok(Err(JobError::new(
                "too_large",
                format!("the document is larger than the limit of {limit} bytes"),
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// What a child is asked for `job` on a document of `content_type` (when known), which may
    /// take `max_total` in all.
    fn request(
        &self,
        job: &Job,
        content_type: Option<&str>,
        max_total: std::time::Duration,
    ) -> Result<child::Request> {
        let config = &self.services.config;
        Ok(child::Request {
            program: config.extraction.child_program()?,
            account: job.account().to_string(),
            input: engine::Input::of(job.job_type(), content_type),
            ocr: job.options().ocr.unwrap_or_default(),
            mode: job.options().mode.unwrap_or_default(),
            pdfium: config.extraction.pdfium_lib_path.clone(),
            ocr_dir: config.extraction.ocr_dir.clone(),
            ocr_threads: config.extraction.ocr_threads,
            max_pages: config.extraction.max_pages,
            max_megapixels: config.extraction.max_megapixels,
            pages: job.options().pages.clone(),
            languages: job.options().languages.clone(),
            deadline: config.jobs.deadline,
            max_total,
            memory_mb: config.extraction.memory_mb,
        })
    }

    /// The chunks, Markdown and result summary of a job's extraction of a document of
    /// `content_type`.
    fn finished(
        &self,
        job: &Job,
        extraction: engine::Extraction,
        content_type: Option<&str>,
    ) -> Finished {
        let config = &self.services.config;
        let chunking = job.options().chunking.unwrap_or_default();
        let max_chars = chunking
            .max_chars
            .or(job.options().max_chunk_chars)
            .map(|n| n as usize)
            .unwrap_or(config.extraction.max_chunk_chars);
        let overlap = (chunking.overlap_chars.unwrap_or(0) as usize).min(max_chars / 2);
        let chunks: Vec<Chunk> = horizon_layout::retrieval::chunks(
            &extraction.document,
            chunking.strategy,
            max_chars,
            overlap,
        );
        let markdown = horizon_layout::markdown::document(&extraction.document);
        let result = JobResult {
            pages: extraction.document.pages.len() as u32,
            chunk_count: chunks.len() as u32,
            warnings: extraction.warnings,
            ocr_pages: extraction.ocr_pages,
            markdown_bytes: Some(markdown.len() as u64),
            content_type: content_type.map(str::to_owned),
        };
        Finished {
            result,
            chunks,
            markdown,
        }
    }
}

/// What a finished extraction hands to storage.
struct Finished {
    result: JobResult,
    chunks: Vec<Chunk>,
    markdown: String,
}

fn millis_between(from: time::OffsetDateTime, to: time::OffsetDateTime) -> u64 {
    (to - from).whole_milliseconds().max(0) as u64
}

fn duration(d: std::time::Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

/// Messages the worker settles without extracting, over in-memory services (the end-to-end
/// tests extract real documents through LocalStack).
#[cfg(test)]
mod tests {
    use super::*;
    use horizon_app::memory::{queued_job, test_config};

    fn message(id: &str, body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.body = Some(body.to_owned());
        m.attributes
            .insert("ApproximateReceiveCount".into(), "1".into());
        m
    }

    #[tokio::test]
    async fn unknown_and_finished_jobs_are_acknowledged_malformed_messages_kept() {
        let memory = Services::in_memory(test_config().unwrap());
        let now = memory.services.clock.now();
        let job = queued_job(now);
        memory
            .services
            .jobs
            .create(&job, horizon_app::ports::Along::Nothing)
            .await
            .unwrap();
        let done = job
            .failed(JobError::new("cancelled", "by its owner"), now)
            .unwrap();
        memory.services.jobs.replace(&done).await.unwrap();
        let worker = ExtractWorker::new(memory.services.clone());
        let unknown = JobId::new(now);
        let mut event = SqsEvent::default();
        event.records = vec![
            message("m1", &format!(r#"{{"jobId":"{unknown}"}}"#)),
            message("m2", &format!(r#"{{"jobId":"{}"}}"#, job.id())),
            message("m3", "not json"),
        ];
        let response = horizon_runtime::lambda::run_batch(&worker, event).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(
            failed,
            ["m3"],
            "only the malformed message stays on the queue"
        );
        let stored = memory.services.jobs.get(job.id()).await.unwrap().unwrap();
        assert_eq!(
            stored.version(),
            done.version(),
            "a finished job is not written again"
        );
    }
    /// An account with its cap of jobs processing: its next job is not claimed, and its
    /// message is queued anew after a few seconds (a new message: no try counted); another
    /// worker's lease on a job is no try either.
    #[tokio::test]
    async fn a_job_of_an_account_at_its_cap_waits_out_of_the_queue_without_a_try() {
        use horizon_app::ports::ProcessingChange;
        let mut config = test_config().unwrap();
        config.jobs.max_processing = 1;
        let memory = Services::in_memory(config);
        let s = &memory.services;
        let now = s.clock.now();
        let (running, waiting) = (
            queued_job(now),
            queued_job(now + time::Duration::milliseconds(1)),
        );
        for job in [&running, &waiting] {
            s.jobs
                .create(job, horizon_app::ports::Along::Nothing)
                .await
                .unwrap();
        }
        let claimed = running.claimed(now, time::Duration::minutes(5)).unwrap();
        s.jobs
            .replace_counting(&claimed, ProcessingChange::Take(Some(1)))
            .await
            .unwrap();
        memory.pump().await.unwrap();
        assert_eq!(
            s.metrics.processing_jobs(running.account()).await.unwrap(),
            1
        );
        // The cap holds in the claim's own write, however stale the count a worker read.
        let other = waiting.claimed(now, time::Duration::minutes(5)).unwrap();
        assert!(matches!(
            s.jobs
                .replace_counting(&other, ProcessingChange::Take(Some(1)))
                .await,
            Err(horizon_app::ports::StoreError::AtLimit(_))
        ));

        let worker = ExtractWorker::new(s.clone());
        let mut event = SqsEvent::default();
        event.records = vec![
            message("m1", &format!(r#"{{"jobId":"{}"}}"#, waiting.id())),
            // A duplicate of the running job's message: another worker holds it.
            message("m2", &format!(r#"{{"jobId":"{}"}}"#, running.id())),
        ];
        let response = horizon_runtime::lambda::run_batch(&worker, event).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        let stored = s.jobs.get(waiting.id()).await.unwrap().unwrap();
        assert_eq!(stored.status(), JobStatus::Queued, "not claimed");
        // It waits on its account's list, out of the queue; the duplicate comes back after
        // the lease.
        let set_aside = s.waiting.waiting(waiting.account(), 10).await.unwrap();
        let ids: Vec<&str> = set_aside.iter().map(|m| m.job_id.as_str()).collect();
        assert_eq!(ids, [waiting.id().as_str()]);
        let delayed = memory.queue.delayed().unwrap();
        let ids: Vec<&str> = delayed.iter().map(|(m, _)| m.job_id.as_str()).collect();
        assert_eq!(ids, [running.id().as_str()]);
        assert!(
            delayed[0].1 > std::time::Duration::from_secs(60),
            "after the lease"
        );
        // The running job ends: the waiting one is queued again.
        let done = claimed
            .failed(JobError::new("cancelled", "cancelled"), now)
            .unwrap();
        s.jobs
            .replace_counting(&done, ProcessingChange::Release)
            .await
            .unwrap();
        memory.pump().await.unwrap();
        assert!(s
            .waiting
            .waiting(waiting.account(), 10)
            .await
            .unwrap()
            .is_empty());
        let queued: Vec<String> = memory
            .queue
            .work()
            .unwrap()
            .into_iter()
            .map(|m| m.job_id)
            .collect();
        assert!(queued.contains(&waiting.id().to_string()), "{queued:?}");
    }

    /// A document over the size limit fails the job, `too_large`, before its bytes are read.
    #[tokio::test]
    async fn a_document_over_the_limit_fails_its_job() {
        let mut config = test_config().unwrap();
        config.extraction.max_pdf_bytes = 1000;
        let memory = Services::in_memory(config);
        let now = memory.services.clock.now();
        let job = queued_job(now);
        let upload = horizon_domain::Upload {
            id: job.upload_id().clone(),
            account: job.account().clone(),
            pending: false,
            content_type: "application/pdf".into(),
            size: 1001,
            sha256: String::new(),
            filename: None,
            width: None,
            height: None,
            pages: Some(1),
            created_at: now,
            expires_at: job.expires_at(),
        };
        let s = &memory.services;
        s.uploads.put(&upload).await.unwrap();
        let bytes = bytes::Bytes::from(vec![b'%'; 1001]);
        s.blobs
            .put(&upload.blob_key(), bytes, "application/pdf")
            .await
            .unwrap();
        s.jobs
            .create(&job, horizon_app::ports::Along::Nothing)
            .await
            .unwrap();
        let worker = ExtractWorker::new(s.clone());
        let mut event = SqsEvent::default();
        event.records = vec![message("m1", &format!(r#"{{"jobId":"{}"}}"#, job.id()))];
        assert!(horizon_runtime::lambda::run_batch(&worker, event)
            .await
            .batch_item_failures
            .is_empty());
        let stored = s.jobs.get(job.id()).await.unwrap().unwrap();
        assert_eq!(stored.status(), JobStatus::Failed);
        assert_eq!(stored.error().map(|e| e.code.as_str()), Some("too_large"));
    }
}
