//! What the dashboard shows: the single-page app's files, embedded in the function, and jobs in
//! Horizon's shape.

use horizon_app::dashboard;
use horizon_domain::{Error, Result};
use horizon_domain::{Job, JobStatus};
use horizon_runtime::http;
use lambda_http::{Body, Response};
use serde_json::{json, Value};
use time::OffsetDateTime;

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const DOCUMENT_JS: &str = include_str!("../assets/document.js");
const PLAYGROUND: &str = include_str!("../assets/playground.html");
const PLAYGROUND_JS: &str = include_str!("../assets/playground.js");

/// The app: every view path serves the same page. It talks to its own origin only.
pub fn page() -> Response<Body> {
    html(INDEX, "'self'")
}

/// The playground for API users: open to all (it asks for an API key, and speaks only the
/// public API with it). Besides its origin it sends large files to presigned S3 URLs, and
/// follows a large document's Markdown to one.
pub fn playground() -> Response<Body> {
    html(
        PLAYGROUND,
        "'self' https: http://localhost:* http://127.0.0.1:*",
    )
}

fn html(page: &'static str, connect: &str) -> Response<Body> {
    let mut resp = http::with_body(200, "text/html; charset=utf-8", Body::Text(page.into()));
    http::set_header(&mut resp, "cache-control", "no-store");
    // Scripts and styles of this origin only; pictures may be blob URLs (pages drawn from the API).
    http::set_header(
        &mut resp,
        "content-security-policy",
        &format!(
            "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; \
             connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ),
    );
    resp
}

pub fn asset(name: &str) -> Result<Response<Body>> {
    let (body, content_type) = match name {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "document.js" => (DOCUMENT_JS, "text/javascript; charset=utf-8"),
        "playground.js" => (PLAYGROUND_JS, "text/javascript; charset=utf-8"),
        other => return Err(Error::NotFound(format!("no asset {other:?}"))),
    };
    let mut resp = http::with_body(200, content_type, Body::Text(body.into()));
    http::set_header(&mut resp, "cache-control", "no-cache");
    Ok(resp)
}

/// Horizon's names for the statuses: queued jobs are `pending`, running ones `reserved`.
pub fn horizon_status(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Queued => "pending",
        JobStatus::Processing => "reserved",
        JobStatus::Completed => "completed",
        JobStatus::Failed => "failed",
    }
}

/// Unix seconds with milliseconds, as Horizon shows times.
fn seconds(t: OffsetDateTime) -> f64 {
    (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

/// One job as Horizon's API shows it; `index` is the cursor for the next page
/// (`starting_at`).
pub fn job_view(job: &Job, queue: &str, index: &str) -> Value {
    let failed = job.status() == JobStatus::Failed;
    json!({
        "id": job.id(),
        "index": index,
        "connection": "sqs",
        "queue": queue,
        "name": job.job_type().as_str(),
        "status": horizon_status(job.status()),
        "account": job.account().0,
        "payload": {
            "displayName": job.job_type().as_str(),
            "tags": dashboard::tags(job),
            "pushedAt": seconds(job.created_at()),
            "attempts": job.attempts(),
            "maxTries": null,
            "retry_of": job.retry_of(),
            "data": {
                "uploadId": job.upload_id(),
                "account": job.account().0,
                "tags": job.tags(),
                "metadata": job.metadata(),
                "options": job.options(),
            },
        },
        "progress": job.progress(),
        "result": job.result(),
        "error": job.error(),
        "exception": job.error().as_ref().map(|e| format!("{}: {}", e.code, e.message)),
        "context": failed.then(|| json!({
            "attempts": job.attempts(),
            "uploadId": job.upload_id(),
            "account": job.account().0,
            "code": job.error().as_ref().map(|e| e.code.clone()),
        })),
        "reserved_at": job.started_at().map(seconds),
        "completed_at": (job.status() == JobStatus::Completed).then(|| job.finished_at().map(seconds)).flatten(),
        "failed_at": failed.then(|| job.finished_at().map(seconds)).flatten(),
        "retried_by": job.retried_by().iter().rev().map(|r| json!({
            "id": r.id, "status": horizon_status(r.status), "retried_at": r.retried_at
        })).collect::<Vec<_>>(),
        "retry_of": job.retry_of(),
        "history": job.history().iter().map(|h| json!({
            "status": horizon_status(h.status),
            "at": h.at as f64 / 1000.0,
            "attempt": h.attempt,
            "worker": h.worker,
        })).collect::<Vec<_>>(),
    })
}
