//! Every function's handler on the committed Lambda fixture events (`tests/fixtures/events`,
//! the same files `cargo lambda invoke --data-file` takes), without the network: the AWS
//! endpoint is a closed local port, so anything that would need AWS fails fast and must be
//! handled as such (a problem+json answer, a message left for retry), never a crash.

use std::sync::Arc;

use horizon_app::{Config, Services};
use horizon_runtime::lambda::EventHandler;
use lambda_http::Body;
use serde_json::Value;

fn event(name: &str) -> String {
    let path = format!("{}/fixtures/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Services whose every AWS call goes to a closed port, with one attempt and short timeouts.
async fn offline() -> Services {
    let config = Config::from_lookup(|k| {
        match k {
            "HORIZON_TABLE" => Some("horizon-offline-jobs"),
            "HORIZON_BUCKET" => Some("horizon-offline-data"),
            "HORIZON_EXTRACT_QUEUE_URL" => Some("http://127.0.0.1:9/000000000000/extract"),
            "HORIZON_WEBHOOK_QUEUE_URL" => Some("http://127.0.0.1:9/000000000000/webhooks"),
            "HORIZON_ADMIN_KEY" => Some("an-admin-key-of-some-length"),
            _ => None,
        }
        .map(str::to_owned)
    })
    .expect("config");
    let sdk = aws_config::SdkConfig::builder()
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            aws_sdk_sqs::config::Credentials::for_tests(),
        ))
        .http_client(horizon_aws::https_client())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(std::time::Duration::from_secs(2))
                .build(),
        )
        .build();
    horizon_aws::services::with_sdk(config, &sdk)
}

/// The function's routes as Lambda runs them, on one fixture event.
async fn http(routes: &axum::Router, name: &str) -> (u16, String, String) {
    let req = lambda_http::request::from_str(&event(name))
        .unwrap_or_else(|e| panic!("{name} is not an API Gateway request: {e}"));
    let app = horizon_runtime::http::service(routes.clone());
    let resp = horizon_runtime::http::call(&app, req).await;
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = match resp.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    (resp.status().as_u16(), content_type, body)
}

#[tokio::test]
async fn every_handler_answers_its_fixture_events_without_the_network() {
    let services = offline().await;
    let jobs = horizon_jobs_api::routes(services.clone());

    let (status, ct, body) = http(&jobs, "jobs-api-openapi.json").await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert!(doc["paths"]["/v1/extract/pdf"].is_object());

    let (status, ct, body) = http(&jobs, "jobs-api-docs.json").await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/html") && body.contains("/v1/extract/pdf"));

    let (status, ct, body) = http(&jobs, "jobs-api-get-job-no-key.json").await;
    assert_eq!(
        (status, ct.as_str()),
        (401, "application/problem+json"),
        "{body}"
    );

    // A key that cannot be checked (DynamoDB unreachable) is a 503 that says so, not a crash
    // and not a 401 (the key may well be valid).
    let (status, ct, body) = http(&jobs, "jobs-api-extract.json").await;
    assert_eq!(
        (status, ct.as_str()),
        (503, "application/problem+json"),
        "{body}"
    );
    assert!(body.contains("unavailable"), "{body}");

    let uploads = horizon_uploads::routes(services.clone());
    let (status, ct, _) = http(&uploads, "uploads-get-image-no-key.json").await;
    assert_eq!((status, ct.as_str()), (401, "application/problem+json"));

    let dashboard = horizon_dashboard::routes(services.clone());
    let (status, _, body) = http(&dashboard, "dashboard-stats-no-key.json").await;
    assert_eq!(
        status, 403,
        "the dashboard's API needs the admin key: {body}"
    );

    // The worker: a message it cannot parse, and one whose job cannot be read now, both stay
    // on the queue (listed in batchItemFailures) for a retry or the dead-letter queue.
    let worker = Arc::new(horizon_extract_worker::ExtractWorker::new(services.clone()));
    for name in ["extract-worker-malformed.json", "extract-worker-sqs.json"] {
        let batch: aws_lambda_events::sqs::SqsEvent = serde_json::from_str(&event(name)).unwrap();
        let id = batch.records[0].message_id.clone().unwrap();
        let resp = horizon_runtime::lambda::run_batch(&*worker, batch).await;
        let failed: Vec<String> = resp
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        assert_eq!(failed, vec![id], "{name}");
    }
    // The scheduled events reach the reaper and the snapshot, which report the store's failure.
    for name in ["extract-worker-reaper.json", "extract-worker-snapshot.json"] {
        let e: Value = serde_json::from_str(&event(name)).unwrap();
        assert!(worker.handle_event(e, "fixture").await.is_err(), "{name}");
    }

    // The outbox's consumer: a job's write it cannot apply is reported, and comes again.
    let job_events = horizon_job_events::JobEvents::new(services.clone());
    let batch: aws_lambda_events::dynamodb::Event =
        serde_json::from_str(&event("job-events-stream.json")).unwrap();
    let seq = batch.records[0].change.sequence_number.clone();
    let resp = job_events.handle(batch).await;
    assert_eq!(resp.batch_item_failures.len(), 1);
    assert_eq!(resp.batch_item_failures[0].item_identifier, seq);

    let dispatcher = horizon_webhook_dispatch::WebhookDispatcher::new(services);
    let batch: aws_lambda_events::sqs::SqsEvent =
        serde_json::from_str(&event("webhook-dispatch-sqs.json")).unwrap();
    let id = batch.records[0].message_id.clone().unwrap();
    let resp = horizon_runtime::lambda::run_batch(&dispatcher, batch).await;
    assert_eq!(resp.batch_item_failures.len(), 1);
    assert_eq!(resp.batch_item_failures[0].item_identifier, id);
}
