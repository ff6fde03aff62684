//! Reliability under faults and hostile input: the load run with every fault injected, and
//! generated (plus, where present, the corpus's) hostile PDFs through the worker.

use std::io::Write;
use std::time::{Duration, Instant};

use horizon_app::faults::{fired, Fault, Faults};
use horizon_tests::load::{self, Options};
use serde_json::Value;

use crate::support::*;

/// The load run with workers killed after their claim, duplicate deliveries, lost conditional
/// writes, DynamoDB and S3 throttling, and the webhook receiver down for its first deliveries:
/// every job ends terminal exactly once with the same result as without faults, and every
/// webhook is delivered or dead-lettered.
#[tokio::test(flavor = "multi_thread")]
async fn no_job_is_lost_or_duplicated_under_injected_faults() {
    let _ = services().await; // fails early, with the reason, if the stack is not there
                              // A stack of its own: its reaper runs every second over the whole table.
    let own = Own::new("faults");
    let mut config = isolated_config(&own);
    config.faults = Faults {
        kill_after_claim: 0.2,
        duplicate_delivery: 0.3,
        conflict: 0.15,
        throttle: 0.05,
        ..Faults::default()
    };
    // A killed worker's job comes back through the reaper once its lease ends. The deadline (a
    // page's time limit) is generous: a slow page on a loaded machine is no fault of this test's.
    // (With the layout models, a one-page job here takes 11-13 s of extraction, up to 24 s.)
    config.jobs.deadline = Duration::from_secs(40);
    config.jobs.lease = Duration::from_secs(42);
    config.jobs.reaper_interval = Duration::from_secs(1);
    config.jobs.retry_base = Duration::from_secs(1);
    config.webhooks.schedule = vec![1, 2, 3, 5, 8, 8, 8];
    config.local.workers = 3;
    let before: Vec<u64> = [
        Fault::Kill,
        Fault::Duplicate,
        Fault::Conflict,
        Fault::Throttle,
    ]
    .iter()
    .map(|f| fired(*f))
    .collect();
    let report = load::run(
        config.clone(),
        &Options {
            jobs: 40,
            // Down until it has refused this many deliveries: their events must come again.
            webhook_refusals: 10,
            patience: Duration::from_secs(150),
            outage: None,
            spread: Duration::ZERO,
        },
    )
    .await;
    report.print();
    // Every job is terminal now, but a killed worker's message stays invisible for the queue's
    // visibility timeout (3 minutes) before it comes back to be dropped: purge the queues so the
    // next test starts with empty ones.
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    for url in [
        &config.stack.extract_queue_url,
        &config.stack.webhook_queue_url,
    ] {
        sqs.purge_queue().queue_url(url).send().await.unwrap();
    }
    let struck: Vec<u64> = [
        Fault::Kill,
        Fault::Duplicate,
        Fault::Conflict,
        Fault::Throttle,
    ]
    .iter()
    .zip(&before)
    .map(|(f, b)| fired(*f) - b)
    .collect();
    println!("faults struck (kill, duplicate, conflict, throttle): {struck:?}");
    assert!(
        struck.iter().all(|n| *n > 0),
        "every kind of fault must have struck at least once: {struck:?}"
    );
    assert_eq!(report.submitted, 40, "{report:?}");
    assert!(report.lost.is_empty(), "lost: {:?}", report.lost);
    assert!(
        report.duplicated.is_empty(),
        "duplicated: {:?}",
        report.duplicated
    );
    assert!(
        report.differing.is_empty(),
        "differing results: {:?}",
        report.differing
    );
    assert!(
        report.webhooks_missing.is_empty(),
        "webhooks neither delivered nor dead-lettered: {:?}",
        report.webhooks_missing
    );
    assert_eq!(
        report.webhooks_refused, 10,
        "the receiver was down for its first 10 deliveries: fewer were made"
    );
    assert_eq!(report.completed + report.failed, 40);
    // A job fails only when a kill strikes each of its tries (1 in 125 at 0.2 and 3 tries) or
    // throttling uses its tries up: most jobs complete (39 of 40 in past runs). A run where
    // many fail is a broken pipeline, not bad luck.
    assert!(
        report.completed >= 34,
        "only {} of 40 jobs completed: {:?}",
        report.completed,
        report.failures
    );
    // A job may fail only by running out of tries on the injected faults, never otherwise.
    assert!(
        report
            .failures
            .keys()
            .all(|code| code == "max_tries_exceeded"),
        "{:?}",
        report.failures
    );
}

