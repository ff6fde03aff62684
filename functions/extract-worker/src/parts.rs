//! A long job read in parts (see `horizon_domain::parts`): a worker claims one part, reads its
//! pages in a child and stores them, unanalysed, for the assembly; once every part is read (the
//! table's stream queues the assembly), one worker joins the parts' pages in page order and runs
//! the analysis of the whole document, so that the result is the one reading it in one piece
//! gives: running heads, tables and words that go on over a page, and the heading hierarchy
//! are found across the parts' borders.

use std::io::{Read, Write};

use horizon_app::jobs::{self, Step};
use horizon_domain::{Error, Job, JobError, JobId, JobStatus, Result};

use crate::engine::{self, Reading};
use crate::{child, duration, ExtractWorker, Outcome};

/// Where attempt `attempt` of part `index` of `job` keeps its pages until the assembly, which
/// reads the attempt the part was read by (a worker that lost the part to another never
/// overwrites it): under the job's results, so that deleting the job deletes them.
fn part_key(job: &JobId, index: usize, attempt: u32) -> String {
    format!(
        "{}parts/{index:05}-{attempt}.json.gz",
        horizon_app::ports::results_prefix(job)
    )
}

/// What a part's claim found.
enum Claim {
    Got(Box<Job>),
    /// Read already, or its job ended, cancelled or gone: nothing to do.
    Nothing,
    /// Another worker holds it, until then (Unix milliseconds).
    Busy(i64),
}

/// Time kept back from an invocation's end for storing a part's pages.
const STORE_MARGIN: std::time::Duration = std::time::Duration::from_secs(30);

impl ExtractWorker {
    /// How long a part may read: the job limit, or less when the Lambda invocation ends sooner.
    fn part_time(&self) -> std::time::Duration {
        let max = self.services.config.jobs.max_run;
        match horizon_runtime::lambda::time_left() {
            Some(left) => max.min(left.saturating_sub(STORE_MARGIN)),
            None => max,
        }
    }

