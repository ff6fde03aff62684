//! Benchmark: the dashboard's `stats`, `workload` and `jobs/recent` with 1,000 and then 100,000
//! job records stored, their median latencies at both sizes and the ratio (target ≤ 1.2: their
//! cost must not grow with the jobs stored). Then filtered lists, whose cost is bounded rather
//! than constant: a page reads at most 20 × 51 index items, a filtered total at most 20,000.
//!
//!   scripts/bench dashboard          (a fresh stack of its own, every run)
//!
//! The records are written in bulk (BatchWriteItem) as the job path would store them: 80 %
//! completed, 15 % failed, 5 % queued, all created within the last 50 minutes, so every one is
//! inside the recent window the lists and counters read.

use std::time::Instant;

use horizon_app::Config;
use horizon_aws::DynamoStore;
use horizon_domain::{AccountId, Job, JobError, JobId, JobResult, JobType, UploadId};

const ROUNDS: usize = 60;
const ENDPOINTS: [&str; 7] = [
    "stats",
    "workload",
    "jobs/recent",
    // Filters: 1 job in 50 (an account), 1 in 20 (queued), 3 in 20 (failed, by error text).
    "jobs/recent?account=acct_bench7",
    "jobs/recent?status=pending",
    "jobs/failed?q=not+a+pdf",
    "jobs/completed?type=extract/image",
];

fn jobs(n: usize, now: time::OffsetDateTime) -> Vec<Job> {
    (0..n)
        .map(|i| {
            let at = now - time::Duration::milliseconds((i as i64 * 29) % (50 * 60 * 1000));
            let job = Job::new_queued(
                JobId::new(at),
                JobType::ExtractPdf,
                AccountId(format!("acct_bench{}", i % 50)),
                UploadId::new(at),
                at,
                time::Duration::hours(24),
            );
            let lease = time::Duration::minutes(5);
            match i % 20 {
                0 => job,
                1..=3 => job
                    .claimed(at, lease)
                    .and_then(|j| j.failed(JobError::new("invalid_pdf", "not a PDF"), at))
                    .expect("a legal transition"),
                _ => job
                    .claimed(at, lease)
                    .and_then(|j| j.completed(JobResult::default(), at))
                    .expect("a legal transition"),
            }
        })
        .collect()
}

async fn fill(store: &std::sync::Arc<DynamoStore>, n: usize) {
    let now = time::OffsetDateTime::now_utc();
    let all = jobs(n, now);
    let started = Instant::now();
    // Eight writers at a time.
    let mut handles = Vec::new();
    for part in all.chunks(n.div_ceil(8).max(1)) {
        let store = store.clone();
        let part = part.to_vec();
        handles.push(tokio::spawn(async move { store.import(&part).await }));
    }
    for h in handles {
        h.await.expect("join").expect("import");
    }
    eprintln!(
        "  stored {n} job records in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn medians(http: &reqwest::Client, base: &str) -> Vec<f64> {
    let mut out = Vec::new();
    for endpoint in ENDPOINTS {
        let url = format!("{base}/horizon/api/{endpoint}");
        // Filtered reads are slower by design (bounded, not constant): fewer rounds.
        let rounds = if endpoint.contains('?') { 15 } else { ROUNDS };
        let mut times = Vec::with_capacity(rounds);
        for round in 0..rounds + 3 {
            let t = Instant::now();
            let resp = http.get(&url).send().await.expect("GET");
            assert!(resp.status().is_success(), "{endpoint}: {}", resp.status());
            resp.bytes().await.expect("body");
            if round >= 3 {
                times.push(t.elapsed());
            }
        }
        times.sort();
        out.push(times[times.len() / 2].as_secs_f64() * 1000.0);
    }
    out
}

#[tokio::main]
async fn main() {
    let mut config = Config::from_env().unwrap_or_else(|e| {
        eprintln!(
            "{e}\nrun it with scripts/bench dashboard (it starts and provisions the local stack)"
        );
        std::process::exit(2);
    });
    config.local.port = 0;
    let sdk = horizon_aws::sdk_config().await;
    let store = std::sync::Arc::new(
        DynamoStore::new(
            horizon_aws::dynamodb_client(&sdk),
            &config.stack.table,
            std::sync::Arc::new(horizon_app::ports::SystemClock),
        )
        .with_shards(config.stack.key_shards),
    );
    let services = horizon_aws::services::from_config(config).await;
    let running = horizon_local::start_http(services)
        .await
        .expect("start the runner");
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();

    println!(
        "dashboard latency by stored jobs (median of {ROUNDS} requests each, 15 when filtered; ms)"
    );
    fill(&store, 1_000).await;
    let small = medians(&http, &base).await;
    fill(&store, 99_000).await;
    let large = medians(&http, &base).await;
    let stats: serde_json::Value = http
        .get(format!("{base}/horizon/api/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    println!(
        "{:<36}{:>12}{:>14}{:>8}",
        "endpoint", "1,000 jobs", "100,000 jobs", "ratio"
    );
    for (i, endpoint) in ENDPOINTS.iter().enumerate() {
        println!(
            "{endpoint:<36}{:>12.2}{:>14.2}{:>8.2}",
            small[i],
            large[i],
            large[i] / small[i]
        );
    }
    println!(
        "check: stats says recentJobs={} failedJobs={} (100,000 and 15,000 stored)",
        stats["recentJobs"], stats["failedJobs"]
    );
    running.shutdown().await;
}
