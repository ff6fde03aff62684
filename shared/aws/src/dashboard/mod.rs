//! The dashboard's adapters: its DynamoDB items (in the one table), SQS queue attributes, and
//! the worker fleet (the local runner's pollers, or Lambda's event source mappings).
//!
//! Items, besides the job records' index attributes (`gsi3*`, `gsi4*`, `allTags`):
//! - `TALLY#<shard>` / `m#<minute>`, `h#<hour>`: jobs pushed, completed, failed in that bucket;
//!   `GAUGE#<shard>` / `gauge`: jobs pending now. Summed over their shards (`shards`).
//! - `METRICS#<shard>` / `counter#<kind>#<name>`: counters since the last snapshot, summed over
//!   their shards; `METRICS` / `snaps#<kind>#<name>`: the kept snapshots; `lock#<slot>`: who took a slot's snapshot;
//!   `state`: when the last snapshot was taken.
//! - `HEARTBEAT` / `<master>#<supervisor>#<queue>#<instance>`: a live worker (TTL).
//! - `MONITOR` / `<tag>`: a monitored tag; `TAGGED#<tag>` / `<jobId>`: its jobs (TTL).
//! - `QUEUE` / `<name>`: whether the queue is paused.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, Select, TransactWriteItem, Update,
};
use time::OffsetDateTime;

use crate::clients::unavailable;
use crate::dynamo::{from_json, millis, n, opt_num, opt_str, s, to_json, DynamoStore, Item};
use horizon_app::ports::{
    Counts, JobLists, MetricHistory, MetricsStore, TagIndex, Workers, COUNT_SCAN_CAP,
};
use horizon_app::ports::{StoreError, StoreResult};
use horizon_app::retry::Backoff;
use horizon_domain::monitoring::{
    self, first_id_at, Counter, Heartbeat, ListName, MetricId, MetricKind, Search, Snapshot, Tally,
    Width,
};
use horizon_domain::AccountId;
use horizon_domain::{Job, JobId, JobStatus};

