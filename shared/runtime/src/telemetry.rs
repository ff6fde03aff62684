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
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

pub fn init() {
    // `RUST_LOG` as `level` or `target=level,...` (a plain list of targets: no regex engine in
    // every function for a filter nobody writes as a pattern).
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let result = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        let json = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_ansi(false)
            .without_time(); // CloudWatch stamps every line
        tracing_subscriber::registry()
            .with(json.with_filter(filter))
            .try_init()
    } else {
        let text = tracing_subscriber::fmt::layer().with_target(false);
        tracing_subscriber::registry()
            .with(text.with_filter(filter))
            .try_init()
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
