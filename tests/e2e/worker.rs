//! The extraction worker against the local stack: redelivery, a worker that dies after its claim,
//! poison messages, metrics, and real PDFs of several kinds.

use std::time::{Duration, Instant};

use horizon_app::dashboard::MetricKind;
use horizon_app::Services;
use horizon_domain::JobId;
use serde_json::Value;

use crate::support::*;

fn sqs(sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(sdk)
}

async fn queue_is_empty(sqs: &aws_sdk_sqs::Client, url: &str) -> bool {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    attrs.values().all(|v| v == "0")
}

#[tokio::test(flavor = "multi_thread")]
async fn redelivery_of_a_finished_job_does_no_work() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let job_id = api.start_job(&upload).await;
    assert_eq!(api.wait_terminal(&job_id).await["status"], "completed");
    let id: JobId = job_id.parse().unwrap();
    let before = services.jobs.get(&id).await.unwrap().unwrap();

    // The same message again, twice (SQS delivers at least once).
    let sdk = sdk().await;
    let sqs = sqs(&sdk);
    for _ in 0..2 {
        sqs.send_message()
            .queue_url(&services.config.stack.extract_queue_url)
            .message_body(format!(r#"{{"jobId":"{job_id}"}}"#))
            .send()
            .await
            .unwrap();
    }
    let url = services.config.stack.extract_queue_url.clone();
    eventually("the redelivered messages to be acknowledged", async || {
        queue_is_empty(&sqs, &url).await
    })
    .await;
    running.shutdown().await;
    let after = services.jobs.get(&id).await.unwrap().unwrap();
    assert_eq!(after, before, "a redelivery changed a finished job");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_that_dies_after_its_claim_is_replaced_when_its_lease_ends() {
    let services = services().await;
    let http = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(http.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let job_id = api.start_job(&upload).await;
    let id: JobId = job_id.parse().unwrap();

    // A worker claims the job with a 10-second lease, and dies: its message is back on the
    // queue (here at once, as if the visibility timeout had passed), the job is "processing".
    let job = services.jobs.get(&id).await.unwrap().unwrap();
    let lease_ends = Instant::now() + Duration::from_secs(10);
    let lease = time::Duration::seconds(10);
    let claimed = job.claimed(services.clock.now(), lease).unwrap();
    services.jobs.replace(&claimed).await.unwrap();

    let workers = horizon_local::start_workers(services.clone())
        .await
        .unwrap();
    // While the lease holds, the job is not touched: a worker has taken the message (it is out
    // of sight) and put it back for later.
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    let url = services.config.stack.extract_queue_url.clone();
    eventually("a worker takes the message", async || {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        let count = |name: &str| {
            attrs
                .iter()
                .find(|(k, _)| k.as_str() == name)
                .map_or(0, |(_, v)| v.parse::<u64>().unwrap_or(0))
        };
        count("ApproximateNumberOfMessages") == 0
            && count("ApproximateNumberOfMessagesNotVisible")
                + count("ApproximateNumberOfMessagesDelayed")
                >= 1
    })
    .await;
    assert!(
        Instant::now() < lease_ends,
        "the machine took the whole lease to get here"
    );
    let during = services.jobs.get(&id).await.unwrap().unwrap();
    assert_eq!(
        during.version(),
        claimed.version(),
        "a live lease was not respected"
    );
    // After it, another worker takes the job over and finishes it.
    let done = api.wait_terminal(&job_id).await;
    assert!(
        Instant::now() >= lease_ends,
        "finished before the lease ended"
    );
    workers.shutdown().await;
    http.shutdown().await;
    assert_eq!(done["status"], "completed", "{done}");
    let stored = services.jobs.get(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.attempts(),
        2,
        "the second worker's claim is the second attempt"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_messages_reach_the_dead_letter_queue_and_their_job_fails() {
    // A worker whose every try fails for a transient reason (its engine cannot load), retrying
    // after 1, 2 and 4 s.
    let base = services().await;
    let services = with_config(&base, |c| {
        c.extraction.pdfium_lib_path = Some("/nonexistent/libpdfium.so".into());
        c.jobs.retry_base = Duration::from_secs(1);
    });
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let job_id = api.start_job(&upload).await;
    // And a message that names no job at all.
    let sdk = sdk().await;
    let sqs = sqs(&sdk);
    sqs.send_message()
        .queue_url(&services.config.stack.extract_queue_url)
        .message_body("this is not a work message")
        .send()
        .await
        .unwrap();

    let done = api.wait_terminal(&job_id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "max_tries_exceeded", "{done}");

    let dlq = dead_letter_queue(&services.config.stack.extract_queue_url);
    let mut found = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while found.len() < 2 && Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages.unwrap_or_default() {
            let body = m.body.unwrap_or_default();
            if body.contains(&job_id) || body == "this is not a work message" {
                found.push(body);
            }
        }
    }
    running.shutdown().await;
    assert!(
        found.iter().any(|b| b.contains(&job_id)),
        "the job's message is not in the DLQ: {found:?}"
    );
    assert!(
        found.iter().any(|b| b == "this is not a work message"),
        "the malformed message is not in the DLQ"
    );
}

/// A metric's counters (processed, failed, runtime ms) as the dashboard reads them.
async fn counters(services: &Services, kind: MetricKind, name: &str) -> (u64, u64, u64) {
    services
        .dashboard
        .counters()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.metric.kind == kind && c.metric.name == name)
        .map(|c| (c.processed, c.failed, c.runtime_ms))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn finished_jobs_are_counted_per_job_type_and_queue() {
    // A stack of its own: the job type's counters are the whole table's.
    let services = isolated_services("counted").await;
    let queue = services
        .config
        .stack
        .extract_queue_url
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let (jobs_before, failed_before, _) = counters(&services, MetricKind::Job, "extract/pdf").await;
    let (queue_before, _, _) = counters(&services, MetricKind::Queue, &queue).await;

    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let good = api.upload_id(fixture("two-pages.pdf")).await;
    let bad = api.upload_id(fixture("corrupt.pdf")).await;
    let a = api.start_job(&good).await;
    let b = api.start_job(&bad).await;
    api.wait_terminal(&a).await;
    api.wait_terminal(&b).await;
    // The counters follow the jobs' writes through the table's stream: within moments.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while counters(&services, MetricKind::Job, "extract/pdf").await.0 < jobs_before + 2
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    running.shutdown().await;

    let (jobs_after, failed_after, runtime) =
        counters(&services, MetricKind::Job, "extract/pdf").await;
    let (queue_after, _, _) = counters(&services, MetricKind::Queue, &queue).await;
    assert_eq!(jobs_after - jobs_before, 2);
    assert_eq!(failed_after - failed_before, 1);
    assert_eq!(queue_after - queue_before, 2);
    assert!(runtime > 0);
}

/// Real PDFs of several kinds, end to end: what a client gets back.
#[tokio::test(flavor = "multi_thread")]
async fn pdfs_of_every_kind_end_as_the_client_expects() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let run = async |name: &str| -> Value {
        let upload = api.upload_id(fixture(name)).await;
        let job = api.start_job(&upload).await;
        api.wait_terminal(&job).await
    };
    let text = |v: &Value| -> String {
        v["result"]["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["text"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    };

    let v = run("two-columns.pdf").await;
    assert_eq!(v["status"], "completed", "{v}");
    let t = text(&v);
    let (left_end, right_start) = (
        t.find("Left column ends here.").unwrap(),
        t.find("Right column begins here.").unwrap(),
    );
    assert!(left_end < right_start, "columns interleaved: {t}");

    let v = run("chinese.pdf").await;
    assert!(text(&v).contains("这是中文文本"), "{v}");

    let v = run("encrypted-empty-password.pdf").await;
    assert_eq!(v["status"], "completed", "{v}");
    assert!(text(&v).contains("Opened without a password"), "{v}");

    let v = run("encrypted-user-password.pdf").await;
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"]["code"], "encrypted");

    let v = run("scanned-page.pdf").await;
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["result"]["pages"], 2);
    assert!(v["result"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["page"] == 1));
    let warnings = v["result"]["warnings"].to_string();
    assert!(warnings.contains("page(s) 2"), "{warnings}");

    let v = run("truncated.pdf").await;
    assert_eq!(v["status"], "completed", "{v}");
    assert!(text(&v).contains("Horizon walking skeleton."), "{v}");
    assert!(
        v["result"]["warnings"].to_string().contains("damaged"),
        "{v}"
    );
    running.shutdown().await;
}

/// An engine that hangs, and one that crashes, each fail their job cleanly (`timeout`,
/// `engine_crashed`) while the worker keeps serving: extraction runs in a child process.
#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_or_crashing_engine_fails_the_job_not_the_worker() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("horizon-engines-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    };
    let hang = script("hang", "exec sleep 60");
    let crash = script("crash", "kill -SEGV $$");
    let base = services().await;
    for (engine, code) in [(hang, "timeout"), (crash, "engine_crashed")] {
        let services = with_config(&base, |c| {
            c.extraction.extractor = Some(engine.clone());
            c.jobs.deadline = Duration::from_secs(2);
        });
        let running = horizon_local::start(services.clone()).await.unwrap();
        let api = Api::new(running.addr, &new_account(&services).await);
        let upload = api.upload_id(fixture("two-pages.pdf")).await;
        let job = api.start_job(&upload).await;
        let done = api.wait_terminal(&job).await;
        assert_eq!(done["status"], "failed", "{done}");
        assert_eq!(done["error"]["code"], code, "{done}");
        // The same worker goes on serving.
        let next = api.start_job(&upload).await;
        assert_eq!(api.wait_terminal(&next).await["error"]["code"], code);
        running.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Jobs whose messages were lost, or whose worker died with its message gone, are found by the
/// reaper: queued again (and then finished by a worker), or failed once they had their tries.
#[tokio::test(flavor = "multi_thread")]
async fn the_reaper_leaves_no_job_queued_or_processing_forever() {
    // A stack of its own: the reaper scans the whole table.
    let base = isolated_services("reaper").await;
    let services = with_config(&base, |c| c.jobs.queued_grace = Duration::ZERO);
    let http = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(http.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let (queued, dead, spent) = (
        api.start_job(&upload).await,
        api.start_job(&upload).await,
        api.start_job(&upload).await,
    );
    // Every message is lost.
    let sdk = sdk().await;
    let sqs = sqs(&sdk);
    let url = services.config.stack.extract_queue_url.clone();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    // Two of them were claimed by workers that died: one on its first try, one on its last.
    let now = services.clock.now();
    for (job, attempts) in [(&dead, 1), (&spent, services.config.jobs.max_tries)] {
        let id: JobId = job.parse().unwrap();
        // Claimed `attempts` times, 2 s apart, each claim's 1-second lease run out by the next;
        // the last one's ended a second ago.
        for i in (0..attempts).rev() {
            let at = now - time::Duration::seconds(2 * i64::from(i) + 2);
            let j = services
                .jobs
                .get(&id)
                .await
                .unwrap()
                .unwrap()
                .claimed(at, time::Duration::seconds(1))
                .unwrap();
            services.jobs.replace(&j).await.unwrap();
        }
    }

    let ours = [queued.clone(), dead.clone(), spent.clone()];
    let mut total = horizon_extract_worker::reaper::Reaped::default();
    for _ in 0..10 {
        // As the extract worker's schedule runs it (the IAM test sees its requests).
        let r = horizon_aws::meter::as_function(
            "extract-worker",
            horizon_extract_worker::reaper::reap(&services),
        )
        .await
        .unwrap();
        total.requeued += r.requeued;
        total.failed += r.failed;
        let mut open = 0;
        for job in &ours {
            let j = services
                .jobs
                .get(&job.parse().unwrap())
                .await
                .unwrap()
                .unwrap();
            if j.status() == horizon_domain::JobStatus::Processing {
                open += 1;
            }
        }
        if open == 0 && total.failed >= 1 && total.requeued >= 2 {
            break;
        }
    }
    assert!(total.requeued >= 2 && total.failed >= 1, "{total:?}");
    let v: Value = api
        .get(&format!("/v1/jobs/{spent}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"]["code"], "max_tries_exceeded");

    // The others are back on the queue, and a worker finishes them.
    let workers = horizon_local::start_workers(services.clone())
        .await
        .unwrap();
    for job in [&queued, &dead] {
        assert_eq!(api.wait_terminal(job).await["status"], "completed", "{job}");
    }
    workers.shutdown().await;
    http.shutdown().await;
}

/// An extraction child reads one account's documents one after another, its models loaded once:
/// PDFs and images, with the settings of each job. Another account's document goes to another
/// child; a child whose document failed to read goes on, and one that was killed is replaced.
#[tokio::test(flavor = "multi_thread")]
async fn an_extraction_child_reads_one_account_s_documents_in_turn() {
    use horizon_extract_worker::child::{self, Request};
    use horizon_extract_worker::engine::{Input, Mode, Ocr};
    let services = services().await;
    let x = &services.config.extraction;
    let request = |account: &str, input: Input, mode: Mode| Request {
        program: x.child_program().unwrap(),
        account: account.into(),
        input,
        ocr: Ocr::Auto,
        mode,
        pdfium: x.pdfium_lib_path.clone(),
        ocr_dir: x.ocr_dir.clone(),
        ocr_threads: 1,
        max_pages: 100,
        max_megapixels: x.max_megapixels,
        pages: None,
        languages: Vec::new(),
        deadline: Duration::from_secs(60),
        max_total: Duration::from_secs(120),
        memory_mb: x.memory_mb,
    };
    // Another test's child may be waiting: each account here is this test's own.
    let (a, b) = (
        format!("acct_a{}", std::process::id()),
        format!("acct_b{}", std::process::id()),
    );
    let read = |req: Request, name: &str| {
        let bytes = fixture(name);
        async move { child::extract(&req, bytes, |_| {}).await.unwrap() }
    };
    let first = read(request(&a, Input::Pdf, Mode::Accurate), "two-pages.pdf").await;
    fn pages(o: &horizon_extract_worker::child::Outcome) -> Option<usize> {
        o.extraction.as_ref().ok().map(|x| x.document.pages.len())
    }
    assert_eq!(pages(&first), Some(2));
    // The child that read it, waiting for the next, runs under the sandbox's system-call filter.
    let status = std::fs::read_to_string(format!("/proc/{}/status", first.child)).unwrap();
    assert!(
        status.contains("Seccomp:\t2") && status.contains("NoNewPrivs:\t1"),
        "{status}"
    );
    let second = read(request(&a, Input::Image, Mode::Fast), "scan.jpg").await;
    assert_eq!(
        second.child, first.child,
        "the same child reads the account's next document"
    );
    let text = second.extraction.as_ref().unwrap().document.text();
    assert!(text.contains("saved as a JPEG picture"), "{text}");
    let broken = read(request(&a, Input::Pdf, Mode::Accurate), "corrupt.pdf").await;
    assert_eq!(broken.extraction.unwrap_err().code, "invalid_pdf");
    let other = read(request(&b, Input::Pdf, Mode::Accurate), "two-pages.pdf").await;
    assert_ne!(
        other.child, first.child,
        "another account's document, another child"
    );
    let third = read(request(&a, Input::Pdf, Mode::Accurate), "report.pdf").await;
    assert_eq!(
        third.child, first.child,
        "a document that failed to read ends no child"
    );
    // A child killed while it waits is not given the next document.
    let _ = std::process::Command::new("kill")
        .arg(third.child.to_string())
        .status();
    // Until it has ended (a zombie: its parent has not reaped it yet).
    let ended = || {
        std::fs::read_to_string(format!("/proc/{}/stat", third.child)).map_or(true, |s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
    };
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !ended() {
        assert!(
            std::time::Instant::now() < until,
            "the killed child is still running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fourth = read(request(&a, Input::Pdf, Mode::Accurate), "report.pdf").await;
    assert_ne!(fourth.child, third.child);
    assert_eq!(pages(&fourth), Some(2));
    // A child's pipes belong to the runtime that started it: another runtime starts its own.
    let req = request(&a, Input::Pdf, Mode::Accurate);
    let elsewhere = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(child::extract(&req, fixture("report.pdf"), |_| {}))
            .unwrap()
    })
    .join()
    .unwrap();
    assert_ne!(elsewhere.child, fourth.child);
    assert_eq!(pages(&elsewhere), Some(2));
}
