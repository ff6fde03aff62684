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
        let (_, pk_attr, sk_attr, pk) = list_index(list);
        if search.key_range_is_empty(list, since_ms) {
            return Ok((Vec::new(), None));
        }
        let mut start: Option<Item> = match after {
            Some(cursor) => {
                let id =
                    JobId::from_str(cursor.rsplit('#').next().unwrap_or(cursor)).map_err(|_| {
                        StoreError::invalid("starting_at", "is not a cursor from this list")
                    })?;
                Some(HashMap::from([
                    ("pk".to_owned(), s(format!("JOB#{id}"))),
                    ("sk".to_owned(), s("JOB")),
                    (pk_attr.to_owned(), s(pk)),
                    (sk_attr.to_owned(), s(cursor)),
                ]))
            }
            None => None,
        };
        let mut jobs = Vec::new();
        // Filters apply after DynamoDB's page limit: keep reading (boundedly) until the page
        // fills; where the reading stopped is the next page's cursor.
        for _ in 0..20 {
            let out = self
                .list_query(list, since_ms, search)
                .limit((limit + 1).min(1000) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB Query", e))?;
            for item in out.items.unwrap_or_default() {
                let cursor = opt_str(&item, sk_attr).unwrap_or_default().to_owned();
                jobs.push((Self::job_from_item(&item)?, cursor));
            }
            start = out.last_evaluated_key;
            if jobs.len() > limit || start.is_none() {
                break;
            }
        }
        let next = if jobs.len() > limit {
            jobs.truncate(limit);
            jobs.last().map(|(_, cursor)| cursor.clone())
        } else {
            start
                .as_ref()
                .and_then(|key| opt_str(key, sk_attr))
                .map(str::to_owned)
        };
        Ok((jobs, next))
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
        let query = self.list_query(list, since_ms, search);
        let (mut matched, mut scanned) = (0u64, 0u64);
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
                return Ok((matched, true));
            }
            if scanned >= COUNT_SCAN_CAP {
                return Ok((matched, false));
            }
        }
    }

    async fn tallies(&self, width: Width, first: i64) -> StoreResult<Tally> {
        let items = self
            .query_all(
                "TALLY",
                Some((
                    "sk BETWEEN :from AND :to",
                    vec![
                        (":from", s(bucket_key(width, first))),
                        (":to", s(bucket_key(width, 999_999_999_999))),
                    ],
                )),
                None,
            )
            .await?;
        let mut tally = Tally::default();
        for item in &items {
            tally.pushed += opt_num::<u64>(item, "pushed").unwrap_or(0);
            tally.completed += opt_num::<u64>(item, "completed").unwrap_or(0);
            // Failed jobs deleted since are out of the count they were in.
            tally.failed += opt_num::<u64>(item, "failed")
                .unwrap_or(0)
                .saturating_sub(opt_num::<u64>(item, "deleted").unwrap_or(0));
        }
        Ok(tally)
    }

    async fn pending_count(&self) -> StoreResult<i64> {
        Ok(self
            .get_item("TALLY".into(), "gauge")
            .await?
            .and_then(|i| opt_num::<i64>(&i, "pending"))
            .unwrap_or(0)
            .max(0))
    }

    async fn jobs(&self, ids: &[JobId]) -> StoreResult<Vec<Job>> {
        let mut found: HashMap<String, Job> = HashMap::new();
        for batch in ids.chunks(100) {
            let keys: Vec<Item> = batch
                .iter()
                .map(|id| {
                    HashMap::from([
                        ("pk".to_owned(), s(format!("JOB#{id}"))),
                        ("sk".to_owned(), s("JOB")),
                    ])
                })
                .collect();
            let jobs = Backoff::STORE
                .drain("DynamoDB BatchGetItem", keys, |keys| async move {
                    let request = KeysAndAttributes::builder()
                        .set_keys(Some(keys))
                        .consistent_read(true)
                        .build()
                        .map_err(|e| StoreError::Internal(format!("batch get: {e}")))?;
                    let out = self
                        .client
                        .batch_get_item()
                        .request_items(&self.table, request)
                        .send()
                        .await
                        .map_err(|e| unavailable("DynamoDB BatchGetItem", e))?;
                    let jobs = out
                        .responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default()
                        .iter()
                        .map(Self::job_from_item)
                        .collect::<StoreResult<Vec<Job>>>()?;
                    let left = out
                        .unprocessed_keys
                        .and_then(|mut u| u.remove(&self.table))
                        .map(|k| k.keys)
                        .unwrap_or_default();
                    Ok((jobs, left))
                })
                .await?;
            for job in jobs {
                found.insert(job.id().to_string(), job);
            }
        }
        let now = self.clock.now();
        Ok(ids
            .iter()
            .filter_map(|id| found.remove(id.as_str()))
            .filter(|j| j.expires_at() > now)
            .collect())
    }
}
