//! The dashboard's items: applied marks and counts, lists, tallies, metrics, heartbeats,
//! monitored tags, paused queues.

use super::*;
use crate::ports::{JobLists, MetricHistory, TagIndex, Workers};

#[async_trait]
impl MetricsStore for MemoryStore {
    async fn applied(&self, job: &JobId, version: u64) -> StoreResult<bool> {
        Ok(self.state()?.applied.contains(&(job.clone(), version)))
    }

    /// A count below zero (drift) reads as none, as the table's.
    async fn active_jobs(&self, account: &AccountId) -> StoreResult<i64> {
        Ok(self
            .state()?
            .active
            .get(account)
            .copied()
            .unwrap_or(0)
            .max(0))
    }

    async fn processing_jobs(&self, account: &AccountId) -> StoreResult<i64> {
        Ok(self
            .state()?
            .processing
            .get(account)
            .copied()
            .unwrap_or(0)
            .max(0))
    }

    /// Adds to the time buckets, the pending gauge and the job type's and queue's counters.
    async fn apply(&self, writes: &[Counts]) -> StoreResult<usize> {
        let mut applied = 0;
        for counts in writes {
            applied += usize::from(self.apply_one(counts)?);
        }
        Ok(applied)
    }

    async fn census(&self) -> StoreResult<Census> {
        let now = self.now();
        let state = self.state()?;
        let mut census = Census::default();
        for job in state.jobs.values().filter(|j| j.expires_at() > now) {
            match job.status() {
                JobStatus::Queued => census.queued += 1,
                JobStatus::Processing => {
                    *census.processing.entry(job.account().clone()).or_default() += 1
                }
                JobStatus::Completed | JobStatus::Failed => continue,
            }
            *census.active.entry(job.account().clone()).or_default() += 1;
        }
        Ok(census)
    }

    async fn kept_counts(&self) -> StoreResult<Vec<KeptCount>> {
        let state = self.state()?;
        let changed = |of: &CountOf| state.changed.get(of).copied();
        let active = state
            .active
            .iter()
            .map(|(account, value)| (CountOf::Active(account.clone()), *value));
        let processing = state
            .processing
            .iter()
            .map(|(account, value)| (CountOf::Processing(account.clone()), *value));
        let mut kept: Vec<KeptCount> = active
            .chain(processing)
            .map(|(of, value)| KeptCount {
                changed_at: changed(&of),
                of,
                value,
            })
            .collect();
        kept.push(KeptCount {
            changed_at: changed(&CountOf::Pending),
            of: CountOf::Pending,
            value: state.pending,
        });
        Ok(kept)
    }

    async fn repair(&self, seen: &KeptCount, to: i64) -> StoreResult<bool> {
        let now = self.now();
        let mut state = self.state()?;
        if state.changed.get(&seen.of).copied() != seen.changed_at {
            return Ok(false);
        }
        match &seen.of {
            CountOf::Active(account) => {
                state.active.insert(account.clone(), to);
            }
            CountOf::Processing(account) => {
                state.processing.insert(account.clone(), to);
            }
            CountOf::Pending => state.pending = to,
        }
        state.changed.insert(seen.of.clone(), now);
        Ok(true)
    }
}

impl MemoryStore {
    fn apply_one(&self, counts: &Counts) -> StoreResult<bool> {
        let now_ms = millis(self.now());
        let mut state = self.state()?;
        if !state.applied.insert((counts.job.clone(), counts.version)) {
            return Ok(false);
        }
        if let Some((field, at, gauge)) = counts.tally {
            for width in [Width::Minute, Width::Hour] {
                let tally = state.tallies.entry((width, width.bucket(at))).or_default();
                match field {
                    "pushed" => tally.pushed += 1,
                    "completed" => tally.completed += 1,
                    // A failed job deleted: out of the failed count it was in.
                    "deleted" => tally.failed = tally.failed.saturating_sub(1),
                    _ => tally.failed += 1,
                }
            }
            if gauge != 0 {
                state.pending += gauge;
                state.changed.insert(CountOf::Pending, self.now());
            }
        }
        if let Some((account, by)) = &counts.processing {
            *state.processing.entry(account.clone()).or_default() += by;
            state
                .changed
                .insert(CountOf::Processing(account.clone()), self.now());
        }
        if let Some((account, by)) = &counts.active {
            *state.active.entry(account.clone()).or_default() += by;
            state
                .changed
                .insert(CountOf::Active(account.clone()), self.now());
        }
        let Some((job_type, queue, m)) = &counts.measure else {
            return Ok(true);
        };
        for (kind, name) in [(MetricKind::Job, job_type), (MetricKind::Queue, queue)] {
            let metric = MetricId {
                kind,
                name: name.to_owned(),
            };
            let counter = state
                .counters
                .entry(metric.clone())
                .or_insert_with(|| Counter {
                    metric,
                    processed: 0,
                    failed: 0,
                    runtime_ms: 0,
                    wait_ms: 0,
                    since_ms: now_ms,
                });
            counter.processed += 1;
            counter.failed += u64::from(m.failed);
            counter.runtime_ms += m.runtime_ms;
            counter.wait_ms += m.wait_ms;
        }
        Ok(true)
    }
}

