//! Load run: 1,000 extraction jobs of small real PDFs through the local runner with several
//! concurrent workers, observed from outside (see `horizon_tests::load`).
//!
//!   scripts/bench load [JOBS]            default 1000; HORIZON_LOCAL_WORKERS sets the workers (4)
//!   scripts/bench load [JOBS] --faults   the same with faults injected: workers killed after
//!                                        their claim, duplicate SQS deliveries, lost conditional
//!                                        writes, DynamoDB and S3 throttling, and the webhook
//!                                        receiver down for the first 20 s
//!
//! Prints: submitted, completed, failed, lost, duplicated, throughput (jobs/s, pages/s), p50/p99
//! time from submit to terminal, what became of every webhook, the faults injected, and (without
//! faults) the cost model.

use std::time::Duration;

use horizon_app::faults::{fired, Fault, Faults};
use horizon_app::{Config, Services};
use horizon_tests::load::{self, Options};

#[tokio::main]
async fn main() {
    // The service's warnings and errors (RUST_LOG, scripts/bench sets `warn`).
    horizon_runtime::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let jobs: usize = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let with_faults = args.iter().any(|a| a == "--faults");
    let mut config = Config::from_env().unwrap_or_else(|e| {
        eprintln!("{e}\nrun it with scripts/bench load (it starts and provisions the local stack)");
        std::process::exit(2);
    });
    if std::env::var("HORIZON_LOCAL_WORKERS").is_err() {
        config.local.workers = 4;
    }
    let mut options = Options {
        jobs,
        webhook_refusals: 0,
        patience: Duration::from_secs(60),
        outage: None,
        spread: Duration::ZERO,
    };
    if with_faults {
        config.faults = faults();
        // A killed worker's job is taken back by the reaper once its lease ends: short leases
        // and a frequent reaper keep the run short. Webhook retries start after 2 s.
        config.jobs.deadline = Duration::from_secs(20);
        config.jobs.lease = Duration::from_secs(25);
        config.jobs.reaper_interval = Duration::from_secs(5);
        config.jobs.retry_base = Duration::from_secs(2);
        config.webhooks.schedule = vec![2, 5, 10, 20, 30, 60];
        options.webhook_refusals = 100;
        options.patience = Duration::from_secs(120);
    }
    let workers = config.local.workers;
    println!(
        "load run: {jobs} jobs, {workers} worker(s) per queue{}",
        if with_faults { ", faults injected" } else { "" }
    );
    if with_faults {
        println!("  {:?}", config.faults);
        println!(
            "  webhook receiver down until it has refused {} deliveries",
            options.webhook_refusals
        );
    }
    let runtime_before =
        worker_runtime_ms(&horizon_aws::services::from_config(config.clone()).await).await;
    let requests_before = horizon_aws::request_counts();
    let report = load::run(config.clone(), &options).await;
    let requests_after = horizon_aws::request_counts();
    report.print();
    if with_faults {
        println!(
            "faults injected: {} workers killed after their claim, {} duplicate deliveries, {} lost conditional writes, {} throttled requests",
            fired(Fault::Kill),
            fired(Fault::Duplicate),
            fired(Fault::Conflict),
            fired(Fault::Throttle)
        );
        for (what, ids) in [
            ("lost", &report.lost),
            ("duplicated", &report.duplicated),
            ("differing", &report.differing),
            ("webhook missing", &report.webhooks_missing),
        ] {
            if !ids.is_empty() {
                println!("{what}: {ids:?}");
            }
        }
        return;
    }
    let runtime_ms =
        worker_runtime_ms(&horizon_aws::services::from_config(config).await).await - runtime_before;
    cost_model(
        &requests_before,
        &requests_after,
        report.submitted,
        report.pages_done,
        runtime_ms,
    );
}

/// The faults of `--faults`.
pub fn faults() -> Faults {
    Faults {
        kill_after_claim: 0.05,
        duplicate_delivery: 0.10,
        conflict: 0.05,
        throttle: 0.02,
        ..Faults::default()
    }
}

/// The worker's total extraction time so far, from the dashboard's counters.
async fn worker_runtime_ms(services: &Services) -> u64 {
    services
        .dashboard
        .counters()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.metric.kind == horizon_app::dashboard::MetricKind::Job)
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
            // Twice the units of its items. The outbox commits a batch's writes in one
            // transaction: a mark per write (counted below, per job) and about 6 sums (time
            // buckets, the gauge, the counters) per transaction.
            ("DynamoDB", "TransactWriteItems") => 2.0 * 6.0 * DDB_WRITE,
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
    // The outbox's applied marks: one per write with effects (a job's creation, start, end),
    // inside those transactions, at twice the units.
    dollars += jobs_f * 3.0 * 2.0 * DDB_WRITE;
    for (service, n) in &by_service {
        println!("  {service:<9} {:<22} {n:6.2}", "(all)");
    }
    let worker_gb_s = worker_ms as f64 / 1000.0 * WORKER_GB;
    // Per job: one worker invocation (an upper bound: batches share one), two API calls (submit
    // and one status read), one webhook dispatch invocation, and one job-events invocation (an
    // upper bound: a batch of the stream holds up to 100 writes; its reads of the stream are
    // free for Lambda, and records of other items are filtered out unbilled).
    let lambda = worker_gb_s * LAMBDA_GB_S
        + jobs_f
            * (4.0 * LAMBDA_REQUEST
                + 2.0 * (HTTP_API + API_GB_S * LAMBDA_GB_S)
                + 2.0 * 0.256 * 0.02 * LAMBDA_GB_S);
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
