//! End-to-end tests against the local stack (LocalStack on 127.0.0.1:4566), over real connections:
//! HTTP to the local runner, and the AWS SDK to DynamoDB, SQS and S3 to check what was stored.
//! Run them with `scripts/test`, which starts and provisions the stack.

mod cli;
mod contracts;
mod dashboard;
mod documents;
mod events;
mod jobs;
mod lambda;
mod parts;
mod reliability;
mod resources;
mod support;
mod uploads;
mod webhooks;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::SqsMessage;
use aws_sdk_dynamodb::types::AttributeValue;
use horizon_app::ports::StoreError;
use horizon_domain::{AccountId, Job, JobId, JobStatus, JobType, UploadId};
use horizon_runtime::lambda::{Handled, SqsHandler};
use serde_json::Value;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_pdf_travels_the_whole_way() {
    let services = services().await;
    let sdk = sdk().await;
    let pdf = fixture("two-pages.pdf");

    // The API alone first, so the queued message can be seen before a worker takes it.
    let http = horizon_local::start_http(services.clone()).await.unwrap();
    let key = new_account(&services).await;
    let api = Api::new(http.addr, &key);

    // 1. Upload, as a raw body and as multipart/form-data: 201, and the bytes are in S3.
    let resp = api.upload_raw(pdf.clone(), "application/pdf").await;
    assert_eq!(resp.status(), 201);
    let raw: Value = resp.json().await.unwrap();
    assert!(raw["id"].as_str().unwrap().starts_with("upl_"), "{raw}");
    assert_eq!(raw["contentType"], "application/pdf");
    assert_eq!(raw["size"], pdf.len() as u64);
    let upload_id = raw["id"].as_str().unwrap().to_owned();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let stored = s3
        .get_object()
        .bucket(&services.config.stack.bucket)
        .key(format!("uploads/{upload_id}"))
        .send()
        .await
        .expect("the upload's bytes are in S3");
    let stored = stored.body.collect().await.unwrap().into_bytes();
    assert_eq!(
        stored.as_ref(),
        pdf.as_slice(),
        "S3 holds exactly the uploaded bytes"
    );

    let resp = api.upload_multipart(&pdf, "two-pages.pdf").await;
    assert_eq!(resp.status(), 201);
    let multi: Value = resp.json().await.unwrap();
    assert_eq!(multi["contentType"], "application/pdf");
    assert_eq!(multi["size"], pdf.len() as u64);
    assert_eq!(multi["filename"], "two-pages.pdf");
    assert_ne!(multi["id"], raw["id"]);

    // 2. Start the job: 202, Location, the job in DynamoDB and a message on the queue.
    let resp = api
        .post_json(
            "/v1/extract/pdf",
            &format!(r#"{{"uploadId":"{upload_id}"}}"#),
        )
        .await;
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let job: Value = resp.json().await.unwrap();
    let job_id = job["jobId"].as_str().unwrap().to_owned();
    assert!(job_id.starts_with("job_"));
    assert_eq!(location, format!("/v1/jobs/{job_id}"));
    assert_eq!(job["jobType"], "extract/pdf");
    assert_eq!(job["status"], "queued");
    assert_eq!(job["statusUrl"], format!("{}{location}", api.base));
    for field in ["createdAt", "updatedAt"] {
        let t = job[field].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_ok()
                && t.ends_with('Z'),
            "{field} = {t} is not RFC 3339 UTC"
        );
    }

    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let item = dynamo
        .get_item()
        .table_name(&services.config.stack.table)
        .key("pk", AttributeValue::S(format!("JOB#{job_id}")))
        .key("sk", AttributeValue::S("JOB".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the job is in DynamoDB");
    assert_eq!(item["status"].as_s().unwrap(), "queued");
    assert!(item.contains_key("expiresAt"), "the job has a TTL");

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = &services.config.stack.extract_queue_url;
    let message = receive_until(&sqs, queue, |body| body.contains(&job_id)).await;
    // Put it back at once, for the worker.
    sqs.change_message_visibility()
        .queue_url(queue)
        .receipt_handle(message)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();

    // 3. The worker takes it and finishes it.
    let workers = horizon_local::start_workers(services.clone())
        .await
        .unwrap();
    let done = api.wait_terminal(&job_id).await;
    workers.shutdown().await;

    // 4. The seed's shape, exactly these names.
    let mut keys: Vec<&str> = done
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "createdAt",
            "error",
            "events",
            "jobId",
            "jobType",
            "result",
            "status",
            "statusUrl",
            "updatedAt",
            "webhookUrl"
        ]
    );
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["error"], Value::Null);
    assert_eq!(done["webhookUrl"], Value::Null);
    assert_eq!(done["events"], serde_json::json!([]));
    assert_eq!(done["statusUrl"], job["statusUrl"]);
    let chunks = done["result"]["chunks"].as_array().unwrap();
    assert!(!chunks.is_empty());
    let first = &chunks[0];
    assert_eq!(first["id"], "chunk_001");
    assert_eq!(first["page"], 1);
    assert_eq!(first["segmentIndex"], 0);
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .starts_with("Horizon walking skeleton. The first page says hello"),
        "{first}"
    );
    let page2: Vec<&Value> = chunks.iter().filter(|c| c["page"] == 2).collect();
    assert_eq!(page2.len(), 1);
    assert_eq!(page2[0]["segmentIndex"], 0);
    assert!(page2[0]["text"]
        .as_str()
        .unwrap()
        .contains("The second page has its own text."));

    // The upload reads back byte for byte.
    let resp = api.get(&format!("/api/images/{upload_id}")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), pdf.as_slice());
    http.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_pdf_ends_failed_with_its_reason() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("corrupt.pdf")).await;
    let job_id = api.start_job(&upload).await;
    let done = api.wait_terminal(&job_id).await;
    running.shutdown().await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "invalid_pdf");
    assert!(!done["error"]["message"].as_str().unwrap().is_empty());
    assert_eq!(done["result"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_problem_json_naming_what_is_wrong() {
    let services = services().await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);

    async fn problem(resp: reqwest::Response, status: u16) -> Value {
        assert_eq!(resp.status(), status);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["status"], status);
        assert!(v["title"].is_string() && v["detail"].is_string() && v["type"].is_string());
        v
    }

    let unknown = "job_01JQZZZZZZZZZZZZZZZZZZZZZZ";
    let p = problem(api.get(&format!("/v1/jobs/{unknown}")).await, 404).await;
    assert!(
        p["detail"].as_str().unwrap().contains("may have expired"),
        "{p}"
    );
    assert_eq!(p["instance"], format!("/v1/jobs/{unknown}"));
    problem(api.get("/v1/jobs/job_..%2F..%2Fetc").await, 400).await;
    problem(api.get("/v1/nothing-here").await, 404).await;
    problem(api.get("/elsewhere").await, 404).await;
    problem(api.get("/v1/extract/pdf").await, 405).await;

    let p = problem(api.post_json("/v1/extract/pdf", "{}").await, 400).await;
    assert_eq!(p["errors"][0]["field"], "uploadId");
    let p = problem(
        api.post_json("/v1/extract/pdf", r#"{"uploadId": 7}"#).await,
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "uploadId");
    let p = problem(api.post_json("/v1/extract/pdf", "{oops").await, 400).await;
    assert_eq!(p["errors"][0]["field"], "body");
    let p = problem(
        api.post_json("/v1/extract/pdf", r#"{"uploadId": "../../secret"}"#)
            .await,
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "uploadId");
    let p = problem(
        api.post_json(
            "/v1/extract/pdf",
            r#"{"uploadId": "upl_01JQZZZZZZZZZZZZZZZZZZZZZZ"}"#,
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "uploadId");

    // Uploads: the bytes decide the type.
    let elf = b"\x7FELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec();
    let p = problem(api.upload_raw(elf, "application/pdf").await, 415).await;
    assert!(p["detail"].as_str().unwrap().contains("ELF"), "{p}");
    let p = problem(
        api.upload_raw(fixture("two-pages.pdf"), "image/png").await,
        415,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().contains("application/pdf"),
        "{p}"
    );
    problem(api.upload_raw(Vec::new(), "application/pdf").await, 415).await;
    let resp = api
        .http
        .post(format!("{}/api/upload", api.base))
        .header("content-type", "multipart/form-data; boundary=xyz")
        .body("--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nunterminated")
        .send()
        .await
        .unwrap();
    problem(resp, 400).await;
    running.shutdown().await;
}

/// A handler that fails each message the first time it sees it, and records every delivery.
#[derive(Default)]
struct FailFirstTime {
    seen: Mutex<HashMap<String, u32>>,
    fail_body: String,
}

#[async_trait::async_trait]
impl SqsHandler for FailFirstTime {
    async fn handle_message(&self, m: &SqsMessage) -> Handled {
        let mut seen = self.seen.lock().unwrap();
        let body = m.body.clone().unwrap_or_default();
        let n = seen.entry(body.clone()).or_default();
        *n += 1;
        if body == self.fail_body && *n == 1 {
            Handled::Again(None)
        } else {
            Handled::Done
        }
    }
}

/// The runner's poller honours `batchItemFailures`: the failed message alone comes back (after
/// the queue's visibility timeout), the others are deleted after one delivery.
#[tokio::test(flavor = "multi_thread")]
async fn failed_batch_items_are_redelivered_and_the_rest_deleted() {
    let own = Own::new("redelivery");
    let config = own_queues(config(), &own).await;
    let sdk = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    // The test's own webhook queue: nothing else consumes it.
    let queue = config.stack.webhook_queue_url.clone();
    let tag = JobId::new(time::OffsetDateTime::now_utc()).to_string();
    let bodies: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|x| format!("{tag}-{x}"))
        .collect();
    for body in &bodies {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let handler = Arc::new(FailFirstTime {
        fail_body: bodies[1].clone(),
        ..Default::default()
    });
    let base = services().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let poller = tokio::spawn(horizon_local::poll_queue(
        horizon_local::Poller {
            sqs: sqs.clone(),
            services: base.services.clone(),
            supervisor: "test-poller",
            instance: "redelivery-test".into(),
            queue_url: queue.clone(),
            handler: handler.clone(),
            lead: true,
            crew: Default::default(),
        },
        stopped,
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = {
            let seen = handler.seen.lock().unwrap();
            bodies.iter().all(|b| seen.contains_key(b)) && seen.get(&bodies[1]) == Some(&2)
        };
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "redelivery did not happen within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The poller deletes what it handled: nothing of ours is left on the queue (so nothing
    // more can come).
    support::eventually("the handled messages are deleted", async || {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        [
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .all(|name| attrs[name] == "0")
    })
    .await;
    let _ = stop.send(true);
    poller.await.unwrap();
    let seen = handler.seen.lock().unwrap().clone();
    assert_eq!(seen.get(&bodies[0]), Some(&1));
    assert_eq!(seen.get(&bodies[1]), Some(&2));
    assert_eq!(seen.get(&bodies[2]), Some(&1));
}

/// Conditional writes against the real DynamoDB: of several workers claiming the same job at
/// once, exactly one wins, and no write based on a stale read lands.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_claims_have_exactly_one_winner() {
    let services = services().await;
    let now = services.clock.now();
    let job = Job::new_queued(
        JobId::new(now),
        JobType::ExtractPdf,
        AccountId::default_account(),
        UploadId::new(now),
        now,
        time::Duration::hours(1),
    );
    services
        .jobs
        .create(&job, horizon_app::ports::Along::Nothing)
        .await
        .unwrap();
    assert!(matches!(
        services
            .jobs
            .create(&job, horizon_app::ports::Along::Nothing)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let read = services.jobs.get(job.id()).await.unwrap().unwrap();
    assert_eq!(read, job);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let jobs = services.jobs.clone();
        let claimed = read.claimed(now, time::Duration::minutes(1)).unwrap();
        tasks.push(tokio::spawn(async move { jobs.replace(&claimed).await }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Stale(_)) => {} // lost the version check
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(wins, 1);
    let stored = services.jobs.get(job.id()).await.unwrap().unwrap();
    assert_eq!(stored.status(), JobStatus::Processing);
    assert_eq!(stored.version(), 2);
    // A write from the stale first read is refused too.
    let stale = read
        .failed(horizon_domain::JobError::new("x", "y"), now)
        .unwrap();
    assert!(matches!(
        services.jobs.replace(&stale).await,
        Err(StoreError::Stale(_))
    ));
}

/// Receives from `queue` until a message whose body satisfies `want` arrives; returns its
/// receipt handle. Other messages are left alone (they become visible again).
async fn receive_until(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    want: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + patience();
    while Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages.unwrap_or_default() {
            if want(m.body.as_deref().unwrap_or("")) {
                return m.receipt_handle.unwrap();
            }
        }
    }
    panic!("the expected message did not arrive on {queue} within 20 s");
}