/// A dashboard list's sort key for `job`, if the job is in it: its id (lists by creation) or
/// its finishing time and id (lists by finish), as `aws::dashboard` indexes them.
fn list_key(list: ListName, job: &Job) -> Option<String> {
    let by_finish = || {
        format!(
            "{:013}#{}",
            millis(job.finished_at().unwrap_or(job.updated_at())),
            job.id()
        )
    };
    match (list, job.status()) {
        (ListName::Recent, _) => Some(job.id().to_string()),
        (ListName::Pending, s) if !s.is_terminal() => Some(job.id().to_string()),
        (ListName::Completed, JobStatus::Completed) | (ListName::Failed, JobStatus::Failed) => {
            Some(by_finish())
        }
        _ => None,
    }
}

/// Whether `job` passes a dashboard search (tags include the automatic ones; the text is
/// matched against the error's code and message, so jobs without an error never match it).
impl MemoryStore {
    /// Every live job of `list` since `since_ms` that passes `search`, with its sort key,
    /// newest first.
    fn list_entries(
        &self,
        list: ListName,
        since_ms: Option<i64>,
        search: &Search,
    ) -> StoreResult<Vec<(Job, String)>> {
        let now = self.now();
        let (lower, upper) = search.key_range(list, since_ms);
        let state = self.state()?;
        let mut entries: Vec<(Job, String)> = state
            .jobs
            .values()
            .filter(|j| j.expires_at() > now && search.matches(j))
            .filter_map(|j| list_key(list, j).map(|key| (j, key)))
            .filter(|(_, key)| lower.as_ref().is_none_or(|lower| key >= lower))
            .filter(|(_, key)| upper.as_ref().is_none_or(|upper| key < upper))
            .map(|(j, key)| (j.clone(), key))
            .collect();
        entries.sort_by(|a, b| b.1.cmp(&a.1));
        Ok(entries)
    }
}

/// Stands in for the dashboard's side of `DynamoStore`. Lists, counts and tag lists read every
/// job held (no index windows: there are only ever a test's few), with the same sort keys,
/// cursors and bounds; a snapshot resets the counters in one step under the lock.
#[async_trait]
impl JobLists for MemoryStore {
    async fn list(
        &self,
        list: ListName,
        since_ms: Option<i64>,
        filter: &Search,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<(Job, String)>, Option<String>)> {
        if let Some(cursor) = after {
            JobId::from_str(cursor.rsplit('#').next().unwrap_or(cursor)).map_err(|_| {
                StoreError::invalid("starting_at", "is not a cursor from this list")
            })?;
        }
        let mut page: Vec<(Job, String)> = self
            .list_entries(list, since_ms, filter)?
            .into_iter()
            .filter(|(_, key)| after.is_none_or(|after| key.as_str() < after))
            .take(limit.saturating_add(1))
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let next = more
            .then(|| page.last().map(|(_, key)| key.clone()))
            .flatten();
        Ok((page, next))
    }

    async fn count(
        &self,
        list: ListName,
        since_ms: Option<i64>,
        filter: &Search,
    ) -> StoreResult<(u64, bool)> {
        // Every job is read here; the cap applies to what is read, as in DynamoDB.
        let (lower, upper) = filter.key_range(list, since_ms);
        let window = self
            .list_entries(list, since_ms, &Search::default())?
            .into_iter()
            .filter(|(_, key)| lower.as_ref().is_none_or(|l| key >= l))
            .filter(|(_, key)| upper.as_ref().is_none_or(|u| key < u))
            .take(COUNT_SCAN_CAP as usize + 1)
            .collect::<Vec<_>>();
        let complete = window.len() as u64 <= COUNT_SCAN_CAP;
        let matched = window
            .iter()
            .take(COUNT_SCAN_CAP as usize)
            .filter(|(j, _)| filter.matches(j))
            .count() as u64;
        Ok((matched, complete))
    }

    async fn tallies(&self, width: Width, first: i64) -> StoreResult<Tally> {
        let state = self.state()?;
        let mut sum = Tally::default();
        for ((w, bucket), tally) in &state.tallies {
            if *w == width && *bucket >= first {
                sum.pushed += tally.pushed;
                sum.completed += tally.completed;
                sum.failed += tally.failed;
            }
        }
        Ok(sum)
    }

    async fn pending_count(&self) -> StoreResult<i64> {
        Ok(self.state()?.pending.max(0))
    }

    async fn jobs(&self, ids: &[JobId]) -> StoreResult<Vec<Job>> {
        let now = self.now();
        let state = self.state()?;
        Ok(ids
            .iter()
            .filter_map(|id| state.live_job(id, now).cloned())
            .collect())
    }
}

#[async_trait]
impl MetricHistory for MemoryStore {
    async fn counters(&self) -> StoreResult<Vec<Counter>> {
        Ok(self.state()?.counters.values().cloned().collect())
    }

