//! The job table's jobs, as `DynamoStore`'s `jobs.rs` keeps them.

use super::*;

#[async_trait]
impl JobStore for MemoryStore {
    async fn create_within(
        &self,
        job: &Job,
        along: Along<'_>,
        limit: Option<u32>,
    ) -> StoreResult<()> {
        let now = self.now();
        let mut state = self.state()?;
        if state.live_job(job.id(), now).is_some() {
            return Err(StoreError::Conflict(format!(
                "job {} exists already",
                job.id()
            )));
        }
        let active = state.active.get(job.account()).copied().unwrap_or(0);
        if let Some(max) = limit.filter(|max| active >= i64::from(*max)) {
            return Err(StoreError::AtLimit(crate::jobs::at_limit(max)));
        }
        // Every condition is checked before anything is written: one transaction.
        match along {
            Along::Nothing => {}
            Along::Key(key) => {
                let slot = (key.account.clone(), key.key.clone());
                if state
                    .idempotency
                    .get(&slot)
                    .is_some_and(|c| c.expires_at > now)
                {
                    return Err(StoreError::Conflict(
                        "the idempotency key names another job".into(),
                    ));
                }
                state.idempotency.insert(
                    slot,
                    Claim {
                        record: IdempotencyRecord {
                            request_hash: key.request_hash.clone(),
                            job_id: job.id().clone(),
                        },
                        expires_at: key.expires_at,
                    },
                );
            }
            Along::Replacing(other) => {
                let stored = state.live_job(other.id(), now).map(Job::version);
                if stored.map(|v| v + 1) != Some(other.version()) {
                    return Err(StoreError::Stale(format!(
                        "job {} changed since it was read",
                        other.id()
                    )));
                }
                let before = state.jobs.insert(other.id().clone(), other.clone());
                state.stream.push(Written::Job(before, Some(other.clone())));
            }
        }
        state.jobs.insert(job.id().clone(), job.clone());
        *state.active.entry(job.account().clone()).or_default() += 1;
        state
            .changed
            .insert(CountOf::Active(job.account().clone()), now);
        state.stream.push(Written::Job(None, Some(job.clone())));
        Ok(())
    }

    async fn get(&self, id: &JobId) -> StoreResult<Option<Job>> {
        let now = self.now();
        Ok(self.state()?.live_job(id, now).cloned())
    }

    async fn replace(&self, job: &Job) -> StoreResult<()> {
        self.replace_counted(job, None)
    }

    async fn replace_counting(&self, job: &Job, change: ProcessingChange) -> StoreResult<()> {
        self.replace_counted(job, Some(change))
    }

    async fn list(
        &self,
        account: &AccountId,
        filter: &JobFilter,
        after: Option<&JobId>,
        limit: usize,
    ) -> StoreResult<(Vec<Job>, Option<JobId>)> {
        let now = self.now();
        let state = self.state()?;
        let page: Vec<Job> = state
            .jobs
            .values()
            .rev()
            .filter(|j| after.is_none_or(|after| j.id() < after))
            .filter(|j| j.account() == account && j.expires_at() > now)
            .filter(|j| filter.status.is_none_or(|s| j.status() == s))
            .filter(|j| filter.job_type.is_none_or(|t| j.job_type() == t))
            .filter(|j| filter.tag.as_ref().is_none_or(|t| j.tags().contains(t)))
            .take(limit.saturating_add(1))
            .cloned()
            .collect();
        Ok(crate::ports::job_page(page, limit, false))
    }

    async fn idempotency(
        &self,
        account: &AccountId,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let now = self.now();
        Ok(self
            .state()?
            .idempotency
            .get(&(account.clone(), key.to_owned()))
            .filter(|c| c.expires_at > now)
            .map(|c| c.record.clone()))
    }

    /// Processing jobs whose lease ended by `leased_before` (then queued ones last written by
    /// `queued_before`), each group oldest first.
    async fn overdue(
        &self,
        queued_before: OffsetDateTime,
        leased_before: OffsetDateTime,
        limit: usize,
    ) -> StoreResult<Vec<JobId>> {
        let now = self.now();
        let state = self.state()?;
        let mut ids = Vec::new();
        for (status, before) in [
            (JobStatus::Processing, leased_before),
            (JobStatus::Queued, queued_before),
        ] {
            let mut due: Vec<(OffsetDateTime, &JobId)> = state
                .jobs
                .values()
                .filter(|j| j.status() == status && j.expires_at() > now)
                .map(|j| {
                    let at = match status {
                        JobStatus::Processing => j.lease_until().unwrap_or(j.updated_at()),
                        _ => j.updated_at(),
                    };
                    (at, j.id())
                })
                .filter(|(at, _)| *at <= before)
                .collect();
            due.sort();
            ids.extend(due.into_iter().map(|(_, id)| id.clone()));
        }
        ids.truncate(limit);
        Ok(ids)
    }

    async fn delete(&self, id: &JobId) -> StoreResult<()> {
        let mut state = self.state()?;
        if let Some(job) = state.jobs.remove(id) {
            state.stream.push(Written::Job(Some(job), None));
        }
        // Its applied marks stay (they expire with the job's own time): a record of the job
        // read again after the delete is still known as applied.
        state.attempts.remove(id);
        Ok(())
    }
}

impl MemoryStore {
    /// Drops a job's record without a trace in the stream: what the outbox misses when a
    /// record is given up (for the reconciler's tests).
    pub fn forget(&self, id: &JobId) -> StoreResult<()> {
        self.state()?.jobs.remove(id);
        Ok(())
    }
}

impl MemoryStore {
    /// A version-checked replace; with a `change`, the account's count of jobs processing
    /// changes with it (a `Take` refused at the cap).
    fn replace_counted(&self, job: &Job, change: Option<ProcessingChange>) -> StoreResult<()> {
        let now = self.now();
        let mut state = self.state()?;

        if state.stale_replaces > 0 {
            state.stale_replaces -= 1;
            return Err(StoreError::Stale(format!(
                "job {} (an injected lost race)",
                job.id()
            )));
        }
        let before = match state.live_job(job.id(), now) {
            Some(stored) if stored.version() + 1 == job.version() => stored.clone(),
            Some(stored) => {
                return Err(StoreError::Stale(format!(
                    "job {} is at version {}, not {}",
                    job.id(),
                    stored.version(),
                    job.version().saturating_sub(1)
                )))
            }
            None => return Err(StoreError::Stale(format!("job {} is gone", job.id()))),
        };
        match change {
            Some(ProcessingChange::Take(cap)) => {
                let processing = state.processing.get(job.account()).copied().unwrap_or(0);
                if let Some(cap) = cap.filter(|cap| processing >= i64::from(*cap)) {
                    return Err(StoreError::AtLimit(format!(
                        "account {} has {cap} jobs processing, its cap",
                        job.account()
                    )));
                }
                *state.processing.entry(job.account().clone()).or_default() += 1;
            }
            Some(ProcessingChange::Release) => {
                *state.processing.entry(job.account().clone()).or_default() -= 1;
            }
            None => {}
        }
        if change.is_some() {
            state
                .changed
                .insert(CountOf::Processing(job.account().clone()), now);
        }
        state.jobs.insert(job.id().clone(), job.clone());
        state
            .stream
            .push(Written::Job(Some(before), Some(job.clone())));
        Ok(())
    }
}
