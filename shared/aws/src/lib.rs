//! AWS adapters for the ports: DynamoDB (jobs, uploads), SQS (work queue), S3 (blobs); the
//! dashboard's in [`dashboard`].

pub mod dashboard;
#[cfg(feature = "test-support")]
mod faulty;
#[cfg(feature = "test-support")]
mod meter;
pub mod services;
#[cfg(feature = "test-support")]
pub use meter::request_counts;
#[cfg(feature = "lambda-fleet")]
pub mod lambda;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client as S3Client;
use aws_sdk_sqs::Client as SqsClient;
use bytes::Bytes;
use time::OffsetDateTime;

use horizon_app::config::Config;
use horizon_app::ports::{
    AccountStore, Blob, BlobStore, Clock, DeliveryLog, DeliveryQueue, IdempotencyRecord, JobFilter,
    JobStore, UploadStore, WorkMessage, WorkQueue,
};
use horizon_app::ports::{StoreError, StoreResult};
use horizon_domain::deliveries::{Attempt, DeliveryMessage};
use horizon_domain::keys::ApiKey;
use horizon_domain::{
    AccountId, Job, JobError, JobId, JobRecord, JobResult, JobStatus, JobType, KeyId, Subscription,
    Upload, UploadId, WebhookId,
};

/// The shared SDK configuration: region, credentials and endpoint (`AWS_ENDPOINT_URL` points it at
/// LocalStack) from the environment. Loading it makes no network call.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The SDK's HTTP client: hyper with rustls over ring (the SDK's default would link aws-lc, a
/// megabyte more in every function and a C library to build).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// [`sdk_config`], with `faults` injected into its HTTP client when any are switched on (only in
/// a build with `test-support`). Faults are for the local stack, so that client speaks plain HTTP.
pub async fn sdk_config_with(faults: horizon_app::faults::Faults) -> aws_config::SdkConfig {
    let sdk = sdk_config().await;
    #[cfg(not(feature = "test-support"))]
    let _ = faults;
    #[cfg(feature = "test-support")]
    if faults.any() {
        let inner = sdk
            .http_client()
            .unwrap_or_else(|| aws_smithy_http_client::Builder::new().build_http());
        return sdk
            .into_builder()
            .http_client(faulty::FaultyClient { inner, faults })
            .build();
    }
    sdk
}

pub fn dynamodb_client(sdk: &aws_config::SdkConfig) -> DynamoClient {
    let conf = aws_sdk_dynamodb::config::Builder::from(sdk);
    #[cfg(feature = "test-support")]
    let conf = conf.interceptor(meter::RequestMeter);
    DynamoClient::from_conf(conf.build())
}

pub fn sqs_client(sdk: &aws_config::SdkConfig) -> SqsClient {
    let conf = aws_sdk_sqs::config::Builder::from(sdk);
    #[cfg(feature = "test-support")]
    let conf = conf.interceptor(meter::RequestMeter);
    SqsClient::from_conf(conf.build())
}

pub fn s3_client(sdk: &aws_config::SdkConfig, config: &Config) -> S3Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk);
    #[cfg(feature = "test-support")]
    let conf = conf.interceptor(meter::RequestMeter);
    let conf = conf
        .force_path_style(config.stack.s3_path_style)
        // Checksums only where S3 requires them: a presigned PUT must not expect a checksum
        // header that a plain HTTP client will not send.
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .build();
    S3Client::from_conf(conf)
}

/// An SDK failure as our error: a dependency problem, with its whole cause chain for the log.
fn unavailable<E>(what: &str, err: E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::Unavailable(format!(
        "{what}: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(err)
    ))
}

// ---------------------------------------------------------------------------------------------
// DynamoDB: one table, items keyed by `pk` + `sk`; `gsi1` lists an account's items newest first.

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: DynamoClient,
    table: String,
    /// What "now" is for expiry (the service's clock, as everywhere else).
    clock: Arc<dyn Clock>,
}

/// The active-job index is spread over this many partitions, so no one partition is hot.
const ACTIVE_SHARDS: u32 = 8;

