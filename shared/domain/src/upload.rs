//! An upload: a document's bytes in the bucket and their record.

use time::OffsetDateTime;

use crate::ids::{AccountId, UploadId};

/// A stored upload: the bytes live in the blob store under [`upload_blob_key`].
///
/// An upload made through a presigned URL starts `pending`: its bytes are not ours to check until
/// the client has PUT them. On first use its type is decided from the bytes and it becomes ready
/// (see `horizon_app::uploads::resolve`); until then `content_type`, `size` and `sha256` are unknown.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub id: UploadId,
    pub account: AccountId,
    pub pending: bool,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub filename: Option<String>,
    /// Images: pixel dimensions.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// PDFs: the page count, when PDFium could open the file.
    pub pages: Option<u32>,
    pub created_at: OffsetDateTime,
    /// The record disappears after this instant (DynamoDB TTL), like the bytes (S3 lifecycle).
    pub expires_at: OffsetDateTime,
}

impl Upload {
    pub fn blob_key(&self) -> String {
        upload_blob_key(&self.id)
    }

    /// Where a presigned upload's client PUTs its bytes. They are read from there once, checked,
    /// and the bytes checked written to [`Upload::blob_key`]: nothing a client can write is read
    /// after the check.
    pub fn incoming_key(&self) -> String {
        format!("{}.incoming", upload_blob_key(&self.id))
    }
}

pub fn upload_blob_key(id: &UploadId) -> String {
    format!("uploads/{id}")
}

/// Where an upload's thumbnails are kept, one object per size.
pub fn thumbnails_prefix(id: &UploadId) -> String {
    format!("thumbs/{id}/")
}
