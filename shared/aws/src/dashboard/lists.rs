//! The job lists across accounts, their time buckets and the pending gauge.

use super::*;

#[async_trait]
impl JobLists for DynamoStore {
    async fn list(
        &self,
        list: ListName,
        since_ms: Option<i64>,
        search: &Search,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<(Job, String)>, Option<String>)> {
        if search.key_range_is_empty(list, since_ms) {
            return Ok((Vec::new(), None));
        }
        if let Some(cursor) = after {
            JobId::from_str(cursor.rsplit('#').next().unwrap_or(cursor)).map_err(|_| {
                StoreError::invalid("starting_at", "is not a cursor from this list")
            })?;
            // The window's start moved past the cursor (a list of the last hours paged slowly):
            // nothing is left below it.
            if search
                .key_range(list, since_ms)
                .0
                .is_some_and(|from| from.as_str() >= cursor)
            {
                return Ok((Vec::new(), None));
            }
        }
        // Each shard's newest matches below the cursor, read as far as a page needs; then the
        // newest of them all.
        let reads = (0..self.shards)
            .map(|shard| self.list_shard(list, shard, since_ms, search, after, limit));
        let shards = futures_util::future::try_join_all(reads).await?;
        // A shard that stopped reading early (its page bound) has not shown what lies below
        // where it stopped: the page goes no further down than the highest such place.
        let floor = shards.iter().filter_map(|(_, stop)| stop.clone()).max();
        let mut found: Vec<(String, JobId)> = shards
            .into_iter()
            .flat_map(|(entries, _)| entries)
            .filter(|(sk, _)| floor.as_ref().is_none_or(|f| sk >= f))
            .collect();
        found.sort_by(|a, b| b.0.cmp(&a.0));
        let next = if found.len() > limit {
            found.truncate(limit);
            found.last().map(|(sk, _)| sk.clone())
        } else {
            floor
        };
        // The index holds what the lists filter on; the jobs themselves are read from the table.
        let ids: Vec<JobId> = found.iter().map(|(_, id)| id.clone()).collect();
        let mut jobs: HashMap<JobId, Job> = self
            .jobs(&ids)
            .await?
            .into_iter()
            .map(|job| (job.id().clone(), job))
            .collect();
        let page = found
            .into_iter()
            .filter_map(|(sk, id)| jobs.remove(&id).map(|job| (job, sk)))
            .collect();
        Ok((page, next))
    }

    async fn count(
        &self,
        list: ListName,
        since_ms: Option<i64>,
        search: &Search,
    ) -> StoreResult<(u64, bool)> {
        if search.key_range_is_empty(list, since_ms) {
            return Ok((0, true));
        }
        let (mut matched, mut scanned, mut whole) = (0u64, 0u64, true);
        for shard in 0..self.shards {
            let query = self.list_query(list, shard, since_ms, search, None);
            let mut start = None;
            loop {
                let out = query
                    .clone()
                    .select(Select::Count)
                    .limit(1000)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| unavailable("DynamoDB Query", e))?;
                matched += out.count.max(0) as u64;
                scanned += out.scanned_count.max(0) as u64;
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
                if scanned >= COUNT_SCAN_CAP {
                    whole = false;
                    break;
                }
            }
            if !whole {
                return Ok((matched, false));
            }
        }
        Ok((matched, true))
    }

    async fn tallies(&self, width: Width, first: i64) -> StoreResult<Tally> {
        let pks: Vec<String> = (0..self.shards).map(tally_pk).collect();
        let reads = pks.iter().map(|pk| {
            self.query_all(
                pk,
                Some((
                    "sk BETWEEN :from AND :to",
                    vec![
                        (":from", s(bucket_key(width, first))),
                        (":to", s(bucket_key(width, 999_999_999_999))),
                    ],
                )),
                None,
            )
        });
        let mut tally = Tally::default();
        let mut deleted = 0;
        for item in futures_util::future::try_join_all(reads)
            .await?
            .iter()
            .flatten()
        {
            tally.pushed += opt_num::<u64>(item, "pushed").unwrap_or(0);
            tally.completed += opt_num::<u64>(item, "completed").unwrap_or(0);
            tally.failed += opt_num::<u64>(item, "failed").unwrap_or(0);
            deleted += opt_num::<u64>(item, "deleted").unwrap_or(0);
        }
        // Failed jobs deleted since are out of the count they were in (counted in another
        // shard, maybe).
        tally.failed = tally.failed.saturating_sub(deleted);
        Ok(tally)
    }

    async fn pending_count(&self) -> StoreResult<i64> {
        let gauges = self.gauges().await?;
        Ok(gauges
            .iter()
            .filter_map(|g| opt_num::<i64>(g, "pending"))
            .sum::<i64>()
            .max(0))
    }

    async fn jobs(&self, ids: &[JobId]) -> StoreResult<Vec<Job>> {
        let keys = ids
            .iter()
            .map(|id| {
                HashMap::from([
                    ("pk".to_owned(), s(format!("JOB#{id}"))),
                    ("sk".to_owned(), s("JOB")),
                ])
            })
            .collect();
        let mut found: HashMap<String, Job> = HashMap::new();
        for item in self.batch_get(keys).await? {
            let job = Self::job_from_item(&item)?;
            found.insert(job.id().to_string(), job);
        }
        let now = self.clock.now();
        Ok(ids
            .iter()
            .filter_map(|id| found.remove(id.as_str()))
            .filter(|j| j.expires_at() > now)
            .collect())
    }
}

/// Filters apply after DynamoDB's page limit: a shard is read on, boundedly, until it fills
/// the page (a page that comes back short says where to go on).
const PAGES_PER_SHARD: usize = 2;

impl DynamoStore {
    /// One shard of a list: its newest entries (sort key, job id) under `after`, up to
    /// `limit` + 1 matches, reading at most [`PAGES_PER_SHARD`] of DynamoDB's pages; and, if
    /// it stopped before the shard's end without filling, the sort key where it stopped.
    async fn list_shard(
        &self,
        list: ListName,
        shard: u32,
        since_ms: Option<i64>,
        search: &Search,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<(String, JobId)>, Option<String>)> {
        let (_, _, sk_attr, _) = list_index(list);
        let query = self.list_query(list, shard, since_ms, search, after);
        let mut entries = Vec::new();
        let mut start = None;
        for _ in 0..PAGES_PER_SHARD {
            let out = query
                .clone()
                .limit((limit + 1).min(1000) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB Query", e))?;
            for item in out.items.unwrap_or_default() {
                let sk = opt_str(&item, sk_attr).unwrap_or_default().to_owned();
                if after.is_some_and(|cursor| sk.as_str() >= cursor) {
                    continue;
                }
                let id = opt_str(&item, "pk")
                    .and_then(|pk| pk.strip_prefix("JOB#"))
                    .and_then(|id| JobId::from_str(id).ok());
                if let Some(id) = id {
                    entries.push((sk, id));
                }
            }
            start = out.last_evaluated_key;
            if entries.len() > limit || start.is_none() {
                break;
            }
        }
        let stopped = match entries.len() > limit {
            true => None,
            false => start
                .as_ref()
                .and_then(|k| opt_str(k, sk_attr))
                .map(str::to_owned),
        };
        Ok((entries, stopped))
    }
}