impl DynamoStore {
    pub fn new(client: DynamoClient, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            clock,
        }
    }

    async fn get_item(&self, pk: String, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB GetItem", e))?;
        // Expired items linger until DynamoDB's sweep removes them: treat them as gone already.
        Ok(out.item.filter(|item| {
            num::<i64>(item, "expiresAt")
                .map(|exp| exp > self.clock.now().unix_timestamp())
                .unwrap_or(true)
        }))
    }

    /// Writes `item`, if `condition` (when given) holds with `values` bound in it; `Conflict`
    /// when it does not. Returns the item it replaced, if any (at no extra cost).
    async fn put_item(
        &self,
        item: Item,
        condition: Option<&str>,
        values: Vec<(&str, AttributeValue)>,
    ) -> StoreResult<Option<Item>> {
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .set_condition_expression(condition.map(str::to_owned));
        for (name, value) in values {
            req = req.expression_attribute_values(name, value);
        }
        match req.send().await {
            Ok(out) => Ok(out.attributes.filter(|a| !a.is_empty())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict(format!(
                    "the record changed since it was read ({} no longer holds)",
                    condition.unwrap_or_default()
                )))
            }
            Err(e) => Err(unavailable("DynamoDB PutItem", e)),
        }
    }

    fn job_item(&self, job: &Job) -> StoreResult<Item> {
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
            let shard = job
                .id()
                .as_str()
                .bytes()
                .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
                % ACTIVE_SHARDS;
            item.insert("gsi2pk".into(), s(format!("{state}#{shard}")));
            item.insert("gsi2sk".into(), n(millis(at)));
        }
        if !job.tags().is_empty() {
            // A string set, so that listing can filter with contains().
            item.insert("tags".into(), AttributeValue::Ss(job.tags().to_vec()));
        }
        dashboard::index_job(&mut item, job)?;
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
        Ok(item)
    }

    fn job_from_item(item: &Item) -> StoreResult<Job> {
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
        }))
    }

    /// Every item under partition `pk` whose sort key starts with `prefix`, in order, across
    /// DynamoDB's pages (strongly consistent).
    async fn items_under(&self, pk: String, prefix: &str) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p AND begins_with(sk, :prefix)")
                .expression_attribute_values(":p", s(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB Query", e))?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    fn idempotency_pk(account: &AccountId, key: &str) -> String {
        format!("IDEM#{account}#{}", horizon_domain::keys::hash(key))
    }
}

#[async_trait]
impl JobStore for DynamoStore {
    async fn create(&self, job: &Job) -> StoreResult<()> {
        self.put_item(
            self.job_item(job)?,
            Some("attribute_not_exists(pk)"),
            vec![],
        )
        .await?;
        self.count_transition(None, job).await;
        Ok(())
    }

    async fn get(&self, id: &JobId) -> StoreResult<Option<Job>> {
        match self.get_item(format!("JOB#{id}"), "JOB").await? {
            Some(item) => Ok(Some(Self::job_from_item(&item)?)),
            None => Ok(None),
        }
    }

