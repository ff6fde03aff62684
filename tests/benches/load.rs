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
}
