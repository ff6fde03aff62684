//! The load run, shared by the benchmark (`scripts/bench load`) and the fault-injection e2e test:
//! extraction jobs of small real PDFs through the local runner with several concurrent workers,
//! observed from outside as a client would. An account webhook delivers every terminal event to a
//! receiver in this process (down for a while, if asked), so a job finished twice shows as two
//! events (duplicated) and a job never finished as none (lost); then every job is read back
//! through the API.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use horizon_app::Config;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Jobs whose dead letter the run asks the API about at a time, while it waits.
const SWEEP: usize = 50;

/// What to run.
pub struct Options {
    pub jobs: usize,
    /// The webhook receiver answers 503 to this many deliveries before it answers 200: an
    /// endpoint that is down until it has refused them, however slow the machine is.
    pub webhook_refusals: usize,
    /// How long to wait without progress before calling the rest lost.
    pub patience: Duration,
    /// DynamoDB down (the config's `faults.outages`): from this long after the first
    /// submission, for this long.
    pub outage: Option<(Duration, Duration)>,
    /// Submissions spread evenly over this long (zero: all at once).
    pub spread: Duration,
}

/// What a client saw.
#[derive(Debug, Default)]
pub struct Report {
    pub submitted: usize,
    /// Submissions answered 5xx or 429 and sent again with the same Idempotency-Key.
    pub submit_retries: usize,
    pub completed: usize,
    pub failed: usize,
    /// Never terminal.
    pub lost: Vec<String>,
    /// More than one terminal event (distinct webhook-ids) for one job.
    pub duplicated: Vec<String>,
    /// Completed jobs whose chunk count differs from the others' of the same upload.
    pub differing: Vec<String>,
    /// Terminal jobs whose webhook arrived.
    pub webhooks_delivered: usize,
    /// Terminal jobs whose webhook was dead-lettered, as their delivery log shows.
    pub webhooks_dead_lettered: usize,
    /// Terminal jobs whose webhook neither arrived nor was dead-lettered.
    pub webhooks_missing: Vec<String>,
    /// Webhooks received again under the same webhook-id after a 2xx (allowed: at least once).
    pub webhook_repeats: usize,
    /// Answers the receiver gave 503 while it was down (all of `webhook_refusals`, unless
    /// fewer deliveries were made).
    pub webhooks_refused: usize,
    pub pages_done: u64,
    pub submit_time: Duration,
    pub elapsed: Duration,
    /// Submit to terminal (the job's `updatedAt`), per terminal job, sorted.
    pub latencies: Vec<Duration>,
    /// The job's terminal write (`updatedAt`) to its terminal event's first arrival, per job
    /// whose event arrived, sorted.
    pub event_waits: Vec<Duration>,
    /// Failed jobs by error code.
    pub failures: HashMap<String, usize>,
}

impl Report {
    pub fn percentile(&self, p: f64) -> f64 {
        percentile(&self.latencies, p)
    }

    pub fn print(&self) {
        let secs = self.elapsed.as_secs_f64();
        println!(
            "submitted   {} (in {:.1} s; {} submission(s) retried with their Idempotency-Key)",
            self.submitted,
            self.submit_time.as_secs_f64(),
            self.submit_retries
        );
        println!("completed   {}", self.completed);
        println!("failed      {}   {:?}", self.failed, self.failures);
        println!(
            "lost        {}   (never terminal; target 0)",
            self.lost.len()
        );
        println!(
            "duplicated  {}   (more than one terminal event; target 0)",
            self.duplicated.len()
        );
        println!(
            "differing   {}   (a completed job whose result differs from its upload's other jobs')",
            self.differing.len()
        );
        println!(
            "webhooks    {} delivered, {} dead-lettered, {} missing (target 0); {} refused while the receiver was down, {} repeated",
            self.webhooks_delivered,
            self.webhooks_dead_lettered,
            self.webhooks_missing.len(),
            self.webhooks_refused,
            self.webhook_repeats
        );
        println!(
            "throughput  {:.1} jobs/s, {:.1} pages/s over {:.1} s",
            self.submitted as f64 / secs,
            self.pages_done as f64 / secs,
            secs
        );
        println!(
            "submit to terminal: p50 {:.2} s, p99 {:.2} s",
            self.percentile(0.5),
            self.percentile(0.99)
        );
        println!(
            "terminal write to its event's arrival: p50 {:.2} s, p99 {:.2} s, max {:.2} s",
            percentile(&self.event_waits, 0.5),
            percentile(&self.event_waits, 0.99),
            percentile(&self.event_waits, 1.0)
        );
    }
}

