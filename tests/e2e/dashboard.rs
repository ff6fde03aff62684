//! The Horizon dashboard against the local stack, with real jobs: counts, lists and their
//! pagination, workload against the real queue depth, pause and continue, retry lineage,
//! monitoring, snapshot rotation, the access gate, and the single-page app in headless Chromium.
//! Each test that counts has a stack of its own, so no other test's jobs are in its numbers.

use horizon_app::dashboard::MetricKind;
use horizon_app::ports::{Counts, JobMeasure};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

fn ids(page: &Value) -> Vec<String> {
    page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs `good` jobs on a two-page PDF and `bad` on a corrupt one, tagged `tag`, to the end.
async fn run_jobs(api: &Api, good: usize, bad: usize, tag: &str) -> (Vec<String>, Vec<String>) {
    let pdf = api.upload_id(fixture("two-pages.pdf")).await;
    let corrupt = api.upload_id(fixture("corrupt.pdf")).await;
    let mut made = (Vec::new(), Vec::new());
    for (upload, n, out) in [(&pdf, good, &mut made.0), (&corrupt, bad, &mut made.1)] {
        for _ in 0..n {
            let body = json!({ "uploadId": upload, "tags": [tag] }).to_string();
            let resp = api.post_json("/v1/extract/pdf", &body).await;
            assert_eq!(resp.status(), 202);
            let v: Value = resp.json().await.unwrap();
            out.push(v["jobId"].as_str().unwrap().to_owned());
        }
    }
    for id in made.0.iter().chain(&made.1) {
        api.wait_terminal(id).await;
    }
    made
}

#[tokio::test(flavor = "multi_thread")]
async fn counts_lists_monitoring_and_retry_lineage_follow_real_jobs() {
    let services = isolated_services("counts").await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let horizon = Horizon::new(running.addr);
    assert_eq!(
        horizon
            .post("/monitoring", Some(json!({ "tag": "batch-7" })))
            .await["tag"],
        "batch-7"
    );

    let (good, bad) = run_jobs(&api, 4, 1, "batch-7").await;

    // The counts follow the jobs' writes through the table's stream: within moments.
    eventually("the counts catch up with the jobs", async || {
        let stats = horizon.get("/stats").await;
        stats["recentJobs"] == 5
            && stats["failedJobs"] == 1
            && horizon.get("/jobs/completed").await["total"] == 4
            && horizon.get("/jobs/pending").await["total"] == 0
    })
    .await;
    let stats = horizon.get("/stats").await;
    assert_eq!(stats["recentJobs"], 5, "{stats}");
    assert_eq!(stats["failedJobs"], 1, "{stats}");
    assert_eq!(stats["recentlyFailed"], 1);
    assert_eq!(stats["status"], "running");
    // Two pollers per queue, two queues: four live workers.
    assert_eq!(stats["processes"], 4, "{stats}");
    assert_eq!(stats["periods"]["recentJobs"], 60);
    assert!(stats["jobsPerMinute"].as_f64().unwrap() > 0.0, "{stats}");

    // Lists: totals from the counters, pages from the indexes, newest first, no overlap.
    let recent = horizon.get("/jobs/recent").await;
    assert_eq!(recent["total"], 5);
    let mut expected: Vec<String> = good.iter().chain(&bad).cloned().collect();
    expected.sort();
    expected.reverse();
    assert_eq!(ids(&recent), expected);
    let first = horizon.get("/jobs/recent?limit=2").await;
    let cursor = first["jobs"][1]["index"].as_str().unwrap().to_owned();
    let second = horizon
        .get(&format!("/jobs/recent?limit=2&starting_at={cursor}"))
        .await;
    assert_eq!(ids(&first), expected[..2]);
    assert_eq!(ids(&second), expected[2..4]);
    assert_eq!(horizon.get("/jobs/completed").await["total"], 4);
    assert_eq!(horizon.get("/jobs/pending").await["total"], 0);
    let failed = horizon.get("/jobs/failed").await;
    assert_eq!(
        (failed["total"].clone(), ids(&failed)),
        (json!(1), bad.clone())
    );
    assert_eq!(failed["jobs"][0]["status"], "failed");
    assert!(failed["jobs"][0]["exception"]
        .as_str()
        .unwrap()
        .starts_with("invalid_pdf"));

    // Search failed jobs by tag, type and error text.
    for (query, hits) in [
        ("tag=batch-7", 1),
        ("tag=other", 0),
        ("type=extract/pdf", 1),
        ("q=INVALID_PDF", 1),
        ("q=no-such-error", 0),
    ] {
        let page = horizon.get(&format!("/jobs/failed?{query}")).await;
        assert_eq!(page["total"], hits, "{query}");
        assert_eq!(page["jobs"].as_array().unwrap().len(), hits, "{query}");
    }

    // Monitoring: the tag's jobs, paginated, and its failed tab.
    let tags = horizon.get("/monitoring").await;
    assert_eq!(tags, json!([{ "tag": "batch-7", "count": 5 }]));
    let page1 = horizon.get("/monitoring/batch-7?limit=3").await;
    assert_eq!(page1["total"], 5);
    assert_eq!(ids(&page1), expected[..3]);
    let after = page1["jobs"][2]["index"].as_str().unwrap().to_owned();
    let page2 = horizon
        .get(&format!("/monitoring/batch-7?limit=3&starting_at={after}"))
        .await;
    assert_eq!(ids(&page2), expected[3..]);
    assert_eq!(ids(&horizon.get("/monitoring/failed:batch-7").await), bad);
    // Automatic tags are monitorable too (and may contain '/').
    horizon
        .post("/monitoring", Some(json!({ "tag": "type:extract/pdf" })))
        .await;
    assert_eq!(
        horizon.get("/monitoring/type%3Aextract%2Fpdf").await["total"],
        0,
        "only jobs made after monitoring began are filed"
    );
    assert_eq!(
        horizon.status(Method::DELETE, "/monitoring/batch-7").await,
        200
    );
    assert_eq!(
        horizon.status(Method::GET, "/monitoring/batch-7").await,
        404
    );

    // Retry: a new job `retry_of` the original, whose `retried_by` follows the retry's end.
    let original = &bad[0];
    assert_eq!(
        horizon
            .status(Method::GET, &format!("/jobs/failed/{}", good[0]))
            .await,
        404
    );
    let retry = horizon.post(&format!("/jobs/retry/{original}"), None).await;
    let retry_id = retry["id"].as_str().unwrap().to_owned();
    assert_ne!(&retry_id, original);
    let detail = horizon.get(&format!("/jobs/{retry_id}")).await;
    assert_eq!(detail["retry_of"], original.as_str());
    api.wait_terminal(&retry_id).await;
    let noted = horizon.get(&format!("/jobs/failed/{original}")).await;
    assert_eq!(noted["retried_by"][0]["id"], retry_id.as_str());
    assert_eq!(noted["retried_by"][0]["status"], "failed");
    eventually("the failed count follows, from the stream", async || {
        horizon.get("/jobs/failed").await["total"] == 2
    })
    .await;
    // Bulk retry skips jobs already retried: only the retry itself is retried now.
    let bulk = horizon.post("/jobs/retry?tag=batch-7", None).await;
    assert_eq!(bulk["retried"], 1, "{bulk}");
    assert_eq!(bulk["skippedAlreadyRetried"], 1, "{bulk}");
    assert_eq!(bulk["jobs"][0]["retry_of"], retry_id.as_str());
    // The job API's owner sees the retry as their own job.
    assert_eq!(api.get(&format!("/v1/jobs/{retry_id}")).await.status(), 200);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn workload_reads_the_queue_and_pause_stops_the_workers() {
    let services = isolated_services("workload").await;
    services
        .fleet
        .set_paused(
            horizon_app::dashboard::queue_name(&services.config.stack.extract_queue_url),
            true,
        )
        .await
        .unwrap();
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let horizon = Horizon::new(running.addr);
    let queue = horizon_app::dashboard::queue_name(&services.config.stack.extract_queue_url);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let mut jobs = Vec::new();
    for _ in 0..5 {
        jobs.push(api.start_job(&upload).await);
    }
    let row = |w: &Value| {
        w.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == queue)
            .cloned()
            .unwrap()
    };
    // Paused: the five messages wait on the real queue.
    eventually("five jobs pending", async || {
        horizon.get("/jobs/pending").await["total"] == 5
    })
    .await;
    let workload = row(&horizon.get("/workload").await);
    assert_eq!(workload["length"], 5, "{workload}");
    assert_eq!(workload["paused"], true);
    assert_eq!(horizon.get("/jobs/pending").await["total"], 5);
    let masters = horizon.get("/masters").await;
    let master = masters.as_object().unwrap().values().next().unwrap();
    let sup = master["supervisors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["options"]["queue"] == queue)
        .unwrap()
        .clone();
    assert_eq!(sup["status"], "paused");
    assert_eq!(sup["options"]["maxTries"], 3, "the queue's redrive policy");
    assert_eq!(sup["options"]["maxProcesses"], 2);
    assert_eq!(sup["processes"][format!("sqs:{queue}")], 2, "{masters}");

    assert_eq!(
        horizon
            .post(&format!("/queues/{queue}/continue"), None)
            .await["paused"],
        false
    );
    for id in &jobs {
        api.wait_terminal(id).await;
    }
    eventually("the queue drains", async || {
        row(&horizon.get("/workload").await)["length"] == 0
    })
    .await;
    eventually("the pending count follows, from the stream", async || {
        horizon.get("/jobs/pending").await["total"] == 0
    })
    .await;
    assert_eq!(horizon.get("/jobs/completed").await["total"], 5);
    assert_eq!(
        horizon
            .status(Method::POST, "/queues/no-such-queue/pause")
            .await,
        404
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_are_taken_once_per_interval_and_rotate() {
    let mut services = isolated_services("snaps").await;
    let mut config = (*services.config).clone();
    config.dashboard.snapshots_kept = 3;
    services.config = std::sync::Arc::new(config);
    let store = services.dashboard.clone();
    let now = services.clock.now();
    let measure = |runtime_ms| JobMeasure {
        failed: false,
        runtime_ms,
        wait_ms: 1000,
    };
    let mut version = 0;
    for slot in 0..5i64 {
        for _ in 0..=slot {
            version += 1;
            let counts = Counts {
                job: horizon_domain::JobId::new(now),
                version,
                keep_until: now + time::Duration::hours(1),
                tally: None,
                measure: Some((
                    "extract/pdf".into(),
                    "q-snaps".into(),
                    measure(200 * (slot as u64 + 1)),
                )),
                active: None,
                processing: None,
            };
            assert_eq!(services.metrics.apply(&[counts]).await.unwrap(), 1);
        }
        let at = now + time::Duration::seconds(slot);
        // Two instances on the same interval: only one takes its snapshot. (The extract
        // worker's schedule does this: the IAM test holds these requests against its role.)
        let (a, b) = horizon_aws::meter::as_function("extract-worker", async {
            tokio::join!(
                store.take_snapshot(1000 + slot, at, 3),
                store.take_snapshot(1000 + slot, at, 3)
            )
        })
        .await;
        assert!(
            a.unwrap() ^ b.unwrap(),
            "exactly one instance takes slot {slot}"
        );
    }
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let horizon = Horizon::new(running.addr);
    assert_eq!(horizon.get("/metrics/jobs").await, json!(["extract/pdf"]));
    assert_eq!(horizon.get("/metrics/queues").await, json!(["q-snaps"]));
    let snaps = horizon.get("/metrics/queues/q-snaps").await;
    let got: Vec<(u64, f64, f64)> = snaps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["throughput"].as_u64().unwrap(),
                s["runtime"].as_f64().unwrap(),
                s["wait"].as_f64().unwrap(),
            )
        })
        .collect();
    // The last three intervals: 3, 4 and 5 jobs of 0.6, 0.8 and 1.0 s, each waiting 1 s.
    assert_eq!(got, vec![(3, 0.6, 1.0), (4, 0.8, 1.0), (5, 1.0, 1.0)]);
    assert!(horizon.get("/metrics/jobs/extract%2Fpdf").await[0]
        .get("wait")
        .is_none());
    let stats = horizon.get("/stats").await;
    assert_eq!(stats["queueWithMaxThroughput"], "q-snaps");
    assert_eq!(stats["status"], "inactive", "no worker runs: {stats}");
    // The counters were reset by the last snapshot.
    let counters = store.counters().await.unwrap();
    assert!(counters
        .iter()
        .filter(|c| c.metric.kind == MetricKind::Queue)
        .all(|c| c.processed == 0));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_is_closed_without_the_admin_key_off_loopback() {
    let mut config = config();
    config.local.bind = std::net::IpAddr::from([0, 0, 0, 0]);
    config.dashboard.admin_key = Some("admin-key-for-the-gate-test".into());
    let services = horizon_aws::services::from_config(config).await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let base = format!("http://127.0.0.1:{}", running.addr.port());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/horizon/api/stats", "/horizon/api/jobs/failed", "/horizon"] {
        let resp = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), 403, "{path} without credentials");
    }
    let wrong = client
        .get(format!("{base}/horizon/api/stats"))
        .bearer_auth("not-the-key")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    // A tenant's API key is not the admin key.
    let tenant = new_account(&services).await;
    let resp = client
        .post(format!("{base}/horizon/api/jobs/retry?all=true"))
        .bearer_auth(&tenant)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let ok = client
        .get(format!("{base}/horizon/api/stats"))
        .bearer_auth("admin-key-for-the-gate-test")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // The login form trades the key for a session cookie that opens the page and the API.
    let bad_login = client
        .post(format!("{base}/horizon/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("key=wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_login.status(), 403);
    let login = client
        .post(format!("{base}/horizon/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("key=admin-key-for-the-gate-test")
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let session = cookie.split(';').next().unwrap().to_owned();
    for path in ["/horizon", "/horizon/api/workload"] {
        let resp = client
            .get(format!("{base}{path}"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path} with the session");
    }

    // Guessing the admin key from one address: after 10 wrong keys in a minute (sign-ins or
    // bearer tokens), that address waits for the minute to end, whatever it sends, while
    // another address still gets in. The count is kept in the table, for every instance.
    let from = |last: u8| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .build()
            .unwrap()
    };
    let guesser = from(3);
    // All ten within one minute: not in its last seconds.
    let second = services.clock.now().unix_timestamp() % 60;
    if second > 50 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
    let minute = services.clock.now().unix_timestamp() / 60;
    for i in 0..10 {
        let resp = guesser
            .get(format!("{base}/horizon/api/stats"))
            .bearer_auth(format!("guess-{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "guess {i}");
    }
    let locked = guesser
        .get(format!("{base}/horizon/api/stats"))
        .bearer_auth("admin-key-for-the-gate-test")
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 429);
    assert!(locked.headers().contains_key("retry-after"));
    let other = from(4)
        .get(format!("{base}/horizon/api/stats"))
        .bearer_auth("admin-key-for-the-gate-test")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "another address is not held back");
    let shared = aws_sdk_dynamodb::Client::new(&sdk().await)
        .get_item()
        .table_name(&services.config.stack.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("STRIKES#sign-in#127.0.0.3".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(minute.to_string()),
        )
        .send()
        .await
        .unwrap();
    let failures = shared
        .item()
        .and_then(|i| i.get("failures"))
        .and_then(|v| v.as_n().ok())
        .cloned();
    assert_eq!(failures.as_deref(), Some("10"));
    running.shutdown().await;
}

/// The dashboard and the playground in Debian's Chromium, driven by Playwright, against the
/// real local service (tests/browser/dashboard.mjs): the overview's numbers, a filter in the URL
/// surviving a reload, a retry, a bulk delete and a queue purge after confirmations that say how
/// many, a job's document view whose boxes sit where the chunks' `bbox` says, at phone width too,
/// and the playground uploading a scan and showing its Markdown. The screenshots it takes are
/// the README's.
#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_and_the_playground_work_in_chromium() {
    in_a_browser("chromium").await;
}

/// The same in Debian's Firefox ESR, driven over WebDriver BiDi.
#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_and_the_playground_work_in_firefox() {
    in_a_browser("firefox").await;
}

async fn in_a_browser(browser: &str) {
    let node = std::env::var("HORIZON_TEST_NODE").unwrap_or_else(|_| {
        panic!("HORIZON_TEST_NODE is not set: run the tests with scripts/test, which installs Chromium and playwright-core")
    });
    let services = isolated_services(browser).await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let key = new_account(&services).await;
    let api = Api::new(running.addr, &key);
    let horizon = Horizon::new(running.addr);
    let queue = horizon_app::dashboard::queue_name(&services.config.stack.extract_queue_url);
    let (_good, bad) = run_jobs(&api, 3, 2, "browser").await;
    let report = api.upload_id(fixture("report.pdf")).await;
    let body = json!({ "uploadId": report, "tags": ["browser-doc"] }).to_string();
    let doc: Value = api
        .post_json("/v1/extract/pdf", &body)
        .await
        .json()
        .await
        .unwrap();
    let doc = doc["jobId"].as_str().unwrap().to_owned();
    api.wait_terminal(&doc).await;
    // Two jobs wait in the paused queue, for the purge.
    services.fleet.set_paused(queue, true).await.unwrap();
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let waiting = [api.start_job(&upload).await, api.start_job(&upload).await];
    eventually("two messages wait", async || {
        horizon.queue_length(queue).await == 2
    })
    .await;

    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/test-artifacts");
    std::fs::create_dir_all(shots).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/dashboard.mjs");
    let expected = json!({
        "recentJobs": 8, "failedJobs": bad, "queue": queue, "waiting": 2,
        "tag": "browser-doc", "taggedJob": doc, "completedJob": doc, "heading": "Annual Report 2026",
        "apiKey": key, "playgroundFile": concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/scan.pdf"),
        "markdownHas": "Scanned Letter",
        "flowingFile": concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/guide.html"),
        "flowingHeading": "Field guide to coastal birds",
    });
    let out = tokio::process::Command::new(node)
        .arg(script)
        .arg(format!("http://{}", running.addr))
        .arg(expected.to_string())
        .arg(shots)
        .arg(browser)
        .output()
        .await
        .expect("node runs the browser script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser test failed in {browser} (see {shots}/*failure.png):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    // What the browser did, as the API sees it.
    for id in seen["deleted"].as_array().unwrap() {
        let id = id.as_str().unwrap();
        assert_eq!(
            api.get(&format!("/v1/jobs/{id}")).await.status(),
            404,
            "{id} deleted"
        );
    }
    let retry = seen["retryId"].as_str().unwrap().to_owned();
    for id in waiting.iter().chain([&retry]) {
        assert_eq!(
            api.wait_terminal(id).await["error"]["code"],
            "purged",
            "{id}"
        );
    }
    let made = api
        .wait_terminal(seen["playgroundJob"].as_str().unwrap())
        .await;
    assert_eq!(made["status"], "completed");
    assert_eq!(made["result"]["ocrPages"], json!([1]), "{made}");
    assert!(seen["boxesChecked"].as_u64().unwrap() >= 5);
    // The script names its screenshots after the browser, but for Chromium's.
    let prefix = if browser == "chromium" {
        String::new()
    } else {
        format!("{browser}-")
    };
    for name in ["overview", "document", "playground"] {
        assert!(
            std::fs::metadata(format!("{shots}/{prefix}{name}.png"))
                .unwrap()
                .len()
                > 10_000
        );
    }
    services.fleet.set_paused(queue, false).await.unwrap();
    running.shutdown().await;
}

/// In AWS the admin key lives in SSM Parameter Store, not in the template or the environment:
/// the dashboard reads the SecureString when it starts, and does not start with a key that is
/// missing or too short.
#[tokio::test(flavor = "multi_thread")]
async fn the_admin_key_is_read_from_parameter_store() {
    use aws_sdk_ssm::types::ParameterType;
    let sdk = sdk().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    // Named after the test's own prefix: removed when the test ends.
    let own = Own::new("ssm");
    let prefix = format!("/{}", own.prefix);
    let put = |name: String, value: &'static str| {
        let ssm = ssm.clone();
        async move {
            ssm.put_parameter()
                .name(name)
                .value(value)
                .r#type(ParameterType::SecureString)
                .send()
                .await
                .unwrap();
        }
    };
    put(
        format!("{prefix}/admin-key"),
        "an admin key kept in SSM, long enough",
    )
    .await;
    put(format!("{prefix}/short"), "too short").await;
    let base = services().await;
    let mut config = (*base.config).clone();
    config.dashboard.admin_key = None;
    let read = |name: String| {
        let mut config = config.clone();
        config.dashboard.admin_key_parameter = Some(name);
        let sdk = sdk.clone();
        // As the dashboard function does when it starts (the IAM test sees the request).
        horizon_aws::meter::as_function("dashboard", async move {
            horizon_aws::services::with_secrets(config, &sdk).await
        })
    };
    let config = read(format!("{prefix}/admin-key")).await.unwrap();
    assert_eq!(
        config.dashboard.admin_key.map(|k| k.0),
        Some("an admin key kept in SSM, long enough".to_owned())
    );
    let short = read(format!("{prefix}/short")).await.unwrap_err();
    assert!(short.to_string().contains("at least 16"), "{short}");
    let missing = read(format!("{prefix}/none")).await.unwrap_err();
    assert!(missing.to_string().contains("cannot be read"), "{missing}");
}

/// Every list filters by tag, status, queue, job type, account, error text and time window; a
/// job's page has its timeline (with the worker), chunks and pages drawn for the document view;
/// failed jobs are deleted one by one or by filter (and leave the failed count); a purge fails
/// the jobs waiting in the queue and empties it.
#[tokio::test(flavor = "multi_thread")]
async fn lists_filter_and_operators_delete_purge_and_see_the_pages() {
    let services = isolated_services("operators").await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let horizon = Horizon::new(running.addr);
    let queue = horizon_app::dashboard::queue_name(&services.config.stack.extract_queue_url);
    let before = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let (good, bad) = run_jobs(&api, 2, 3, "ops-a").await;
    let (other, _) = run_jobs(&api, 1, 0, "ops-b").await;
    let total = |page: &Value| page["total"].as_u64().unwrap();

    // Filters, on every list, from the query string.
    let tagged = horizon.get("/jobs/recent?tag=ops-a").await;
    assert_eq!(total(&tagged), 5, "{tagged}");
    assert_eq!(ids(&tagged).len(), 5);
    assert_eq!(
        total(&horizon.get("/jobs/recent?tag=ops-a&status=failed").await),
        3
    );
    assert_eq!(
        total(&horizon.get("/jobs/recent?status=completed").await),
        3
    );
    assert_eq!(
        ids(&horizon.get("/jobs/completed?tag=ops-b").await),
        vec![other[0].clone()]
    );
    assert_eq!(
        total(
            &horizon
                .get("/jobs/failed?q=invalid_pdf&type=extract/pdf")
                .await
        ),
        3
    );
    let account_id = horizon.get(&format!("/jobs/{}", good[0])).await["account"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        total(
            &horizon
                .get(&format!("/jobs/recent?account={account_id}"))
                .await
        ),
        6
    );
    assert_eq!(
        total(&horizon.get("/jobs/recent?account=acct_nobody").await),
        0
    );
    assert_eq!(
        total(
            &horizon
                .get(&format!("/jobs/recent?tag=ops-a&queue={queue}"))
                .await
        ),
        5
    );
    assert_eq!(total(&horizon.get("/jobs/recent?queue=another").await), 0);
    let later = before + 3_600_000;
    assert_eq!(
        total(&horizon.get(&format!("/jobs/recent?from={later}")).await),
        0
    );
    assert_eq!(
        total(
            &horizon
                .get(&format!("/jobs/recent?from={before}&until={later}"))
                .await
        ),
        6
    );
    assert_eq!(total(&horizon.get("/jobs/pending?status=failed").await), 0);
    assert_eq!(
        horizon
            .status(Method::GET, "/jobs/recent?status=lost")
            .await,
        400
    );
    assert_eq!(
        horizon
            .status(Method::GET, "/jobs/recent?from=yesterday")
            .await,
        400
    );
    assert_eq!(
        horizon
            .status(
                Method::GET,
                &format!("/jobs/recent?from={later}&until={before}")
            )
            .await,
        400
    );

    // A job's page: its timeline, with the worker that took it; its chunks; its pages drawn.
    let job = horizon.get(&format!("/jobs/{}", good[0])).await;
    let steps: Vec<&str> = job["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["pending", "reserved", "completed"], "{job}");
    assert!(
        job["history"][1]["worker"].as_str().unwrap().contains(':'),
        "{job}"
    );
    let chunks = horizon.get(&format!("/jobs/{}/chunks", good[0])).await;
    assert_eq!(chunks["total"], job["result"]["chunkCount"]);
    assert!(!chunks["chunks"].as_array().unwrap().is_empty());
    let page = reqwest::get(format!("{}/jobs/{}/pages/1?w=400", horizon.base, good[0]))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "image/jpeg");
    let size = page.headers()["horizon-page-size"]
        .to_str()
        .unwrap()
        .to_owned();
    let jpeg = page.bytes().await.unwrap();
    assert!(jpeg.starts_with(b"\xFF\xD8"));
    // The page's size is in the units of the chunks' boxes, which sit inside it.
    let (w, h) = size.split_once(' ').unwrap();
    let (w, h): (f64, f64) = (w.parse().unwrap(), h.parse().unwrap());
    for c in chunks["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["page"] == 1)
    {
        let b: Vec<f64> = serde_json::from_value(c["bbox"].clone()).unwrap();
        assert!(
            b[0] >= 0.0 && b[2] <= w + 0.5 && b[1] >= 0.0 && b[3] <= h + 0.5,
            "{c} in {size}"
        );
    }
    let tenant = api
        .get(&format!("/v1/jobs/{}/pages/2?w=800", good[0]))
        .await;
    assert_eq!(tenant.status(), 200);
    assert_eq!(tenant.headers()["horizon-page-size"], size.as_str());
    assert_eq!(
        api.get(&format!("/v1/jobs/{}/pages/3", good[0]))
            .await
            .status(),
        404
    );
    assert_eq!(
        api.get(&format!("/v1/jobs/{}/pages/1?w=500", good[0]))
            .await
            .status(),
        400
    );
    let stranger = Api::new(running.addr, &new_account(&services).await);
    assert_eq!(
        stranger
            .get(&format!("/v1/jobs/{}/pages/1", good[0]))
            .await
            .status(),
        404
    );

    // Deleting: one failed job, then every failed job matching a filter.
    assert_eq!(
        horizon.delete(&format!("/jobs/failed/{}", good[0])).await.0,
        409
    );
    let (status, one) = horizon.delete(&format!("/jobs/failed/{}", bad[0])).await;
    assert_eq!((status, one["deleted"].as_u64()), (200, Some(1)));
    assert_eq!(
        horizon.delete("/jobs/failed").await.0,
        400,
        "a filter or all=true"
    );
    let (status, some) = horizon.delete("/jobs/failed?tag=ops-a").await;
    assert_eq!((status, some["deleted"].as_u64()), (200, Some(2)), "{some}");
    for id in &bad {
        assert_eq!(api.get(&format!("/v1/jobs/{id}")).await.status(), 404);
    }
    eventually("the failed count follows the deletes", async || {
        total(&horizon.get("/jobs/failed").await) == 0
            && horizon.get("/stats").await["failedJobs"] == 0
    })
    .await;

    // Purging: the jobs waiting in the queue fail as purged, and the queue empties.
    services.fleet.set_paused(queue, true).await.unwrap();
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let mut waiting = Vec::new();
    for _ in 0..3 {
        waiting.push(api.start_job(&upload).await);
    }
    let length = async || horizon.queue_length(queue).await;
    eventually("three messages wait", async || length().await == 3).await;
    let purged = horizon.post(&format!("/queues/{queue}/purge"), None).await;
    assert_eq!(
        (purged["messages"].as_u64(), purged["jobsFailed"].as_u64()),
        (Some(3), Some(3)),
        "{purged}"
    );
    for id in &waiting {
        let job = api.wait_terminal(id).await;
        assert_eq!(job["error"]["code"], "purged", "{job}");
    }
    eventually("the queue is empty", async || length().await == 0).await;
    services.fleet.set_paused(queue, false).await.unwrap();
    running.shutdown().await;
}

/// A record the outbox cannot apply (a job item written by hand without its status) is
/// retried, then parked with its content: the stream goes on, and a real job after it is
/// counted. The operator sees it on the dashboard; a replay comes back through the stream and
/// fails again (it stays, its replays counted); a repaired record replayed is applied and leaves.
#[tokio::test(flavor = "multi_thread")]
async fn a_poison_record_is_parked_the_stream_goes_on_and_a_replay_applies_it() {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let services = isolated_services("parked").await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let horizon = Horizon::new(running.addr);

    let poison = horizon_domain::JobId::new(services.clock.now()).to_string();
    aws_sdk_dynamodb::Client::new(&sdk().await)
        .put_item()
        .table_name(&services.config.stack.table)
        .item("pk", A::S(format!("JOB#{poison}")))
        .item("sk", A::S("JOB".into()))
        .item("jobId", A::S(poison.clone()))
        .item("jobType", A::S("extract/pdf".into()))
        .item("accountId", A::S("acct_poison".into()))
        .send()
        .await
        .unwrap();
    run_jobs(&api, 1, 0, "after-poison").await;
    eventually("the job after the poison record is counted", async || {
        horizon.get("/stats").await["recentJobs"] == 1
    })
    .await;
    let parked = horizon.get("/outbox").await;
    let records = parked["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{parked}");
    assert_eq!(records[0]["job"], poison);
    assert!(
        records[0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot be read"),
        "{parked}"
    );
    assert_eq!(records[0]["replays"], 0);

    // Replayed as it is, it fails again and stays.
    assert_eq!(horizon.post("/outbox/replay", None).await["asked"], 1);
    eventually("the replay is tried", async || {
        horizon.get("/outbox").await["records"][0]["replays"] == 1
    })
    .await;
    assert_eq!(
        horizon
            .status(Method::POST, "/outbox/no-such-record/replay")
            .await,
        404
    );

    // The same record repaired (its job given a status and the rest of a job's fields) and
    // parked: replayed, it is applied (the job counted) and leaves the list.
    let mut content: Value = serde_json::from_str(records[0]["content"].as_str().unwrap()).unwrap();
    let now_ms = (services.clock.now().unix_timestamp_nanos() / 1_000_000).to_string();
    let image = &mut content["dynamodb"]["NewImage"];
    for (name, value) in [
        ("status", json!({ "S": "queued" })),
        ("createdAt", json!({ "N": now_ms })),
        ("updatedAt", json!({ "N": now_ms })),
        ("uploadId", json!({ "S": "upl_01JQZZZZZZZZZZZZZZZZZZZZZZ" })),
        ("expiresAt", json!({ "N": "4102444800" })),
        ("options", json!({ "S": "{}" })),
        ("version", json!({ "N": "1" })),
        ("attempts", json!({ "N": "0" })),
    ] {
        image[name] = value;
    }
    services
        .parked
        .park(&horizon_app::ports::ParkedRecord {
            id: "repaired-1".into(),
            job: Some(poison.clone()),
            error: "repaired by hand".into(),
            parked_at: horizon_domain::rfc3339(services.clock.now()),
            replays: 0,
            content: content.to_string(),
        })
        .await
        .unwrap();
    assert_eq!(
        horizon.post("/outbox/repaired-1/replay", None).await["asked"],
        1
    );
    eventually("the repaired record is applied and leaves", async || {
        let records = horizon.get("/outbox").await["records"].clone();
        records.as_array().unwrap().len() == 1 && records[0]["id"] != "repaired-1"
    })
    .await;
    eventually("the repaired record's job is counted", async || {
        horizon.get("/stats").await["recentJobs"] == 2
    })
    .await;
    running.shutdown().await;
}

/// The reconciler against the real table: an account's count that says two active jobs
/// while one is left (the other's record removed behind the outbox's back), and its count of
/// jobs processing that says three while none is, are repaired once they have been still for a
/// while, not before; the pending gauge, never kept here (no outbox runs), is set from the
/// queued jobs.
#[tokio::test(flavor = "multi_thread")]
async fn the_reconciler_repairs_a_count_that_drifted() {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let services = isolated_services("reconcile").await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let account = new_account(&services).await;
    let api = Api::new(running.addr, &account);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let (kept, gone) = (api.start_job(&upload).await, api.start_job(&upload).await);
    let account_id = services
        .jobs
        .get(&kept.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .account()
        .clone();
    assert_eq!(services.metrics.active_jobs(&account_id).await.unwrap(), 2);
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk().await);
    let table = &services.config.stack.table;
    dynamo
        .delete_item()
        .table_name(table)
        .key("pk", A::S(format!("JOB#{gone}")))
        .key("sk", A::S("JOB".into()))
        .send()
        .await
        .unwrap();
    // Three jobs processing that no job in the table is (their ends were never counted), as
    // of now.
    let ms =
        |t: time::OffsetDateTime| A::N(((t.unix_timestamp_nanos() / 1_000_000) as i64).to_string());
    dynamo
        .update_item()
        .table_name(table)
        .key("pk", A::S(format!("ACCT#{account_id}")))
        .key("sk", A::S("ACTIVE".into()))
        .update_expression("ADD processing :three SET processingChangedAt = :now")
        .expression_attribute_values(":three", A::N("3".into()))
        .expression_attribute_values(":now", ms(services.clock.now()))
        .send()
        .await
        .unwrap();

    // Changed just now: left alone (the stream may not have caught up).
    let reconcile = || horizon_app::reconcile::reconcile(&services);
    eventually("the census sees one job", async || {
        let census = services.metrics.census().await.unwrap();
        census.active.get(&account_id) == Some(&1) && census.queued == 1
    })
    .await;
    let early = reconcile().await.unwrap();
    assert_eq!(early.unsettled, 2, "{early:?}");
    assert_eq!(early.repaired, 1, "the gauge, never kept: {early:?}");
    assert_eq!(services.metrics.active_jobs(&account_id).await.unwrap(), 2);
    assert_eq!(
        services.metrics.processing_jobs(&account_id).await.unwrap(),
        3
    );
    assert_eq!(services.dashboard.pending_count().await.unwrap(), 1);

    // Still for longer than the settling time: repaired, once.
    let long_ago =
        services.clock.now() - horizon_app::reconcile::SETTLE - time::Duration::minutes(1);
    dynamo
        .update_item()
        .table_name(table)
        .key("pk", A::S(format!("ACCT#{account_id}")))
        .key("sk", A::S("ACTIVE".into()))
        .update_expression("SET changedAt = :t, processingChangedAt = :t")
        .expression_attribute_values(":t", ms(long_ago))
        .send()
        .await
        .unwrap();
    let run = reconcile().await.unwrap();
    assert_eq!((run.repaired, run.unsettled), (2, 0), "{run:?}");
    assert_eq!(services.metrics.active_jobs(&account_id).await.unwrap(), 1);
    assert_eq!(
        services.metrics.processing_jobs(&account_id).await.unwrap(),
        0
    );
    let again = reconcile().await.unwrap();
    assert_eq!((again.repaired, again.unsettled), (0, 0), "{again:?}");
    assert_eq!(api.get(&format!("/v1/jobs/{kept}")).await.status(), 200);
    running.shutdown().await;
}
