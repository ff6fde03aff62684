//! What clients see: the JSON shapes of the API (and of webhook payloads, which carry the job's
//! view). Each derives its OpenAPI schema, so the document cannot drift from the responses.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use horizon_domain::error::{Error, Result};
use horizon_domain::{
    rfc3339, Chunk, EventType, Job, JobError, JobStatus, JobType, Progress, Subscription,
};

/// A job tag (a schema only: requests carry tags as strings).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(value_type = String, pattern = r"^[A-Za-z0-9_.:/@-]{1,64}$")]
pub struct Tag(String);

/// `GET /v1/jobs/{jobId}`: the seed's names (`jobId, jobType, status, createdAt, updatedAt,
/// statusUrl, webhookUrl, result, error, events`) with RFC 3339 UTC timestamps, plus `progress`
/// while the job is processing, and `tags`/`metadata` when the client gave them.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    #[schema(example = "job_01KAZ7ZQ6B7M8Q3W8V6X2N4PRD")]
    pub job_id: String,
    #[schema(value_type = crate::schemas::JobType)]
    pub job_type: JobType,
    #[schema(value_type = crate::schemas::JobStatus)]
    pub status: JobStatus,
    pub created_at: String,
    pub updated_at: String,
    /// This job's status resource: poll it until `status` is `completed` or `failed`.
    pub status_url: String,
    /// Where the job's webhook deliveries go, or null.
    pub webhook_url: Option<String>,
    pub result: Option<ResultView>,
    #[schema(value_type = Option<crate::schemas::JobError>)]
    pub error: Option<JobError>,
    /// The webhook events subscribed to for this job.
    #[schema(value_type = Vec<crate::schemas::EventType>)]
    pub events: Vec<EventType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::schemas::Progress>)]
    pub progress: Option<Progress>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Only in the response that created the job, when the server generated its webhook's secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// A completed job's result: the first page of chunks, and a cursor to the rest
/// (`GET /v1/jobs/{jobId}/chunks?cursor=`). In job lists, only the counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultView {
    pub pages: u32,
    pub chunk_count: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The pages read with OCR (all of an image's).
    pub ocr_pages: Vec<u32>,
    /// The whole document as Markdown (`GET /v1/jobs/{jobId}/markdown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markdown_url: Option<String>,
    /// The document's type as its bytes showed it: `application/pdf`, an image's, or an Office,
    /// OpenDocument, EPUB, HTML or Markdown type. Only PDFs and images have page pictures
    /// (`GET /v1/jobs/{jobId}/pages/{n}`); the others' boxes are zero, but a slide's.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "application/pdf")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<crate::schemas::Chunk>>)]
    pub chunks: Option<Vec<Chunk>>,
    /// Where the chunks continue; null when `chunks` holds the last of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Option<String>>,
}

/// A page of chunks.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChunkPage {
    #[schema(value_type = Vec<crate::schemas::Chunk>)]
    pub chunks: Vec<Chunk>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// A page's chunks stop at about this many bytes of JSON, whatever the `limit`: a function's
/// response (and a webhook body) must stay under Lambda's 6 MB.
pub const CHUNK_PAGE_BYTES: usize = 4 * 1024 * 1024;

impl ChunkPage {
    /// The page of `chunks` read from `offset` of a result of `total` chunks: cut where it
    /// would pass [`CHUNK_PAGE_BYTES`] (always at least one chunk), with the cursor of the next.
    pub fn of(mut chunks: Vec<Chunk>, offset: u32, total: u32) -> ChunkPage {
        cut_at_page_bytes(&mut chunks);
        let end = offset + chunks.len() as u32;
        ChunkPage {
            chunks,
            next_cursor: (end < total).then(|| encode_cursor(&format!("chunks:{end}"))),
        }
    }
}

/// Cuts `items` where their JSON would pass [`CHUNK_PAGE_BYTES`], keeping at least one: what
/// keeps a page (and a Lambda response) under its limit whatever the items' sizes.
pub fn cut_at_page_bytes<T: Serialize>(items: &mut Vec<T>) {
    let mut bytes = 0;
    let keep = items
        .iter()
        .take_while(|item| {
            let first = bytes == 0;
            bytes += serde_json::to_vec(item).map(|v| v.len()).unwrap_or(0);
            first || bytes <= CHUNK_PAGE_BYTES
        })
        .count();
    items.truncate(keep);
}

/// A page of jobs, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobList {
    pub jobs: Vec<JobView>,
    pub next_cursor: Option<String>,
}

impl JobView {
    /// The job's status resource as a path (`Location`).
    pub fn status_path(&self) -> String {
        format!("/v1/jobs/{}", self.job_id)
    }

