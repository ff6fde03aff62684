//! Jobs in the table: the version-checked store, listing, idempotency keys, the active index.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use crate::clients::unavailable;
use crate::dynamo::{
    from_json, from_millis, millis, n, num, opt_num, opt_str, s, str_attr, to_json, DynamoStore,
    Item,
};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use horizon_app::ports::{Along, IdempotencyRecord, JobFilter, JobStore, ProcessingChange};
use horizon_app::ports::{StoreError, StoreResult};
use horizon_domain::{
    AccountId, Job, JobError, JobId, JobRecord, JobResult, JobStatus, JobType, UploadId,
};

/// A job as an item, and back.
impl DynamoStore {
    pub(crate) fn job_item(&self, job: &Job) -> StoreResult<Item> {
        let mut item: Item = HashMap::new();
        item.insert("pk".into(), s(format!("JOB#{}", job.id())));
        item.insert("sk".into(), s("JOB"));
        item.insert("gsi1pk".into(), s(format!("ACCT#{}#JOBS", job.account())));
        item.insert("gsi1sk".into(), s(job.id().to_string()));
        item.insert("jobId".into(), s(job.id().to_string()));
        item.insert("jobType".into(), s(job.job_type().as_str()));
        item.insert("accountId".into(), s(job.account().to_string()));
        item.insert("uploadId".into(), s(job.upload_id().to_string()));
        item.insert("status".into(), s(job.status().as_str()));
        item.insert("createdAt".into(), n(millis(job.created_at())));
        item.insert("updatedAt".into(), n(millis(job.updated_at())));
        item.insert("version".into(), n(job.version()));
        item.insert("attempts".into(), n(job.attempts()));
        item.insert("expiresAt".into(), n(job.expires_at().unix_timestamp()));
        item.insert("options".into(), s(to_json(job.options())?));
        item.insert("history".into(), s(to_json(job.history())?));
        if !job.parts().is_empty() {
            item.insert("parts".into(), s(to_json(job.parts())?));
        }
        // In the sparse index of active jobs while queued (by last write) or processing (by the
        // end of its lease); the reaper reads the overdue ends of both.
        let active = match job.status() {
            JobStatus::Queued => Some(("QUEUED", job.updated_at())),
            JobStatus::Processing => {
                Some(("PROCESSING", job.lease_until().unwrap_or(job.updated_at())))
            }
            JobStatus::Completed | JobStatus::Failed => None,
        };
        if let Some((state, at)) = active {
            let shard = self.shard(job.id().as_str());
            item.insert("gsi2pk".into(), s(format!("{state}#{shard}")));
            item.insert("gsi2sk".into(), n(millis(at)));
        }
        if !job.tags().is_empty() {
            // A string set, so that listing can filter with contains().
            item.insert("tags".into(), AttributeValue::Ss(job.tags().to_vec()));
        }
        crate::dashboard::index_job(&mut item, job, self.shard(job.id().as_str()))?;
        if let Some(until) = job.lease_until() {
            item.insert("leaseUntil".into(), n(millis(until)));
        }
        if let Some(metadata) = &job.metadata() {
            item.insert("metadata".into(), s(to_json(metadata)?));
        }
        if !job.webhooks().is_empty() {
            item.insert("webhooks".into(), s(to_json(job.webhooks())?));
        }
        if let Some(progress) = &job.progress() {
            item.insert("progress".into(), s(to_json(progress)?));
        }
        if let Some(result) = &job.result() {
            item.insert("result".into(), s(to_json(result)?));
        }
        if let Some(err) = &job.error() {
            item.insert("error".into(), s(to_json(err)?));
        }
        if let Some(t) = job.started_at() {
            item.insert("startedAt".into(), n(millis(t)));
        }
        if let Some(t) = job.finished_at() {
            item.insert("finishedAt".into(), n(millis(t)));
        }
        if let Some(of) = &job.retry_of() {
            item.insert("retryOf".into(), s(of.to_string()));
        }
        if !job.retried_by().is_empty() {
            item.insert("retriedBy".into(), s(to_json(job.retried_by())?));
        }
        Ok(item)
    }

