//! The job API under `/v1` (see the OpenAPI document at `/v1/openapi.json`).
//!
//! Every route but the document needs `Authorization: Bearer <key>`; another account's job,
//! upload or webhook is "not found", exactly like an unknown one.

use std::str::FromStr;

use axum::extract::State;
use axum::routing::get;
use horizon_api::refusals::Refusals;
use horizon_api::views::{
    decode_cursor, encode_cursor, job_path, ApiKeyView, ChunkPage, DeliveryLogView, ExtractRequest,
    JobList, JobView, SubscriptionView, WebhookList,
};
use horizon_api::webhooks::{self, WebhookInput};
use horizon_app::jobs::{self, Step};
use horizon_app::ports::{Along, IdempotencyKey, JobFilter};
use horizon_app::{uploads, Services};
use horizon_domain::error::Problem;
use horizon_domain::{
    AccountId, Job, JobError, JobId, JobOptions, JobStatus, JobType, KeyId, OcrMode, PageSelection,
    UploadId, WebhookId, MAX_ACCOUNT_WEBHOOKS,
};
use horizon_domain::{Error, Result};
use horizon_runtime::auth;
use horizon_runtime::http::{
    self, header, limit_param, parse_json, query, query_param, Account, Id, Param, Req,
};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

pub mod docs;
pub mod openapi;

/// Chunks in a job's `result`; the rest come from `/v1/jobs/{jobId}/chunks`.
const FIRST_PAGE: u32 = 100;
/// How long an `Idempotency-Key` is remembered.
const IDEMPOTENCY_HOURS: i64 = 24;

#[derive(Clone)]
pub struct JobsApi {
    services: Services,
}

impl JobsApi {
    pub fn new(services: Services) -> Self {
        JobsApi { services }
    }
}

impl axum::extract::FromRef<JobsApi> for Services {
    fn from_ref(api: &JobsApi) -> Services {
        api.services.clone()
    }
}

/// The function's routes: the API's, each declared once by its handler's `#[utoipa::path]`,
/// and the reference for people at `/docs`, made from the same document.
pub fn routes(services: Services) -> axum::Router {
    let (router, _) = api().split_for_parts();
    router
        .route("/docs", get(docs_page))
        .route("/docs/collection.json", get(docs_collection))
        .with_state(JobsApi::new(services))
}

/// The API's routes with their OpenAPI operations (see [`openapi::document`]).
pub fn api() -> OpenApiRouter<JobsApi> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(extract_pdf))
        .routes(routes!(extract_image))
        .routes(routes!(list_jobs))
        .routes(routes!(get_job, delete_job))
        .routes(routes!(get_chunks))
        .routes(routes!(get_markdown))
        .routes(routes!(get_page))
        .routes(routes!(cancel_job))
        .routes(routes!(add_job_webhook, job_deliveries))
        .routes(routes!(replay_delivery))
        .routes(routes!(add_webhook, list_webhooks))
        .routes(routes!(delete_webhook))
        .routes(routes!(create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(openapi_json))
}

/// The API reference, open like the document it is made from.
async fn docs_page() -> Response<Body> {
    http::with_body(
        200,
        "text/html; charset=utf-8",
        Body::Text(docs::html(openapi::document())),
    )
}

/// The Postman collection of every operation, aimed at the address it was fetched from.
async fn docs_collection(State(api): State<JobsApi>, Req(req): Req) -> Response<Body> {
    let base = http::base_url(&req, &api.services.config);
    http::json(200, &docs::postman(openapi::document(), &base))
}

const PROBLEM: &str = http::PROBLEM_JSON;

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
        (status = 413, description = "The upload is too large", body = Problem, content_type = PROBLEM),
        (status = 415, description = "The upload's bytes are not an accepted type", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Unknown upload, or an Idempotency-Key reused with another body", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
/// Reads a PDF: its text layer, and with OCR the pages that have none (`options.ocr`). An image
/// upload is a 400 that names `/v1/extract/image`.
async fn extract_pdf(
    State(api): State<JobsApi>,
    Account(account): Account,
    Req(req): Req,
) -> Result<Response<Body>> {
    api.create_job(&req, &account, JobType::ExtractPdf).await
}

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
        (status = 413, description = "The upload is too large", body = Problem, content_type = PROBLEM),
        (status = 415, description = "The upload's bytes are not an accepted type", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Unknown upload, or an Idempotency-Key reused with another body", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
/// Reads an image with OCR: PNG, JPEG, WebP, GIF or TIFF (each page of a multi-page TIFF is a
/// page). Boxes are in the image's pixels.
async fn extract_image(
    State(api): State<JobsApi>,
    Account(account): Account,
    Req(req): Req,
) -> Result<Response<Body>> {
    api.create_job(&req, &account, JobType::ExtractImage).await
}

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
        Refusals,
    ))]
async fn list_jobs(
    State(api): State<JobsApi>,
    Account(account): Account,
    Req(req): Req,
) -> Result<Response<Body>> {
    api.list_jobs(&req, &account).await
}

