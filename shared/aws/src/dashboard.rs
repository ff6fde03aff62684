//! The dashboard's adapters: its DynamoDB items (in the one table), SQS queue attributes, and
//! the worker fleet (the local runner's pollers, or Lambda's event source mappings).
//!
//! Items, besides the job records' index attributes (`gsi3*`, `gsi4*`, `allTags`):
//! - `TALLY` / `m#<minute>`, `h#<hour>`: jobs pushed, completed, failed in that bucket;
//!   `TALLY` / `gauge`: jobs pending now.
//! - `METRICS` / `counter#<kind>#<name>`: counters since the last snapshot;
//!   `snaps#<kind>#<name>`: the kept snapshots; `lock#<slot>`: who took a slot's snapshot;
//!   `state`: when the last snapshot was taken.
//! - `HEARTBEAT` / `<master>#<supervisor>#<queue>#<instance>`: a live worker (TTL).
//! - `MONITOR` / `<tag>`: a monitored tag; `TAGGED#<tag>` / `<jobId>`: its jobs (TTL).
//! - `QUEUE` / `<name>`: whether the queue is paused.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValue, Select, TransactWriteItem, Update,
};
use time::OffsetDateTime;

use crate::clients::unavailable;
use crate::dynamo::{from_json, millis, n, opt_num, opt_str, s, to_json, DynamoStore, Item};
use horizon_app::ports::{Counts, DashboardStore, MetricsStore, COUNT_SCAN_CAP};
use horizon_app::ports::{StoreError, StoreResult};
use horizon_app::retry::Backoff;
use horizon_domain::monitoring::{
    self, first_id_at, Counter, Heartbeat, ListName, MetricId, MetricKind, Search, Snapshot, Tally,
    Width,
};
use horizon_domain::AccountId;
use horizon_domain::{Job, JobId, JobStatus};

/// The dashboard's attributes of a job record: its place in the lists, its tags, its search text.
pub(super) fn index_job(item: &mut Item, job: &Job) -> StoreResult<()> {
    item.insert("gsi4pk".into(), s("DASH#recent"));
    item.insert("gsi4sk".into(), s(job.id().to_string()));
    let finished = || {
        format!(
            "{:013}#{}",
            millis(job.finished_at().unwrap_or(job.updated_at())),
            job.id()
        )
    };
    let (list, sk) = match job.status() {
        JobStatus::Queued | JobStatus::Processing => ("pending", job.id().to_string()),
        JobStatus::Completed => ("completed", finished()),
        JobStatus::Failed => ("failed", finished()),
    };
    item.insert("gsi3pk".into(), s(format!("DASH#{list}")));
    item.insert("gsi3sk".into(), s(sk));
    item.insert("allTags".into(), AttributeValue::Ss(monitoring::tags(job)));
    if let Some(e) = &job.error() {
        item.insert(
            "searchText".into(),
            s(monitoring::search_text(&e.code, &e.message)),
        );
    }
    Ok(())
}

fn list_index(list: ListName) -> (&'static str, &'static str, &'static str, &'static str) {
    match list {
        ListName::Recent => ("gsi4", "gsi4pk", "gsi4sk", "DASH#recent"),
        ListName::Pending => ("gsi3", "gsi3pk", "gsi3sk", "DASH#pending"),
        ListName::Completed => ("gsi3", "gsi3pk", "gsi3sk", "DASH#completed"),
        ListName::Failed => ("gsi3", "gsi3pk", "gsi3sk", "DASH#failed"),
    }
}

fn bucket_key(width: Width, bucket: i64) -> String {
    let w = match width {
        Width::Minute => 'm',
        Width::Hour => 'h',
    };
    format!("{w}#{bucket:012}")
}

