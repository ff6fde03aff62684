//! A job's document as HTTP responses, the same for its tenant (`/v1`) and for operators
//! (`/horizon/api`): its Markdown and its pages as pictures. The caller has found the job and
//! checked who may see it.

use horizon_app::pages::{self, DEFAULT_WIDTH};
use horizon_app::ports::{markdown_key, MARKDOWN};
use horizon_app::Services;
use horizon_domain::{Error, Job, Result};
use lambda_http::{Body, Response};

use crate::http;

/// The job's Markdown: `200` with the text, or `307` to a presigned URL when it is too large
/// for a function's response; `404` until the job has completed.
pub async fn markdown(services: &Services, job: &Job) -> Result<Response<Body>> {
    let Some(result) = &job.result() else {
        return Err(Error::NotFound(format!(
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
        let mut resp = http::with_body(307, "text/plain", Body::Empty);
        http::set_header(&mut resp, "location", &url);
        http::set_header(&mut resp, "cache-control", "no-store");
        return Ok(resp);
    }
    let blob = blobs
        .get(&key)
        .await?
        .ok_or_else(|| Error::NotFound(format!("the Markdown of job {} has expired", job.id())))?;
    let text = String::from_utf8(Vec::from(blob.bytes))
        .map_err(|e| Error::Internal(format!("markdown of {}: {e}", job.id())))?;
    Ok(http::with_body(200, MARKDOWN, Body::Text(text)))
}

/// The header that gives a page picture's page size, in its chunks' `bbox` units: `"W H"`.
pub const PAGE_SIZE_HEADER: &str = "horizon-page-size";

/// Page `page` of the job's document as a JPEG, `w` pixels wide (the query's `w`, default
/// [`DEFAULT_WIDTH`]), with [`PAGE_SIZE_HEADER`].
pub async fn page(
    services: &Services,
    job: &Job,
    page: u32,
    params: &[(String, String)],
) -> Result<Response<Body>> {
    let width = match http::query_param(params, "w")? {
        Some(w) => w.parse().map_err(|_| {
            Error::field(
                "w",
                format!("must be one of {:?}, not {w:?}", pages::WIDTHS),
            )
        })?,
        None => DEFAULT_WIDTH,
    };
    let preview = pages::preview(services, job, page, width).await?;
    let mut resp = http::with_body(200, "image/jpeg", Body::Binary(preview.jpeg));
    http::set_header(
        &mut resp,
        PAGE_SIZE_HEADER,
        &format!("{} {}", preview.width, preview.height),
    );
    http::set_header(&mut resp, "cache-control", "private, max-age=3600");
    Ok(resp)
}
