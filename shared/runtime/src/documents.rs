//! A job's document as HTTP responses, the same for its tenant (`/v1`) and for operators
//! (`/horizon/api`): its Markdown and its pages as pictures. The caller has found the job and
//! checked who may see it.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use horizon_app::pages::{self, Preview, DEFAULT_WIDTH};
use horizon_app::ports::{markdown_key, MARKDOWN};
use horizon_app::Services;
use horizon_domain::{Error, Job, Result};

/// A job's Markdown: the text, or where to fetch it when it is too large for a function's
/// response.
pub enum Markdown {
    /// `200` with the text.
    Text(String),
    /// `307` to a short-lived presigned URL.
    Elsewhere(String),
}

impl IntoResponse for Markdown {
    fn into_response(self) -> Response {
        match self {
            Markdown::Text(text) => ([(CONTENT_TYPE, MARKDOWN)], text).into_response(),
            Markdown::Elsewhere(url) => (
                StatusCode::TEMPORARY_REDIRECT,
                [(LOCATION, url.as_str()), (CACHE_CONTROL, "no-store")],
            )
                .into_response(),
        }
    }
}

/// The job's Markdown; `409` until the job has completed (as its chunks).
pub async fn markdown(services: &Services, job: &Job) -> Result<Markdown> {
    let Some(result) = &job.result() else {
        return Err(Error::Conflict(format!(
            "job {} is {}; its Markdown exists once it is completed",
            job.id(),
            job.status()
        )));
    };
    let Some(size) = result.markdown_bytes else {
        return Err(Error::NotFound(format!(
            "job {} has no Markdown: it was completed before Markdown was produced",
            job.id()
        )));
    };
    let key = markdown_key(job.id());
    let blobs = &services.blobs;
    if size > services.config.api.max_response_bytes {
        let url = blobs
            .presign_get(&key, MARKDOWN, services.config.api.redirect_ttl)
            .await?;
        return Ok(Markdown::Elsewhere(url));
    }
    let blob = blobs
        .get(&key)
        .await?
        .ok_or_else(|| Error::NotFound(format!("the Markdown of job {} has expired", job.id())))?;
    let text = String::from_utf8(Vec::from(blob.bytes))
        .map_err(|e| Error::Internal(format!("markdown of {}: {e}", job.id())))?;
    Ok(Markdown::Text(text))
}

/// The header that gives a page picture's page size, in its chunks' `bbox` units: `"W H"`.
pub const PAGE_SIZE_HEADER: &str = "horizon-page-size";

/// A page as a picture: a grey JPEG, with the page's size in [`PAGE_SIZE_HEADER`].
pub struct PagePicture(pub Preview);

impl IntoResponse for PagePicture {
    fn into_response(self) -> Response {
        let size = format!("{} {}", self.0.width, self.0.height);
        (
            [
                (CONTENT_TYPE, "image/jpeg".to_owned()),
                (CACHE_CONTROL, "private, max-age=3600".to_owned()),
            ],
            [(PAGE_SIZE_HEADER, size)],
            self.0.jpeg,
        )
            .into_response()
    }
}

/// Page `page` of the job's document, `width` pixels wide (default [`DEFAULT_WIDTH`]).
pub async fn page(
    services: &Services,
    job: &Job,
    page: u32,
    width: Option<u32>,
) -> Result<PagePicture> {
    let width = width.unwrap_or(DEFAULT_WIDTH);
    pages::preview(services, job, page, width)
        .await
        .map(PagePicture)
}
