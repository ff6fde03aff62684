//! The job API under `/v1` (see the OpenAPI document at `/v1/openapi.json`).
//!
//! Every route but the document needs `Authorization: Bearer <key>`; another account's job,
//! upload or webhook is "not found", exactly like an unknown one.
//!
//! Each operation is one handler: typed extractors in (the account, the path's id, the body as
//! [`ApiJson`], the query as [`ApiQuery`]), the request's rules in its type's `validate`
//! (`horizon_api::requests`), a typed response out. Its `#[utoipa::path]` declares it in the
//! OpenAPI document, from which the routes are made.

use axum::extract::State;
use axum::http::header::{HeaderMap, HeaderName, LOCATION, RETRY_AFTER};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use horizon_api::refusals::{ExtractResponses, IdempotencyHeader, Refusals};
use horizon_api::requests::{
    ChunksQuery, DeliveriesQuery, ExtractRequest, JobPath, JobRequest, JobsQuery, PageQuery,
};
use horizon_api::schemas::Problem;
use horizon_api::views::{
    encode_cursor, ApiKeyView, ChunkPage, DeliveryLogView, JobList, JobView, ReplayView,
    SubscriptionView, WebhookList,
};
use horizon_api::webhooks::{self, RotateSecret, WebhookInput};
use horizon_app::jobs::{self, Step};
use horizon_app::ports::{Along, IdempotencyKey, IdempotencyRecord, JobFilter};
use horizon_app::{uploads, Services};
use horizon_domain::{
    AccountId, Job, JobError, JobId, JobType, KeyId, WebhookId, MAX_ACCOUNT_WEBHOOKS,
};
use horizon_domain::{Error, Result};
use horizon_runtime::auth;
use horizon_runtime::documents::{self, Markdown, PagePicture};
use horizon_runtime::http::{
    self, Account, ApiJson, ApiQuery, ApiResult, BaseUrl, Id, Param, RawBody,
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

pub mod docs;
pub mod openapi;

/// Chunks in a job's `result`; the rest come from `/v1/jobs/{jobId}/chunks`.
const FIRST_PAGE: u32 = 100;
/// How long an `Idempotency-Key` is remembered.
const IDEMPOTENCY_HOURS: i64 = 24;

/// The function's routes: the API's, each declared once by its handler's `#[utoipa::path]`,
/// and the reference for people at `/docs`, made from the same document.
pub fn routes(services: Services) -> axum::Router {
    let (router, _) = api().split_for_parts();
    router
        .route("/docs", get(docs_page))
        .route("/docs/collection.json", get(docs_collection))
        .with_state(services)
}

/// The API's routes with their OpenAPI operations (see [`openapi::document`]).
pub fn api() -> OpenApiRouter<Services> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(extract_pdf))
        .routes(routes!(extract_image))
        .routes(routes!(extract_document))
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
        .routes(routes!(rotate_webhook_secret))
        .routes(routes!(create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(openapi_json))
}

/// The API reference, open like the document it is made from.
async fn docs_page() -> Html<String> {
    Html(docs::html(openapi::document()))
}

/// The Postman collection of every operation, aimed at the address it was fetched from.
async fn docs_collection(BaseUrl(base): BaseUrl) -> ApiJson<serde_json::Value> {
    ApiJson(docs::postman(openapi::document(), &base))
}

const PROBLEM: &str = http::PROBLEM_JSON;

#[utoipa::path(post, path = "/v1/extract/pdf", tag = "jobs",
    request_body = ExtractRequest, params(IdempotencyHeader),
    responses(ExtractResponses, Refusals))]
/// Reads a PDF: its text layer, and with OCR the pages that have none (`options.ocr`). An image
/// upload is a 400 that names `/v1/extract/image`.
async fn extract_pdf(call: ExtractCall) -> ApiResult<Created> {
    call.create(JobType::ExtractPdf).await
}

#[utoipa::path(post, path = "/v1/extract/image", tag = "jobs",
    request_body = ExtractRequest, params(IdempotencyHeader),
    responses(ExtractResponses, Refusals))]
/// Reads an image with OCR: PNG, JPEG, WebP, GIF or TIFF (each page of a multi-page TIFF is a
/// page). Boxes are in the image's pixels.
async fn extract_image(call: ExtractCall) -> ApiResult<Created> {
    call.create(JobType::ExtractImage).await
}

