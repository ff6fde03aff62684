//! The OpenAPI 3.1 document of `/v1` and `/api`, served at `/v1/openapi.json`. Schemas are derived
//! from the very types the handlers serialise and parse (`crate::views`, `crate::webhooks`), and
//! a test checks that the documented operations are exactly the routes the functions answer.

#![allow(dead_code)] // the functions below exist only to carry their `#[utoipa::path]`

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::deliveries::Attempt;
use crate::domain::{Chunk, EventType, JobError, JobStatus, JobType, OcrMode, Progress, TableCell};
use crate::error::{FieldError, Problem};
use crate::views::{
    ApiKeyView, ChunkPage, DeliveryLogView, ExtractOptions, ExtractRequest, JobList, JobView,
    PresignRequest, PresignView, ResultView, SubscriptionView, UploadView, WebhookList,
};
use crate::webhooks::WebhookInput;

/// A file's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(Vec<u8>);

/// `multipart/form-data` upload: the `file` part, and optionally a `filename` text part that
/// overrides the file part's own name (1–255 printable characters). (The text part is not typed
/// here: every multipart field is text, so a schema type could not be checked.)
#[derive(ToSchema)]
pub struct UploadForm {
    /// The file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Horizon",
        description = "Asynchronous document extraction: upload a PDF or an image, start a job, \
            poll it (or receive a webhook) and read the document as typed chunks in reading order \
            (headings, paragraphs, lists, tables with their cells) or as Markdown; scans and images \
            are read with OCR. Errors are RFC 9457 problem details.",
        version = "1.0.0"
    ),
    paths(
        extract_pdf, extract_image, list_jobs, get_job, get_chunks, get_markdown, cancel_job, add_job_webhook, job_deliveries,
        replay_delivery,
        add_webhook, list_webhooks, delete_webhook, create_key, revoke_key, openapi_json,
        upload, presign, image
    ),
    components(schemas(
        JobView, ResultView, ChunkPage, JobList, Chunk, TableCell, OcrMode, JobError, Progress, JobStatus, JobType,
        EventType, ExtractRequest, ExtractOptions, WebhookInput, SubscriptionView, WebhookList,
        UploadView, PresignRequest, PresignView, Problem, FieldError, Binary, UploadForm,
        DeliveryLogView, Attempt, ApiKeyView
    )),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "jobs", description = "Extraction jobs"),
        (name = "webhooks", description = "Account-level webhook subscriptions"),
        (name = "keys", description = "The account's API keys: create another, revoke one"),
        (name = "uploads", description = "Uploads and retrieval")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("An API key: Authorization: Bearer hzn_..."))
                        .build(),
                ),
            );
        }
    }
}

/// The document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "OpenAPI document");
        serde_json::Value::Null
    })
}

const PROBLEM: &str = "application/problem+json";

