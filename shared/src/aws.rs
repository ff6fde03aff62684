//! AWS adapters for the ports: DynamoDB (jobs, uploads), SQS (work queue), S3 (blobs).

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

use crate::config::Config;
use crate::domain::{
    AccountId, Job, JobError, JobId, JobResult, JobStatus, JobType, Upload, UploadId,
};
use crate::error::{Error, Result};
use crate::ports::{Blob, BlobStore, JobStore, UploadStore, WorkMessage, WorkQueue};

/// The shared SDK configuration: region, credentials and endpoint (`AWS_ENDPOINT_URL` points it at
/// LocalStack) from the environment. Loading it makes no network call.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

pub fn s3_client(sdk: &aws_config::SdkConfig, config: &Config) -> S3Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(config.s3_path_style)
        // Checksums only where S3 requires them: a presigned PUT must not expect a checksum
        // header that a plain HTTP client will not send.
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .build();
    S3Client::from_conf(conf)
}

/// An SDK failure as our error: a dependency problem, with its whole cause chain for the log.
fn unavailable<E>(what: &str, err: E) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    Error::Unavailable(format!(
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
    /// Where results too large for an item go.
    blobs: Arc<dyn BlobStore>,
    inline_result_bytes: usize,
}

impl DynamoStore {
    pub fn new(
        client: DynamoClient,
        table: impl Into<String>,
        blobs: Arc<dyn BlobStore>,
        inline_result_bytes: usize,
    ) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            blobs,
            inline_result_bytes,
        }
    }

    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>> {
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
                .map(|exp| exp > OffsetDateTime::now_utc().unix_timestamp())
                .unwrap_or(true)
        }))
    }

    /// Writes `item` if `condition` holds, with `values` bound in it; `Conflict` when it does not.
    async fn put_item(
        &self,
        item: Item,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<()> {
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        for (name, value) in values {
            req = req.expression_attribute_values(name, value);
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(Error::Conflict(format!(
                    "the record changed since it was read ({condition} no longer holds)"
                )))
            }
            Err(e) => Err(unavailable("DynamoDB PutItem", e)),
        }
    }

    fn result_key(id: &JobId) -> String {
        format!("results/{id}.json")
    }

    async fn job_item(&self, job: &Job) -> Result<Item> {
        let mut item: Item = HashMap::new();
        item.insert("pk".into(), s(format!("JOB#{}", job.id)));
        item.insert("sk".into(), s("JOB"));
        item.insert("gsi1pk".into(), s(format!("ACCT#{}#JOBS", job.account)));
        item.insert("gsi1sk".into(), s(job.id.to_string()));
        item.insert("jobId".into(), s(job.id.to_string()));
        item.insert("jobType".into(), s(job.job_type.as_str()));
        item.insert("accountId".into(), s(job.account.to_string()));
        item.insert("uploadId".into(), s(job.upload_id.to_string()));
        item.insert("status".into(), s(job.status.as_str()));
        item.insert("createdAt".into(), n(millis(job.created_at)));
        item.insert("updatedAt".into(), n(millis(job.updated_at)));
        item.insert("version".into(), n(job.version));
        item.insert("attempts".into(), n(job.attempts));
        item.insert("expiresAt".into(), n(job.expires_at.unix_timestamp()));
        if let Some(until) = job.lease_until {
            item.insert("leaseUntil".into(), n(millis(until)));
        }
        if let Some(err) = &job.error {
            item.insert("error".into(), s(to_json(err)?));
        }
        if let Some(result) = &job.result {
            let json = to_json(result)?;
            if json.len() <= self.inline_result_bytes {
                item.insert("result".into(), s(json));
            } else {
                let key = Self::result_key(&job.id);
                self.blobs
                    .put(&key, Bytes::from(json), "application/json")
                    .await?;
                item.insert("resultKey".into(), s(key));
            }
        }
        Ok(item)
    }

    async fn job_from_item(&self, item: &Item) -> Result<Job> {
        let result = match (opt_str(item, "result"), opt_str(item, "resultKey")) {
            (Some(json), _) => Some(from_json::<JobResult>(json)?),
            (None, Some(key)) => {
                let blob =
                    self.blobs.get(key).await?.ok_or_else(|| {
                        Error::Internal(format!("result object {key} is missing"))
                    })?;
                Some(serde_json::from_slice(&blob.bytes).map_err(|e| {
                    Error::Internal(format!("result object {key} is not valid JSON: {e}"))
                })?)
            }
            (None, None) => None,
        };
        Ok(Job {
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
            result,
            error: opt_str(item, "error")
                .map(from_json::<JobError>)
                .transpose()?,
            expires_at: OffsetDateTime::from_unix_timestamp(num(item, "expiresAt")?)
                .map_err(|e| Error::Internal(format!("expiresAt out of range: {e}")))?,
        })
    }
}