/// The `p` quantile of sorted durations, in seconds (NaN when there are none).
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64()
}

/// Received webhooks: per job, (webhook-id, event type) and when the first arrived; and the
/// count refused.
#[derive(Default)]
struct Received {
    by_job: HashMap<String, Vec<(String, String)>>,
    first_at: HashMap<String, OffsetDateTime>,
    refused: usize,
}

/// A webhook receiver on a free loopback port: 503 to the first `refusals` deliveries, then 200.
async fn receiver(received: Arc<Mutex<Received>>, refusals: usize) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let received = received.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let received = received.clone();
                        async move {
                            let id = req
                                .headers()
                                .get("webhook-id")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let mut r = received.lock().expect("receiver lock");
                            let status = if r.refused < refusals { 503 } else { 200 };
                            if status == 503 {
                                r.refused += 1;
                            } else if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                                let job = v["data"]["jobId"].as_str().unwrap_or("").to_owned();
                                let kind = v["type"].as_str().unwrap_or("").to_owned();
                                r.first_at
                                    .entry(job.clone())
                                    .or_insert_with(OffsetDateTime::now_utc);
                                r.by_job.entry(job).or_default().push((id, kind));
                            }
                            let mut resp = hyper::Response::new(Full::new(Bytes::new()));
                            *resp.status_mut() =
                                hyper::StatusCode::from_u16(status).expect("status");
                            Ok::<_, Infallible>(resp)
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

/// Small real PDFs with text (2, 1, 1, 2 pages), from `tests/fixtures`.
pub const FIXTURES: [&str; 4] = [
    "two-pages.pdf",
    "two-columns.pdf",
    "chinese.pdf",
    "scanned-page.pdf",
];