    async fn replace(&self, job: &Job) -> StoreResult<()> {
        let item = self.job_item(job)?;
        let old = self
            .put_item(
                item,
                Some("version = :v"),
                vec![(":v", n(job.version() - 1))],
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(why) => StoreError::Stale(why),
                other => other,
            })?;
        let before = old
            .as_ref()
            .and_then(|o| opt_str(o, "status"))
            .and_then(|st| JobStatus::from_str(st).ok());
        self.count_transition(before, job).await;
        Ok(())
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
        let more = jobs.len() > limit || start.is_some();
        jobs.truncate(limit);
        let next = if more {
            jobs.last().map(|j| j.id().clone())
        } else {
            None
        };
        Ok((jobs, next))
    }

    async fn overdue(
        &self,
        queued_before: OffsetDateTime,
        leased_before: OffsetDateTime,
        limit: usize,
    ) -> StoreResult<Vec<JobId>> {
        let mut ids = Vec::new();
        for (state, before) in [("PROCESSING", leased_before), ("QUEUED", queued_before)] {
            for shard in 0..ACTIVE_SHARDS {
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

    async fn idempotency_claim(
        &self,
        account: &AccountId,
        key: &str,
        request_hash: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let pk = Self::idempotency_pk(account, key);
        // A record released between our failed claim and our read (the request that held it
        // failed) is claimed again.
        for _ in 0..3 {
            let item: Item = HashMap::from([
                ("pk".to_owned(), s(pk.clone())),
                ("sk".to_owned(), s("IDEM")),
                ("requestHash".to_owned(), s(request_hash)),
                ("expiresAt".to_owned(), n(expires_at.unix_timestamp())),
            ]);
            let now = n(self.clock.now().unix_timestamp());
            match self
                .put_item(
                    item,
                    Some("attribute_not_exists(pk) OR expiresAt < :now"),
                    vec![(":now", now)],
                )
                .await
            {
                Ok(_) => return Ok(None),
                Err(StoreError::Conflict(_)) => {
                    let Some(item) = self.get_item(pk.clone(), "IDEM").await? else {
                        continue;
                    };
                    return Ok(Some(IdempotencyRecord {
                        request_hash: str_attr(&item, "requestHash")?.to_owned(),
                        job_id: opt_str(&item, "jobId").map(JobId::from_str).transpose()?,
                    }));
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(
            "the idempotency record kept changing; retry".into(),
        ))
    }

    async fn idempotent_done(
        &self,
        account: &AccountId,
        key: &str,
        job: &JobId,
    ) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(Self::idempotency_pk(account, key)))
            .key("sk", s("IDEM"))
            .update_expression("SET jobId = :j")
            .expression_attribute_values(":j", s(job.to_string()))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB UpdateItem", e))?;
        Ok(())
    }

    async fn idempotency_release(&self, account: &AccountId, key: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(Self::idempotency_pk(account, key)))
            .key("sk", s("IDEM"))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB DeleteItem", e))?;
        Ok(())
    }
}

#[async_trait]
impl DeliveryLog for DynamoStore {
    async fn record(&self, job: &JobId, attempt: &Attempt) -> StoreResult<()> {
        let sk = format!(
            "DELIVERY#{}#{}#{:03}",
            attempt.at, attempt.delivery_id, attempt.attempt
        );
        let mut item: Item = HashMap::from([
            ("pk".to_owned(), s(format!("JOB#{job}"))),
            ("sk".to_owned(), s(sk)),
            ("attempt".to_owned(), s(to_json(attempt)?)),
            (
                "expiresAt".to_owned(),
                n((self.clock.now() + time::Duration::days(3)).unix_timestamp()),
            ),
        ]);
        if let Some(message) = &attempt.message {
            item.insert("message".into(), s(to_json(message)?));
        }
        self.put_item(item, None, vec![]).await.map(|_| ())
    }

    async fn attempts(&self, job: &JobId) -> StoreResult<Vec<Attempt>> {
        self.items_under(format!("JOB#{job}"), "DELIVERY#")
            .await?
            .iter()
            .map(|item| {
                let mut attempt: Attempt = from_json(str_attr(item, "attempt")?)?;
                attempt.message = opt_str(item, "message").map(from_json).transpose()?;
                Ok(attempt)
            })
            .collect()
    }
}

#[async_trait]
impl AccountStore for DynamoStore {
    async fn put_key(&self, key: &ApiKey) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s(format!("APIKEY#{}", key.hash))),
            ("sk".to_owned(), s("APIKEY")),
            ("gsi1pk".to_owned(), s(format!("KEYID#{}", key.id))),
            ("gsi1sk".to_owned(), s("KEY")),
            ("keyId".to_owned(), s(key.id.to_string())),
            ("hash".to_owned(), s(key.hash.clone())),
            ("accountId".to_owned(), s(key.account.to_string())),
            ("createdAt".to_owned(), n(millis(key.created_at))),
            ("revoked".to_owned(), AttributeValue::Bool(key.revoked)),
        ]);
        self.put_item(item, None, vec![]).await.map(|_| ())
    }

    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>> {
        let Some(item) = self.get_item(format!("APIKEY#{hash}"), "APIKEY").await? else {
            return Ok(None);
        };
        Ok(Some(ApiKey {
            id: KeyId::from_str(str_attr(&item, "keyId")?)?,
            account: AccountId(str_attr(&item, "accountId")?.to_owned()),
            hash: str_attr(&item, "hash")?.to_owned(),
            created_at: from_millis(num(&item, "createdAt")?)?,
            revoked: item
                .get("revoked")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
        }))
    }

    async fn revoke_key(&self, key_id: &KeyId, owner: Option<&AccountId>) -> StoreResult<bool> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", s(format!("KEYID#{key_id}")))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB Query", e))?;
        let Some(item) = out.items.unwrap_or_default().into_iter().next() else {
            return Ok(false);
        };
        if owner.is_some_and(|owner| str_attr(&item, "accountId").ok() != Some(owner.0.as_str())) {
            return Ok(false);
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(str_attr(&item, "pk")?))
            .key("sk", s("APIKEY"))
            .update_expression("SET revoked = :t")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB UpdateItem", e))?;
        Ok(true)
    }

    async fn put_webhook(&self, account: &AccountId, sub: &Subscription) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s(format!("ACCT#{account}"))),
            ("sk".to_owned(), s(format!("WEBHOOK#{}", sub.id))),
            ("subscription".to_owned(), s(to_json(sub)?)),
        ]);
        self.put_item(item, Some("attribute_not_exists(pk)"), vec![])
            .await
            .map(|_| ())
    }

    async fn update_webhook(&self, account: &AccountId, sub: &Subscription) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s(format!("ACCT#{account}"))),
            ("sk".to_owned(), s(format!("WEBHOOK#{}", sub.id))),
            ("subscription".to_owned(), s(to_json(sub)?)),
        ]);
        self.put_item(item, Some("attribute_exists(pk)"), vec![])
            .await
            .map(|_| ())
    }

    async fn webhooks(&self, account: &AccountId) -> StoreResult<Vec<Subscription>> {
        self.items_under(format!("ACCT#{account}"), "WEBHOOK#")
            .await?
            .iter()
            .map(|item| from_json(str_attr(item, "subscription")?))
            .collect()
    }

    async fn delete_webhook(&self, account: &AccountId, id: &WebhookId) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("ACCT#{account}")))
            .key("sk", s(format!("WEBHOOK#{id}")))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB DeleteItem", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}