#[utoipa::path(post, path = "/v1/extract/document", tag = "jobs",
    request_body = ExtractRequest, params(IdempotencyHeader),
    responses(ExtractResponses, Refusals))]
/// Reads any document we read, by the type its bytes show: a PDF or an image (as the two routes
/// above), or a Word (DOCX), PowerPoint (PPTX), Excel (XLSX), OpenDocument text (ODT), EPUB,
/// HTML or Markdown file, read with its own structure (heading levels, nested lists, tables
/// with merged cells, footnotes; a page per slide or sheet, one flowing page for the others).
async fn extract_document(call: ExtractCall) -> ApiResult<Created> {
    call.create(JobType::ExtractDocument).await
}

/// What every extraction route reads from its request, in this order (the key before the body):
/// the caller, the address it reached us at, the headers (an `Idempotency-Key`), the body.
struct ExtractCall {
    services: Services,
    account: AccountId,
    base: String,
    headers: HeaderMap,
    body: ExtractRequest,
}

impl axum::extract::FromRequest<Services> for ExtractCall {
    type Rejection = http::ApiError;

    async fn from_request(req: axum::extract::Request, services: &Services) -> ApiResult<Self> {
        use axum::extract::FromRequestParts;
        let (mut parts, body) = req.into_parts();
        let Account(account) = Account::from_request_parts(&mut parts, services).await?;
        let BaseUrl(base) = BaseUrl::from_request_parts(&mut parts, services).await?;
        let headers = parts.headers.clone();
        let request = axum::extract::Request::from_parts(parts, body);
        let ApiJson(body) = ApiJson::from_request(request, services).await?;
        Ok(ExtractCall {
            services: services.clone(),
            account,
            base,
            headers,
            body,
        })
    }
}

impl ExtractCall {
    /// A job of `job_type` as the request asks (or the one its `Idempotency-Key` made).
    async fn create(self, job_type: JobType) -> ApiResult<Created> {
        let ExtractCall {
            services,
            account,
            base,
            headers,
            body,
        } = self;
        Ok(create_job(&services, &account, &base, &headers, body, job_type).await?)
    }
}

