//! Fair share: how long a small account's one-page job takes while a large account has a
//! backlog, next to the same jobs with no backlog, through the local runner.
//!
//!   scripts/bench fairness [BACKLOG]   default 200 jobs of 50 pages for the large account;
//!                                      HORIZON_LOCAL_WORKERS sets the workers (3),
//!                                      HORIZON_MAX_PROCESSING_PER_ACCOUNT the per-account cap
//!                                      (the workers less one: 2)
//!
//! The small account submits a one-page job, 20 in all, each once the one before has completed
//! and at least 2 s after it, first with no backlog, then after the large account has queued
//! its backlog; each job's time from submission to `completed` is measured from outside
//! (polling the job). Prints p50 and p95 for both runs
//! and their ratio. The goal: p95 at most 10 s with the backlog.

use std::time::{Duration, Instant};

use horizon_app::{Config, Services};
use horizon_domain::AccountId;
use serde_json::{json, Value};

/// Small jobs measured per run, and how often one is submitted.
const SMALL_JOBS: usize = 20;
const EVERY: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() {
    horizon_runtime::telemetry::init();
    let backlog: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let mut config = Config::from_env().unwrap_or_else(|e| {
        eprintln!(
            "{e}\nrun it with scripts/bench fairness (it starts and provisions the local stack)"
        );
        std::process::exit(2);
    });
    config.local.port = 0;
    if std::env::var("HORIZON_LOCAL_WORKERS").is_err() {
        config.local.workers = 3;
    }
    // The large account may hold every worker but one.
    if std::env::var("HORIZON_MAX_PROCESSING_PER_ACCOUNT").is_err() {
        config.jobs.max_processing = config.local.workers.saturating_sub(1).max(1) as u32;
    }
    // The backlog is far over the default quota of active jobs.
    config.jobs.max_active = 0;
    let (workers, cap) = (config.local.workers, config.jobs.max_processing);
    let services = horizon_aws::services::from_config(config).await;
    let running = horizon_local::start(services.clone())
        .await
        .expect("start the local runner");
    let base = format!("http://{}", running.addr);
    let large = Client::new(&services, &base, "large").await;
    let small = Client::new(&services, &base, "small").await;
    let page = |n: usize| {
        vec![format!(
            "Page {n}: the quick brown fox jumps over the lazy dog."
        )]
    };
    let long: Vec<Vec<String>> = (1..=50).map(page).collect();
    let long = large.upload(horizon_tests::pdfs::make_pdf(&long)).await;
    let short = small
        .upload(horizon_tests::pdfs::make_pdf(&[page(1)]))
        .await;
    println!(
        "fairness: {workers} worker(s), at most {cap} job(s) of one account processing at once; \
         the small account submits a 1-page job at most every {} s, one at a time, {SMALL_JOBS} in all",
        EVERY.as_secs()
    );

    let alone = small.measure(&short).await;
    report("no backlog", &alone, None);

    let started = Instant::now();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..backlog {
        let (large, long, sem) = (large.clone(), long.clone(), sem.clone());
        tasks.spawn(async move {
            let _permit = sem.acquire().await;
            large.submit(&long).await
        });
    }
    let mut backlog_ids = Vec::new();
    while let Some(id) = tasks.join_next().await {
        backlog_ids.push(id.expect("submit"));
    }
    println!(
        "backlog: {backlog} jobs of 50 pages queued by the large account in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let crowded = small.measure(&short).await;
    let mut states = std::collections::BTreeMap::<String, usize>::new();
    for id in &backlog_ids {
        *states.entry(large.status(id).await).or_default() += 1;
    }
    let states: Vec<String> = states.iter().map(|(s, n)| format!("{n} {s}")).collect();
    report(
        &format!(
            "with the backlog (its {backlog} jobs meanwhile: {})",
            states.join(", ")
        ),
        &crowded,
        Some(&alone),
    );
    // What is left of the backlog is cancelled: the stack is removed after the run.
    for id in &backlog_ids {
        large.post(&format!("/v1/jobs/{id}/cancel")).await;
    }
    running.shutdown().await;
}

/// p50 and p95 of one run, with the ratio to the run without a backlog.
fn report(what: &str, times: &[f64], anchor: Option<&[f64]>) {
    let (p50, p95) = (percentile(times, 0.5), percentile(times, 0.95));
    let ratio = anchor
        .map(|a| {
            format!(
                "  ({:.2}x the p95 without a backlog)",
                p95 / percentile(a, 0.95)
            )
        })
        .unwrap_or_default();
    println!("small account's 1-page jobs, {what}: p50 {p50:.2} s, p95 {p95:.2} s{ratio}");
}

fn percentile(times: &[f64], p: f64) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// One account's client of the running service.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Client {
    async fn new(services: &Services, base: &str, name: &str) -> Client {
        let now = services.clock.now();
        let account = AccountId(format!("acct_{name}{}", now.unix_timestamp()));
        let (key, record) = horizon_runtime::auth::new_key(account, now).expect("key");
        services.accounts.put_key(&record).await.expect("key");
        Client {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            auth: format!("Bearer {key}"),
        }
    }

    async fn upload(&self, pdf: Vec<u8>) -> String {
        let resp = self
            .http
            .post(format!("{}/api/upload", self.base))
            .header("authorization", &self.auth)
            .header("content-type", "application/pdf")
            .body(pdf)
            .send()
            .await
            .expect("upload");
        let v: Value = resp.json().await.expect("upload");
        v["id"].as_str().expect("upload id").to_owned()
    }

    async fn post(&self, path: &str) -> Value {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .send()
            .await
            .expect("post");
        resp.json().await.unwrap_or(Value::Null)
    }

    /// Starts a job on `upload`; its id (a 429 is waited out).
    async fn submit(&self, upload: &str) -> String {
        loop {
            let resp = self
                .http
                .post(format!("{}/v1/extract/pdf", self.base))
                .header("authorization", &self.auth)
                .json(&json!({ "uploadId": upload }))
                .send()
                .await
                .expect("submit");
            if resp.status() == 429 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            let v: Value = resp.json().await.expect("submit");
            return v["jobId"].as_str().expect("job id").to_owned();
        }
    }

    async fn status(&self, id: &str) -> String {
        let resp = self
            .http
            .get(format!("{}/v1/jobs/{id}", self.base))
            .header("authorization", &self.auth)
            .send()
            .await
            .expect("get");
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        v["status"].as_str().unwrap_or("").to_owned()
    }

    /// Submits [`SMALL_JOBS`] jobs on `upload`, one every [`EVERY`], and returns the seconds each
    /// took from submission to `completed` (polled every 100 ms).
    /// Submits the small jobs one after the other, each once the one before has completed
    /// and at least [`EVERY`] after it was submitted (a small account's own jobs never queue
    /// behind each other: what is measured is the wait the other account's backlog causes).
    async fn measure(&self, upload: &str) -> Vec<f64> {
        let mut times = Vec::new();
        for _ in 0..SMALL_JOBS {
            let at = Instant::now();
            let id = self.submit(upload).await;
            loop {
                match self.status(&id).await.as_str() {
                    "completed" => break,
                    "failed" => panic!("job {id} failed"),
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            times.push(at.elapsed().as_secs_f64());
            tokio::time::sleep(EVERY.saturating_sub(at.elapsed())).await;
        }
        times
    }
}