/// Hostile PDFs made here: each ends `failed` with a clear error or `completed`, within its
/// deadline, and the worker goes on serving.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_pdfs_end_cleanly_within_their_deadline() {
    let mut cases: Vec<(String, Vec<u8>)> = generated_hostile_pdfs();
    // The corpus's damaged and hostile files too, when it is here (a clone has no corpus).
    let corpus = std::env::var("HORIZON_CORPUS")
        .unwrap_or_else(|_| format!("{}/../../shared/corpus/pdf", env!("CARGO_MANIFEST_DIR")));
    match std::fs::read_dir(&corpus) {
        Ok(_) => {
            for name in [
                "pm__zen_of_python_corrupted.pdf",
                "pm__issue-1113-evil-xobjects.pdf",
                "gb__progit.pdf",
                "gb__git-pro-cn.pdf",
                "sf__unreadablemetadata.pdf",
                "pm__aes-256-r6.pdf",
                "sc__sicp.pdf",
            ] {
                if let Ok(bytes) = std::fs::read(format!("{corpus}/{name}")) {
                    cases.push((name.to_owned(), bytes));
                }
            }
        }
        Err(_) => eprintln!(
            "corpus not found at {corpus} (set HORIZON_CORPUS): only the generated hostile PDFs are run"
        ),
    }
    let deadline = Duration::from_secs(20);
    let base = services().await;
    let mut services = base.clone();
    let mut config = (*base.config).clone();
    config.jobs.deadline = deadline;
    // Books of many pages, each page quick, are held to the limit of the whole run: read in
    // the accurate mode (a few pages a second) they end in `timeout` instead of going on.
    config.jobs.max_run = deadline * 2;
    config.jobs.lease = deadline + Duration::from_secs(10);
    services.config = std::sync::Arc::new(config);
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let mut jobs = Vec::new();
    for (name, bytes) in &cases {
        let resp = api.upload_raw(bytes.clone(), "application/pdf").await;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(status, 201, "{name}: {v}");
        let job = api.start_job(v["id"].as_str().unwrap()).await;
        jobs.push((name.clone(), job, Instant::now()));
    }
    let mut lines = Vec::new();
    for (name, job, at) in jobs {
        let done = api.wait_terminal(&job).await;
        let took = at.elapsed();
        let outcome = match done["status"].as_str() {
            Some("completed") => format!("completed, {} page(s)", done["result"]["pages"]),
            _ => {
                let code = done["error"]["code"].as_str().unwrap_or("");
                let message = done["error"]["message"].as_str().unwrap_or("");
                assert!(
                    !code.is_empty() && message.len() > 10,
                    "{name}: a failure must say why: {done}"
                );
                format!("failed {code}: {message}")
            }
        };
        lines.push(format!(
            "{name:<40} {:>6.2} s  {outcome}",
            took.as_secs_f64()
        ));
        // Waited on in order, so the time includes the queue ahead; each job alone is held to
        // its deadline by the worker, and all of them to the deadline per job plus slack.
        assert!(
            took < deadline * 2 * cases.len() as u32 + Duration::from_secs(30),
            "{name} took {took:?}"
        );
    }
    println!("{}", lines.join("\n"));
    // The worker survived all of them.
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let next = api.wait_terminal(&api.start_job(&upload).await).await;
    assert_eq!(next["status"], "completed", "{next}");
    running.shutdown().await;
}

