//! Uploads as the rest of the system uses them: an id that belongs to the caller, checked.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::media::{self, Inspection};
use crate::ports::StoreError;
use crate::services::Services;
use crate::spool::Spooled;
use horizon_domain::error::{Error, Result};
use horizon_domain::{AccountId, Upload, UploadId};

pub use crate::services::UploadCache;

/// A ready upload record for `bytes`, already inspected.
pub fn ready(
    id: UploadId,
    account: AccountId,
    bytes: &[u8],
    inspection: &Inspection,
    filename: Option<String>,
    now: OffsetDateTime,
    retention: std::time::Duration,
) -> Upload {
    Upload {
        id,
        account,
        pending: false,
        content_type: inspection.content_type.to_owned(),
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
        filename,
        width: inspection.width,
        height: inspection.height,
        pages: inspection.pages,
        created_at: now,
        expires_at: expiry(now, retention),
    }
}

/// The instant a record made at `now` expires, in whole seconds (DynamoDB's TTL unit).
pub fn expiry(now: OffsetDateTime, retention: std::time::Duration) -> OffsetDateTime {
    let at = now + time::Duration::try_from(retention).unwrap_or(time::Duration::days(2));
    at.replace_nanosecond(0).unwrap_or(at)
}

/// What an upload is; `415` when the type is not one we accept. A PDF's pages are counted by
/// PDFium in a child process (`horizon_pdf::sandbox`), so that no file can crash or hold up this
/// process; a PDF it cannot open or count in time is taken without a page count (its job will
/// say what is wrong with it).
pub async fn inspect(services: &Services, bytes: Bytes) -> Result<Inspection> {
    inspect_in(services, bytes, None).await
}

/// [`inspect`], the bytes being those of the file `file` (a PDF's pages are counted by a child
/// that maps the file, rather than one sent the bytes).
async fn inspect_in(
    services: &Services,
    bytes: Bytes,
    file: Option<&Spooled>,
) -> Result<Inspection> {
    let mut inspection = media::inspect(&bytes).map_err(|seen| {
        Error::UnsupportedMediaType(format!("detected {seen}; accepted are {}", media::ACCEPTED))
    })?;
    if inspection.content_type == "application/pdf" {
        let config = &services.config.extraction;
        let program = config.child_program()?;
        let how = config.child(&program);
        let counted = match file {
            Some(file) => horizon_pdf::sandbox::page_count_of_file(&how, file.path()).await,
            None => horizon_pdf::sandbox::page_count(&how, &bytes).await,
        };
        inspection.pages = counted.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "a PDF upload's pages were not counted");
            None
        });
    }
    Ok(inspection)
}

/// Removes the caller's upload `id` at once: its bytes and thumbnails, then its record (in that
/// order, so that a failure half-way can be tried again). Jobs made from it keep their results.
/// Another account's upload is "not found", exactly like an unknown one.
pub async fn delete(services: &Services, id: &UploadId, account: &AccountId) -> Result<()> {
    let upload = services
        .uploads
        .get(id)
        .await?
        .filter(|u| &u.account == account)
        .ok_or_else(|| Error::NotFound(format!("no upload {id} (it may have expired)")))?;
    services.upload_cache.remove(id);
    services.blobs.delete_prefix(&upload.blob_key()).await?;
    services
        .blobs
        .delete_prefix(&horizon_domain::thumbnails_prefix(id))
        .await?;
    services.uploads.delete(id).await?;
    Ok(())
}

/// The caller's upload `id`, ready to use. Another account's upload is "not found", exactly like
/// an unknown one. A presigned upload is checked on its first use: its size before its bytes are
/// read, then its type from the bytes (against the declared size and type), and the bytes checked
/// are pinned: written to the upload's own key, which no URL can write (the client's URL stays
/// valid, but nothing reads what it writes from then on).
pub async fn resolve(services: &Services, id: &UploadId, account: &AccountId) -> Result<Upload> {
    let not_found = || Error::NotFound(format!("no upload {id} (it may have expired)"));
    let now = services.clock.now();
    let cached = services.upload_cache.get(id);
    let upload = match cached {
        Some(u) => Some(u),
        None => services.uploads.get(id).await?,
    }
    .filter(|u| &u.account == account && u.expires_at > now)
    .ok_or_else(not_found)?;
    if !upload.pending {
        services.upload_cache.put(&upload);
        return Ok(upload);
    }
    // Downloaded to a file and mapped: a presigned upload may be as large as the limit, far
    // more than the function's memory should hold.
    let limit = services.config.extraction.max_pdf_bytes;
    let file = Spooled::new(&services.config.extraction.work_dir, id.as_str());
    let downloaded = match services
        .blobs
        .download(&upload.incoming_key(), file.path(), limit)
        .await
    {
        Ok(Some(downloaded)) => downloaded,
        Ok(None) => {
            return Err(Error::NotFound(format!(
                "upload {id} has no content yet: PUT the file to its uploadUrl first"
            )))
        }
        Err(StoreError::TooLarge(_)) => {
            return Err(Error::PayloadTooLarge(format!(
                "upload {id} is larger than the limit of {limit} bytes"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let blob = crate::ports::Blob {
        bytes: file
            .map()
            .map_err(|e| Error::Internal(format!("reading upload {id}: {e}")))?,
        content_type: None,
    };
    let size = blob.bytes.len() as u64;
    if upload.size > 0 && size != upload.size {
        return Err(Error::unprocessable(
            "uploadId",
            format!(
                "upload {id} has {size} bytes, but {} were declared",
                upload.size
            ),
        ));
    }
    let inspection = inspect_in(services, blob.bytes.clone(), Some(&file)).await?;
    // A presigned upload's record holds the declared type (`application/octet-stream` if none).
    if !media::declared_agrees(Some(&upload.content_type), inspection.content_type) {
        return Err(Error::UnsupportedMediaType(format!(
            "upload {id} was declared {}, but its bytes are {}",
            upload.content_type, inspection.content_type
        )));
    }
    // Pinned: the bytes checked, and no others, are the upload's from now on (copied in the
    // store, only if the object is still the version that was read).
    services
        .blobs
        .copy(
            &upload.incoming_key(),
            &upload.blob_key(),
            inspection.content_type,
            downloaded.version.as_deref(),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(format!(
                "upload {id} was written again while it was checked; use it again"
            )),
            other => other.into(),
        })?;
    let done = ready(
        upload.id.clone(),
        upload.account.clone(),
        &blob.bytes,
        &inspection,
        upload.filename.clone(),
        upload.created_at,
        services.config.api.upload_retention,
    );
    match services.uploads.complete(&done).await {
        Ok(()) => Ok(done),
        // Another request completed it first: theirs is the same answer.
        Err(StoreError::Conflict(_)) => services.uploads.get(id).await?.ok_or_else(not_found),
        Err(e) => Err(e.into()),
    }
}