#[utoipa::path(post, path = "/v1/extract/pdf", tag = "jobs",
    request_body = ExtractRequest,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Repeat a request safely: the same key and body return the same job for 24 hours")),
    responses(
        (status = 202, description = "Queued", body = JobView,
            headers(("Location" = String, description = "The job's status resource"),
                    ("Retry-After" = String, description = "Seconds before polling"))),
        (status = 200, description = "Replayed: this Idempotency-Key and body were seen before", body = JobView),
        (status = 400, description = "Malformed request", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 409, description = "A request with this Idempotency-Key is in progress", body = Problem, content_type = PROBLEM),
        (status = 413, description = "The upload is too large", body = Problem, content_type = PROBLEM),
        (status = 415, description = "The upload's bytes are not an accepted type", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Unknown upload, or an Idempotency-Key reused with another body", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
/// Reads a PDF: its text layer, and with OCR the pages that have none (`options.ocr`). An image
/// upload is a 400 that names `/v1/extract/image`.
fn extract_pdf() {}

#[utoipa::path(post, path = "/v1/extract/image", tag = "jobs",
    request_body = ExtractRequest,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Repeat a request safely: the same key and body return the same job for 24 hours")),
    responses(
        (status = 202, description = "Queued", body = JobView,
            headers(("Location" = String, description = "The job's status resource"),
                    ("Retry-After" = String, description = "Seconds before polling"))),
        (status = 200, description = "Replayed: this Idempotency-Key and body were seen before", body = JobView),
        (status = 400, description = "Malformed request, or a PDF upload (which goes to /v1/extract/pdf)", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 409, description = "A request with this Idempotency-Key is in progress", body = Problem, content_type = PROBLEM),
        (status = 413, description = "The upload is too large", body = Problem, content_type = PROBLEM),
        (status = 415, description = "The upload's bytes are not an accepted type", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Unknown upload, or an Idempotency-Key reused with another body", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
/// Reads an image with OCR: PNG, JPEG, WebP, GIF or TIFF (each page of a multi-page TIFF is a
/// page). Boxes are in the image's pixels.
fn extract_image() {}

#[utoipa::path(get, path = "/v1/jobs", tag = "jobs",
    params(
        ("status" = Option<JobStatus>, Query, description = "Only jobs in this status"),
        ("jobType" = Option<JobType>, Query, description = "Only jobs of this type"),
        ("tag" = Option<String>, Query, description = "Only jobs with this tag"),
        ("cursor" = Option<String>, Query, description = "nextCursor of the previous page", pattern = r"^[A-Za-z0-9_-]{1,200}$"),
        ("limit" = Option<u32>, Query, description = "1 to 100, default 20", minimum = 1, maximum = 100),
    ),
    responses(
        (status = 200, description = "The caller's jobs, newest first", body = JobList),
        (status = 400, description = "Bad parameter", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn list_jobs() {}

#[utoipa::path(get, path = "/v1/jobs/{jobId}", tag = "jobs",
    params(("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 200, description = "The job; `result` carries the first page of chunks", body = JobView),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn get_job() {}

#[utoipa::path(get, path = "/v1/jobs/{jobId}/chunks", tag = "jobs",
    params(
        ("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("cursor" = Option<String>, Query, description = "nextCursor of the previous page", pattern = r"^[A-Za-z0-9_-]{1,200}$"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 100", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "A page of the job's chunks", body = ChunkPage),
        (status = 400, description = "Bad parameter", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The job has not completed", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn get_chunks() {}

#[utoipa::path(get, path = "/v1/jobs/{jobId}/markdown", tag = "jobs",
    params(("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 200, description = "The whole document as Markdown: headings as `#`, tables as pipe tables, \
            `<!-- page N -->` before each page, page headers, footers and numbers as HTML comments",
            content_type = "text/markdown; charset=utf-8", body = String),
        (status = 307, description = "Too large for a function response: a short-lived presigned URL",
            headers(("Location" = String))),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, expired, or not completed yet", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn get_markdown() {}

#[utoipa::path(post, path = "/v1/jobs/{jobId}/cancel", tag = "jobs",
    params(("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 200, description = "Cancelled: failed with error.code = cancelled", body = JobView),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Already completed or failed", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn cancel_job() {}

#[utoipa::path(post, path = "/v1/jobs/{jobId}/webhooks", tag = "jobs",
    params(("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = WebhookInput,
    responses(
        (status = 202, description = "Subscribed", body = SubscriptionView),
        (status = 400, description = "Malformed request or refused URL", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The job has finished", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn add_job_webhook() {}

#[utoipa::path(get, path = "/v1/jobs/{jobId}/webhooks", tag = "jobs",
    params(("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 200, description = "The job's subscriptions and every delivery attempt: time, status code, latency, error", body = DeliveryLogView),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn job_deliveries() {}

#[utoipa::path(post, path = "/v1/jobs/{jobId}/webhooks/deliveries/{deliveryId}/replay", tag = "jobs",
    params(
        ("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("deliveryId" = String, Path, description = "msg_<ULID>, the webhook-id"),
    ),
    responses(
        (status = 202, description = "Queued again, with the same webhook-id", body = Object),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such job or delivery", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn replay_delivery() {}

#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks",
    request_body = WebhookInput,
    responses(
        (status = 201, description = "Subscribed to all the account's jobs", body = SubscriptionView),
        (status = 400, description = "Malformed request or refused URL", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn add_webhook() {}

#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "The account's webhooks (secrets are never shown)", body = WebhookList),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn list_webhooks() {}

#[utoipa::path(delete, path = "/v1/webhooks/{webhookId}", tag = "webhooks",
    params(("webhookId" = String, Path, description = "wh_<ULID>", pattern = r"^wh_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such webhook in this account", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn delete_webhook() {}

#[utoipa::path(post, path = "/v1/keys", tag = "keys",
    responses(
        (status = 201, description = "A new key of the caller's account; `key` is shown only now", body = ApiKeyView),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn create_key() {}

#[utoipa::path(delete, path = "/v1/keys/{keyId}", tag = "keys",
    params(("keyId" = String, Path, description = "key_<ULID>", pattern = r"^key_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 204, description = "Revoked (within the key cache's 30 s everywhere)"),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such key in this account", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn revoke_key() {}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "jobs", security(()),
    responses((status = 200, description = "This document", body = Object)))]
fn openapi_json() {}

#[utoipa::path(post, path = "/api/upload", tag = "uploads",
    request_body(content(
        (Binary = "application/pdf"), (Binary = "image/png"), (Binary = "image/jpeg"),
        (Binary = "image/webp"), (Binary = "image/gif"), (Binary = "image/tiff"),
        (Binary = "application/octet-stream"), (UploadForm = "multipart/form-data"),
    )),
    responses(
        (status = 201, description = "Stored", body = UploadView,
            headers(("Location" = String, description = "Where to read it back"))),
        (status = 400, description = "Malformed multipart body", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 413, description = "Larger than this endpoint takes: use POST /api/uploads", body = Problem, content_type = PROBLEM),
        (status = 415, description = "Not an accepted type, or the declared type contradicts the bytes", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn upload() {}

#[utoipa::path(post, path = "/api/uploads", tag = "uploads",
    request_body(content = Option<PresignRequest>, description = "Optional", content_type = "application/json"),
    responses(
        (status = 201, description = "A presigned PUT URL for the file", body = PresignView),
        (status = 400, description = "Malformed request", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn presign() {}

#[utoipa::path(get, path = "/api/images/{id}", tag = "uploads",
    params(
        ("id" = String, Path, description = "upl_<ULID>", pattern = r"^upl_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("w" = Option<u32>, Query, description = "Thumbnail width, 1 to 2048", minimum = 1, maximum = 2048),
        ("h" = Option<u32>, Query, description = "Thumbnail height, 1 to 2048", minimum = 1, maximum = 2048),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. bytes=0-1023"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag the client holds"),
    ),
    responses(
        (status = 200, description = "The bytes, with the upload's type",
            content((Binary = "application/pdf"), (Binary = "image/png"), (Binary = "image/jpeg"),
                (Binary = "image/webp"), (Binary = "image/gif"), (Binary = "image/tiff")),
            headers(("ETag" = String), ("Last-Modified" = String), ("Cache-Control" = String))),
        (status = 206, description = "The requested range",
            content((Binary = "application/pdf"), (Binary = "image/png"), (Binary = "image/jpeg"),
                (Binary = "image/webp"), (Binary = "image/gif"), (Binary = "image/tiff")),
            headers(("Content-Range" = String))),
        (status = 304, description = "Not modified"),
        (status = 307, description = "Too large for a function response: a short-lived presigned URL",
            headers(("Location" = String))),
        (status = 400, description = "Malformed id or thumbnail size", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No valid API key", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, expired, or not yet PUT", body = Problem, content_type = PROBLEM),
        (status = 413, description = "The presigned upload is larger than allowed", body = Problem, content_type = PROBLEM),
        (status = 415, description = "The presigned upload's bytes are not an accepted type", body = Problem, content_type = PROBLEM),
        (status = 416, description = "The range lies beyond the end", body = Problem, content_type = PROBLEM),
        (status = 503, description = "A dependency is unavailable; retry", body = Problem, content_type = PROBLEM),
    ))]
fn image() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_states_the_one_tag_rule() {
        let text = document().to_string();
        let pattern = serde_json::to_string(crate::domain::TAG_PATTERN).unwrap();
        assert!(text.contains(&pattern), "the tag pattern is not {pattern}");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_operation() {
        let doc = document();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut ops: Vec<String> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                ops.push(format!("{} {path}", method.to_uppercase()));
            }
        }
        ops.sort();
        let mut expected = vec![
            "POST /v1/extract/pdf",
            "POST /v1/extract/image",
            "GET /v1/jobs/{jobId}/markdown",
            "GET /v1/jobs",
            "GET /v1/jobs/{jobId}",
            "GET /v1/jobs/{jobId}/chunks",
            "POST /v1/jobs/{jobId}/cancel",
            "POST /v1/jobs/{jobId}/webhooks",
            "GET /v1/jobs/{jobId}/webhooks",
            "POST /v1/jobs/{jobId}/webhooks/deliveries/{deliveryId}/replay",
            "POST /v1/webhooks",
            "GET /v1/webhooks",
            "DELETE /v1/webhooks/{webhookId}",
            "POST /v1/keys",
            "DELETE /v1/keys/{keyId}",
            "GET /v1/openapi.json",
            "POST /api/upload",
            "POST /api/uploads",
            "GET /api/images/{id}",
        ];
        expected.sort();
        assert_eq!(ops, expected);
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