/// The counters' attribute names, as placeholders (several are DynamoDB reserved words).
fn counter_names() -> HashMap<String, String> {
    [
        ("#processed", "processed"),
        ("#failed", "failed"),
        ("#runtime", "runtimeMs"),
        ("#wait", "waitMs"),
        ("#since", "since"),
        ("#kind", "metricKind"),
        ("#name", "metricName"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn counter_key(metric: &MetricId) -> String {
    format!("counter#{}#{}", metric.kind.as_str(), metric.name)
}

fn snaps_key(metric: &MetricId) -> String {
    format!("snaps#{}#{}", metric.kind.as_str(), metric.name)
}

impl DynamoStore {
    /// One `ADD` to a counter item, as a part of a transaction.
    fn add(
        &self,
        pk: &str,
        sk: String,
        expression: &str,
        names: HashMap<String, String>,
        values: Vec<(&str, AttributeValue)>,
    ) -> StoreResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(
                values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            ))
            .build()
            .map_err(|e| StoreError::Internal(format!("a counter update: {e}")))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn counter_from(item: &Item) -> Option<Counter> {
        let kind = match opt_str(item, "metricKind")? {
            "job" => MetricKind::Job,
            "queue" => MetricKind::Queue,
            _ => return None,
        };
        Some(Counter {
            metric: MetricId {
                kind,
                name: opt_str(item, "metricName")?.to_owned(),
            },
            processed: opt_num(item, "processed").unwrap_or(0),
            failed: opt_num(item, "failed").unwrap_or(0),
            runtime_ms: opt_num(item, "runtimeMs").unwrap_or(0),
            wait_ms: opt_num(item, "waitMs").unwrap_or(0),
            since_ms: opt_num(item, "since").unwrap_or(0),
        })
    }

    /// Every item of partition `pk` whose sort key meets `key` (a condition and its values),
    /// when given, and that passes `filter`.
    async fn query_all(
        &self,
        pk: &str,
        key: Option<(&str, Vec<(&str, AttributeValue)>)>,
        filter: Option<(&str, Vec<(&str, AttributeValue)>)>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":p", s(pk))
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            req = match &key {
                Some((cond, _)) => req.key_condition_expression(format!("pk = :p AND {cond}")),
                None => req.key_condition_expression("pk = :p"),
            };
            if let Some((expr, _)) = &filter {
                req = req.filter_expression(*expr);
            }
            for (k, v) in key.iter().chain(filter.iter()).flat_map(|(_, vals)| vals) {
                req = req.expression_attribute_values(*k, v.clone());
            }
            let out = req
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB Query", e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// A query of a dashboard list's index: key condition, optional lower bound, and search.
    fn list_query(
        &self,
        list: ListName,
        since_ms: Option<i64>,
        search: &Search,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let (index, pk_attr, sk_attr, pk) = list_index(list);
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":p", s(pk))
            .scan_index_forward(false);
        req = match search.key_range(list, since_ms) {
            (Some(from), Some(to)) => req
                .key_condition_expression("#pk = :p AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to)),
            (Some(from), None) => req
                .key_condition_expression("#pk = :p AND #sk >= :from")
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":from", s(from)),
            (None, Some(to)) => req
                .key_condition_expression("#pk = :p AND #sk < :to")
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":to", s(to)),
            (None, None) => req.key_condition_expression("#pk = :p"),
        };
        let mut filters = vec!["expiresAt > :now"];
        req = req.expression_attribute_values(":now", n(self.clock.now().unix_timestamp()));
        if let Some(tag) = &search.tag {
            filters.push("contains(allTags, :tag)");
            req = req.expression_attribute_values(":tag", s(tag.clone()));
        }
        if let Some(t) = &search.job_type {
            filters.push("jobType = :type");
            req = req.expression_attribute_values(":type", s(t.clone()));
        }
        if let Some(status) = search.status {
            filters.push("#status = :status");
            req = req
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str()));
        }
        if let Some(account) = &search.account {
            filters.push("accountId = :account");
            req = req.expression_attribute_values(":account", s(account.clone()));
        }
        if let Some(text) = &search.text {
            filters.push("contains(searchText, :text)");
            req = req.expression_attribute_values(":text", s(text.to_lowercase()));
        }
        req.filter_expression(filters.join(" AND "))
    }
}

