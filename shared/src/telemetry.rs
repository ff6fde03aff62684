//! Logging through `tracing`: JSON lines in Lambda (CloudWatch reads them), readable text locally;
//! the level comes from `RUST_LOG` (default `info`).
//!
//! Every line logged while handling something carries the spans it happened in: `request`
//! (HTTP: request id, method, path, and the account once the key is checked), `batch` (SQS:
//! the invocation's request id and the queue) and `job` (job id and account). In JSON they are
//! the `spans` list; in text, the line's prefix.

use std::fmt::Display;

use aws_lambda_events::sqs::SqsEvent;
use tracing::field::Empty;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_ansi(false)
            .without_time() // CloudWatch stamps every line
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
    // A second init (tests, the local runner embedding several handlers) keeps the first one.
    let _ = result;
}

/// One HTTP request; `account` is filled in by [`record_account`] once the key is checked.
pub fn request_span(request_id: &str, method: &str, path: &str) -> tracing::Span {
    tracing::info_span!("request", request_id, method, path, account = Empty)
}

/// One SQS batch: the invocation's request id and the queue's name (from the records' ARN).
pub fn batch_span(request_id: &str, event: &SqsEvent) -> tracing::Span {
    let queue = event
        .records
        .first()
        .and_then(|r| r.event_source_arn.as_deref())
        .and_then(|arn| arn.rsplit(':').next())
        .unwrap_or("");
    tracing::info_span!("batch", request_id, queue, messages = event.records.len())
}

/// One job's message; `account` is filled in by [`record_account`] once the job is read.
pub fn job_span(job_id: &dyn Display) -> tracing::Span {
    tracing::info_span!("job", job_id = %job_id, account = Empty)
}

/// Names the account in the current span (a `request` or `job`), so every later line has it.
pub fn record_account(account: &dyn Display) {
    tracing::Span::current().record("account", tracing::field::display(account));
}