    /// Look again just after `until` (Unix milliseconds), when another worker's lease ends.
    fn requeue_until(&self, until: i64) -> Outcome {
        let now = (self.services.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
        let wait = u64::try_from(until - now).unwrap_or(0) + 1000;
        Outcome::Requeue(std::time::Duration::from_millis(wait))
    }

    /// Reads part `index` of job `id`.
    pub(crate) async fn run_part(&self, id: &JobId, index: usize) -> Result<Outcome> {
        let run = self.part_time();
        // Held for as long as the part may run, and a little more for storing it.
        let lease = duration(run + STORE_MARGIN);
        let worker = self.name();
        let claim = jobs::update(&self.services, id, None, |current, now| {
            let Some(job) = current.filter(|j| {
                j.status() == JobStatus::Processing
                    && j.parts()
                        .get(index)
                        .is_some_and(|p| p.state != horizon_domain::parts::PartState::Done)
            }) else {
                return Ok(Step::Stop(Claim::Nothing));
            };
            if !job.part_claimable(index, now) {
                let until = job.parts()[index].lease_until.unwrap_or_default();
                return Ok(Step::Stop(Claim::Busy(until)));
            }
            let next = job.part_claimed(index, now, lease, &worker)?;
            Ok(Step::Write(next.clone(), Claim::Got(Box::new(next))))
        })
        .await;
        let claim = match claim {
            // Other parts' writes kept coming first: look again in a moment (no try).
            Err(Error::Stale(_)) => return Ok(Outcome::Requeue(std::time::Duration::from_secs(1))),
            other => other?,
        };
        let job = match claim {
            Claim::Got(job) => *job,
            Claim::Nothing => return Ok(Outcome::Done),
            Claim::Busy(until) => return Ok(self.requeue_until(until)),
        };
        let part = job.parts()[index].clone();
        let started = std::time::Instant::now();
        match self.read_part(&job, index, run).await {
            Ok(Some(Ok(reading))) => {
                self.store_part(id, index, part.attempts, &reading).await?;
                let lease = duration(self.services.config.jobs.lease);
                let read = jobs::update(&self.services, id, None, |current, now| {
                    match current.and_then(|j| j.part_read(index, part.attempts, now, lease).ok()) {
                        Some(next) => Ok(Step::Write(next, true)),
                        None => Ok(Step::Stop(false)),
                    }
                })
                .await?;
                tracing::info!(job_id = %id, part = index, pages = part.pages.as_str(), read, ms = started.elapsed().as_millis() as u64, "part read");
                Ok(Outcome::Done)
            }
            // The document itself failed: so does the job, naming the pages.
            Ok(Some(Err(e))) => {
                let error = JobError::new(
                    e.code,
                    format!("pages {}: {}", part.pages.as_str(), e.message),
                );
                self.fail_if(id, error, |j| {
                    j.parts()
                        .get(index)
                        .is_some_and(|p| p.attempts == part.attempts)
                })
                .await?;
                Ok(Outcome::Done)
            }
            // Cancelled, or taken over.
            Ok(None) => Ok(Outcome::Done),
            Err(e) => {
                // Handed back, so that the retry need not wait for the lease.
                let released = jobs::update(&self.services, id, None, |current, now| match current
                    .filter(|j| {
                        j.status() == JobStatus::Processing
                            && j.parts()
                                .get(index)
                                .is_some_and(|p| p.attempts == part.attempts)
                    }) {
                    Some(j) => Ok(Step::Write(j.part_requeued(index, now)?, ())),
                    None => Ok(Step::Stop(())),
                })
                .await;
                if let Err(r) = released {
                    tracing::warn!(job_id = %id, part = index, error = %r, "part not handed back; it returns when its lease ends");
                }
                Err(e)
            }
        }
    }

    /// The pages of part `index` of `job`, read in a child within `run`; `None` when the job
    /// was cancelled or the part taken over meanwhile (the child is then stopped).
    async fn read_part(
        &self,
        job: &Job,
        index: usize,
        run: std::time::Duration,
    ) -> Result<Option<std::result::Result<Reading, JobError>>> {
        let started = std::time::Instant::now();
        let missing = || {
            Ok(Some(Err(JobError::new(
                "upload_missing",
                format!("upload {} no longer exists", job.upload_id()),
            ))))
        };
        let Some(upload) = self.services.uploads.get(job.upload_id()).await? else {
            return missing();
        };
        let document = match self.spool(job, &upload).await? {
            Ok(Some(document)) => document,
            Ok(None) => return missing(),
            Err(e) => return Ok(Some(Err(e))),
        };
        let part = job.parts()[index].clone();
        // The download came out of the part's time.
        let run = run.saturating_sub(started.elapsed());
        let mut request = self.request(job, Some(&upload.content_type), run)?;
        request.pages = Some(part.pages.clone());
        let doc = child::Document::from(&document);
        let mut task =
            tokio::spawn(async move { child::ask(&request, child::Task::Read, doc, |_| {}).await });
        // The part goes on while its job is processing and the part is this worker's.
        let mut ticker = tokio::time::interval(self.services.config.jobs.progress_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let joined = loop {
            tokio::select! {
                joined = &mut task => break joined,
                _ = ticker.tick() => {
                    let ours = match self.services.jobs.get(job.id()).await {
                        Ok(current) => current.is_some_and(|j| {
                            j.status() == JobStatus::Processing
                                && j.parts().get(index).is_some_and(|p| p.attempts == part.attempts)
                        }),
                        Err(_) => true, // a failed look is no cancel
                    };
                    if !ours {
                        task.abort();
                        tracing::info!(job_id = %job.id(), part = index, "the job was cancelled or the part taken over; its reading stopped");
                        return Ok(None);
                    }
                }
            }
        };
        let asked = joined.map_err(|e| Error::Internal(format!("part task: {e}")))??;
        drop(document);
        match asked.answer {
            Ok(child::Answer::Reading(reading)) => Ok(Some(Ok(reading))),
            Ok(_) => Err(Error::Internal("the child answered another task".into())),
            Err(e) if e.code == "engine_unavailable" => Err(Error::Unavailable(e.message)),
            Err(e) => Ok(Some(Err(e))),
        }
    }

    async fn store_part(
        &self,
        id: &JobId,
        index: usize,
        attempt: u32,
        reading: &Reading,
    ) -> Result<()> {
        let json = serde_json::to_vec(reading).map_err(|e| Error::Internal(e.to_string()))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let bytes = gz
            .write_all(&json)
            .and_then(|_| gz.finish())
            .map_err(|e| Error::Internal(format!("compressing a part: {e}")))?;
        self.services
            .blobs
            .put(
                &part_key(id, index, attempt),
                bytes.into(),
                "application/gzip",
            )
            .await?;
        Ok(())
    }

    /// Assembles job `id` from its parts' pages, once every part is read.
    pub(crate) async fn assemble(&self, id: &JobId) -> Result<Outcome> {
        let run = self.part_time();
        let lease = duration(run + STORE_MARGIN);
        let claim = jobs::update(&self.services, id, None, |current, now| {
            let Some(job) =
                current.filter(|j| j.status() == JobStatus::Processing && j.parts_read())
            else {
                return Ok(Step::Stop(Claim::Nothing));
            };
            if !job.assembly_claimable(now) {
                let until = job.lease_until().unwrap_or(now);
                return Ok(Step::Stop(Claim::Busy(
                    (until.unix_timestamp_nanos() / 1_000_000) as i64,
                )));
            }
            let next = job.assembly_claimed(now, lease)?;
            Ok(Step::Write(next.clone(), Claim::Got(Box::new(next))))
        })
        .await;
        let job = match claim {
            Ok(Claim::Got(job)) => *job,
            Ok(Claim::Nothing) => return Ok(Outcome::Done),
            Ok(Claim::Busy(until)) => return Ok(self.requeue_until(until)),
            Err(Error::Stale(_)) => return Ok(Outcome::Requeue(std::time::Duration::from_secs(1))),
            Err(e) => return Err(e),
        };
        let started = std::time::Instant::now();
        let mut readings = Vec::with_capacity(job.parts().len());
        for (index, part) in job.parts().iter().enumerate() {
            let key = part_key(id, index, part.attempts);
            let Some(blob) = self.services.blobs.get(&key).await? else {
                let error =
                    JobError::new("internal", format!("the pages of part {index} are missing"));
                self.fail_if(id, error, |j| j.attempts() == job.attempts())
                    .await?;
                return Ok(Outcome::Done);
            };
            let mut json = Vec::new();
            flate2::read::GzDecoder::new(&blob.bytes[..])
                .read_to_end(&mut json)
                .map_err(|e| Error::Internal(format!("part {index}: {e}")))?;
            let reading: Reading = serde_json::from_slice(&json)
                .map_err(|e| Error::Internal(format!("part {index}: {e}")))?;
            readings.push(reading);
        }
        // The upload's type, if it is still there (it words the warnings).
        let content_type = match self.services.uploads.get(job.upload_id()).await {
            Ok(Some(upload)) => Some(upload.content_type),
            _ => None,
        };
        let request = self.request(
            &job,
            content_type.as_deref(),
            self.services.config.jobs.max_run,
        )?;
        let (input, ocr) = (request.input, request.ocr);
        // The analysis is pure Rust over data already read; a panic in it fails the job.
        let analysed = tokio::task::spawn_blocking(move || {
            engine::finish(Reading::join(readings), input, ocr)
        })
        .await;
        let outcome = match analysed {
            Ok(extraction) => Ok(self.finished(&job, extraction, content_type.as_deref())),
            Err(e) => {
                tracing::error!(job_id = %id, error = %e, "the assembly failed");
                Err(JobError::new("internal", "the document's analysis failed"))
            }
        };
        let next = self.settle(&job, outcome).await?;
        if next
            .as_ref()
            .is_some_and(|j| j.status() == JobStatus::Completed)
        {
            let prefix = format!("{}parts/", horizon_app::ports::results_prefix(id));
            if let Err(e) = self.services.blobs.delete_prefix(&prefix).await {
                tracing::warn!(job_id = %id, error = %e, "the parts' pages were not removed; the bucket's lifecycle will");
            }
        }
        tracing::info!(job_id = %id, parts = job.parts().len(), status = ?next.as_ref().map(|j| j.status()), ms = started.elapsed().as_millis() as u64, "job assembled");
        Ok(Outcome::Done)
    }

    /// Fails job `id` with `error` while it is processing and `still` holds of it.
    async fn fail_if(
        &self,
        id: &JobId,
        error: JobError,
        still: impl Fn(&Job) -> bool,
    ) -> Result<()> {
        jobs::update(&self.services, id, None, |current, now| {
            match current.filter(|j| j.status() == JobStatus::Processing && still(j)) {
                Some(job) => Ok(Step::Write(job.failed(error.clone(), now)?, ())),
                None => Ok(Step::Stop(())),
            }
        })
        .await
    }
}