impl DynamoStore {
    /// The write that adds `fields` (name, amount) to one time bucket's item, and keeps it a
    /// day past the longest period a bucket can be summed in (the failed period is at most the
    /// job retention, and in hours). One write per item: a transaction may not touch an item
    /// twice.
    fn bucket_add(
        &self,
        width: Width,
        bucket: i64,
        fields: impl IntoIterator<Item = (&'static str, i64)>,
    ) -> StoreResult<TransactWriteItem> {
        let expires = (bucket + 1) * width.seconds() + 8 * 24 * 3600;
        let mut names = HashMap::new();
        let mut values = vec![(":exp", n(expires))];
        let mut adds = Vec::new();
        for (i, (name, by)) in fields.into_iter().enumerate() {
            // One placeholder per field a bucket can have: pushed, completed, failed, deleted.
            let placeholder = *[":a", ":b", ":c", ":d"].get(i).ok_or_else(|| {
                StoreError::Internal(format!("a time bucket with a fifth field ({name})"))
            })?;
            names.insert(format!("#f{i}"), name.to_owned());
            adds.push(format!("#f{i} {placeholder}"));
            values.push((placeholder, n(by)));
        }
        let expression = format!("ADD {} SET expiresAt = :exp", adds.join(", "));
        self.add(
            "TALLY",
            bucket_key(width, bucket),
            &expression,
            names,
            values,
        )
    }
}

impl DynamoStore {
    /// Writes many job records at once (BatchWriteItem) and counts them in the time buckets and
    /// the pending gauge: for benchmarks and imports, not the job path (it skips the conditional
    /// write that keeps ids unique).
    pub async fn import(&self, jobs: &[Job]) -> StoreResult<()> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for batch in jobs.chunks(25) {
            let requests: Vec<WriteRequest> = batch
                .iter()
                .map(|job| {
                    let put = PutRequest::builder()
                        .set_item(Some(self.job_item(job)?))
                        .build()
                        .map_err(|e| StoreError::Internal(format!("import: {e}")))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<StoreResult<_>>()?;
            Backoff::STORE
                .drain("DynamoDB BatchWriteItem", requests, |requests| async move {
                    let out = self
                        .client
                        .batch_write_item()
                        .request_items(&self.table, requests)
                        .send()
                        .await
                        .map_err(|e| unavailable("DynamoDB BatchWriteItem", e))?;
                    let left = out
                        .unprocessed_items
                        .and_then(|mut u| u.remove(&self.table))
                        .unwrap_or_default();
                    Ok((Vec::<()>::new(), left))
                })
                .await?;
        }
        let mut counts: HashMap<(Width, i64, &str), i64> = HashMap::new();
        let mut pending = 0;
        for job in jobs {
            let mut count = |field| {
                for width in [Width::Minute, Width::Hour] {
                    *counts
                        .entry((width, width.bucket(job.created_at()), field))
                        .or_default() += 1;
                }
            };
            count("pushed");
            match job.status() {
                JobStatus::Completed => count("completed"),
                JobStatus::Failed => count("failed"),
                JobStatus::Queued | JobStatus::Processing => pending += 1,
            }
        }
        let field = |f: &str| HashMap::from([("#f".to_owned(), f.to_owned())]);
        let mut buckets: HashMap<(Width, i64), Vec<(&'static str, i64)>> = HashMap::new();
        for ((width, bucket, name), by) in counts {
            buckets.entry((width, bucket)).or_default().push((name, by));
        }
        let mut adds = Vec::new();
        for ((width, bucket), fields) in buckets {
            adds.push(self.bucket_add(width, bucket, fields)?);
        }
        let gauge = vec![(":by", n(pending))];
        adds.push(self.add(
            "TALLY",
            "gauge".into(),
            "ADD #f :by",
            field("pending"),
            gauge,
        )?);
        for chunk in adds.chunks(100) {
            self.client
                .transact_write_items()
                .set_transact_items(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB TransactWriteItems", e))?;
        }
        Ok(())
    }
}

impl DynamoStore {
    /// How many items `query` matches, across DynamoDB's pages.
    async fn count_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> StoreResult<u64> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let out = query
                .clone()
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB Query", e))?;
            total += out.count.max(0) as u64;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(total);
            }
        }
    }
}

/// The mark that the write of a job that made `version` was applied, in the job's partition
/// (deleted with the job, expiring with it).
fn applied_key(version: u64) -> String {
    format!("APPLIED#{version:010}")
}

#[async_trait]
impl MetricsStore for DynamoStore {
    async fn applied(&self, job: &JobId, version: u64) -> StoreResult<bool> {
        Ok(self
            .get_item(format!("JOB#{job}"), &applied_key(version))
            .await?
            .is_some())
    }

