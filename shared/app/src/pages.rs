//! A job's pages as pictures (see `horizon_pdf::preview`), for the document view: made from its
//! upload in a sandboxed child on first request, then kept beside the job's results (deleted
//! and expiring with them). Both the job API (a tenant's own jobs) and the dashboard serve them.

use bytes::Bytes;
use horizon_domain::{Error, Job, Result};

pub use horizon_pdf::preview::{Preview, WIDTHS};
pub use horizon_pdf::sandbox::serve_if_child;

/// The width a page is drawn at unless asked otherwise.
pub const DEFAULT_WIDTH: u32 = 1200;

/// Where a page's preview at `width` is kept.
pub fn preview_key(job: &Job, page: u32, width: u32) -> String {
    format!(
        "{}pages/{page:05}-{width}",
        crate::ports::results_prefix(job.id())
    )
}

/// Page `page` of the job's document, `width` pixels wide (one of [`WIDTHS`]), with the page's
/// size in its chunks' `bbox` units. `404` for a page the document does not have or an upload
/// that is gone; `400` for another width.
pub async fn preview(
    services: &crate::Services,
    job: &Job,
    page: u32,
    width: u32,
) -> Result<Preview> {
    if !WIDTHS.contains(&width) {
        return Err(Error::field(
            "w",
            format!("must be one of {WIDTHS:?}, not {width}"),
        ));
    }
    let key = preview_key(job, page, width);
    if let Some(kept) = services.blobs.get(&key).await? {
        if let Some(preview) = Preview::from_bytes(&kept.bytes) {
            return Ok(preview);
        }
    }
    let gone = || {
        Error::NotFound(format!(
            "the upload of job {} ({}) has been deleted or has expired: its pages cannot be \
             drawn (its chunks and Markdown remain)",
            job.id(),
            job.upload_id()
        ))
    };
    let upload = services
        .uploads
        .get(job.upload_id())
        .await?
        .ok_or_else(gone)?;
    if !crate::media::has_pages(&upload.content_type) {
        return Err(Error::Unprocessable {
            detail: format!(
                "the document of job {} is {}, which has no page pictures (only PDFs and images \
                 have); its blocks are shown as a flowing page",
                job.id(),
                upload.content_type
            ),
            errors: Vec::new(),
        });
    }
    if upload.pages.is_some_and(|n| page > n) || page == 0 {
        return Err(Error::NotFound(format!(
            "there is no page {page}: the document has {}",
            upload.pages.unwrap_or(0)
        )));
    }
    let bytes = services
        .blobs
        .get(&upload.blob_key())
        .await?
        .ok_or_else(gone)?
        .bytes;
    let config = &services.config.extraction;
    let program = config.child_program()?;
    let preview = horizon_pdf::sandbox::preview(&config.child(&program), &bytes, page, width)
        .await
        .map_err(|f| match f.code.as_str() {
            "no_such_page" => Error::NotFound(f.message),
            "preview_failed" | "engine_unavailable" => Error::Internal(f.message),
            _ => Error::Unprocessable {
                detail: format!("page {page} cannot be drawn: {}", f.message),
                errors: Vec::new(),
            },
        })?;
    services
        .blobs
        .put(
            &key,
            Bytes::from(preview.to_bytes()),
            "application/octet-stream",
        )
        .await?;
    Ok(preview)
}
