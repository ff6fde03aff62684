//! The bucket.

use super::*;

/// Stands in for [`horizon_aws::S3Blobs`], the bucket: objects by key, and results stored in it
/// the way S3Blobs stores them (chunks in JSON segments of 500, Markdown under
/// [`crate::ports::markdown_key`]). Presigned URLs are `memory://` addresses that name the key
/// but cannot be fetched.
#[derive(Default)]
pub struct MemoryBlobs {
    objects: Mutex<BTreeMap<String, Blob>>,
}

impl MemoryBlobs {
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys stored, in order: for assertions.
    pub fn keys(&self) -> StoreResult<Vec<String>> {
        Ok(self.objects()?.keys().cloned().collect())
    }

    fn objects(&self) -> StoreResult<MutexGuard<'_, BTreeMap<String, Blob>>> {
        lock(&self.objects, "blob store")
    }
}

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn delete_prefix(&self, prefix: &str) -> StoreResult<usize> {
        let mut objects = self.objects()?;
        let before = objects.len();
        objects.retain(|key, _| !key.starts_with(prefix));
        Ok(before - objects.len())
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> StoreResult<()> {
        self.objects()?.insert(
            key.to_owned(),
            Blob {
                bytes,
                content_type: Some(content_type.to_owned()),
            },
        );
        Ok(())
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        Ok(self.objects()?.get(key).cloned())
    }

    /// `RangeNotSatisfiable` when `first` is past the end or after `last` (S3 answers 416 to
    /// the former; callers check ranges before asking).
    async fn get_range(&self, key: &str, first: u64, last: u64) -> StoreResult<Option<Blob>> {
        let Some(blob) = self.objects()?.get(key).cloned() else {
            return Ok(None);
        };
        let len = blob.bytes.len() as u64;
        if first >= len || first > last {
            return Err(StoreError::Range(format!(
                "bytes {first}-{last} of {key} ({len} bytes)"
            )));
        }
        let end = last.min(len - 1) + 1;
        Ok(Some(Blob {
            bytes: blob.bytes.slice(first as usize..end as usize),
            content_type: blob.content_type,
        }))
    }

    async fn get_limited(&self, key: &str, limit: u64) -> StoreResult<Option<Blob>> {
        match self.objects()?.get(key) {
            Some(blob) if blob.bytes.len() as u64 > limit => Err(StoreError::TooLarge(format!(
                "{key} has {} bytes; the limit is {limit}",
                blob.bytes.len()
            ))),
            found => Ok(found.cloned()),
        }
    }

    async fn presign_put(
        &self,
        key: &str,
        ttl: Duration,
        size: u64,
        content_type: Option<&str>,
    ) -> StoreResult<PresignedPut> {
        let mut headers = vec![("content-length".to_owned(), size.to_string())];
        headers.extend(content_type.map(|t| ("content-type".to_owned(), t.to_owned())));
        Ok(PresignedPut {
            url: format!(
                "memory://blobs/{key}?method=PUT&expires-in={}",
                ttl.as_secs()
            ),
            headers,
        })
    }

    async fn presign_get(
        &self,
        key: &str,
        _content_type: &str,
        ttl: Duration,
    ) -> StoreResult<String> {
        Ok(format!(
            "memory://blobs/{key}?method=GET&expires-in={}",
            ttl.as_secs()
        ))
    }
}