    async fn active_jobs(&self, account: &AccountId) -> StoreResult<i64> {
        Ok(self
            .get_item(format!("ACCT#{account}"), "ACTIVE")
            .await?
            .and_then(|item| opt_num(&item, "jobs"))
            .unwrap_or(0))
    }

    /// Per transaction, up to [`MARKS_PER_TRANSACTION`] writes: their marks (each on the
    /// condition that it is new), then what they add together to the time buckets, the pending
    /// gauge and the counters, one update per item. A mark found to exist is a write applied
    /// already: it is left out and the transaction tried again without it.
    async fn apply(&self, writes: &[Counts]) -> StoreResult<usize> {
        let mut applied = 0;
        let mut unique: Vec<&Counts> = Vec::new();
        for w in writes {
            if !unique
                .iter()
                .any(|u| u.job == w.job && u.version == w.version)
            {
                unique.push(w);
            }
        }
        for chunk in unique.chunks(MARKS_PER_TRANSACTION) {
            let mut pending: Vec<&Counts> = chunk.to_vec();
            while !pending.is_empty() {
                match self.transact(self.count_items(&pending)?).await? {
                    None => {
                        applied += pending.len();
                        break;
                    }
                    Some(i) if i < pending.len() => {
                        pending.remove(i);
                    }
                    Some(_) => {
                        return Err(StoreError::Internal(
                            "a counter's update was refused".into(),
                        ))
                    }
                }
            }
        }
        Ok(applied)
    }
}

/// Writes whose counts go in one transaction (DynamoDB takes 100 items: the marks, and the
/// buckets, counters and accounts they add to).
const MARKS_PER_TRANSACTION: usize = 30;

impl DynamoStore {
    /// The items of one transaction of [`MetricsStore::apply`]: the marks first, in order.
    fn count_items(&self, writes: &[&Counts]) -> StoreResult<Vec<TransactWriteItem>> {
        let mut items = Vec::new();
        // Per bucket item, the fields it adds to (one update per item: a transaction may not
        // touch an item twice).
        let mut tallies: HashMap<(Width, i64), BTreeMap<&str, i64>> = HashMap::new();
        let mut gauge = 0;
        let mut counters: BTreeMap<MetricId, [u64; 4]> = BTreeMap::new();
        let mut accounts: BTreeMap<&str, i64> = BTreeMap::new();
        for counts in writes {
            if let Some((account, by)) = &counts.active {
                *accounts.entry(account.0.as_str()).or_default() += by;
            }
            let mark = Put::builder()
                .table_name(&self.table)
                .item("pk", s(format!("JOB#{}", counts.job)))
                .item("sk", s(applied_key(counts.version)))
                .item("expiresAt", n(counts.keep_until.unix_timestamp()))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| StoreError::Internal(format!("the applied mark: {e}")))?;
            items.push(TransactWriteItem::builder().put(mark).build());
            if let Some((name, at, by)) = counts.tally {
                for width in [Width::Minute, Width::Hour] {
                    *tallies
                        .entry((width, width.bucket(at)))
                        .or_default()
                        .entry(name)
                        .or_default() += 1;
                }
                gauge += by;
            }
            if let Some((job_type, queue, m)) = &counts.measure {
                for (kind, name) in [(MetricKind::Job, job_type), (MetricKind::Queue, queue)] {
                    let metric = MetricId {
                        kind,
                        name: name.clone(),
                    };
                    let sums = counters.entry(metric).or_default();
                    sums[0] += 1;
                    sums[1] += u64::from(m.failed);
                    sums[2] += m.runtime_ms;
                    sums[3] += m.wait_ms;
                }
            }
        }
        let field = |f: &str| HashMap::from([("#f".to_owned(), f.to_owned())]);
        for ((width, bucket), fields) in tallies {
            items.push(self.bucket_add(width, bucket, fields)?);
        }
        if gauge != 0 {
            items.push(self.add(
                "TALLY",
                "gauge".into(),
                "ADD #f :by",
                field("pending"),
                vec![(":by", n(gauge))],
            )?);
        }
        for (account, by) in accounts.into_iter().filter(|(_, by)| *by != 0) {
            items.push(self.add(
                &format!("ACCT#{account}"),
                "ACTIVE".into(),
                "ADD #f :by",
                field("jobs"),
                vec![(":by", n(by))],
            )?);
        }
        for (metric, [processed, failed, runtime, wait]) in counters {
            items.push(self.add(
                "METRICS",
                counter_key(&metric),
                "ADD #processed :processed, #failed :failed, #runtime :runtime, #wait :wait \
                 SET #since = if_not_exists(#since, :now), #kind = :kind, #name = :name",
                counter_names(),
                vec![
                    (":processed", n(processed)),
                    (":failed", n(failed)),
                    (":runtime", n(runtime)),
                    (":wait", n(wait)),
                    (":now", n(millis(self.clock.now()))),
                    (":kind", s(metric.kind.as_str())),
                    (":name", s(metric.name.clone())),
                ],
            )?);
        }
        Ok(items)
    }
}