/// Truncated, deeply nested, a decompression bomb, a huge page count, a page count that lies, and
/// a page tree that contains itself.
fn generated_hostile_pdfs() -> Vec<(String, Vec<u8>)> {
    let page = |n: usize| -> Vec<String> {
        (0..20)
            .map(|l| format!("Page {n} line {l}: some words to read."))
            .collect()
    };
    let whole = make_pdf(&(1..=30).map(page).collect::<Vec<_>>());
    let truncated = whole[..whole.len() * 55 / 100].to_vec();

    let font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec();
    let text = |s: &str| {
        let ops = format!("BT /F1 12 Tf 72 720 Td ({s}) Tj ET");
        format!("<< /Length {} >>\nstream\n{ops}\nendstream", ops.len()).into_bytes()
    };
    // Objects: 1 font, 2 content, 3 page, 4 pages, 5 catalog (plus extras where noted).
    let one_page = |content: Vec<u8>, page_extra: &str, pages: &str| -> Vec<u8> {
        write_pdf(&[
            font.clone(),
            content,
            format!("<< /Type /Page /Parent 4 0 R /MediaBox [0 0 612 792] /Contents 2 0 R /Resources << /Font << /F1 1 0 R >> >> {page_extra} >>").into_bytes(),
            pages.as_bytes().to_vec(),
            b"<< /Type /Catalog /Pages 4 0 R >>".to_vec(),
        ])
    };
    let kids1 = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>";

    let depth = 100_000;
    let nested = one_page(
        text("Deeply nested objects follow."),
        &format!("/Nested {}{}", "[".repeat(depth), "]".repeat(depth)),
        kids1,
    );

    // 1 GiB of spaces, deflated to about 1 MB.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![b' '; 1 << 20];
    for _ in 0..1024 {
        z.write_all(&block).unwrap();
    }
    z.write_all(b"BT /F1 12 Tf 72 720 Td (After the bomb.) Tj ET")
        .unwrap();
    let deflated = z.finish().unwrap();
    let mut bomb_stream = format!(
        "<< /Length {} /Filter /FlateDecode >>\nstream\n",
        deflated.len()
    )
    .into_bytes();
    bomb_stream.extend_from_slice(&deflated);
    bomb_stream.extend_from_slice(b"\nendstream");
    let bomb = one_page(bomb_stream, "", kids1);

    let many = 200_000;
    let huge = one_page(
        text("One page, referenced many times."),
        "",
        &format!(
            "<< /Type /Pages /Kids [{}] /Count {many} >>",
            "3 0 R ".repeat(many)
        ),
    );
    let lying = one_page(
        text("The count says a billion."),
        "",
        "<< /Type /Pages /Kids [3 0 R] /Count 1000000000 >>",
    );
    let cycle = one_page(
        text("The page tree contains itself."),
        "",
        "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
    );
    vec![
        ("generated: truncated at 55%".into(), truncated),
        (format!("generated: arrays nested {depth} deep"), nested),
        ("generated: 1 GiB deflate bomb".into(), bomb),
        (format!("generated: {many} pages"), huge),
        ("generated: /Count 1000000000".into(), lying),
        ("generated: page tree cycle".into(), cycle),
    ]
}