    /// The view of `job`, with links under `base_url` (scheme and host, no trailing slash) and,
    /// for a completed job, the first page of its chunks.
    pub fn of(job: &Job, base_url: &str, first_page: Option<ChunkPage>) -> Self {
        let mut events: Vec<EventType> = job
            .webhooks()
            .iter()
            .flat_map(|s| s.events.iter().copied())
            .collect();
        events.sort();
        events.dedup();
        JobView {
            job_id: job.id().to_string(),
            job_type: job.job_type(),
            status: job.status(),
            created_at: rfc3339(job.created_at()),
            updated_at: rfc3339(job.updated_at()),
            status_url: format!("{base_url}{}", job_path(job)),
            webhook_url: job.webhooks().last().map(|s| s.url.clone()),
            result: job.result().as_ref().map(|r| {
                let (chunks, next_cursor) = match first_page {
                    Some(page) => (Some(page.chunks), Some(page.next_cursor)),
                    None => (None, None),
                };
                ResultView {
                    pages: r.pages,
                    chunk_count: r.chunk_count,
                    warnings: r.warnings.clone(),
                    ocr_pages: r.ocr_pages.clone(),
                    markdown_url: r
                        .markdown_bytes
                        .map(|_| format!("{base_url}{}/markdown", job_path(job))),
                    content_type: r.content_type.clone(),
                    chunks,
                    next_cursor,
                }
            }),
            error: job.error().cloned(),
            events,
            progress: if job.status() == JobStatus::Processing {
                job.progress().cloned()
            } else {
                None
            },
            tags: job.tags().to_vec(),
            metadata: job.metadata().cloned(),
            webhook_secret: None,
        }
    }
}

/// The job's status resource path.
pub fn job_path(job: &Job) -> String {
    format!("/v1/jobs/{}", job.id())
}

/// A delivery queued again (`…/deliveries/{deliveryId}/replay`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayView {
    /// The delivery's `webhook-id`, the same as before.
    pub delivery_id: String,
    /// Always `queued`.
    #[schema(example = "queued")]
    pub status: &'static str,
}

impl ReplayView {
    pub fn queued(delivery_id: String) -> ReplayView {
        ReplayView {
            delivery_id,
            status: "queued",
        }
    }
}

/// `GET /v1/jobs/{jobId}/webhooks`: the job's subscriptions and a page of its delivery
/// attempts, oldest first; `nextCursor` continues the log.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryLogView {
    pub subscriptions: Vec<SubscriptionView>,
    #[schema(value_type = Vec<crate::schemas::Attempt>)]
    pub deliveries: Vec<horizon_domain::deliveries::Attempt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl DeliveryLogView {
    /// `job`'s subscriptions (without secrets) and at most `limit` of its `attempts` from
    /// `offset`, cut before [`CHUNK_PAGE_BYTES`].
    pub fn page(
        job: &Job,
        attempts: Vec<horizon_domain::deliveries::Attempt>,
        offset: usize,
        limit: usize,
    ) -> DeliveryLogView {
        let subscriptions = job
            .webhooks()
            .iter()
            .map(|s| SubscriptionView::of(s, None))
            .collect();
        let total = attempts.len();
        let mut deliveries: Vec<_> = attempts.into_iter().skip(offset).take(limit).collect();
        cut_at_page_bytes(&mut deliveries);
        let end = offset + deliveries.len();
        DeliveryLogView {
            subscriptions,
            deliveries,
            next_cursor: (end < total).then(|| encode_cursor(&format!("deliveries:{end}"))),
        }
    }
}

/// `GET /v1/webhooks`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<SubscriptionView>,
}

/// `POST /v1/keys`: a new API key of the caller's account. `key` is shown only in this
/// response (only its hash is stored).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    #[schema(example = "key_01KAZ7ZQ6B7M8Q3W8V6X2N4PRD")]
    pub id: String,
    pub key: String,
    pub account: String,
    pub created_at: String,
}

/// Opaque pagination cursors: URL-safe base64 of what the server needs to continue.
pub fn encode_cursor(state: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(state)
}