#[async_trait]
impl DashboardStore for DynamoStore {
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

    async fn counters(&self) -> StoreResult<Vec<Counter>> {
        let items = self
            .query_all(
                "METRICS",
                Some(("begins_with(sk, :prefix)", vec![(":prefix", s("counter#"))])),
                None,
            )
            .await?;
        Ok(items.iter().filter_map(Self::counter_from).collect())
    }

    async fn snapshots(&self, metric: &MetricId) -> StoreResult<Vec<Snapshot>> {
        match self.get_item("METRICS".into(), &snaps_key(metric)).await? {
            Some(item) => from_json(opt_str(&item, "snapshots").unwrap_or("[]")),
            None => Ok(Vec::new()),
        }
    }

    async fn metric_names(&self, kind: MetricKind) -> StoreResult<Vec<String>> {
        let mut names: Vec<String> = self
            .counters()
            .await?
            .into_iter()
            .filter(|c| c.metric.kind == kind)
            .map(|c| c.metric.name)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn take_snapshot(
        &self,
        slot: i64,
        now: OffsetDateTime,
        keep: usize,
    ) -> StoreResult<bool> {
        let lock: Item = HashMap::from([
            ("pk".to_owned(), s("METRICS")),
            ("sk".to_owned(), s(format!("lock#{slot}"))),
            ("takenAt".to_owned(), n(millis(now))),
            (
                "expiresAt".to_owned(),
                n(now.unix_timestamp() + 2 * 24 * 3600),
            ),
        ]);
        match self
            .put_item(lock, Some("attribute_not_exists(pk)"), vec![])
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
        for mut counter in self.counters().await? {
            // The counter as read is reset and kept as a snapshot in one transaction, on the
            // condition that nothing was counted since the read (else it is read again): a
            // crash loses no count, and a job counted meanwhile lands in the next interval.
            for _ in 0..5 {
                let kept = self.snapshots(&counter.metric).await?;
                let kept = monitoring::rotate(kept, counter.snapshot(now), keep);
                let reset = Update::builder()
                    .table_name(&self.table)
                    .key("pk", s("METRICS"))
                    .key("sk", s(counter_key(&counter.metric)))
                    .update_expression(
                        "SET #processed = :zero, #failed = :zero, #runtime = :zero, #wait = :zero, #since = :now",
                    )
                    .condition_expression("#processed = :p AND #failed = :f AND #runtime = :r")
                    .set_expression_attribute_names(Some(
                        counter_names()
                            .into_iter()
                            .filter(|(k, _)| k != "#kind" && k != "#name")
                            .collect(),
                    ))
                    .expression_attribute_values(":zero", n(0))
                    .expression_attribute_values(":now", n(millis(now)))
                    .expression_attribute_values(":p", n(counter.processed))
                    .expression_attribute_values(":f", n(counter.failed))
                    .expression_attribute_values(":r", n(counter.runtime_ms))
                    .build()
                    .map_err(|e| StoreError::Internal(format!("a counter reset: {e}")))?;
                let snaps = Put::builder()
                    .table_name(&self.table)
                    .item("pk", s("METRICS"))
                    .item("sk", s(snaps_key(&counter.metric)))
                    .item("snapshots", s(to_json(&kept)?))
                    .build()
                    .map_err(|e| StoreError::Internal(format!("the snapshots: {e}")))?;
                let writes = vec![
                    TransactWriteItem::builder().update(reset).build(),
                    TransactWriteItem::builder().put(snaps).build(),
                ];
                if self.transact(writes).await?.is_none() {
                    break;
                }
                let read = self
                    .get_item("METRICS".into(), &counter_key(&counter.metric))
                    .await?;
                match read.as_ref().and_then(Self::counter_from) {
                    Some(again) => counter = again,
                    None => break,
                }
            }
        }
        let state: Item = HashMap::from([
            ("pk".to_owned(), s("METRICS")),
            ("sk".to_owned(), s("state")),
            ("lastSnapshotAt".to_owned(), n(millis(now))),
        ]);
        self.put_item(state, None, vec![]).await?;
        Ok(true)
    }

    async fn last_snapshot_at(&self) -> StoreResult<Option<i64>> {
        Ok(self
            .get_item("METRICS".into(), "state")
            .await?
            .and_then(|i| opt_num(&i, "lastSnapshotAt")))
    }

    async fn beat(&self, hb: &Heartbeat) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s("HEARTBEAT")),
            (
                "sk".to_owned(),
                s(format!(
                    "{}#{}#{}#{}",
                    hb.master, hb.supervisor, hb.queue, hb.instance
                )),
            ),
            ("master".to_owned(), s(hb.master.clone())),
            ("supervisor".to_owned(), s(hb.supervisor.clone())),
            ("queue".to_owned(), s(hb.queue.clone())),
            ("instance".to_owned(), s(hb.instance.clone())),
            ("pid".to_owned(), n(hb.pid)),
            ("seenAt".to_owned(), n(hb.seen_at_ms)),
            ("expiresAt".to_owned(), n(hb.seen_at_ms / 1000 + 300)),
        ]);
        self.put_item(item, None, vec![]).await.map(|_| ())
    }

    async fn heartbeats(&self, since_ms: i64) -> StoreResult<Vec<Heartbeat>> {
        let items = self
            .query_all(
                "HEARTBEAT",
                None,
                Some(("seenAt >= :since", vec![(":since", n(since_ms))])),
            )
            .await?;
        Ok(items
            .iter()
            .filter_map(|i| {
                Some(Heartbeat {
                    master: opt_str(i, "master")?.to_owned(),
                    supervisor: opt_str(i, "supervisor")?.to_owned(),
                    queue: opt_str(i, "queue")?.to_owned(),
                    instance: opt_str(i, "instance")?.to_owned(),
                    pid: opt_num(i, "pid").unwrap_or(0),
                    seen_at_ms: opt_num(i, "seenAt")?,
                })
            })
            .collect())
    }

    async fn monitored(&self) -> StoreResult<Vec<(String, i64)>> {
        let items = self.query_all("MONITOR", None, None).await?;
        Ok(items
            .iter()
            .filter_map(|i| Some((opt_str(i, "sk")?.to_owned(), opt_num(i, "since")?)))
            .collect())
    }

    async fn monitor(&self, tag: &str, now: OffsetDateTime) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s("MONITOR")),
            ("sk".to_owned(), s(tag)),
            ("since".to_owned(), n(millis(now))),
        ]);
        match self
            .put_item(item, Some("attribute_not_exists(pk)"), vec![])
            .await
        {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()), // already monitored: unchanged
            Err(e) => Err(e),
        }
    }

    async fn unmonitor(&self, tag: &str) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s("MONITOR"))
            .key("sk", s(tag))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB DeleteItem", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn tag_job(&self, tag: &str, job: &JobId, expires_at: OffsetDateTime) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s(format!("TAGGED#{tag}"))),
            ("sk".to_owned(), s(job.to_string())),
            ("expiresAt".to_owned(), n(expires_at.unix_timestamp())),
        ]);
        self.put_item(item, None, vec![]).await.map(|_| ())
    }

    async fn tagged(
        &self,
        tag: &str,
        since_ms: i64,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<JobId>, bool)> {
        let pk = format!("TAGGED#{tag}");
        let start = match after {
            Some(cursor) => {
                let id = JobId::from_str(cursor).map_err(|_| {
                    StoreError::invalid("starting_at", "is not a job id from this list")
                })?;
                Some(HashMap::from([
                    ("pk".to_owned(), s(pk.clone())),
                    ("sk".to_owned(), s(id.to_string())),
                ]))
            }
            None => None,
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND sk >= :from")
            .expression_attribute_values(":p", s(pk))
            .expression_attribute_values(":from", s(first_id_at(since_ms)))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB Query", e))?;
        let ids = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|i| opt_str(i, "sk").and_then(|id| JobId::from_str(id).ok()))
            .collect();
        Ok((ids, out.last_evaluated_key.is_some()))
    }

    async fn tagged_count(&self, tag: &str, since_ms: i64) -> StoreResult<u64> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND sk >= :from")
            .expression_attribute_values(":p", s(format!("TAGGED#{tag}")))
            .expression_attribute_values(":from", s(first_id_at(since_ms)));
        self.count_all(query).await
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

    async fn set_paused(&self, queue: &str, paused: bool) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s("QUEUE")),
            ("sk".to_owned(), s(queue)),
            ("paused".to_owned(), AttributeValue::Bool(paused)),
        ]);
        self.put_item(item, None, vec![]).await.map(|_| ())
    }

    async fn paused(&self) -> StoreResult<Vec<String>> {
        let items = self.query_all("QUEUE", None, None).await?;
        Ok(items
            .iter()
            .filter(|i| i.get("paused").and_then(|v| v.as_bool().ok()) == Some(&true))
            .filter_map(|i| opt_str(i, "sk").map(str::to_owned))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use horizon_domain::monitoring::list_lower_bound;

    #[test]
    fn sort_keys_order_as_time() {
        assert!(bucket_key(Width::Minute, 9) < bucket_key(Width::Minute, 10));
        assert!(list_lower_bound(ListName::Failed, 999) < list_lower_bound(ListName::Failed, 1000));
        // Every id made at or after an instant sorts at or after the bound; earlier ones before.
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let bound = first_id_at(1_700_000_000_000);
        for _ in 0..100 {
            assert!(JobId::new(at).as_str() >= bound.as_str());
            let before = JobId::new(at - time::Duration::milliseconds(1));
            assert!(before.as_str() < bound.as_str());
        }
    }
}