#[async_trait]
impl JobStore for DynamoStore {
    async fn create(&self, job: &Job) -> Result<()> {
        let item = self.job_item(job).await?;
        self.put_item(item, "attribute_not_exists(pk)", vec![])
            .await
    }

    async fn get(&self, id: &JobId) -> Result<Option<Job>> {
        match self.get_item(format!("JOB#{id}"), "JOB").await? {
            Some(item) => Ok(Some(self.job_from_item(&item).await?)),
            None => Ok(None),
        }
    }

    async fn replace(&self, job: &Job) -> Result<()> {
        let item = self.job_item(job).await?;
        self.put_item(item, "version = :v", vec![(":v", n(job.version - 1))])
            .await
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
    async fn put(&self, upload: &Upload) -> Result<()> {
        self.put_item(
            Self::upload_item(upload),
            "attribute_not_exists(pk)",
            vec![],
        )
        .await
    }

    async fn complete(&self, upload: &Upload) -> Result<()> {
        let item = Self::upload_item(upload);
        self.put_item(
            item,
            "pending = :true",
            vec![(":true", AttributeValue::Bool(true))],
        )
        .await
    }

    async fn get(&self, id: &UploadId) -> Result<Option<Upload>> {
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
                .map_err(|e| Error::Internal(format!("expiresAt out of range: {e}")))?,
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

fn from_millis(ms: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .map_err(|e| Error::Internal(format!("timestamp {ms} out of range: {e}")))
}

fn str_attr<'a>(item: &'a Item, name: &str) -> Result<&'a str> {
    opt_str(item, name).ok_or_else(|| Error::Internal(format!("stored item lacks {name}")))
}

fn opt_str<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn num<T: FromStr>(item: &Item, name: &str) -> Result<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Internal(format!("stored item lacks a numeric {name}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(format!("serialising: {e}")))
}

fn from_json<'a, T: serde::Deserialize<'a>>(json: &'a str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::Internal(format!("stored JSON: {e}")))
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
    async fn enqueue(&self, message: &WorkMessage) -> Result<()> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(to_json(message)?)
            .send()
            .await
            .map_err(|e| unavailable("SQS SendMessage", e))?;
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
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<()> {
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

    async fn get(&self, key: &str) -> Result<Option<Blob>> {
        self.fetch(key, None).await
    }

    async fn get_range(&self, key: &str, first: u64, last: u64) -> Result<Option<Blob>> {
        self.fetch(key, Some(format!("bytes={first}-{last}"))).await
    }

    async fn presign_put(&self, key: &str, ttl: Duration) -> Result<String> {
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

    async fn presign_get(&self, key: &str, content_type: &str, ttl: Duration) -> Result<String> {
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
    async fn fetch(&self, key: &str, range: Option<String>) -> Result<Option<Blob>> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
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

fn presigning(ttl: Duration) -> Result<aws_sdk_s3::presigning::PresigningConfig> {
    aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl)
        .map_err(|e| Error::Internal(format!("presigning for {ttl:?}: {e}")))
}