pub fn decode_cursor(cursor: &str) -> Result<String> {
    use base64::Engine;
    let bad = || Error::field("cursor", "is not a cursor this API gave out");
    if cursor.len() > 200 {
        return Err(bad());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

/// The account-level or job-level subscription as shown: never the secret, except once, when the
/// server generated it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub id: String,
    pub url: String,
    #[schema(value_type = Vec<crate::schemas::EventType>)]
    pub events: Vec<EventType>,
    pub created_at: String,
    /// Present only in the response that created the subscription (or rotated its secret),
    /// and only when the server generated the secret: store it, it is not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// While a rotation lasts: until when deliveries are also signed with the previous secret
    /// (a second `v1,` signature in `webhook-signature`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_until: Option<String>,
}

impl SubscriptionView {
    /// The subscription as the API shows it: without its secret, unless `generated` is that
    /// secret.
    pub fn of(sub: &Subscription, generated: Option<String>) -> SubscriptionView {
        SubscriptionView {
            id: sub.id.to_string(),
            url: sub.url.clone(),
            events: sub.events.clone(),
            created_at: sub.created_at.clone(),
            secret: generated,
            previous_secret_until: sub.previous.as_ref().map(|p| p.until.clone()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
/// An upload (`POST /api/upload`): what was stored, decided from its bytes.
pub struct UploadView {
    pub id: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub filename: Option<String>,
    pub created_at: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
/// A presigned upload: PUT the file to `uploadUrl` before `expiresAt`.
pub struct PresignView {
    pub id: String,
    pub upload_url: String,
    #[schema(value_type = String, example = "PUT")]
    pub method: &'static str,
    /// Headers to send with the PUT, as they are (they are signed), besides a `Content-Length`
    /// of exactly `size`.
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: String,
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(n: usize, text_bytes: usize) -> Chunk {
        serde_json::from_value(serde_json::json!({
            "id": format!("c{n}"), "text": "x".repeat(text_bytes), "page": 1, "segmentIndex": n
        }))
        .unwrap()
    }

    fn attempt(n: usize, error_bytes: usize) -> horizon_domain::deliveries::Attempt {
        horizon_domain::deliveries::Attempt {
            delivery_id: format!("msg_{n}"),
            subscription_id: "wh_1".into(),
            url: "https://hooks.example.com/…".into(),
            event: horizon_domain::EventType::Completed,
            attempt: 1,
            replay: 0,
            at: "2026-11-30T00:00:00Z".into(),
            status_code: Some(500),
            latency_ms: 3,
            error: Some("x".repeat(error_bytes)),
            outcome: "retrying".into(),
            message: None,
            then: None,
        }
    }

    /// The delivery log comes in pages that join up, by count and before 4 MB.
    #[test]
    fn delivery_log_pages_by_count_and_by_bytes() {
        let now = time::OffsetDateTime::now_utc();
        let job = Job::new_queued(
            horizon_domain::JobId::new(now),
            horizon_domain::JobType::ExtractPdf,
            horizon_domain::AccountId::default_account(),
            horizon_domain::UploadId::new(now),
            now,
            time::Duration::days(1),
        );
        let all: Vec<_> = (0..5).map(|n| attempt(n, 10)).collect();
        let first = DeliveryLogView::page(&job, all.clone(), 0, 2);
        assert_eq!(first.deliveries.len(), 2);
        let cursor = decode_cursor(first.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(cursor, "deliveries:2");
        let last = DeliveryLogView::page(&job, all, 4, 2);
        assert_eq!(last.deliveries[0].delivery_id, "msg_4");
        assert!(last.next_cursor.is_none());
        let big: Vec<_> = (0..10).map(|n| attempt(n, 1024 * 1024)).collect();
        let page = DeliveryLogView::page(&job, big, 0, 1000);
        assert!(
            (1..=4).contains(&page.deliveries.len()),
            "{}",
            page.deliveries.len()
        );
        assert!(serde_json::to_vec(&page).unwrap().len() < 6_000_000);
        assert!(page.next_cursor.is_some());
    }

    /// A page of big chunks stops before Lambda's response limit, and its cursor goes on from
    /// where it stopped; a single chunk larger than the budget still comes alone.
    #[test]
    fn a_chunk_page_stays_under_the_response_limit() {
        let mb = 1024 * 1024;
        let chunks: Vec<Chunk> = (0..5).map(|n| chunk(n, 3 * mb / 2)).collect();
        let page = ChunkPage::of(chunks, 10, 40);
        assert_eq!(page.chunks.len(), 2);
        assert!(serde_json::to_vec(&page).unwrap().len() < 6 * mb);
        let cursor = decode_cursor(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(cursor, "chunks:12");
        let alone = ChunkPage::of(vec![chunk(0, 5 * mb)], 0, 1);
        assert_eq!(alone.chunks.len(), 1);
        assert!(alone.next_cursor.is_none());
        let small: Vec<Chunk> = (0..100).map(|n| chunk(n, 100)).collect();
        assert_eq!(ChunkPage::of(small, 0, 100).chunks.len(), 100);
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        assert_eq!(
            decode_cursor(&encode_cursor("chunks:500")).unwrap(),
            "chunks:500"
        );
        assert!(decode_cursor("!!!").is_err());
        assert!(decode_cursor(&"A".repeat(500)).is_err());
    }
}