#[utoipa::path(get, path = "/v1/jobs", tag = "jobs",
    params(JobsQuery),
    responses(
        (status = 200, description = "The caller's jobs, newest first", body = JobList),
        (status = 400, description = "Bad parameter", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn list_jobs(
    State(services): State<Services>,
    Account(account): Account,
    BaseUrl(base): BaseUrl,
    ApiQuery(query): ApiQuery<JobsQuery>,
) -> ApiResult<ApiJson<JobList>> {
    let wanted = query.validate()?;
    let filter = JobFilter {
        status: wanted.status,
        job_type: wanted.job_type,
        tag: wanted.tag,
    };
    let (jobs, next) = services
        .jobs
        .list(
            &account,
            &filter,
            wanted.after.as_ref(),
            wanted.limit as usize,
        )
        .await?;
    Ok(ApiJson(JobList {
        jobs: jobs.iter().map(|j| JobView::of(j, &base, None)).collect(),
        next_cursor: next.map(|id| encode_cursor(&format!("jobs:{id}"))),
    }))
}

#[utoipa::path(get, path = "/v1/jobs/{jobId}", tag = "jobs",
    params(JobPath),
    responses(
        (status = 200, description = "The job; `result` carries the first page of chunks", body = JobView),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn get_job(
    State(services): State<Services>,
    Account(account): Account,
    Id(id): Id<JobId>,
    BaseUrl(base): BaseUrl,
) -> ApiResult<ApiJson<JobView>> {
    let job = own_job(&services, &account, &id).await?;
    let first = match &job.result() {
        Some(result) => Some(chunk_page(&services, &job, result.chunk_count, 0, FIRST_PAGE).await?),
        None => None,
    };
    Ok(ApiJson(JobView::of(&job, &base, first)))
}

#[utoipa::path(delete, path = "/v1/jobs/{jobId}", tag = "jobs",
    params(JobPath),
    responses(
        (status = 204, description = "Deleted at once: the job, its chunks, Markdown, event bodies and delivery log"),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, expired or deleted", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Still queued or processing: cancel it first", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn delete_job(
    State(services): State<Services>,
    Account(account): Account,
    Id(id): Id<JobId>,
) -> ApiResult<StatusCode> {
    let job = own_job(&services, &account, &id).await?;
    jobs::delete(&services, &job).await?;
    tracing::info!(job_id = %id, account = %account, "job deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/jobs/{jobId}/chunks", tag = "jobs",
    params(JobPath, ChunksQuery),
    responses(
        (status = 200, description = "A page of the job's chunks", body = ChunkPage),
        (status = 400, description = "Bad parameter", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The job has not completed", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn get_chunks(
    State(services): State<Services>,
    Account(account): Account,
    Id(id): Id<JobId>,
    ApiQuery(query): ApiQuery<ChunksQuery>,
) -> ApiResult<ApiJson<ChunkPage>> {
    let window = query.validate()?;
    let job = own_job(&services, &account, &id).await?;
    let Some(result) = &job.result() else {
        return Err(Error::Conflict(format!(
            "job {} is {}; chunks exist once it is completed",
            job.id(),
            job.status()
        ))
        .into());
    };
    let page = chunk_page(
        &services,
        &job,
        result.chunk_count,
        window.offset,
        window.limit,
    )
    .await?;
    Ok(ApiJson(page))
}

#[utoipa::path(get, path = "/v1/jobs/{jobId}/markdown", tag = "jobs",
    params(JobPath),
    responses(
        (status = 200, description = "The whole document as Markdown, its running text: headings as `#`, \
            tables as pipe tables (as HTML where they have spanned cells or several header rows), \
            `<!-- page N -->` before each page; page headers, footers and numbers left out",
            content_type = "text/markdown; charset=utf-8", body = String),
        (status = 307, description = "Too large for a function response: a short-lived presigned URL",
            headers(("Location" = String))),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The job has not completed", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
/// The whole document as Markdown: from the job's result in S3, or through a short-lived S3
/// link when it is too large for one response.
async fn get_markdown(
    State(services): State<Services>,
    Account(account): Account,
    Id(id): Id<JobId>,
) -> ApiResult<Markdown> {
    let job = own_job(&services, &account, &id).await?;
    Ok(documents::markdown(&services, &job).await?)
}

#[utoipa::path(get, path = "/v1/jobs/{jobId}/pages/{page}", tag = "jobs",
    params(
        JobPath,
        ("page" = u32, Path, description = "The page, from 1", minimum = 1),
        PageQuery,
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
    State(services): State<Services>,
    Account(account): Account,
    Param((id, page)): Param<(String, u32)>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<PagePicture> {
    let job = own_job(&services, &account, &id.parse()?).await?;
    Ok(documents::page(&services, &job, page, query.w).await?)
}

#[utoipa::path(post, path = "/v1/jobs/{jobId}/cancel", tag = "jobs",
    params(JobPath),
    responses(
        (status = 200, description = "Cancelled: failed with error.code = cancelled", body = JobView),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Already completed or failed", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn cancel_job(
    State(services): State<Services>,
    Account(account): Account,
    Id(id): Id<JobId>,
    BaseUrl(base): BaseUrl,
) -> ApiResult<ApiJson<JobView>> {
    let error = JobError::new("cancelled", "the job was cancelled by its owner");
    let cancelled = jobs::cancel(&services, &id, error, |current| {
        owned(&services, current, &account, &id)
    })
    .await?;
    tracing::info!(job_id = %id, "job cancelled");
    Ok(ApiJson(JobView::of(&cancelled, &base, None)))
}

#[utoipa::path(post, path = "/v1/jobs/{jobId}/webhooks", tag = "jobs",
    params(JobPath),
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
    State(services): State<Services>,
    Account(account): Account,
    Id(id): Id<JobId>,
    ApiJson(input): ApiJson<WebhookInput>,
) -> ApiResult<(StatusCode, ApiJson<SubscriptionView>)> {
    let (sub, generated) = subscribe(&services, input)?;
    let job = jobs::update(&services, &id, None, |current, now| {
        let job = owned(&services, current, &account, &id)?.with_webhook(sub.clone(), now)?;
        Ok(Step::Write(job.clone(), job))
    })
    .await?;
    // A job that has already finished sends its terminal event to the new subscription now: a
    // client that registers its callback just after creating a job does not miss it.
    if job.status().is_terminal() {
        horizon_app::events::emit_to(&services, &job, &sub).await?;
    }
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(SubscriptionView::of(&sub, generated)),
    ))
}

#[utoipa::path(get, path = "/v1/jobs/{jobId}/webhooks", tag = "jobs",
    params(JobPath, DeliveriesQuery),
    responses(
        (status = 200, description = "The job's subscriptions and a page of its delivery attempts, oldest first: time, status code, latency, error", body = DeliveryLogView),
        (status = 400, description = "Malformed id, cursor or limit", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, or expired", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
/// The job's subscriptions (without secrets) and a page of its delivery attempts.
async fn job_deliveries(
    State(services): State<Services>,
    Account(account): Account,
    Id(id): Id<JobId>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> ApiResult<ApiJson<DeliveryLogView>> {
    let window = query.validate()?;
    let job = own_job(&services, &account, &id).await?;
    let attempts = services.delivery_log.attempts(job.id()).await?;
    let (offset, limit) = (window.offset as usize, window.limit as usize);
    Ok(ApiJson(DeliveryLogView::page(
        &job, attempts, offset, limit,
    )))
}

#[utoipa::path(post, path = "/v1/jobs/{jobId}/webhooks/deliveries/{deliveryId}/replay", tag = "jobs",
    params(
        JobPath,
        ("deliveryId" = String, Path, description = "msg_<ULID>, the webhook-id"),
    ),
    responses(
        (status = 202, description = "Queued again, with the same webhook-id", body = ReplayView),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such job or delivery", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
/// Sends a delivery again, as a new first attempt with the same `webhook-id`.
async fn replay_delivery(
    State(services): State<Services>,
    Account(account): Account,
    Param((id, delivery)): Param<(String, String)>,
) -> ApiResult<(StatusCode, ApiJson<ReplayView>)> {
    let job = own_job(&services, &account, &id.parse()?).await?;
    horizon_app::events::replay(&services, &job, &delivery).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(ReplayView::queued(delivery))))
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
    State(services): State<Services>,
    Account(account): Account,
    ApiJson(input): ApiJson<WebhookInput>,
) -> ApiResult<(
    StatusCode,
    [(HeaderName, String); 1],
    ApiJson<SubscriptionView>,
)> {
    let (sub, generated) = subscribe(&services, input)?;
    let existing = services.accounts.webhooks(&account).await?.len();
    if existing >= MAX_ACCOUNT_WEBHOOKS {
        return Err(Error::Conflict(format!(
            "this account has {existing} webhooks, the most an account may have \
             ({MAX_ACCOUNT_WEBHOOKS}); delete one first"
        ))
        .into());
    }
    services.accounts.put_webhook(&account, &sub).await?;
    Ok((
        StatusCode::CREATED,
        [(LOCATION, format!("/v1/webhooks/{}", sub.id))],
        ApiJson(SubscriptionView::of(&sub, generated)),
    ))
}

#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "The account's webhooks (secrets are never shown)", body = WebhookList),
        Refusals,
    ))]
async fn list_webhooks(
    State(services): State<Services>,
    Account(account): Account,
) -> ApiResult<ApiJson<WebhookList>> {
    let subs = services.accounts.webhooks(&account).await?;
    let webhooks = subs.iter().map(|s| SubscriptionView::of(s, None)).collect();
    Ok(ApiJson(WebhookList { webhooks }))
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
    State(services): State<Services>,
    Account(account): Account,
    Id(id): Id<WebhookId>,
) -> ApiResult<StatusCode> {
    if services.accounts.delete_webhook(&account, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound(format!("no webhook {id}")).into())
    }
}

#[utoipa::path(post, path = "/v1/webhooks/{webhookId}/rotate", tag = "webhooks",
    params(("webhookId" = String, Path, description = "wh_<ULID>", pattern = r"^wh_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body(content = Option<RotateSecret>, description = "The new secret, or nothing (an empty body) to have one generated"),
    responses(
        (status = 200, description = "Rotated: deliveries are signed with the new secret, and for 24 hours with the \
            previous one too (two signatures in `webhook-signature`); `secret` is shown only now, when generated",
            body = SubscriptionView),
        (status = 400, description = "Malformed id or secret", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such webhook in this account", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
/// A new signing secret for an account webhook, without a delivery the receiver cannot verify:
/// for a day both secrets sign each delivery, while the receiver moves to the new one.
async fn rotate_webhook_secret(
    State(services): State<Services>,
    Account(account): Account,
    Id(id): Id<WebhookId>,
    RawBody(body): RawBody,
) -> ApiResult<ApiJson<SubscriptionView>> {
    let input: RotateSecret = if body.iter().all(u8::is_ascii_whitespace) {
        RotateSecret::default()
    } else {
        http::from_json(&body)?
    };
    let sub = services
        .accounts
        .webhook(&account, &id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no webhook {id}")))?;
    let (rotated, generated) = input.apply(&sub, services.clock.now())?;
    services.accounts.update_webhook(&account, &rotated).await?;
    tracing::info!(webhook_id = %id, account = %account, "webhook secret rotated");
    Ok(ApiJson(SubscriptionView::of(&rotated, generated)))
}

#[utoipa::path(post, path = "/v1/keys", tag = "keys",
    responses(
        (status = 201, description = "A new key of the caller's account; `key` is shown only now", body = ApiKeyView),
        Refusals,
    ))]
/// Another key for the caller's account (to rotate keys without downtime: create, deploy,
/// revoke the old one).
async fn create_key(
    State(services): State<Services>,
    Account(account): Account,
) -> ApiResult<(StatusCode, ApiJson<ApiKeyView>)> {
    let (key, record) = auth::new_key(account.clone(), services.clock.now())?;
    services.accounts.put_key(&record).await?;
    tracing::info!(key_id = %record.id, account = %account, "API key created");
    let view = ApiKeyView {
        id: record.id.to_string(),
        key,
        account: account.to_string(),
        created_at: horizon_domain::rfc3339(record.created_at),
    };
    Ok((StatusCode::CREATED, ApiJson(view)))
}

#[utoipa::path(delete, path = "/v1/keys/{keyId}", tag = "keys",
    params(("keyId" = String, Path, description = "key_<ULID>", pattern = r"^key_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 204, description = "Revoked (within the key cache's 30 s everywhere)"),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such key in this account", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
/// Revokes one of the caller's account's keys (possibly the one in use).
async fn revoke_key(
    State(services): State<Services>,
    Account(account): Account,
    Id(id): Id<KeyId>,
) -> ApiResult<StatusCode> {
    if services.accounts.revoke_key(&id, Some(&account)).await? {
        tracing::info!(key_id = %id, account = %account, "API key revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound(format!("no key {id}")).into())
    }
}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "jobs", security(()),
    responses((status = 200, description = "This document", body = Object)))]
async fn openapi_json() -> ApiJson<&'static serde_json::Value> {
    ApiJson(openapi::document())
}

/// Says that a response repeats an earlier one, for its `Idempotency-Key`.
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// A job made, or found again by its `Idempotency-Key`.
enum Created {
    /// `202`: queued now.
    Queued(JobView),
    /// `200`: this key and body were seen before; the job they made.
    Replayed(JobView),
}

impl IntoResponse for Created {
    fn into_response(self) -> Response {
        match self {
            Created::Queued(view) => (
                StatusCode::ACCEPTED,
                [
                    (LOCATION, view.status_path()),
                    (RETRY_AFTER, "1".to_owned()),
                ],
                ApiJson(view),
            )
                .into_response(),
            Created::Replayed(view) => (
                [
                    (LOCATION, view.status_path()),
                    (IDEMPOTENT_REPLAYED, "true".to_owned()),
                ],
                ApiJson(view),
            )
                .into_response(),
        }
    }
}

/// Makes a job of `job_type` from a request, once per `Idempotency-Key`.
async fn create_job(
    services: &Services,
    account: &AccountId,
    base: &str,
    headers: &HeaderMap,
    body: ExtractRequest,
    job_type: JobType,
) -> Result<Created> {
    let idempotency = match idempotency_key(headers)? {
        Some(key) => {
            let fingerprint = body.fingerprint(job_type)?;
            if let Some(earlier) = services.jobs.idempotency(account, &key).await? {
                return replay(services, account, base, &fingerprint, earlier).await;
            }
            Some(IdempotencyKey {
                account: account.clone(),
                key,
                request_hash: fingerprint,
                expires_at: services.clock.now() + time::Duration::hours(IDEMPOTENCY_HOURS),
            })
        }
        None => None,
    };
    let request = body.validate(
        job_type,
        &services.config.webhooks.allow_cidrs,
        services.clock.now(),
    );
    let created = match request {
        Ok(request) => submit(services, account, request, job_type, idempotency.as_ref()).await,
        Err(e) => Err(e),
    };
    if let (Err(Error::Conflict(_)), Some(key)) = (&created, &idempotency) {
        // Another request with this key made its job first: answer with that job.
        if let Some(earlier) = services.jobs.idempotency(account, &key.key).await? {
            return replay(services, account, base, &key.request_hash, earlier).await;
        }
    }
    let (job, generated_secret) = created?;
    let mut view = JobView::of(&job, base, None);
    view.webhook_secret = generated_secret; // shown this once
    Ok(Created::Queued(view))
}

/// The request's `Idempotency-Key`, 1 to 255 characters, if it has one.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= 255 => Ok(Some(key.to_owned())),
        _ => Err(Error::field(
            "Idempotency-Key",
            "must be 1 to 255 characters",
        )),
    }
}

/// A request whose `Idempotency-Key` was seen before: the same job for the same body.
async fn replay(
    services: &Services,
    account: &AccountId,
    base: &str,
    fingerprint: &str,
    earlier: IdempotencyRecord,
) -> Result<Created> {
    if earlier.request_hash != fingerprint {
        return Err(Error::unprocessable(
            "Idempotency-Key",
            "was used with a different request body within the last 24 hours",
        ));
    }
    let job = own_job(services, account, &earlier.job_id).await?;
    horizon_app::jobs::resume(services, &job).await?;
    Ok(Created::Replayed(JobView::of(&job, base, None)))
}

/// Queues the job a valid request asks for, on an upload of the account's of the right kind.
async fn submit(
    services: &Services,
    account: &AccountId,
    request: JobRequest,
    job_type: JobType,
    idempotency: Option<&IdempotencyKey>,
) -> Result<(Job, Option<String>)> {
    let upload_id = request.upload_id;
    let upload = uploads::resolve(services, &upload_id, account)
        .await
        .map_err(|e| match e {
            Error::NotFound(detail) => Error::unprocessable("uploadId", detail),
            other => other,
        })?;
    let kind = &upload.content_type;
    let (is_pdf, is_image) = (kind == "application/pdf", kind.starts_with("image/"));
    let wrong = |right: &str| {
        Err(Error::field(
            "uploadId",
            format!("upload {upload_id} is {kind}: it goes to POST {right}"),
        ))
    };
    match job_type {
        JobType::ExtractPdf if is_image => return wrong("/v1/extract/image"),
        JobType::ExtractImage if is_pdf => return wrong("/v1/extract/pdf"),
        JobType::ExtractPdf | JobType::ExtractImage if !is_pdf && !is_image => {
            return wrong("/v1/extract/document")
        }
        _ => {}
    }
    let now = services.clock.now();
    let retention =
        time::Duration::try_from(services.config.jobs.retention).unwrap_or(time::Duration::days(1));
    let (webhooks, generated) = match request.webhook {
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
    .as_requested(request.tags, request.metadata, request.options, webhooks);
    let along = idempotency.map_or(Along::Nothing, Along::Key);
    jobs::submit(services, &job, along).await?;
    tracing::info!(job_id = %job.id(), upload_id = %job.upload_id(), account = %account, job_type = job_type.as_str(), "job queued");
    Ok((job, generated))
}

/// A subscription from a client's input, under the service's URL rules.
fn subscribe(
    services: &Services,
    input: WebhookInput,
) -> Result<(horizon_domain::Subscription, Option<String>)> {
    let allow = &services.config.webhooks.allow_cidrs;
    webhooks::subscribe(input, allow, services.clock.now(), "")
}

/// The caller's job, or a 404 that says it may have expired.
async fn own_job(services: &Services, account: &AccountId, id: &JobId) -> Result<Job> {
    let job = services.jobs.get(id).await?;
    owned(services, job.as_ref(), account, id).cloned()
}

/// The job if it is the account's; "not found" otherwise, exactly like an unknown one.
fn owned<'a>(
    services: &Services,
    job: Option<&'a Job>,
    account: &AccountId,
    id: &JobId,
) -> Result<&'a Job> {
    job.filter(|j| j.account() == account).ok_or_else(|| {
        Error::NotFound(format!(
            "no job {id}; jobs are kept for {} hours, so it may have expired",
            services.config.jobs.retention.as_secs() / 3600
        ))
    })
}

/// `limit` of the job's `total` chunks from `offset`.
async fn chunk_page(
    services: &Services,
    job: &Job,
    total: u32,
    offset: u32,
    limit: u32,
) -> Result<ChunkPage> {
    let chunks = services
        .results
        .chunks(job.id(), total, offset, limit)
        .await?;
    Ok(ChunkPage::of(chunks, offset, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use horizon_app::media::Inspection;
    use horizon_app::memory::{test_config, Memory};
    use horizon_app::ports::{AccountStore, MetricHistory, UploadStore};
    use horizon_domain::{UploadId, MAX_JOB_WEBHOOKS};
    use lambda_http::{Body, Request};

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
    async fn the_document_route_takes_every_type_and_the_others_name_it() {
        let (api, memory, pdf) = api().await;
        let now = memory.services.clock.now();
        let docx = uploads::ready(
            UploadId::new(now),
            AccountId("acct_unit".into()),
            b"PK\x03\x04",
            &Inspection {
                content_type:
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                width: None,
                height: None,
                pages: None,
            },
            None,
            now,
            std::time::Duration::from_secs(3600),
        );
        memory.store.put(&docx).await.unwrap();
        let body = |id: &str| format!(r#"{{"uploadId": "{id}"}}"#);
        for route in ["/v1/extract/pdf", "/v1/extract/image"] {
            let wrong = api
                .handle(request("POST", route, &body(docx.id.as_str())))
                .await;
            assert_eq!(wrong.status(), 400, "{route}");
            let detail = json(&wrong)["detail"].to_string();
            assert!(detail.contains("/v1/extract/document"), "{detail}");
        }
        for id in [docx.id.as_str(), pdf.as_str()] {
            let created = api
                .handle(request("POST", "/v1/extract/document", &body(id)))
                .await;
            assert_eq!(created.status(), 202, "{:?}", created.body());
            assert_eq!(json(&created)["jobType"], "extract/document");
        }
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

    /// Query parameters are typed: a wrong value or a parameter given twice is a `400` that
    /// names it, never a `500`.
    #[tokio::test]
    async fn bad_query_parameters_are_400s_that_name_them() {
        let (api, _memory, _) = api().await;
        for (query, field) in [
            ("status=sleeping", "status"),
            ("jobType=extract/word", "jobType"),
            ("limit=0", "limit"),
            ("limit=many", "limit"),
            ("limit=5&limit=6", "limit"),
            ("cursor=!!", "cursor"),
        ] {
            let resp = api
                .handle(request("GET", &format!("/v1/jobs?{query}"), ""))
                .await;
            assert_eq!(resp.status(), 400, "{query}: {:?}", resp.body());
            assert_eq!(json(&resp)["errors"][0]["field"], field, "{query}");
        }
        let fine = api
            .handle(request("GET", "/v1/jobs?status=queued&limit=5&other=1", ""))
            .await;
        assert_eq!(fine.status(), 200, "{:?}", fine.body());
    }

    /// A replayed request answers with the same job, and says so; the same key with another
    /// body is refused.
    #[tokio::test]
    async fn an_idempotency_key_returns_the_same_job_for_the_same_body() {
        let (api, _memory, upload) = api().await;
        let with_key = |body: &str| {
            let mut req = request("POST", "/v1/extract/pdf", body);
            req.headers_mut()
                .insert("idempotency-key", "order-42".parse().unwrap());
            req
        };
        let body = format!(r#"{{"uploadId": "{upload}", "tags": ["a"]}}"#);
        let first = api.handle(with_key(&body)).await;
        assert_eq!(first.status(), 202);
        assert_eq!(first.headers()["retry-after"], "1");
        let id = json(&first)["jobId"].as_str().unwrap().to_owned();
        assert_eq!(first.headers()["location"], format!("/v1/jobs/{id}"));
        // The same values, written differently.
        let again = format!(r#"{{ "tags": ["a"],  "uploadId": "{upload}" }}"#);
        let replayed = api.handle(with_key(&again)).await;
        assert_eq!(replayed.status(), 200);
        assert_eq!(replayed.headers()["idempotent-replayed"], "true");
        assert_eq!(json(&replayed)["jobId"], id.as_str());
        let other = format!(r#"{{"uploadId": "{upload}", "tags": ["b"]}}"#);
        assert_eq!(api.handle(with_key(&other)).await.status(), 422);
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