/// The dashboard's attributes of a job record: its place in the lists, its tags, its search text.
pub(super) fn index_job(item: &mut Item, job: &Job, shard: u32) -> StoreResult<()> {
    item.insert("gsi4pk".into(), s(list_pk("DASH#recent", shard)));
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
    item.insert("gsi3pk".into(), s(list_pk(&format!("DASH#{list}"), shard)));
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

/// One shard of a list's partition key.
fn list_pk(list: &str, shard: u32) -> String {
    format!("{list}#{shard}")
}

/// The shards of the counts every job adds to: the time buckets (`TALLY#<shard>`), the pending
/// gauge (`GAUGE#<shard>` / `gauge`) and the metric counters (`METRICS#<shard>`). A
/// transaction of the outbox adds to one shard; readers add the shards up.
fn tally_pk(shard: u32) -> String {
    format!("TALLY#{shard}")
}

fn gauge_pk(shard: u32) -> String {
    format!("GAUGE#{shard}")
}

fn counters_pk(shard: u32) -> String {
    format!("METRICS#{shard}")
}

impl DynamoStore {
    /// Every shard's pending gauge item (those ever written).
    async fn gauges(&self) -> StoreResult<Vec<Item>> {
        let keys = (0..self.shards)
            .map(|shard| {
                HashMap::from([
                    ("pk".to_owned(), s(gauge_pk(shard))),
                    ("sk".to_owned(), s("gauge")),
                ])
            })
            .collect();
        self.batch_get(keys).await
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
    fn add<K: Into<String>>(
        &self,
        pk: &str,
        sk: String,
        expression: &str,
        names: HashMap<String, String>,
        values: impl IntoIterator<Item = (K, AttributeValue)>,
    ) -> StoreResult<TransactWriteItem> {
        self.add_on_condition(pk, &sk, expression, None, names, values)
    }

    /// An update of a counter item, as a part of a transaction, if `condition` holds.
    fn add_on_condition<K: Into<String>>(
        &self,
        pk: &str,
        sk: &str,
        expression: &str,
        condition: Option<&str>,
        names: HashMap<String, String>,
        values: impl IntoIterator<Item = (K, AttributeValue)>,
    ) -> StoreResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(
                values.into_iter().map(|(k, v)| (k.into(), v)).collect(),
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

    /// A query of one shard of a dashboard list's index: key condition (with `below`, the
    /// sort keys under it), optional lower bound, and search.
    fn list_query(
        &self,
        list: ListName,
        shard: u32,
        since_ms: Option<i64>,
        search: &Search,
        below: Option<&str>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let (index, pk_attr, sk_attr, pk) = list_index(list);
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":p", s(list_pk(pk, shard)))
            .scan_index_forward(false);
        let (from, mut to) = search.key_range(list, since_ms);
        if let Some(below) = below {
            to = Some(to.map_or(below.to_owned(), |to| to.min(below.to_owned())));
        }
        req = match (from, to) {
            // Inclusive of `to`: a sort key equal to it (the cursor's) is dropped by the reader.
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
        shard: u32,
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
            &tally_pk(shard),
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
        let shard = jobs.first().map_or(0, |j| self.shard(j.id().as_str()));
        for ((width, bucket), fields) in buckets {
            adds.push(self.bucket_add(shard, width, bucket, fields)?);
        }
        let gauge = vec![(":by", n(pending))];
        adds.push(self.add(
            &gauge_pk(shard),
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
/// (expiring with the job; it outlives a delete).
fn applied_key(version: u64) -> String {
    format!("{APPLIED}{version:010}")
}

const APPLIED: &str = "APPLIED#";

/// Whether a job partition's sort key is an applied mark's.
pub(crate) fn is_applied_mark(sk: &str) -> bool {
    sk.starts_with(APPLIED)
}

/// The update of a kept count (an account's active jobs, or the pending gauge: `account`
/// `None`) by `by`, in field `field` (`#f`): when it changed goes with it, for the reconciler,
/// and an account's count is filed in the active-job index (`COUNTED#<shard>`) so that the
/// reconciler finds every account that has one.
impl DynamoStore {
    pub(crate) fn count_change(
        &self,
        account: Option<&AccountId>,
        field: &str,
        by: i64,
        now: time::OffsetDateTime,
    ) -> (
        String,
        HashMap<String, String>,
        HashMap<String, AttributeValue>,
    ) {
        let names = HashMap::from([
            ("#f".to_owned(), field.to_owned()),
            ("#c".to_owned(), changed_at(field).to_owned()),
        ]);
        let mut values = HashMap::from([
            (":by".to_owned(), n(by)),
            (":changed".to_owned(), n(millis(now))),
        ]);
        let expression = match account {
            Some(account) => {
                values.insert(":counted".into(), s(self.counted_key(account)));
                values.insert(":zero".into(), n(0));
                "ADD #f :by SET #c = :changed, gsi2pk = :counted, gsi2sk = :zero"
            }
            None => "ADD #f :by SET #c = :changed",
        };
        (expression.to_owned(), names, values)
    }
}

/// When a kept count last changed (unix ms).
pub(crate) const CHANGED_AT: &str = "changedAt";

/// The attribute that says when the kept count in `field` last changed: an account's jobs
/// processing have their own, apart from its active jobs' on the same item, so that the
/// reconciler repairs each on its own settling.
pub(crate) fn changed_at(field: &str) -> &'static str {
    match field {
        "processing" => "processingChangedAt",
        _ => CHANGED_AT,
    }
}

impl DynamoStore {
    /// Where an account's count is filed in the active-job index.
    fn counted_key(&self, account: &AccountId) -> String {
        format!("COUNTED#{}", self.shard(&account.0))
    }
}

mod counts;
mod lists;
mod metrics;
mod tags;
mod workers;

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
