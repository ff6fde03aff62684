//! S3: uploads, thumbnails and results, whole or by range, and presigned URLs.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client as S3Client;
use bytes::Bytes;

use crate::clients::unavailable;
use horizon_app::ports::{Blob, BlobStore, Downloaded, PresignedPut};
use horizon_app::ports::{StoreError, StoreResult};

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
    async fn delete_prefix(&self, prefix: &str) -> StoreResult<usize> {
        let mut deleted = 0;
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| unavailable("S3 ListObjectsV2", e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| unavailable("S3 DeleteObject", e))?;
                deleted += 1;
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                return Ok(deleted);
            }
        }
    }

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
        self.fetch(key, None, None).await
    }

    async fn get_limited(&self, key: &str, limit: u64) -> StoreResult<Option<Blob>> {
        self.fetch(key, None, Some(limit)).await
    }

    async fn download(
        &self,
        key: &str,
        to: &std::path::Path,
        limit: u64,
    ) -> StoreResult<Option<Downloaded>> {
        use tokio::io::AsyncWriteExt;
        let Some(mut out) = self.open(key, None, Some(limit)).await? else {
            return Ok(None);
        };
        let version = out.e_tag.clone();
        let local =
            |e: std::io::Error| StoreError::Internal(format!("writing {}: {e}", to.display()));
        let mut file = tokio::fs::File::create(to).await.map_err(local)?;
        let mut size = 0u64;
        while let Some(piece) = out
            .body
            .try_next()
            .await
            .map_err(|e| unavailable("S3 GetObject body", e))?
        {
            size += piece.len() as u64;
            file.write_all(&piece).await.map_err(local)?;
        }
        file.flush().await.map_err(local)?;
        Ok(Some(Downloaded { size, version }))
    }

    async fn copy(
        &self,
        from: &str,
        to: &str,
        content_type: &str,
        version: Option<&str>,
    ) -> StoreResult<()> {
        let copied = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
            .key(to)
            .content_type(content_type)
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .set_copy_source_if_match(version.map(str::to_owned))
            .send()
            .await;
        match copied {
            Ok(_) => Ok(()),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Err(
                StoreError::Conflict(format!("{from} changed since it was read")),
            ),
            Err(e) => Err(unavailable("S3 CopyObject", e)),
        }
    }

    async fn get_range(&self, key: &str, first: u64, last: u64) -> StoreResult<Option<Blob>> {
        self.fetch(key, Some(format!("bytes={first}-{last}")), None)
            .await
    }

    /// The length (and the type, when given) are signed headers: S3 refuses a PUT of any other
    /// size or type.
    async fn presign_put(
        &self,
        key: &str,
        ttl: Duration,
        size: u64,
        content_type: Option<&str>,
    ) -> StoreResult<PresignedPut> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .set_content_type(content_type.map(str::to_owned))
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| unavailable("S3 presign PutObject", e))?;
        Ok(PresignedPut {
            url: req.uri().to_owned(),
            headers: req
                .headers()
                .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
                .map(|(name, value)| (name.to_lowercase(), value.to_owned()))
                .collect(),
        })
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
    /// The object's response, its body not yet read; `TooLarge` when it has more than `limit`
    /// bytes.
    async fn open(
        &self,
        key: &str,
        range: Option<String>,
        limit: Option<u64>,
    ) -> StoreResult<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>> {
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
        if let Some(limit) = limit {
            let size = out.content_length.unwrap_or(0).max(0) as u64;
            if size > limit {
                // Dropped unread: the connection is closed, the body never loaded.
                return Err(StoreError::TooLarge(format!(
                    "{key} has {size} bytes; the limit is {limit}"
                )));
            }
        }
        Ok(Some(out))
    }

    async fn fetch(
        &self,
        key: &str,
        range: Option<String>,
        limit: Option<u64>,
    ) -> StoreResult<Option<Blob>> {
        let Some(out) = self.open(key, range, limit).await? else {
            return Ok(None);
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