    pub(crate) fn job_from_item(item: &Item) -> StoreResult<Job> {
        fn json<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> StoreResult<Option<T>> {
            opt_str(item, name).map(from_json::<T>).transpose()
        }
        Ok(Job::from(JobRecord {
            id: JobId::from_str(str_attr(item, "jobId")?)?,
            job_type: JobType::from_str(str_attr(item, "jobType")?)?,
            account: AccountId(str_attr(item, "accountId")?.to_owned()),
            upload_id: UploadId::from_str(str_attr(item, "uploadId")?)?,
            status: JobStatus::from_str(str_attr(item, "status")?)?,
            created_at: from_millis(num(item, "createdAt")?)?,
            updated_at: from_millis(num(item, "updatedAt")?)?,
            version: num(item, "version")?,
            attempts: num(item, "attempts")?,
            lease_until: match item.get("leaseUntil") {
                Some(_) => Some(from_millis(num(item, "leaseUntil")?)?),
                None => None,
            },
            tags: item
                .get("tags")
                .and_then(|v| v.as_ss().ok())
                .cloned()
                .unwrap_or_default(),
            metadata: json(item, "metadata")?,
            options: json(item, "options")?.unwrap_or_default(),
            webhooks: json(item, "webhooks")?.unwrap_or_default(),
            progress: json(item, "progress")?,
            result: json::<JobResult>(item, "result")?,
            error: json::<JobError>(item, "error")?,
            expires_at: OffsetDateTime::from_unix_timestamp(num(item, "expiresAt")?)
                .map_err(|e| StoreError::Internal(format!("expiresAt out of range: {e}")))?,
            started_at: opt_num(item, "startedAt").map(from_millis).transpose()?,
            finished_at: opt_num(item, "finishedAt").map(from_millis).transpose()?,
            retry_of: opt_str(item, "retryOf").map(JobId::from_str).transpose()?,
            retried_by: json(item, "retriedBy")?.unwrap_or_default(),
            history: json(item, "history")?.unwrap_or_default(),
            parts: json(item, "parts")?.unwrap_or_default(),
        }))
    }
    pub(crate) fn idempotency_pk(account: &AccountId, key: &str) -> String {
        format!("IDEM#{account}#{}", horizon_domain::keys::hash(key))
    }
}

#[async_trait]
impl JobStore for DynamoStore {
    async fn create_within(
        &self,
        job: &Job,
        along: Along<'_>,
        limit: Option<u32>,
    ) -> StoreResult<()> {
        let put = |item: Item, condition: &str, values: Vec<(&str, AttributeValue)>| {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition)
                .set_expression_attribute_values(
                    (!values.is_empty())
                        .then(|| values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
                )
                .build()
                .map_err(|e| StoreError::Internal(format!("a transaction's write: {e}")))?;
            Ok::<_, StoreError>(TransactWriteItem::builder().put(put).build())
        };
        let new = put(self.job_item(job)?, "attribute_not_exists(pk)", vec![])?;
        let counted = self.count_active(job.account(), limit)?;
        let (second, refused) = match along {
            Along::Nothing => {
                return match self.transact(vec![new, counted]).await? {
                    None => Ok(()),
                    Some(0) => Err(StoreError::Conflict(format!(
                        "job {} exists already",
                        job.id()
                    ))),
                    Some(_) => Err(at_limit(limit)),
                };
            }
            Along::Key(key) => {
                let item: Item = HashMap::from([
                    (
                        "pk".to_owned(),
                        s(Self::idempotency_pk(&key.account, &key.key)),
                    ),
                    ("sk".to_owned(), s("IDEM")),
                    ("requestHash".to_owned(), s(key.request_hash.clone())),
                    ("jobId".to_owned(), s(job.id().to_string())),
                    ("expiresAt".to_owned(), n(key.expires_at.unix_timestamp())),
                ]);
                let now = n(self.clock.now().unix_timestamp());
                let write = put(
                    item,
                    "attribute_not_exists(pk) OR expiresAt < :now",
                    vec![(":now", now)],
                )?;
                let refused =
                    StoreError::Conflict("the idempotency key names another job".to_owned());
                (write, refused)
            }
            Along::Replacing(other) => {
                let write = put(
                    self.job_item(other)?,
                    "version = :v",
                    vec![(":v", n(other.version() - 1))],
                )?;
                let refused =
                    StoreError::Stale(format!("job {} changed since it was read", other.id()));
                (write, refused)
            }
        };
        match self.transact(vec![new, second, counted]).await? {
            None => Ok(()),
            Some(0) => Err(StoreError::Conflict(format!(
                "job {} exists already",
                job.id()
            ))),
            Some(1) => Err(refused),
            Some(_) => Err(at_limit(limit)),
        }
    }