impl DynamoStore {
    fn upload_item(upload: &Upload) -> Item {
        let mut item: Item = HashMap::new();
        item.insert("pk".into(), s(format!("UPLOAD#{}", upload.id)));
        item.insert("sk".into(), s("UPLOAD"));
        item.insert("uploadId".into(), s(upload.id.to_string()));
        item.insert("accountId".into(), s(upload.account.to_string()));
        item.insert("pending".into(), AttributeValue::Bool(upload.pending));
        item.insert("contentType".into(), s(upload.content_type.clone()));
        item.insert("size".into(), n(upload.size));
        item.insert("sha256".into(), s(upload.sha256.clone()));
        item.insert("createdAt".into(), n(millis(upload.created_at)));
        item.insert("expiresAt".into(), n(upload.expires_at.unix_timestamp()));
        if let Some(name) = &upload.filename {
            item.insert("filename".into(), s(name.clone()));
        }
        for (name, value) in [
            ("width", upload.width),
            ("height", upload.height),
            ("pages", upload.pages),
        ] {
            if let Some(v) = value {
                item.insert(name.into(), n(v));
            }
        }
        item
    }
}

#[async_trait]
impl UploadStore for DynamoStore {
    async fn put(&self, upload: &Upload) -> StoreResult<()> {
        self.put_item(
            Self::upload_item(upload),
            Some("attribute_not_exists(pk)"),
            vec![],
        )
        .await
        .map(|_| ())
    }

    async fn complete(&self, upload: &Upload) -> StoreResult<()> {
        let item = Self::upload_item(upload);
        self.put_item(
            item,
            Some("pending = :true"),
            vec![(":true", AttributeValue::Bool(true))],
        )
        .await
        .map(|_| ())
    }

    async fn get(&self, id: &UploadId) -> StoreResult<Option<Upload>> {
        let Some(item) = self.get_item(format!("UPLOAD#{id}"), "UPLOAD").await? else {
            return Ok(None);
        };
        let opt_num = |name: &str| item.get(name).and_then(|_| num::<u32>(&item, name).ok());
        Ok(Some(Upload {
            id: UploadId::from_str(str_attr(&item, "uploadId")?)?,
            account: AccountId(str_attr(&item, "accountId")?.to_owned()),
            pending: item
                .get("pending")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            content_type: str_attr(&item, "contentType")?.to_owned(),
            size: num(&item, "size")?,
            sha256: str_attr(&item, "sha256")?.to_owned(),
            filename: opt_str(&item, "filename").map(str::to_owned),
            width: opt_num("width"),
            height: opt_num("height"),
            pages: opt_num("pages"),
            created_at: from_millis(num(&item, "createdAt")?)?,
            expires_at: OffsetDateTime::from_unix_timestamp(num(&item, "expiresAt")?)
                .map_err(|e| StoreError::Internal(format!("expiresAt out of range: {e}")))?,
        }))
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_millis(ms: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .map_err(|e| StoreError::Internal(format!("timestamp {ms} out of range: {e}")))
}

fn str_attr<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    opt_str(item, name).ok_or_else(|| StoreError::Internal(format!("stored item lacks {name}")))
}

fn opt_str<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn opt_num<T: FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn num<T: FromStr>(item: &Item, name: &str) -> StoreResult<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Internal(format!("stored item lacks a numeric {name}")))
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(format!("serialising: {e}")))
}