#[utoipa::path(get, path = "/v1/jobs/{jobId}", tag = "jobs",
    params(("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 200, description = "The job; `result` carries the first page of chunks", body = JobView),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn get_job(
    State(api): State<JobsApi>,
    Account(account): Account,
    Id(id): Id<JobId>,
    Req(req): Req,
) -> Result<Response<Body>> {
    api.get_job(&req, &account, &id).await
}

#[utoipa::path(delete, path = "/v1/jobs/{jobId}", tag = "jobs",
    params(("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 204, description = "Deleted at once: the job, its chunks, Markdown, event bodies and delivery log"),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, expired or deleted", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Still queued or processing: cancel it first", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn delete_job(
    State(api): State<JobsApi>,
    Account(account): Account,
    Id(id): Id<JobId>,
) -> Result<Response<Body>> {
    let job = api.own_job(&account, &id).await?;
    jobs::delete(&api.services, &job).await?;
    tracing::info!(job_id = %id, account = %account, "job deleted");
    Ok(http::with_body(204, "application/json", Body::Empty))
}

#[utoipa::path(get, path = "/v1/jobs/{jobId}/chunks", tag = "jobs",
    params(
        ("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("cursor" = Option<String>, Query, description = "nextCursor of the previous page", pattern = r"^[A-Za-z0-9_-]{1,200}$"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 100; a page also ends before 4 MB of chunks (follow nextCursor)", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "A page of the job's chunks", body = ChunkPage),
        (status = 400, description = "Bad parameter", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The job has not completed", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn get_chunks(
    State(api): State<JobsApi>,
    Account(account): Account,
    Id(id): Id<JobId>,
    Req(req): Req,
) -> Result<Response<Body>> {
    api.chunks(&req, &account, &id).await
}

#[utoipa::path(get, path = "/v1/jobs/{jobId}/markdown", tag = "jobs",
    params(("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 200, description = "The whole document as Markdown: headings as `#`, tables as pipe tables, \
            `<!-- page N -->` before each page, page headers, footers and numbers as HTML comments",
            content_type = "text/markdown; charset=utf-8", body = String),
        (status = 307, description = "Too large for a function response: a short-lived presigned URL",
            headers(("Location" = String))),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, expired, or not completed yet", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn get_markdown(
    State(api): State<JobsApi>,
    Account(account): Account,
    Id(id): Id<JobId>,
) -> Result<Response<Body>> {
    api.markdown(&account, &id).await
}

#[utoipa::path(get, path = "/v1/jobs/{jobId}/pages/{page}", tag = "jobs",
    params(
        ("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("page" = u32, Path, description = "The page, from 1", minimum = 1),
        ("w" = Option<u32>, Query, description = "Width in pixels: 400, 800, 1200 (default) or 1600", minimum = 400, maximum = 1600),
    ),
    responses(
        (status = 200, description = "The page as a grey JPEG, drawn from the job's upload on first request and kept \
            with the job's results. The `Horizon-Page-Size` header gives the page's width and height in the units of \
            its chunks' `bbox` (points for a PDF, the image's pixels for an image), so that boxes can be drawn over it",
            content_type = "image/jpeg", body = Vec<u8>,
            headers(("Horizon-Page-Size" = String, description = "`<width> <height>` in bbox units"))),
        (status = 400, description = "Malformed id, page or width", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's or expired job; a page the document does not have; \
            or an upload that was deleted (pages are drawn from it)", body = Problem, content_type = PROBLEM),
        (status = 422, description = "The document cannot be drawn", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
/// One page of the job's document as a picture, to show the chunks' boxes over.
async fn get_page(
    State(api): State<JobsApi>,
    Account(account): Account,
    Param((id, page)): Param<(String, u32)>,
    Req(req): Req,
) -> Result<Response<Body>> {
    api.page(&req, &account, &id, page).await
}

#[utoipa::path(post, path = "/v1/jobs/{jobId}/cancel", tag = "jobs",
    params(("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 200, description = "Cancelled: failed with error.code = cancelled", body = JobView),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Already completed or failed", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn cancel_job(
    State(api): State<JobsApi>,
    Account(account): Account,
    Id(id): Id<JobId>,
    Req(req): Req,
) -> Result<Response<Body>> {
    api.cancel(&req, &account, &id).await
}

#[utoipa::path(post, path = "/v1/jobs/{jobId}/webhooks", tag = "jobs",
    params(("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = WebhookInput,
    responses(
        (status = 202, description = "Subscribed; on a job that has finished, its terminal event \
            (job.completed or job.failed) is delivered to this subscription at once", body = SubscriptionView),
        (status = 400, description = "Malformed request or refused URL", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The job has 10 webhooks already, the most it may have", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn add_job_webhook(
    State(api): State<JobsApi>,
    Account(account): Account,
    Id(id): Id<JobId>,
    Req(req): Req,
) -> Result<Response<Body>> {
    api.add_job_webhook(&req, &account, &id).await
}

#[utoipa::path(get, path = "/v1/jobs/{jobId}/webhooks", tag = "jobs",
    params(
        ("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("cursor" = Option<String>, Query, description = "nextCursor of the previous page", pattern = r"^[A-Za-z0-9_-]{1,200}$"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 500; a page also ends before 4 MB (follow nextCursor)", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "The job's subscriptions and a page of its delivery attempts, oldest first: time, status code, latency, error", body = DeliveryLogView),
        (status = 400, description = "Malformed id, cursor or limit", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn job_deliveries(
    State(api): State<JobsApi>,
    Account(account): Account,
    Id(id): Id<JobId>,
    Req(req): Req,
) -> Result<Response<Body>> {
    api.deliveries(&req, &account, &id).await
}

#[utoipa::path(post, path = "/v1/jobs/{jobId}/webhooks/deliveries/{deliveryId}/replay", tag = "jobs",
    params(
        ("jobId" = String, Path, description = "job_<ULID>", pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("deliveryId" = String, Path, description = "msg_<ULID>, the webhook-id"),
    ),
    responses(
        (status = 202, description = "Queued again, with the same webhook-id", body = Object),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such job or delivery", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn replay_delivery(
    State(api): State<JobsApi>,
    Account(account): Account,
    Param((id, delivery)): Param<(String, String)>,
) -> Result<Response<Body>> {
    api.replay_delivery(&account, &id.parse()?, &delivery).await
}

#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks",
    request_body = WebhookInput,
    responses(
        (status = 201, description = "Subscribed to all the account's jobs", body = SubscriptionView),
        (status = 400, description = "Malformed request or refused URL", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The account has 25 webhooks already, the most it may have", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn add_webhook(
    State(api): State<JobsApi>,
    Account(account): Account,
    Req(req): Req,
) -> Result<Response<Body>> {
    api.add_account_webhook(&req, &account).await
}

#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "The account's webhooks (secrets are never shown)", body = WebhookList),
        Refusals,
    ))]
async fn list_webhooks(
    State(api): State<JobsApi>,
    Account(account): Account,
) -> Result<Response<Body>> {
    api.list_account_webhooks(&account).await
}

#[utoipa::path(delete, path = "/v1/webhooks/{webhookId}", tag = "webhooks",
    params(("webhookId" = String, Path, description = "wh_<ULID>", pattern = r"^wh_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such webhook in this account", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn delete_webhook(
    State(api): State<JobsApi>,
    Account(account): Account,
    Id(id): Id<WebhookId>,
) -> Result<Response<Body>> {
    api.delete_account_webhook(&account, &id).await
}

#[utoipa::path(post, path = "/v1/keys", tag = "keys",
    responses(
        (status = 201, description = "A new key of the caller's account; `key` is shown only now", body = ApiKeyView),
        Refusals,
    ))]
async fn create_key(
    State(api): State<JobsApi>,
    Account(account): Account,
) -> Result<Response<Body>> {
    api.create_key(&account).await
}

#[utoipa::path(delete, path = "/v1/keys/{keyId}", tag = "keys",
    params(("keyId" = String, Path, description = "key_<ULID>", pattern = r"^key_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 204, description = "Revoked (within the key cache's 30 s everywhere)"),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such key in this account", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn revoke_key(
    State(api): State<JobsApi>,
    Account(account): Account,
    Id(id): Id<KeyId>,
) -> Result<Response<Body>> {
    api.revoke_key(&account, &id).await
}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "jobs", security(()),
    responses((status = 200, description = "This document", body = Object)))]
async fn openapi_json() -> Result<Response<Body>> {
    Ok(http::json(200, openapi::document()))
}

impl JobsApi {
    async fn create_job(
        &self,
        req: &Request,
        account: &AccountId,
        job_type: JobType,
    ) -> Result<Response<Body>> {
        let body: ExtractRequest = parse_json(req)?;
        let idempotency = if let Some(key) = header(req, "idempotency-key").map(str::to_owned) {
            if key.is_empty() || key.len() > 255 {
                return Err(Error::field(
                    "Idempotency-Key",
                    "must be 1 to 255 characters",
                ));
            }
            // The fingerprint of the request: its route and its JSON, keys sorted, whitespace
            // ignored.
            let value: serde_json::Value = serde_json::from_slice(req.body().as_ref())
                .map_err(|e| Error::field("body", e.to_string()))?;
            let fingerprint = hex::encode(Sha256::digest(
                format!("{}\n{value}", job_type.as_str()).as_bytes(),
            ));
            if let Some(earlier) = self.services.jobs.idempotency(account, &key).await? {
                return self.replay(req, account, &fingerprint, earlier).await;
            }
            let now = self.services.clock.now();
            Some(IdempotencyKey {
                account: account.clone(),
                key: key.clone(),
                request_hash: fingerprint,
                expires_at: now + time::Duration::hours(IDEMPOTENCY_HOURS),
            })
        } else {
            None
        };
        let created = self
            .create_job_from(req, account, body, job_type, idempotency.as_ref())
            .await;
        if let (Err(Error::Conflict(_)), Some(key)) = (&created, &idempotency) {
            // Another request with this key made its job first: answer with that job.
            if let Some(earlier) = self.services.jobs.idempotency(account, &key.key).await? {
                return self.replay(req, account, &key.request_hash, earlier).await;
            }
        }
        let (job, generated_secret) = created?;
        let base = http::base_url(req, &self.services.config);
        let mut view = JobView::of(&job, &base, None);
        view.webhook_secret = generated_secret; // shown this once
        let mut resp = http::json(202, &view);
        http::set_header(&mut resp, "location", &job_path(&job));
        http::set_header(&mut resp, "retry-after", "1");
        Ok(resp)
    }

    /// A request whose `Idempotency-Key` was seen before: the same job for the same body.
    async fn replay(
        &self,
        req: &Request,
        account: &AccountId,
        fingerprint: &str,
        earlier: horizon_app::ports::IdempotencyRecord,
    ) -> Result<Response<Body>> {
        if earlier.request_hash != fingerprint {
            return Err(Error::unprocessable(
                "Idempotency-Key",
                "was used with a different request body within the last 24 hours",
            ));
        }
        let job = self.own_job(account, &earlier.job_id).await?;
        let base = http::base_url(req, &self.services.config);
        let mut resp = http::json(200, &JobView::of(&job, &base, None));
        http::set_header(&mut resp, "location", &job_path(&job));
        http::set_header(&mut resp, "idempotent-replayed", "true");
        Ok(resp)
    }

    async fn create_job_from(
        &self,
        req: &Request,
        account: &AccountId,
        body: ExtractRequest,
        job_type: JobType,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<(Job, Option<String>)> {
        let upload_id = UploadId::from_str(&body.upload_id)
            .map_err(|_| Error::field("uploadId", "is not a well-formed upload id (upl_...)"))?;
        check_tags(&body.tags)?;
        if let Some(m) = &body.metadata {
            if !m.is_object() {
                return Err(Error::field("metadata", "must be a JSON object"));
            }
            if m.to_string().len() > 4096 {
                return Err(Error::field("metadata", "must be at most 4 KB of JSON"));
            }
        }
        let opts = body.options.unwrap_or_default();
        let options = JobOptions {
            max_chunk_chars: match opts.max_chunk_chars {
                Some(n) if !(100..=20_000).contains(&n) => {
                    return Err(Error::field(
                        "options.maxChunkChars",
                        "must be from 100 to 20000",
                    ))
                }
                other => other,
            },
            pages: opts
                .pages
                .map(|p| PageSelection::from_str(&p))
                .transpose()
                .map_err(|m| Error::field("options.pages", m))?,
            ocr: match (opts.ocr, job_type) {
                (Some(mode), JobType::ExtractImage) if mode != OcrMode::Always => {
                    return Err(Error::field(
                        "options.ocr",
                        "images are always read with OCR; leave it out or say \"always\"",
                    ))
                }
                (mode, _) => mode,
            },
            mode: opts.mode,
            languages: horizon_layout::languages::parse(&opts.languages.unwrap_or_default())
                .map_err(|m| Error::field("options.languages", m))?,
        };
        let now = self.services.clock.now();
        let webhook = body
            .webhook
            .map(|w| {
                webhooks::subscribe(
                    w,
                    &self.services.config.webhooks.allow_cidrs,
                    now,
                    "webhook.",
                )
            })
            .transpose()?;
        let upload = uploads::resolve(&self.services, &upload_id, account)
            .await
            .map_err(|e| match e {
                Error::NotFound(detail) => Error::unprocessable("uploadId", detail),
                other => other,
            })?;
        let is_pdf = upload.content_type == "application/pdf";
        match (job_type, is_pdf) {
            (JobType::ExtractPdf, false) => {
                return Err(Error::field(
                    "uploadId",
                    format!(
                        "upload {upload_id} is {}, not a PDF: images go to POST /v1/extract/image",
                        upload.content_type
                    ),
                ))
            }
            (JobType::ExtractImage, true) => {
                return Err(Error::field(
                    "uploadId",
                    format!("upload {upload_id} is a PDF: PDFs go to POST /v1/extract/pdf"),
                ))
            }
            _ => {}
        }
        let retention = time::Duration::try_from(self.services.config.jobs.retention)
            .unwrap_or(time::Duration::days(1));
        let (webhooks, generated) = match webhook {
            Some((sub, secret)) => (vec![sub], secret),
            None => (Vec::new(), None),
        };
        let job = Job::new_queued(
            JobId::new(now),
            job_type,
            account.clone(),
            upload_id,
            now,
            retention,
        )
        .as_requested(body.tags, body.metadata, options, webhooks);
        let along = idempotency.map_or(Along::Nothing, Along::Key);
        horizon_app::jobs::submit(&self.services, &job, along).await?;
        tracing::info!(job_id = %job.id(), upload_id = %job.upload_id(), account = %account, path = req.uri().path(), "job queued");
        Ok((job, generated))
    }

    /// The caller's job, or a 404 that says it may have expired.
    async fn own_job(&self, account: &AccountId, id: &JobId) -> Result<Job> {
        let job = self.services.jobs.get(id).await?;
        self.owned(job.as_ref(), account, id).cloned()
    }

    /// The job if it is the account's; "not found" otherwise, exactly like an unknown one.
    fn owned<'a>(&self, job: Option<&'a Job>, account: &AccountId, id: &JobId) -> Result<&'a Job> {
        job.filter(|j| j.account() == account).ok_or_else(|| {
            Error::NotFound(format!(
                "no job {id}; jobs are kept for {} hours, so it may have expired",
                self.services.config.jobs.retention.as_secs() / 3600
            ))
        })
    }

    async fn get_job(
        &self,
        req: &Request,
        account: &AccountId,
        id: &JobId,
    ) -> Result<Response<Body>> {
        let job = self.own_job(account, id).await?;
        let first = match &job.result() {
            Some(result) => Some(
                self.chunk_page(&job, result.chunk_count, 0, FIRST_PAGE)
                    .await?,
            ),
            None => None,
        };
        let base = http::base_url(req, &self.services.config);
        Ok(http::json(200, &JobView::of(&job, &base, first)))
    }

    async fn chunk_page(
        &self,
        job: &Job,
        total: u32,
        offset: u32,
        limit: u32,
    ) -> Result<ChunkPage> {
        let chunks = self
            .services
            .results
            .chunks(job.id(), total, offset, limit)
            .await?;
        Ok(ChunkPage::of(chunks, offset, total))
    }

    async fn chunks(
        &self,
        req: &Request,
        account: &AccountId,
        id: &JobId,
    ) -> Result<Response<Body>> {
        let params = query(req);
        let limit = limit_param(&params, FIRST_PAGE, 1000)?;
        let offset = cursor_offset(&params, "chunks", "this job's chunks")?;
        let job = self.own_job(account, id).await?;
        let Some(result) = &job.result() else {
            return Err(Error::Conflict(format!(
                "job {} is {}; chunks exist once it is completed",
                job.id(),
                job.status()
            )));
        };
        let page = self
            .chunk_page(&job, result.chunk_count, offset, limit)
            .await?;
        Ok(http::json(200, &page))
    }

    /// The whole document as Markdown: from the job's result in S3, or through a short-lived
    /// S3 link when it is too large for one response.
    async fn markdown(&self, account: &AccountId, id: &JobId) -> Result<Response<Body>> {
        let job = self.own_job(account, id).await?;
        horizon_runtime::documents::markdown(&self.services, &job).await
    }

    async fn page(
        &self,
        req: &Request,
        account: &AccountId,
        id: &str,
        page: u32,
    ) -> Result<Response<Body>> {
        let id = JobId::from_str(id)?;
        let job = self.own_job(account, &id).await?;
        horizon_runtime::documents::page(&self.services, &job, page, &query(req)).await
    }

    async fn list_jobs(&self, req: &Request, account: &AccountId) -> Result<Response<Body>> {
        let params = query(req);
        let limit = limit_param(&params, 20, 100)?;
        let filter = JobFilter {
            status: query_param(&params, "status")?
                .map(|s| {
                    JobStatus::ALL
                        .into_iter()
                        .find(|st| st.as_str() == s)
                        .ok_or_else(|| {
                            Error::field(
                                "status",
                                "must be queued, processing, completed or failed",
                            )
                        })
                })
                .transpose()?,
            job_type: query_param(&params, "jobType")?
                .map(|t| {
                    JobType::ALL
                        .into_iter()
                        .find(|jt| jt.as_str() == t)
                        .ok_or_else(|| {
                            Error::field("jobType", "must be extract/pdf or extract/image")
                        })
                })
                .transpose()?,
            tag: query_param(&params, "tag")?,
        };
        let after = query_param(&params, "cursor")?
            .map(|c| {
                decode_cursor(&c)?
                    .strip_prefix("jobs:")
                    .and_then(|id| JobId::from_str(id).ok())
                    .ok_or_else(|| Error::field("cursor", "is not a cursor of this list"))
            })
            .transpose()?;
        let (jobs, next) = self
            .services
            .jobs
            .list(account, &filter, after.as_ref(), limit as usize)
            .await?;
        let base = http::base_url(req, &self.services.config);
        Ok(http::json(
            200,
            &JobList {
                jobs: jobs.iter().map(|j| JobView::of(j, &base, None)).collect(),
                next_cursor: next.map(|id| encode_cursor(&format!("jobs:{id}"))),
            },
        ))
    }

    async fn cancel(
        &self,
        req: &Request,
        account: &AccountId,
        id: &JobId,
    ) -> Result<Response<Body>> {
        let error = JobError::new("cancelled", "the job was cancelled by its owner");
        let cancelled = jobs::cancel(&self.services, id, error, |current| {
            self.owned(current, account, id)
        })
        .await?;
        tracing::info!(job_id = %id, "job cancelled");
        let base = http::base_url(req, &self.services.config);
        Ok(http::json(200, &JobView::of(&cancelled, &base, None)))
    }

    async fn add_job_webhook(
        &self,
        req: &Request,
        account: &AccountId,
        id: &JobId,
    ) -> Result<Response<Body>> {
        let input: WebhookInput = parse_json(req)?;
        let now = self.services.clock.now();
        let (sub, generated) =
            webhooks::subscribe(input, &self.services.config.webhooks.allow_cidrs, now, "")?;
        let job = jobs::update(&self.services, id, None, |current, now| {
            let job = self
                .owned(current, account, id)?
                .with_webhook(sub.clone(), now)?;
            Ok(Step::Write(job.clone(), job))
        })
        .await?;
        // A job that has already finished sends its terminal event to the new subscription now:
        // a client that registers its callback just after creating a job does not miss it.
        if job.status().is_terminal() {
            horizon_app::events::emit_to(&self.services, &job, &sub).await?;
        }
        Ok(http::json(202, &SubscriptionView::of(&sub, generated)))
    }

    /// The job's subscriptions (without secrets) and every delivery attempt.
    async fn deliveries(
        &self,
        req: &Request,
        account: &AccountId,
        id: &JobId,
    ) -> Result<Response<Body>> {
        let params = query(req);
        let limit = limit_param(&params, 500, 1000)?;
        let offset = cursor_offset(&params, "deliveries", "this delivery log")?;
        let job = self.own_job(account, id).await?;
        let attempts = self.services.delivery_log.attempts(job.id()).await?;
        let subscriptions = job
            .webhooks()
            .iter()
            .map(|s| SubscriptionView::of(s, None))
            .collect();
        Ok(http::json(
            200,
            &DeliveryLogView::page(subscriptions, attempts, offset as usize, limit as usize),
        ))
    }

    /// Sends a delivery again, as a new first attempt with the same `webhook-id`.
    async fn replay_delivery(
        &self,
        account: &AccountId,
        id: &JobId,
        delivery: &str,
    ) -> Result<Response<Body>> {
        let job = self.own_job(account, id).await?;
        horizon_app::events::replay(&self.services, &job, delivery).await?;
        Ok(http::json(
            202,
            &serde_json::json!({ "deliveryId": delivery, "status": "queued" }),
        ))
    }

    async fn add_account_webhook(
        &self,
        req: &Request,
        account: &AccountId,
    ) -> Result<Response<Body>> {
        let input: WebhookInput = parse_json(req)?;
        let now = self.services.clock.now();
        let (sub, generated) =
            webhooks::subscribe(input, &self.services.config.webhooks.allow_cidrs, now, "")?;
        let existing = self.services.accounts.webhooks(account).await?.len();
        if existing >= MAX_ACCOUNT_WEBHOOKS {
            return Err(Error::Conflict(format!(
                "this account has {existing} webhooks, the most an account may have \
                 ({MAX_ACCOUNT_WEBHOOKS}); delete one first"
            )));
        }
        self.services.accounts.put_webhook(account, &sub).await?;
        let mut resp = http::json(201, &SubscriptionView::of(&sub, generated));
        http::set_header(&mut resp, "location", &format!("/v1/webhooks/{}", sub.id));
        Ok(resp)
    }

    async fn list_account_webhooks(&self, account: &AccountId) -> Result<Response<Body>> {
        let subs = self.services.accounts.webhooks(account).await?;
        let webhooks: Vec<SubscriptionView> =
            subs.iter().map(|s| SubscriptionView::of(s, None)).collect();
        Ok(http::json(200, &WebhookList { webhooks }))
    }

    async fn delete_account_webhook(
        &self,
        account: &AccountId,
        id: &WebhookId,
    ) -> Result<Response<Body>> {
        if self.services.accounts.delete_webhook(account, id).await? {
            Ok(http::with_body(204, "application/json", Body::Empty))
        } else {
            Err(Error::NotFound(format!("no webhook {id}")))
        }
    }
}

impl JobsApi {
    /// Another key for the caller's account (to rotate keys without downtime: create, deploy,
    /// revoke the old one).
    async fn create_key(&self, account: &AccountId) -> Result<Response<Body>> {
        let (key, record) = auth::new_key(account.clone(), self.services.clock.now())?;
        self.services.accounts.put_key(&record).await?;
        tracing::info!(key_id = %record.id, account = %account, "API key created");
        Ok(http::json(
            201,
            &ApiKeyView {
                id: record.id.to_string(),
                key,
                account: account.to_string(),
                created_at: horizon_domain::rfc3339(record.created_at),
            },
        ))
    }

    /// Revokes one of the caller's account's keys (possibly the one in use).
    async fn revoke_key(&self, account: &AccountId, id: &KeyId) -> Result<Response<Body>> {
        if self.services.accounts.revoke_key(id, Some(account)).await? {
            tracing::info!(key_id = %id, account = %account, "API key revoked");
            Ok(http::with_body(204, "application/json", Body::Empty))
        } else {
            Err(Error::NotFound(format!("no key {id}")))
        }
    }
}

fn check_tags(tags: &[String]) -> Result<()> {
    if tags.len() > 20 {
        return Err(Error::field("tags", "at most 20 tags"));
    }
    for (i, tag) in tags.iter().enumerate() {
        horizon_domain::check_client_tag(tag)
            .map_err(|why| Error::field(format!("tags[{i}]"), why))?;
    }
    Ok(())
}

/// The API's logic over in-memory adapters: no AWS, no network (the end-to-end tests in
/// `tests/e2e` drive the same handler through LocalStack).
/// The position a page's `cursor` carries (`<kind>:<n>`, as [`encode_cursor`] wrote it); 0
/// without one, and a `400` naming `what` for a cursor of something else.
fn cursor_offset(params: &[(String, String)], kind: &str, what: &str) -> Result<u32> {
    match query_param(params, "cursor")? {
        None => Ok(0),
        Some(c) => decode_cursor(&c)?
            .strip_prefix(kind)
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| Error::field("cursor", format!("is not a cursor of {what}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use horizon_app::media::Inspection;
    use horizon_app::memory::{test_config, Memory};
    use horizon_app::ports::{AccountStore, DashboardStore, UploadStore};
    use horizon_domain::MAX_JOB_WEBHOOKS;

    const KEY: &str = "hzn_unit_test_key_that_is_long_enough_0000000000";

    /// The function as Lambda runs it (its routes as one service), answering in-process.
    struct App(axum::Router);

    impl App {
        async fn handle(&self, req: Request) -> Response<Body> {
            http::call(&self.0, req).await
        }
    }

    /// The API over fresh in-memory services, an account with a key, and a ready PDF upload.
    async fn api() -> (App, Memory, String) {
        let memory = Services::in_memory(test_config().unwrap());
        let now = memory.services.clock.now();
        let account = AccountId("acct_unit".into());
        let key = auth::key_record(KEY, account.clone(), now);
        memory.store.put_key(&key).await.unwrap();
        let inspection = Inspection {
            content_type: "application/pdf",
            width: None,
            height: None,
            pages: Some(1),
        };
        let upload = uploads::ready(
            UploadId::new(now),
            account,
            b"%PDF-1.7",
            &inspection,
            None,
            now,
            std::time::Duration::from_secs(3600),
        );
        memory.store.put(&upload).await.unwrap();
        (
            App(http::service(routes(memory.services.clone()))),
            memory,
            upload.id.to_string(),
        )
    }

    fn request(method: &str, path: &str, body: &str) -> Request {
        let mut req = Request::new(Body::Text(body.to_owned()));
        *req.method_mut() = method.parse().unwrap();
        *req.uri_mut() = path.parse().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {KEY}").parse().unwrap());
        req.headers_mut()
            .insert("host", "127.0.0.1:3000".parse().unwrap());
        req
    }

    fn json(resp: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(resp.body().as_ref()).unwrap()
    }

    #[tokio::test]
    async fn a_job_is_created_queued_read_and_cancelled_once() {
        let (api, memory, upload) = api().await;
        let body = format!(r#"{{"uploadId": "{upload}", "tags": ["batch:7"]}}"#);
        let created = api.handle(request("POST", "/v1/extract/pdf", &body)).await;
        assert_eq!(created.status(), 202, "{:?}", created.body());
        let job = json(&created);
        let id = job["jobId"].as_str().unwrap().to_owned();
        assert_eq!(job["status"], "queued");
        let queued = memory.queue.work().unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].job_id, id);

        let read = api
            .handle(request("GET", &format!("/v1/jobs/{id}"), ""))
            .await;
        assert_eq!(read.status(), 200);
        assert_eq!(json(&read)["tags"][0], "batch:7");

        let cancelled = api
            .handle(request("POST", &format!("/v1/jobs/{id}/cancel"), ""))
            .await;
        assert_eq!(cancelled.status(), 200);
        assert_eq!(json(&cancelled)["status"], "failed");
        assert_eq!(json(&cancelled)["error"]["code"], "cancelled");
        // The cancel went through the one write path: the failure is counted, from the stream.
        memory.pump().await.unwrap();
        let counters = memory.store.counters().await.unwrap();
        assert!(counters.iter().any(|c| c.failed == 1), "{counters:?}");

        let again = api
            .handle(request("POST", &format!("/v1/jobs/{id}/cancel"), ""))
            .await;
        assert_eq!(again.status(), 409);
    }

    /// The OpenAPI document and the handler agree: on every documented path of this function,
    /// each documented method is served and every other method is refused with `405`.
    #[tokio::test]
    async fn every_documented_operation_is_served_and_no_other_method_is() {
        let (api, _memory, upload) = api().await;
        let body = format!(r#"{{"uploadId": "{upload}"}}"#);
        let created = api.handle(request("POST", "/v1/extract/pdf", &body)).await;
        let job = json(&created)["jobId"].as_str().unwrap().to_owned();
        let doc = openapi::document();
        let mut checked = 0;
        for (template, item) in doc["paths"].as_object().unwrap() {
            if !template.starts_with("/v1/") {
                continue; // `/api/...` is the uploads function's
            }
            let path = template
                .replace("{jobId}", &job)
                .replace("{deliveryId}", "msg_01ARZ3NDEKTSV4RRFFQ69G5FAV")
                .replace("{webhookId}", "wh_01ARZ3NDEKTSV4RRFFQ69G5FAV")
                .replace("{keyId}", "key_01ARZ3NDEKTSV4RRFFQ69G5FAV");
            let documented: Vec<String> = item
                .as_object()
                .unwrap()
                .keys()
                .map(|m| m.to_uppercase())
                .collect();
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                let resp = api.handle(request(method, &path, "{}")).await;
                let status = resp.status().as_u16();
                let detail = json(&resp)["detail"].as_str().unwrap_or("").to_owned();
                let unrouted = status == 405 || detail.starts_with("no route");
                assert_eq!(
                    unrouted,
                    !documented.iter().any(|d| d == method),
                    "{method} {template}: {status} {detail}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 5 * 14, "{checked} checks");
    }

    /// One tenant cannot make an event fan out without bound: a job takes ten webhooks, an
    /// account twenty-five; the next is a `409` that says so.
    #[tokio::test]
    async fn webhooks_per_job_and_per_account_are_capped() {
        let (api, _memory, upload) = api().await;
        let body = format!(r#"{{"uploadId": "{upload}"}}"#);
        let created = api.handle(request("POST", "/v1/extract/pdf", &body)).await;
        let id = json(&created)["jobId"].as_str().unwrap().to_owned();
        let hook = r#"{"url": "https://hooks.example.com/horizon", "events": ["job.completed"]}"#;
        let path = format!("/v1/jobs/{id}/webhooks");
        for _ in 0..MAX_JOB_WEBHOOKS {
            assert_eq!(api.handle(request("POST", &path, hook)).await.status(), 202);
        }
        let refused = api.handle(request("POST", &path, hook)).await;
        assert_eq!(refused.status(), 409);
        assert!(json(&refused)["detail"]
            .as_str()
            .unwrap()
            .contains("10 webhooks"));
        for _ in 0..MAX_ACCOUNT_WEBHOOKS {
            let added = api.handle(request("POST", "/v1/webhooks", hook)).await;
            assert_eq!(added.status(), 201);
        }
        let refused = api.handle(request("POST", "/v1/webhooks", hook)).await;
        assert_eq!(refused.status(), 409);
        assert!(json(&refused)["detail"]
            .as_str()
            .unwrap()
            .contains("delete one first"));
    }

    /// A callback registered after the job has finished still hears how it ended: `202`, and
    /// the terminal event queued for that subscription alone, under a stable `webhook-id`.
    #[tokio::test]
    async fn a_webhook_added_to_a_finished_job_gets_its_terminal_event_at_once() {
        let (api, memory, upload) = api().await;
        let body = format!(r#"{{"uploadId": "{upload}"}}"#);
        let created = api.handle(request("POST", "/v1/extract/pdf", &body)).await;
        let id = json(&created)["jobId"].as_str().unwrap().to_owned();
        let cancelled = api
            .handle(request("POST", &format!("/v1/jobs/{id}/cancel"), ""))
            .await;
        assert_eq!(json(&cancelled)["status"], "failed");
        assert!(memory.queue.deliveries().unwrap().is_empty());

        let hook = r#"{"url": "https://hooks.example.com/horizon", "events": ["job.completed", "job.failed"]}"#;
        let added = api
            .handle(request("POST", &format!("/v1/jobs/{id}/webhooks"), hook))
            .await;
        assert_eq!(added.status(), 202, "{:?}", added.body());
        let sub = json(&added)["id"].as_str().unwrap().to_owned();
        let queued = memory.queue.deliveries().unwrap();
        assert_eq!(queued.len(), 1, "{queued:?}");
        let (delivery, delay) = &queued[0];
        assert_eq!(delivery.job_id.as_str(), id);
        assert_eq!(delivery.subscription_id.as_str(), sub);
        assert_eq!(delivery.event.as_str(), "job.failed");
        assert_eq!(*delay, std::time::Duration::ZERO);
        // The delivery log lists the new subscription beside the job's others.
        let log = api
            .handle(request("GET", &format!("/v1/jobs/{id}/webhooks"), ""))
            .await;
        assert_eq!(json(&log)["subscriptions"][0]["id"], sub.as_str());
    }

    #[tokio::test]
    async fn a_client_may_not_write_the_service_s_own_tags() {
        let (api, _memory, upload) = api().await;
        for (tag, status) in [
            ("account:acct_other", 400),
            ("type:extract/pdf", 400),
            ("team@example.com", 202),
        ] {
            let body = format!(r#"{{"uploadId": "{upload}", "tags": ["{tag}"]}}"#);
            let resp = api.handle(request("POST", "/v1/extract/pdf", &body)).await;
            assert_eq!(resp.status(), status, "{tag}: {:?}", resp.body());
            if status == 400 {
                assert_eq!(json(&resp)["errors"][0]["field"], "tags[0]");
            }
        }
    }

    #[tokio::test]
    async fn a_cancel_that_loses_races_reads_again_and_lands() {
        let (api, memory, upload) = api().await;
        let body = format!(r#"{{"uploadId": "{upload}"}}"#);
        let created = api.handle(request("POST", "/v1/extract/pdf", &body)).await;
        let id = json(&created)["jobId"].as_str().unwrap().to_owned();
        memory.store.fail_next_replaces(2).unwrap();
        let cancelled = api
            .handle(request("POST", &format!("/v1/jobs/{id}/cancel"), ""))
            .await;
        assert_eq!(cancelled.status(), 200);
        assert_eq!(json(&cancelled)["status"], "failed");
    }

    #[tokio::test]
    async fn routes_methods_and_keys_answer_problems() {
        let (api, _memory, _) = api().await;
        let missing = api.handle(request("GET", "/v1/nothing", "")).await;
        assert_eq!(missing.status(), 404);
        assert_eq!(
            missing.headers()["content-type"],
            horizon_runtime::http::PROBLEM_JSON
        );
        let wrong = api.handle(request("DELETE", "/v1/jobs", "")).await;
        assert_eq!(wrong.status(), 405);
        assert_eq!(wrong.headers()["allow"], "GET, HEAD");
        assert_eq!(
            wrong.headers()["content-type"],
            horizon_runtime::http::PROBLEM_JSON
        );
        let mut anonymous = request("GET", "/v1/jobs", "");
        anonymous.headers_mut().remove("authorization");
        assert_eq!(api.handle(anonymous).await.status(), 401);
        let image_route = api
            .handle(request(
                "POST",
                "/v1/extract/image",
                r#"{"uploadId": "upl_01ARZ3NDEKTSV4RRFFQ69G5FAV"}"#,
            ))
            .await;
        assert_eq!(
            image_route.status(),
            422,
            "an unknown upload cannot be extracted"
        );
        assert!(
            json(&image_route)["detail"]
                .as_str()
                .unwrap()
                .contains("upl_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            "{:?}",
            image_route.body()
        );
    }
}