    async fn snapshots(&self, metric: &MetricId) -> StoreResult<Vec<Snapshot>> {
        Ok(self
            .state()?
            .snapshots
            .get(metric)
            .cloned()
            .unwrap_or_default())
    }

    async fn metric_names(&self, kind: MetricKind) -> StoreResult<Vec<String>> {
        let state = self.state()?;
        let names: BTreeSet<String> = state
            .counters
            .keys()
            .chain(state.snapshots.keys())
            .filter(|m| m.kind == kind)
            .map(|m| m.name.clone())
            .collect();
        Ok(names.into_iter().collect())
    }

    async fn take_snapshot(
        &self,
        slot: i64,
        now: OffsetDateTime,
        keep: usize,
    ) -> StoreResult<bool> {
        let mut state = self.state()?;
        if !state.snapshot_slots.insert(slot) {
            return Ok(false);
        }
        let State {
            counters,
            snapshots,
            ..
        } = &mut *state;
        for counter in counters.values_mut() {
            let taken = counter.clone();
            counter.processed = 0;
            counter.failed = 0;
            counter.runtime_ms = 0;
            counter.wait_ms = 0;
            counter.since_ms = millis(now);
            let kept = snapshots.remove(&taken.metric).unwrap_or_default();
            snapshots.insert(
                taken.metric.clone(),
                monitoring::rotate(kept, taken.snapshot(now), keep),
            );
        }
        state.last_snapshot_ms = Some(millis(now));
        Ok(true)
    }

    async fn last_snapshot_at(&self) -> StoreResult<Option<i64>> {
        Ok(self.state()?.last_snapshot_ms)
    }
}

#[async_trait]
impl Workers for MemoryStore {
    async fn beat(&self, hb: &Heartbeat) -> StoreResult<()> {
        let key = format!(
            "{}#{}#{}#{}",
            hb.master, hb.supervisor, hb.queue, hb.instance
        );
        self.state()?.heartbeats.insert(key, hb.clone());
        Ok(())
    }

    async fn heartbeats(&self, since_ms: i64) -> StoreResult<Vec<Heartbeat>> {
        Ok(self
            .state()?
            .heartbeats
            .values()
            .filter(|hb| hb.seen_at_ms >= since_ms)
            .cloned()
            .collect())
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> StoreResult<()> {
        self.state()?.paused.insert(queue.to_owned(), paused);
        Ok(())
    }

    async fn paused(&self) -> StoreResult<Vec<String>> {
        Ok(self
            .state()?
            .paused
            .iter()
            .filter(|(_, paused)| **paused)
            .map(|(queue, _)| queue.clone())
            .collect())
    }
}

#[async_trait]
impl TagIndex for MemoryStore {
    async fn monitored(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(self
            .state()?
            .monitored
            .iter()
            .map(|(tag, since)| (tag.clone(), *since))
            .collect())
    }

    /// Already monitored: unchanged (it keeps its first `since`).
    async fn monitor(&self, tag: &str, now: OffsetDateTime) -> StoreResult<()> {
        self.state()?
            .monitored
            .entry(tag.to_owned())
            .or_insert_with(|| millis(now));
        Ok(())
    }

    async fn unmonitor(&self, tag: &str) -> StoreResult<bool> {
        Ok(self.state()?.monitored.remove(tag).is_some())
    }

    async fn tag_job(&self, tag: &str, job: &JobId, expires_at: OffsetDateTime) -> StoreResult<()> {
        self.state()?
            .tagged
            .entry(tag.to_owned())
            .or_default()
            .insert(job.clone(), expires_at);
        Ok(())
    }

    async fn tagged(
        &self,
        tag: &str,
        since_ms: i64,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<JobId>, bool)> {
        let after = after
            .map(|cursor| {
                JobId::from_str(cursor).map_err(|_| {
                    StoreError::invalid("starting_at", "is not a job id from this list")
                })
            })
            .transpose()?;
        let now = self.now();
        let lower = first_id_at(since_ms);
        let limit = limit.clamp(1, 1000);
        let state = self.state()?;
        let mut ids: Vec<JobId> = state
            .tagged
            .get(tag)
            .into_iter()
            .flat_map(|jobs| jobs.iter().rev())
            .filter(|(id, expires)| **expires > now && id.as_str() >= lower.as_str())
            .filter(|(id, _)| after.as_ref().is_none_or(|after| *id < after))
            .map(|(id, _)| id.clone())
            .take(limit + 1)
            .collect();
        let more = ids.len() > limit;
        ids.truncate(limit);
        Ok((ids, more))
    }

    async fn tagged_count(&self, tag: &str, since_ms: i64) -> StoreResult<u64> {
        let now = self.now();
        let lower = first_id_at(since_ms);
        Ok(self
            .state()?
            .tagged
            .get(tag)
            .map(|jobs| {
                jobs.iter()
                    .filter(|(id, expires)| **expires > now && id.as_str() >= lower.as_str())
                    .count() as u64
            })
            .unwrap_or(0))
    }
}