fn from_json<'a, T: serde::Deserialize<'a>>(json: &'a str) -> StoreResult<T> {
    serde_json::from_str(json).map_err(|e| StoreError::Internal(format!("stored JSON: {e}")))
}

// ---------------------------------------------------------------------------------------------
// SQS

pub struct SqsWorkQueue {
    client: SqsClient,
    queue_url: String,
}

impl SqsWorkQueue {
    pub fn new(client: SqsClient, queue_url: impl Into<String>) -> Self {
        SqsWorkQueue {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl WorkQueue for SqsWorkQueue {
    async fn enqueue(&self, message: &WorkMessage) -> StoreResult<()> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(to_json(message)?)
            .send()
            .await
            .map_err(|e| unavailable("SQS SendMessage", e))?;
        Ok(())
    }

    async fn retry_later(&self, receipt_handle: &str, delay: Duration) -> StoreResult<()> {
        // SQS allows 0 to 43,200 seconds.
        let seconds = delay.as_secs().min(43_200) as i32;
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| unavailable("SQS ChangeMessageVisibility", e))?;
        Ok(())
    }
}

/// Webhook deliveries on SQS, with the dead-letter queue for those given up on.
pub struct SqsDeliveryQueue {
    client: SqsClient,
    queue_url: String,
    dlq_url: Option<String>,
}

impl SqsDeliveryQueue {
    pub fn new(client: SqsClient, queue_url: impl Into<String>, dlq_url: Option<String>) -> Self {
        SqsDeliveryQueue {
            client,
            queue_url: queue_url.into(),
            dlq_url,
        }
    }
}

#[async_trait]
impl DeliveryQueue for SqsDeliveryQueue {
    async fn send(&self, message: &DeliveryMessage, delay: Duration) -> StoreResult<()> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(to_json(message)?)
            .delay_seconds(delay.as_secs().min(900) as i32)
            .send()
            .await
            .map_err(|e| unavailable("SQS SendMessage", e))?;
        Ok(())
    }

    async fn dead_letter(&self, message: &DeliveryMessage) -> StoreResult<()> {
        let Some(dlq) = &self.dlq_url else {
            return Err(StoreError::Internal(
                "HORIZON_WEBHOOK_DLQ_URL is not set: cannot dead-letter".into(),
            ));
        };
        self.client
            .send_message()
            .queue_url(dlq)
            .message_body(to_json(message)?)
            .send()
            .await
            .map_err(|e| unavailable("SQS SendMessage (DLQ)", e))?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// S3

pub struct S3Blobs {
    client: S3Client,
    bucket: String,
}

impl S3Blobs {
    pub fn new(client: S3Client, bucket: impl Into<String>) -> Self {
        S3Blobs {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> StoreResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| unavailable("S3 PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        self.fetch(key, None).await
    }

    async fn get_range(&self, key: &str, first: u64, last: u64) -> StoreResult<Option<Blob>> {
        self.fetch(key, Some(format!("bytes={first}-{last}"))).await
    }

    async fn presign_put(&self, key: &str, ttl: Duration) -> StoreResult<String> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| unavailable("S3 presign PutObject", e))?;
        Ok(req.uri().to_owned())
    }

    async fn presign_get(
        &self,
        key: &str,
        content_type: &str,
        ttl: Duration,
    ) -> StoreResult<String> {
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type(content_type)
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| unavailable("S3 presign GetObject", e))?;
        Ok(req.uri().to_owned())
    }
}

impl S3Blobs {
    async fn fetch(&self, key: &str, range: Option<String>) -> StoreResult<Option<Blob>> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range.clone())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                return Err(StoreError::Range(format!(
                    "{} of {key}",
                    range.unwrap_or_default()
                )))
            }
            Err(e) => return Err(unavailable("S3 GetObject", e)),
        };
        let content_type = out.content_type.clone();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| unavailable("S3 GetObject body", e))?
            .into_bytes();
        Ok(Some(Blob {
            bytes,
            content_type,
        }))
    }
}

fn presigning(ttl: Duration) -> StoreResult<aws_sdk_s3::presigning::PresigningConfig> {
    aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl)
        .map_err(|e| StoreError::Internal(format!("presigning for {ttl:?}: {e}")))
}
