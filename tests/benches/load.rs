//! Load run: 1,000 extraction jobs of small real PDFs through the local runner with several
//! concurrent workers, observed from outside: an account webhook delivers every terminal event
//! to a receiver in this process, so a job finished twice shows as two events (duplicated) and a
//! job never finished as none (lost).
//!
//!   scripts/bench load [JOBS]     default 1000; HORIZON_LOCAL_WORKERS sets the workers (4)
//!
//! Prints: submitted, completed, failed, lost, duplicated, throughput (jobs/s, pages/s) and
//! p50/p99 time from submit to terminal.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use horizon_shared::{Config, Services};

// Prices and assumptions are stated in `cost_model`.
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

type Seen = Arc<Mutex<HashMap<String, Vec<(String, Instant)>>>>;

/// Counts terminal events per job.
async fn receiver(seen: Seen) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let seen = seen.clone();
                        async move {
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                                let job = v["data"]["jobId"].as_str().unwrap_or("").to_owned();
                                let kind = v["type"].as_str().unwrap_or("").to_owned();
                                seen.lock()
                                    .unwrap()
                                    .entry(job)
                                    .or_default()
                                    .push((kind, Instant::now()));
                            }
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::new())))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64()
}

#[tokio::main]
async fn main() {
    let jobs: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let mut config = Config::from_env().unwrap_or_else(|e| {
        eprintln!("{e}\nrun it with scripts/bench load (it starts and provisions the local stack)");
        std::process::exit(2);
    });
    config.local_port = 0;
    if std::env::var("HORIZON_LOCAL_WORKERS").is_err() {
        config.local_workers = 4;
    }
    config.webhook_allow_cidrs = horizon_shared::net::parse_cidrs("127.0.0.1/32").expect("cidr");
    let workers = config.local_workers;
    let services = Services::aws(config).await;
    let now = services.clock.now();
    let account = horizon_shared::domain::AccountId(format!("acct_load{}", now.unix_timestamp()));
    let (key, record) = horizon_shared::auth::new_key(account, now).expect("key");
    services
        .accounts
        .put_key(&record)
        .await
        .expect("register the key");

    let seen: Seen = Arc::default();
    let port = receiver(seen.clone()).await;
    let running = horizon_local::start(services.clone())
        .await
        .expect("runner");
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let auth = format!("Bearer {key}");
    let resp = http
        .post(format!("{base}/v1/webhooks"))
        .header("authorization", &auth)
        .json(&json!({"url": format!("http://127.0.0.1:{port}/events"), "events": ["job.completed", "job.failed"]}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(resp.status(), 201, "subscribing");

    // Small real PDFs: the fixtures with text (2, 1, 1, 2 pages).
    let dir = format!("{}/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut uploads = Vec::new();
    for name in [
        "two-pages.pdf",
        "two-columns.pdf",
        "chinese.pdf",
        "scanned-page.pdf",
    ] {
        let bytes = std::fs::read(format!("{dir}/{name}")).expect("fixture");
        let up: Value = http
            .post(format!("{base}/api/upload"))
            .header("authorization", &auth)
            .header("content-type", "application/pdf")
            .body(bytes)
            .send()
            .await
            .expect("upload")
            .json()
            .await
            .expect("json");
        uploads.push((
            up["id"].as_str().expect("id").to_owned(),
            up["pages"].as_u64().unwrap_or(1),
        ));
    }

    println!(
        "load run: {jobs} jobs, {workers} worker(s) per queue, through http://{}",
        running.addr
    );
    let runtime_before = worker_runtime_ms(&services).await;
    let requests_before = horizon_shared::aws::request_counts();
    let started = Instant::now();
    let submitted: Arc<Mutex<HashMap<String, (Instant, u64)>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(16));
    for i in 0..jobs {
        let (upload, pages) = uploads[i % uploads.len()].clone();
        let (http, base, auth, submitted, sem) = (
            http.clone(),
            base.clone(),
            auth.clone(),
            submitted.clone(),
            sem.clone(),
        );
        tasks.spawn(async move {
            let _permit = sem.acquire().await;
            let at = Instant::now();
            let resp = http
                .post(format!("{base}/v1/extract/pdf"))
                .header("authorization", &auth)
                .json(&json!({"uploadId": upload}))
                .send()
                .await;
            match resp {
                Ok(r) if r.status() == 202 => {
                    if let Ok(v) = r.json::<Value>().await {
                        if let Some(id) = v["jobId"].as_str() {
                            submitted.lock().unwrap().insert(id.to_owned(), (at, pages));
                        }
                    }
                }
                Ok(r) => eprintln!("submit answered {}", r.status()),
                Err(e) => eprintln!("submit failed: {e}"),
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let submit_time = started.elapsed();
    let n_submitted = submitted.lock().unwrap().len();

    // Wait for every job's terminal event, or for progress to stop for 60 s.
    let mut last = 0;
    let mut last_change = Instant::now();
    loop {
        let done = seen.lock().unwrap().len();
        if done >= n_submitted || last_change.elapsed() > Duration::from_secs(60) {
            break;
        }
        if done != last {
            last = done;
            last_change = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await; // late duplicates, if any

    // Then ask the API about every job, as a client would.
    let submitted = submitted.lock().unwrap().clone();
    let seen = seen.lock().unwrap().clone();
    let (mut completed, mut failed, mut lost, mut duplicated, mut pages_done) = (0, 0, 0, 0, 0u64);
    let mut latencies = Vec::new();
    for (id, (at, pages)) in &submitted {
        let v: Value = http
            .get(format!("{base}/v1/jobs/{id}"))
            .header("authorization", &auth)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        match v["status"].as_str() {
            Some("completed") => {
                completed += 1;
                pages_done += pages;
            }
            Some("failed") => failed += 1,
            _ => lost += 1,
        }
        match seen.get(id) {
            Some(events) => {
                if events.len() > 1 {
                    duplicated += 1;
                }
                latencies.push(events[0].1 - *at);
            }
            None if v["status"] == "completed" || v["status"] == "failed" => {
                eprintln!("{id} is {} but its event never arrived", v["status"]);
            }
            None => {}
        }
    }
    let requests_after = horizon_shared::aws::request_counts();
    let runtime_ms = worker_runtime_ms(&services).await - runtime_before;
    running.shutdown().await;
    latencies.sort();
    let secs = elapsed.as_secs_f64();
    println!(
        "submitted   {n_submitted} (in {:.1} s)",
        submit_time.as_secs_f64()
    );
    println!("completed   {completed}");
    println!("failed      {failed}");
    println!("lost        {lost}   (never terminal; target 0)");
    println!("duplicated  {duplicated}   (more than one terminal event; target 0)");
    println!(
        "throughput  {:.1} jobs/s, {:.1} pages/s over {:.1} s",
        submitted.len() as f64 / secs,
        pages_done as f64 / secs,
        secs
    );
    println!(
        "submit to terminal: p50 {:.2} s, p99 {:.2} s",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    cost_model(
        &requests_before,
        &requests_after,
        submitted.len(),
        pages_done,
        runtime_ms,
    );
}

/// The worker's total extraction time so far, from the dashboard's counters.
async fn worker_runtime_ms(services: &Services) -> u64 {
    services
        .dashboard
        .counters()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.metric.kind == horizon_shared::dashboard::MetricKind::Job)
        .map(|c| c.runtime_ms)
        .sum()
}

type Counts = std::collections::BTreeMap<(String, String), u64>;

/// What the run cost at AWS list prices (us-east-1, arm64, November 2026), next to Textract's
/// DetectDocumentText ($1.50 per 1,000 pages).
fn cost_model(before: &Counts, after: &Counts, jobs: usize, pages: u64, worker_ms: u64) {
    const DDB_READ: f64 = 0.125e-6; // per read request unit (an item up to 4 KB)
    const DDB_WRITE: f64 = 0.625e-6; // per write request unit (an item up to 1 KB)
    const SQS: f64 = 0.40e-6; // per request
    const S3_PUT: f64 = 0.005e-3;
    const S3_GET: f64 = 0.0004e-3;
    const LAMBDA_GB_S: f64 = 0.000_013_333_4; // arm64
    const LAMBDA_REQUEST: f64 = 0.20e-6;
    const HTTP_API: f64 = 1.00e-6;
    const WORKER_GB: f64 = 1.0; // the worker function's memory
    const API_GB_S: f64 = 0.256 * 0.05; // an API call: 256 MB for about 50 ms
    let jobs_f = jobs.max(1) as f64;
    println!();
    println!("AWS requests per job (every attempt, by service and operation):");
    let mut dollars = 0.0;
    let mut by_service: std::collections::BTreeMap<String, f64> = Default::default();
    for ((service, op), n) in after {
        let n = (n - before
            .get(&(service.clone(), op.clone()))
            .copied()
            .unwrap_or(0)) as f64;
        if n == 0.0 {
            continue;
        }
        let unit = match (service.as_str(), op.as_str()) {
            ("DynamoDB", "GetItem" | "Query" | "Scan" | "BatchGetItem") => DDB_READ,
            ("DynamoDB", "TransactWriteItems") => 4.0 * DDB_WRITE, // two items, twice the units
            ("DynamoDB", _) => DDB_WRITE,
            ("SQS", _) => SQS,
            ("S3", "GetObject" | "HeadObject") => S3_GET,
            ("S3", _) => S3_PUT,
            _ => 0.0,
        };
        dollars += n * unit;
        *by_service.entry(service.clone()).or_default() += n / jobs_f;
        println!("  {service:<9} {op:<22} {:6.2}", n / jobs_f);
    }
    for (service, n) in &by_service {
        println!("  {service:<9} {:<22} {n:6.2}", "(all)");
    }
    let worker_gb_s = worker_ms as f64 / 1000.0 * WORKER_GB;
    // Per job: one worker invocation (an upper bound: batches share one), two API calls (submit
    // and one status read), one webhook dispatch invocation.
    let lambda = worker_gb_s * LAMBDA_GB_S
        + jobs_f
            * (3.0 * LAMBDA_REQUEST
                + 2.0 * (HTTP_API + API_GB_S * LAMBDA_GB_S)
                + 0.256 * 0.02 * LAMBDA_GB_S);
    let total = dollars + lambda;
    let pages = pages.max(1) as f64;
    println!(
        "Lambda GB-seconds per page (worker, {WORKER_GB} GB): {:.5}",
        worker_gb_s / pages
    );
    println!(
        "cost: ${:.4} per 1,000 pages (requests ${:.4} + Lambda and API Gateway ${:.4}); Textract DetectDocumentText $1.50; target < $0.05",
        total / pages * 1000.0,
        dollars / pages * 1000.0,
        lambda / pages * 1000.0
    );
}