/// A TIFF of `pages` pages of 40×40 pixels, each with a dark square on it: about 600 bytes a
/// page, and as many model runs as a book of as many pages.
fn many_page_tiff(pages: u32) -> Vec<u8> {
    use tiff::encoder::{colortype::Gray8, Compression, TiffEncoder};
    const SIDE: usize = 40;
    let mut page = vec![255u8; SIDE * SIDE];
    for y in 10..30 {
        page[y * SIDE + 10..y * SIDE + 30].fill(0);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    let mut tiff = TiffEncoder::new(&mut out)
        .unwrap()
        .with_compression(Compression::Packbits);
    for _ in 0..pages {
        tiff.write_image::<Gray8>(SIDE as u32, SIDE as u32, &page)
            .unwrap();
    }
    out.into_inner()
}

/// A job is held to its budget of pages × pixels, not only to its time: a small TIFF of 5,000
/// pages fails `over_budget` before its first page is read (no worker is held for the whole run
/// limit by it), saying how to read it, and a part of it read with `options.pages` completes.
#[tokio::test(flavor = "multi_thread")]
async fn a_5000_page_tiff_is_held_to_the_jobs_budget() {
    let tiff = many_page_tiff(5_000);
    assert!(tiff.len() < 4_000_000, "{} bytes", tiff.len());
    // Its 5,000 pages, each counted at the layout model's input, come to 2,432 megapixels.
    let base = services().await;
    let services = with_config(&base, |c| c.extraction.max_megapixels = 2000);
    let budget = services.config.extraction.max_megapixels;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let resp = api.upload_raw(tiff, "image/tiff").await;
    assert_eq!(resp.status(), 201);
    let upload: Value = resp.json().await.unwrap();
    let start = |options: &'static str| {
        let api = &api;
        let body = format!(
            r#"{{"uploadId":"{}","options":{{{options}}}}}"#,
            upload["id"].as_str().unwrap()
        );
        async move {
            let resp = api.post_json("/v1/extract/image", &body).await;
            assert_eq!(resp.status(), 202);
            let job: Value = resp.json().await.unwrap();
            api.wait_terminal(job["jobId"].as_str().unwrap()).await
        }
    };

    let whole = start("").await;
    assert_eq!(whole["status"], "failed", "{whole}");
    assert_eq!(whole["error"]["code"], "over_budget", "{whole}");
    let message = whole["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("5000 pages")
            && message.contains(&format!("budget of {budget}"))
            && message.contains("options.pages"),
        "{message}"
    );
    // Refused before its first page: no page was read.
    assert!(
        whole["progress"].is_null() || whole["progress"]["pagesDone"] == 0,
        "{whole}"
    );

    let part = start(r#""pages":"4990-5000""#).await;
    assert_eq!(part["status"], "completed", "{part}");
    assert_eq!(part["result"]["pages"], 11, "{part}");
    running.shutdown().await;
}

/// DynamoDB down for three minutes while a careful client submits jobs (a 5xx is sent again
/// under its Idempotency-Key) and workers, the outbox and webhook dispatch run: once it is
/// back, every job the client was given completes, exactly once, with its webhook; no job is
/// left queued or processing, no count is off and no outbox record was given up or parked.
#[tokio::test(flavor = "multi_thread")]
async fn a_dynamodb_outage_of_minutes_loses_nothing_and_leaves_nothing_stuck() {
    let _ = services().await; // fails early, with the reason, if the stack is not there
    let own = Own::new("outage");
    let mut config = isolated_config(&own);
    config.faults = Faults {
        outages: true,
        ..Faults::default()
    };
    config.jobs.deadline = Duration::from_secs(40);
    config.jobs.lease = Duration::from_secs(42);
    config.jobs.reaper_interval = Duration::from_secs(5);
    config.jobs.retry_base = Duration::from_secs(2);
    config.webhooks.schedule = vec![1, 2, 4, 8, 16, 32, 60, 60, 60];
    config.local.workers = 3;
    let outage = Duration::from_secs(180);
    let report = load::run(
        config.clone(),
        &Options {
            jobs: 12,
            webhook_refusals: 0,
            // Nothing can finish while DynamoDB is down.
            patience: outage + Duration::from_secs(120),
            // Half the jobs are submitted before it, half while it lasts.
            outage: Some((Duration::from_secs(3), outage)),
            spread: Duration::from_secs(6),
        },
    )
    .await;
    report.print();
    assert_eq!(report.submitted, 12, "{report:?}");
    assert!(
        report.submit_retries > 0,
        "some submissions met the outage and were sent again: {report:?}"
    );
    assert!(report.lost.is_empty(), "lost: {:?}", report.lost);
    assert!(report.duplicated.is_empty(), "{:?}", report.duplicated);
    assert_eq!(
        report.completed, 12,
        "an outage fails no job: {:?}",
        report.failures
    );
    assert_eq!(
        report.webhooks_delivered, 12,
        "missing: {:?}",
        report.webhooks_missing
    );
    assert!(
        report.elapsed > outage,
        "the outage must have held the run up: {:?}",
        report.elapsed
    );
    // Nothing stuck: no job left queued or processing, and the counts agree.
    let services = horizon_aws::services::from_config(config).await;
    eventually("the pending gauge is back to 0", async || {
        services.dashboard.pending_count().await.unwrap() == 0
    })
    .await;
    let census = services.metrics.census().await.unwrap();
    assert!(
        census.active.is_empty() && census.processing.is_empty(),
        "{census:?}"
    );
    assert!(services.parked.parked(10).await.unwrap().is_empty());
    let kept = services.metrics.kept_counts().await.unwrap();
    assert!(kept.iter().all(|k| k.value == 0), "{kept:?}");
}

/// An image bomb: a PNG of a few hundred bytes whose header claims 30,000 × 30,000 pixels (2.7 GB
/// decoded). Its extraction job fails `too_large` from the header alone, before a pixel is
/// decoded, and the worker goes on to the next image.
#[tokio::test(flavor = "multi_thread")]
async fn an_image_bomb_fails_its_job_from_its_header_and_the_worker_goes_on() {
    let mut png = std::io::Cursor::new(Vec::new());
    image::GrayImage::new(1, 1)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let mut bomb = png.into_inner();
    // The IHDR chunk: length, type, then width and height; its CRC covers type and data.
    assert_eq!(&bomb[12..16], b"IHDR");
    bomb[16..20].copy_from_slice(&30_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&30_000u32.to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    assert!(bomb.len() < 1_000, "{} bytes", bomb.len());

    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let read = |bytes: Vec<u8>| {
        let api = &api;
        async move {
            let resp = api.upload_raw(bytes, "image/png").await;
            assert_eq!(resp.status(), 201);
            let upload: Value = resp.json().await.unwrap();
            let body = format!(r#"{{"uploadId":"{}"}}"#, upload["id"].as_str().unwrap());
            let resp = api.post_json("/v1/extract/image", &body).await;
            assert_eq!(resp.status(), 202);
            let job: Value = resp.json().await.unwrap();
            api.wait_terminal(job["jobId"].as_str().unwrap()).await
        }
    };
    let done = read(bomb).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "too_large", "{done}");
    assert!(
        done["error"]["message"]
            .as_str()
            .unwrap()
            .contains("30000×30000"),
        "{done}"
    );
    let next = read(fixture("photo.png")).await;
    assert_eq!(next["status"], "completed", "{next}");
    running.shutdown().await;
}