    async fn get(&self, id: &JobId) -> StoreResult<Option<Job>> {
        match self.get_item(format!("JOB#{id}"), "JOB").await? {
            Some(item) => Ok(Some(Self::job_from_item(&item)?)),
            None => Ok(None),
        }
    }

    async fn replace(&self, job: &Job) -> StoreResult<()> {
        let item = self.job_item(job)?;
        self.put_item(
            item,
            Some("version = :v"),
            vec![(":v", n(job.version() - 1))],
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(why) => StoreError::Stale(why),
            other => other,
        })?;
        Ok(())
    }

    async fn replace_counting(&self, job: &Job, change: ProcessingChange) -> StoreResult<()> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.job_item(job)?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(job.version() - 1))
            .build()
            .map_err(|e| StoreError::Internal(format!("a transaction's write: {e}")))?;
        let (by, cap) = match change {
            ProcessingChange::Take(cap) => (1, cap),
            ProcessingChange::Release => (-1, None),
        };
        // A kept count's change: when it changed, for the reconciler (see `count_change`).
        let (expression, names, values) =
            self.count_change(Some(job.account()), "processing", by, self.clock.now());
        let mut count = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("pk", s(format!("ACCT#{}", job.account())))
            .key("sk", s("ACTIVE"))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values));
        if let Some(cap) = cap {
            count = count
                .condition_expression("attribute_not_exists(#f) OR #f < :cap")
                .expression_attribute_values(":cap", n(cap));
        }
        let count = count
            .build()
            .map_err(|e| StoreError::Internal(format!("a transaction's write: {e}")))?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(count).build(),
        ];
        match self.transact(items).await? {
            None => Ok(()),
            Some(0) => Err(StoreError::Stale(format!(
                "job {} changed since it was read",
                job.id()
            ))),
            Some(_) => Err(StoreError::AtLimit(format!(
                "account {} has {} jobs processing, its cap",
                job.account(),
                cap.unwrap_or(0)
            ))),
        }
    }

    async fn list(
        &self,
        account: &AccountId,
        filter: &JobFilter,
        after: Option<&JobId>,
        limit: usize,
    ) -> StoreResult<(Vec<Job>, Option<JobId>)> {
        let gsi1pk = format!("ACCT#{account}#JOBS");
        let mut conditions = vec!["expiresAt > :now"];
        let mut values: Vec<(&str, AttributeValue)> = vec![
            (":p", s(gsi1pk.clone())),
            (":now", n(self.clock.now().unix_timestamp())),
        ];
        if let Some(status) = filter.status {
            conditions.push("#status = :status");
            values.push((":status", s(status.as_str())));
        }
        if let Some(job_type) = filter.job_type {
            conditions.push("jobType = :type");
            values.push((":type", s(job_type.as_str())));
        }
        if let Some(tag) = &filter.tag {
            conditions.push("contains(tags, :tag)");
            values.push((":tag", s(tag.clone())));
        }
        let mut start: Option<Item> = after.map(|id| {
            HashMap::from([
                ("pk".to_owned(), s(format!("JOB#{id}"))),
                ("sk".to_owned(), s("JOB")),
                ("gsi1pk".to_owned(), s(gsi1pk.clone())),
                ("gsi1sk".to_owned(), s(id.to_string())),
            ])
        });
        let mut jobs = Vec::new();
        // Filters apply after DynamoDB's page limit: keep reading (boundedly) until the page fills.
        for _ in 0..20 {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :p")
                .filter_expression(conditions.join(" AND "))
                .scan_index_forward(false)
                .limit((limit + 1).min(1000) as i32)
                .set_exclusive_start_key(start.take());
            if filter.status.is_some() {
                req = req.expression_attribute_names("#status", "status");
            }
            for (k, v) in &values {
                req = req.expression_attribute_values(*k, v.clone());
            }
            let out = req
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB Query", e))?;
            for item in out.items.unwrap_or_default() {
                jobs.push(Self::job_from_item(&item)?);
            }
            start = out.last_evaluated_key;
            if jobs.len() > limit || start.is_none() {
                break;
            }
        }
        Ok(horizon_app::ports::job_page(jobs, limit, start.is_some()))
    }

    async fn overdue(
        &self,
        queued_before: OffsetDateTime,
        leased_before: OffsetDateTime,
        limit: usize,
    ) -> StoreResult<Vec<JobId>> {
        let mut ids = Vec::new();
        for (state, before) in [("PROCESSING", leased_before), ("QUEUED", queued_before)] {
            for shard in 0..self.shards {
                if ids.len() >= limit {
                    return Ok(ids);
                }
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name("gsi2")
                    .key_condition_expression("gsi2pk = :p AND gsi2sk <= :before")
                    .expression_attribute_values(":p", s(format!("{state}#{shard}")))
                    .expression_attribute_values(":before", n(millis(before)))
                    .limit((limit - ids.len()) as i32)
                    .send()
                    .await
                    .map_err(|e| unavailable("DynamoDB Query", e))?;
                for item in out.items.unwrap_or_default() {
                    if let Some(id) = opt_str(&item, "pk").and_then(|pk| pk.strip_prefix("JOB#")) {
                        ids.push(JobId::from_str(id)?);
                    }
                }
            }
        }
        Ok(ids)
    }

    async fn idempotency(
        &self,
        account: &AccountId,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let Some(item) = self
            .get_item(Self::idempotency_pk(account, key), "IDEM")
            .await?
        else {
            return Ok(None);
        };
        // A record from before keys were written with their job (it has no job id) is past.
        let Some(job_id) = opt_str(&item, "jobId") else {
            return Ok(None);
        };
        Ok(Some(IdempotencyRecord {
            request_hash: str_attr(&item, "requestHash")?.to_owned(),
            job_id: JobId::from_str(job_id)?,
        }))
    }

    /// The job's partition holds its record, its delivery log and the marks of its writes
    /// applied by the outbox. The record and the log go; the marks stay until they expire with
    /// the job's own time, so a record of the job read again after the delete (the stream
    /// gives each at least once) is still known as applied.
    async fn delete(&self, id: &JobId) -> StoreResult<()> {
        let pk = format!("JOB#{id}");
        for item in self.items_under(pk.clone(), "").await? {
            let sk = str_attr(&item, "sk")?;
            if !crate::dashboard::is_applied_mark(sk) {
                self.delete_item(pk.clone(), sk.to_owned()).await?;
            }
        }
        Ok(())
    }
}

/// Why a new job was refused at its account's limit.
fn at_limit(limit: Option<u32>) -> StoreError {
    StoreError::AtLimit(horizon_app::jobs::at_limit(limit.unwrap_or(0)))
}

impl DynamoStore {
    /// The write that counts a new job among its account's active jobs, refused when the
    /// account has `limit` already (the outbox takes one off as a job ends).
    fn count_active(
        &self,
        account: &AccountId,
        limit: Option<u32>,
    ) -> StoreResult<TransactWriteItem> {
        let (expression, names, values) =
            self.count_change(Some(account), "jobs", 1, self.clock.now());
        let mut update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("pk", s(format!("ACCT#{account}")))
            .key("sk", s("ACTIVE"))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values));
        if let Some(max) = limit {
            update = update
                .condition_expression("attribute_not_exists(#f) OR #f < :max")
                .expression_attribute_values(":max", n(max));
        }
        let update = update
            .build()
            .map_err(|e| StoreError::Internal(format!("a transaction's write: {e}")))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}