/// Runs the load through a local runner started on `config` (whose `faults` apply) and reports
/// what a client saw. The runner is shut down before returning.
pub async fn run(mut config: Config, options: &Options) -> Report {
    config.local.port = 0;
    config.webhooks.allow_cidrs = horizon_domain::net::parse_cidrs("127.0.0.1/32").expect("cidr");
    let services = horizon_aws::services::from_config(config).await;
    let now = services.clock.now();
    let account = horizon_domain::AccountId(format!(
        "acct_load{}{}",
        now.unix_timestamp(),
        now.nanosecond()
    ));
    let (key, record) = horizon_runtime::auth::new_key(account, now).expect("key");
    services
        .accounts
        .put_key(&record)
        .await
        .expect("register the key");

    let received: Arc<Mutex<Received>> = Arc::default();
    let port = receiver(received.clone(), options.webhook_refusals).await;
    let running = horizon_local::start(services.clone())
        .await
        .expect("start the local runner");
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

    let dir = format!("{}/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut uploads = Vec::new();
    for name in FIXTURES {
        let bytes = std::fs::read(format!("{dir}/{name}")).expect("fixture");
        let up = send_until_answered(|| {
            http.post(format!("{base}/api/upload"))
                .header("authorization", &auth)
                .header("content-type", "application/pdf")
                .body(bytes.clone())
        })
        .await;
        assert_eq!(up.0, 201, "upload {name}: {}", up.1);
        uploads.push((
            up.1["id"].as_str().expect("id").to_owned(),
            up.1["pages"].as_u64().unwrap_or(1),
        ));
    }

    if let Some((after, lasting)) = options.outage {
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            eprintln!("DynamoDB down for {} s", lasting.as_secs());
            horizon_app::faults::set_outage(true);
            tokio::time::sleep(lasting).await;
            horizon_app::faults::set_outage(false);
            eprintln!("DynamoDB back");
        });
    }
    let started = Instant::now();
    type Submitted = HashMap<String, (OffsetDateTime, usize)>;
    let submitted: Arc<Mutex<Submitted>> = Arc::default();
    let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(16));
    for i in 0..options.jobs {
        let which = i % uploads.len();
        let upload = uploads[which].0.clone();
        let (http, base, auth, submitted, sem, retries) = (
            http.clone(),
            base.clone(),
            auth.clone(),
            submitted.clone(),
            sem.clone(),
            retries.clone(),
        );
        let delay = options.spread.mul_f64(i as f64 / options.jobs as f64);
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            let _permit = sem.acquire().await;
            let at = OffsetDateTime::now_utc();
            // A careful client: a 5xx or 429 is sent again under the same Idempotency-Key, which
            // answers with the job the first attempt created, if it did.
            let key = format!("load-{i}-{}", at.unix_timestamp_nanos());
            let mut tries = 0;
            let (status, v) = send_until_answered(|| {
                tries += 1;
                http.post(format!("{base}/v1/extract/pdf"))
                    .header("authorization", &auth)
                    .header("idempotency-key", &key)
                    .json(&json!({"uploadId": upload}))
            })
            .await;
            retries.fetch_add(tries - 1, std::sync::atomic::Ordering::Relaxed);
            match (status, v["jobId"].as_str()) {
                (200 | 202, Some(id)) => {
                    submitted
                        .lock()
                        .expect("lock")
                        .insert(id.to_owned(), (at, which));
                }
                _ => eprintln!("submit answered {status}: {v}"),
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let submit_time = started.elapsed();
    let submitted = submitted.lock().expect("lock").clone();

    // Wait until every job's webhook has arrived, or (asked of the API only when webhooks stop
    // arriving, so as not to add load) the job is terminal with its webhook dead-lettered; give
    // up when nothing changes for `patience`.
    let mut settled: HashSet<String> = HashSet::new();
    let mut last = 0;
    let mut last_change = Instant::now();
    let mut last_asked = Instant::now();
    loop {
        let arrived: Vec<String> = {
            let r = received.lock().expect("lock");
            submitted
                .keys()
                .filter(|id| r.by_job.contains_key(id.as_str()))
                .cloned()
                .collect()
        };
        settled.extend(arrived);
        // Progress is what arrived since the last look (a sweep below may take a while: what
        // arrived meanwhile counts).
        if settled.len() != last {
            last = settled.len();
            last_change = Instant::now();
        }
        if settled.len() >= submitted.len() || last_change.elapsed() > options.patience {
            break;
        }
        if last_change.elapsed() > Duration::from_secs(3)
            && last_asked.elapsed() > Duration::from_secs(3)
        {
            // A few of the jobs still unsettled at a time, so as not to load the service
            // that is still working on the rest.
            let unsettled: Vec<String> = submitted
                .keys()
                .filter(|id| !settled.contains(*id))
                .take(SWEEP)
                .cloned()
                .collect();
            for id in unsettled {
                if dead_lettered(&http, &base, &auth, &id).await {
                    settled.insert(id);
                }
            }
            last_asked = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    // A late duplicate, if any, is a delivery still on the webhook queue: wait until it holds
    // none (bounded: a dead letter's retries may keep it busy for longer).
    let webhooks = services.config.stack.webhook_queue_url.clone();
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        match services.queues.depth(&webhooks).await {
            Ok(d) if d.visible + d.in_flight + d.delayed == 0 => break,
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }

    let received = std::mem::take(&mut *received.lock().expect("lock"));
    let mut report = Report {
        submitted: submitted.len(),
        submit_retries: retries.load(std::sync::atomic::Ordering::Relaxed),
        submit_time,
        elapsed,
        webhooks_refused: received.refused,
        ..Report::default()
    };
    let mut chunk_counts: HashMap<usize, HashMap<u64, Vec<String>>> = HashMap::new();
    for (id, (at, which)) in &submitted {
        let (_, v) = send_until_answered(|| {
            http.get(format!("{base}/v1/jobs/{id}"))
                .header("authorization", &auth)
        })
        .await;
        if !matches!(v["status"].as_str(), Some("completed" | "failed")) {
            report.lost.push(id.clone());
            continue;
        }
        if v["status"] == "completed" {
            report.completed += 1;
            report.pages_done += uploads[*which].1;
            let chunks = v["result"]["chunkCount"].as_u64().unwrap_or(0);
            chunk_counts
                .entry(*which)
                .or_default()
                .entry(chunks)
                .or_default()
                .push(id.clone());
        } else {
            report.failed += 1;
            let code = v["error"]["code"].as_str().unwrap_or("?").to_owned();
            *report.failures.entry(code).or_default() += 1;
        }
        if let Some(done) = v["updatedAt"]
            .as_str()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        {
            report
                .latencies
                .push(Duration::try_from(done - *at).unwrap_or_default());
            if let Some(arrived) = received.first_at.get(id) {
                report
                    .event_waits
                    .push(Duration::try_from(*arrived - done).unwrap_or_default());
            }
        }
        match received.by_job.get(id) {
            Some(events) => {
                report.webhooks_delivered += 1;
                let ids: HashSet<&str> = events.iter().map(|(w, _)| w.as_str()).collect();
                if ids.len() > 1 {
                    report.duplicated.push(id.clone());
                }
                report.webhook_repeats += events.len() - ids.len();
            }
            None if dead_lettered(&http, &base, &auth, id).await => {
                report.webhooks_dead_lettered += 1
            }
            None => report.webhooks_missing.push(id.clone()),
        }
    }
    // Each upload's jobs must all have the same result: the most common count is the right one.
    for counts in chunk_counts.values() {
        let mut groups: Vec<&Vec<String>> = counts.values().collect();
        groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
        for g in groups.iter().skip(1) {
            report.differing.extend(g.iter().cloned());
        }
    }
    running.shutdown().await;
    report.latencies.sort();
    report.event_waits.sort();
    report
}

/// Whether the job's delivery log shows its webhook dead-lettered.
async fn dead_lettered(http: &reqwest::Client, base: &str, auth: &str, id: &str) -> bool {
    let (_, log) = send_until_answered(|| {
        http.get(format!("{base}/v1/jobs/{id}/webhooks"))
            .header("authorization", auth)
    })
    .await;
    log["deliveries"]
        .as_array()
        .is_some_and(|d| d.iter().any(|a| a["outcome"] == "dead_lettered"))
}

/// Sends the request built by `make` until the answer is neither a 5xx nor a 429 (up to 20
/// times, a short pause between, at least a 429's `Retry-After`): returns the status and the
/// JSON body (`null` if none).
async fn send_until_answered(mut make: impl FnMut() -> reqwest::RequestBuilder) -> (u16, Value) {
    let mut last = (0, Value::Null);
    // A careful client: it keeps at it through an outage of minutes.
    let until = Instant::now() + Duration::from_secs(600);
    for attempt in 0u64.. {
        if Instant::now() > until {
            break;
        }
        let mut pause = Duration::from_millis(100 * (attempt + 1)).min(Duration::from_secs(5));
        match make().send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                if let Some(wait) = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .filter(|_| status == 429)
                {
                    pause = pause.max(Duration::from_secs(wait.min(60)));
                }
                let v = r.json::<Value>().await.unwrap_or(Value::Null);
                if status < 500 && status != 429 {
                    return (status, v);
                }
                last = (status, v);
            }
            Err(e) => last = (0, json!({ "error": e.to_string() })),
        }
        tokio::time::sleep(pause).await;
    }
    last
}
