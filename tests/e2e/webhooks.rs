//! Webhook delivery against the local stack, verified by the Standard Webhooks reference library
//! (PyPI `standardwebhooks`, run by tests/webhook_receiver.py), not only by our own code.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use horizon_app::Services;
use serde_json::{json, Value};

use crate::support::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn python() -> String {
    std::env::var("HORIZON_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("HORIZON_TEST_PYTHON is not set: scripts/test installs standardwebhooks and sets it")
    })
}

fn receiver_script() -> String {
    format!("{}/webhook_receiver.py", env!("CARGO_MANIFEST_DIR"))
}

/// The Python receiver, on a free loopback port, logging what it gets.
struct Receiver {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Receiver {
    fn start() -> Receiver {
        let log = std::env::temp_dir().join(format!("horizon-webhooks-{}.jsonl", ulid_like()));
        let mut child = Command::new(python())
            .args([&receiver_script(), "serve", SECRET, log.to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the webhook receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the receiver's port");
        Receiver { child, port, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn entries(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The entries once there are `n`, or all there are after [`patience`] (the caller says
    /// what was missing).
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + patience();
        loop {
            let e = self.entries();
            if e.len() >= n || Instant::now() > deadline {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn ulid_like() -> String {
    horizon_domain::JobId::new(time::OffsetDateTime::now_utc()).to_string()
}

/// Asks the reference library whether it accepts `headers` and `body` (signed with [`SECRET`]).
fn library_accepts(headers: &Value, body: &str) -> bool {
    library_accepts_with(SECRET, headers, body)
}

/// Asks the reference library whether it accepts `headers` and `body` signed with `secret`.
fn library_accepts_with(secret: &str, headers: &Value, body: &str) -> bool {
    let mut child = Command::new(python())
        .args([&receiver_script(), "verify", secret])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            json!({"headers": headers, "body": body})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    child.wait().unwrap().success()
}

/// Services whose webhooks may reach the loopback receiver, retrying after 1 s.
fn webhook_services(base: &Services, schedule: &[u64], timeout: u64) -> Services {
    let mut s = base.clone();
    let mut c = (*s.config).clone();
    c.webhooks.allow_cidrs = horizon_domain::net::parse_cidrs("127.0.0.1/32").unwrap();
    c.webhooks.schedule = schedule.to_vec();
    c.webhooks.timeout = Duration::from_secs(timeout);
    s.config = std::sync::Arc::new(c);
    s
}

/// Starts a job on `upload` with a job-level webhook; returns the job id.
async fn start_with_webhook(api: &Api, upload: &str, url: &str, events: &[&str]) -> String {
    let resp = api
        .post_json(
            "/v1/extract/pdf",
            &json!({"uploadId": upload, "webhook": {"url": url, "events": events, "secret": SECRET}}).to_string(),
        )
        .await;
    assert_eq!(resp.status(), 202);
    resp.json::<Value>().await.unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn deliveries(api: &Api, job: &str) -> Value {
    api.get(&format!("/v1/jobs/{job}/webhooks"))
        .await
        .json()
        .await
        .unwrap()
}

/// A secret rotated: for a day every delivery carries two signatures, one per secret, so the
/// reference library accepts it with either (a receiver moves to the new one without missing
/// a delivery); the rotation shows the generated secret once and until when the old one signs.
#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_secret_signs_beside_the_old_one_for_a_day() {
    let receiver = Receiver::start();
    let base = services().await;
    let services = webhook_services(&base, &[1, 1], 5);
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let made: Value = api
        .post_json(
            "/v1/webhooks",
            &json!({"url": receiver.url("/ok"), "events": ["job.completed"], "secret": SECRET})
                .to_string(),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = made["id"].as_str().unwrap();
    let rotated = api
        .post_json(&format!("/v1/webhooks/{id}/rotate"), "")
        .await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new_secret = rotated["secret"]
        .as_str()
        .expect("the generated secret, once");
    assert_ne!(new_secret, SECRET);
    let until = rotated["previousSecretUntil"].as_str().unwrap();
    let until =
        time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339).unwrap();
    let overlap = until - services.clock.now();
    assert!(
        (time::Duration::hours(23)..=time::Duration::hours(24)).contains(&overlap),
        "{overlap}"
    );
    let listed = api.get("/v1/webhooks").await.text().await.unwrap();
    assert!(!listed.contains(new_secret), "the secret is shown once");
    let other = Api::new(running.addr, &new_account(&services).await);
    let resp = other
        .post_json(&format!("/v1/webhooks/{id}/rotate"), "")
        .await;
    assert_eq!(resp.status(), 404, "another account's webhook");
    let bad = api
        .post_json(&format!("/v1/webhooks/{id}/rotate"), r#"{"secret":"nope"}"#)
        .await;
    assert_eq!(bad.status(), 400);

    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let job = api.start_job(&upload).await;
    api.wait_terminal(&job).await;
    let got = receiver.wait_for(1).await;
    running.shutdown().await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let signatures = got[0]["headers"]["webhook-signature"].as_str().unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    let body = got[0]["body"].as_str().unwrap();
    assert!(
        library_accepts_with(SECRET, &got[0]["headers"], body),
        "the old secret"
    );
    assert!(
        library_accepts_with(new_secret, &got[0]["headers"], body),
        "the new secret"
    );
    let stranger = "whsec_c2VjcmV0LXRoYXQtc2lnbmVkLW5vdGhpbmctYXQtYWxs";
    assert!(
        !library_accepts_with(stranger, &got[0]["headers"], body),
        "another secret"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn job_and_account_webhooks_are_delivered_signed_and_verified() {
    let receiver = Receiver::start();
    let base = services().await;
    let services = webhook_services(&base, &[1, 1], 5);
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let resp = api
        .post_json(
            "/v1/webhooks",
            &json!({"url": receiver.url("/ok"), "events": ["job.completed"], "secret": SECRET})
                .to_string(),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let resp = api
        .post_json(
            "/v1/extract/pdf",
            &json!({"uploadId": upload, "webhook": {"url": receiver.url("/ok"), "events": ["job.processing", "job.completed"], "secret": SECRET}}).to_string(),
        )
        .await;
    assert_eq!(resp.status(), 202);
    let job: Value = resp.json().await.unwrap();
    let job_id = job["jobId"].as_str().unwrap().to_owned();
    api.wait_terminal(&job_id).await;
    // processing (job-level), completed (job-level), completed (account-level)
    let got = receiver.wait_for(3).await;
    running.shutdown().await;
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(
        got.iter().all(|e| e["verified"] == true),
        "the reference library refused a delivery: {got:#?}"
    );
    let types: Vec<String> = got
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(e["body"].as_str().unwrap()).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        types.iter().filter(|t| *t == "job.completed").count(),
        2,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| *t == "job.processing").count(),
        1,
        "{types:?}"
    );

    // The payload's data is what GET /v1/jobs/{jobId} returns.
    let completed = got
        .iter()
        .find(|e| {
            serde_json::from_str::<Value>(e["body"].as_str().unwrap()).unwrap()["type"]
                == "job.completed"
        })
        .unwrap();
    let body: Value = serde_json::from_str(completed["body"].as_str().unwrap()).unwrap();
    assert!(body["timestamp"].is_string());
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &api.key);
    let mut current: Value = api
        .get(&format!("/v1/jobs/{job_id}"))
        .await
        .json()
        .await
        .unwrap();
    let mut data = body["data"].clone();
    // Links differ only in their base (no public URL is configured in the tests).
    assert!(data["statusUrl"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v1/jobs/{job_id}")));
    assert!(data["result"]["markdownUrl"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v1/jobs/{job_id}/markdown")));
    for v in [&mut data, &mut current] {
        v["statusUrl"] = Value::Null;
        v["result"]["markdownUrl"] = Value::Null;
    }
    assert_eq!(data, current);

    // Tampered bytes, or a timestamp over 5 minutes old, are refused by the library.
    let headers = completed["headers"].clone();
    let raw = completed["body"].as_str().unwrap();
    assert!(library_accepts(&headers, raw));
    assert!(!library_accepts(
        &headers,
        &raw.replace("completed", "c0mpleted")
    ));
    let old = time::OffsetDateTime::now_utc().unix_timestamp() - 6 * 60;
    let id = headers["webhook-id"].as_str().unwrap();
    let mut stale = headers.clone();
    stale["webhook-timestamp"] = json!(old.to_string());
    stale["webhook-signature"] =
        json!(horizon_app::events::sign(SECRET, id, old, raw.as_bytes()).unwrap());
    assert!(
        !library_accepts(&stale, raw),
        "a 6-minute-old delivery was accepted"
    );

    // The delivery log shows each attempt.
    let log = deliveries(&api, &job_id).await;
    let attempts = log["deliveries"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{log}");
    assert!(attempts
        .iter()
        .all(|a| a["outcome"] == "delivered" && a["statusCode"] == 200));
    assert!(log["subscriptions"][0].get("secret").is_none());
    running.shutdown().await;
}

/// A client that registers its callback after the job has finished (a small PDF completes in
/// well under a second) still gets `job.completed`: `202`, then the event, signed and verified.
#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_registered_on_a_finished_job_receives_its_terminal_event() {
    let receiver = Receiver::start();
    let base = services().await;
    let services = webhook_services(&base, &[1, 1], 5);
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let resp = api
        .post_json(
            "/v1/extract/pdf",
            &json!({ "uploadId": upload }).to_string(),
        )
        .await;
    let job_id = resp.json::<Value>().await.unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    api.wait_terminal(&job_id).await;
    let resp = api
        .post_json(
            &format!("/v1/jobs/{job_id}/webhooks"),
            &json!({"url": receiver.url("/late"), "events": ["job.completed"], "secret": SECRET})
                .to_string(),
        )
        .await;
    assert_eq!(resp.status(), 202);
    let got = receiver.wait_for(1).await;
    running.shutdown().await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["verified"], true, "{got:#?}");
    let body: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], "job.completed");
    assert_eq!(body["data"]["jobId"], job_id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_retried_with_the_same_id_and_410_disables() {
    let receiver = Receiver::start();
    let base = services().await;
    let services = webhook_services(&base, &[1, 1, 1], 5);
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;

    // 500, 500, then 200: three attempts, one webhook-id.
    let job = start_with_webhook(
        &api,
        &upload,
        &receiver.url("/fail-twice"),
        &["job.completed"],
    )
    .await;
    api.wait_terminal(&job).await;
    let got = receiver.wait_for(3).await;
    assert_eq!(got.len(), 3, "{got:#?}");
    let ids: Vec<&str> = got
        .iter()
        .map(|e| e["headers"]["webhook-id"].as_str().unwrap())
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "webhook-id changed between retries: {ids:?}"
    );
    assert!(got.iter().all(|e| e["verified"] == true));
    // The receiver writes down a request before it answers, the dispatcher logs the attempt
    // after the answer: wait for the log of the third.
    let mut log = Value::Null;
    eventually("three attempts in the delivery log", async || {
        log = deliveries(&api, &job).await;
        log["deliveries"].as_array().map_or(0, Vec::len) >= 3
    })
    .await;
    let statuses: Vec<Value> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].clone())
        .collect();
    assert_eq!(statuses, vec![json!(500), json!(500), json!(200)], "{log}");

    // 410: the subscription (the account's) is disabled, and gets nothing more: the next job's
    // event is not sent to it. (Two events already queued together may both be in flight when
    // the first is answered 410.)
    let resp = api
        .post_json(
            "/v1/webhooks",
            &json!({"url": receiver.url("/gone"), "events": ["job.completed"], "secret": SECRET})
                .to_string(),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let first = api.start_job(&upload).await;
    api.wait_terminal(&first).await;
    let deadline = Instant::now() + patience();
    loop {
        let log = deliveries(&api, &first).await;
        let outcomes: Vec<&Value> = log["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["outcome"])
            .collect();
        if outcomes.contains(&&json!("disabled")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no 410 logged as disabled: {log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The next job's event, with a job-level webhook beside the disabled one: once that has
    // arrived, the event's deliveries have been decided.
    let second = start_with_webhook(&api, &upload, &receiver.url("/ok"), &["job.completed"]).await;
    api.wait_terminal(&second).await;
    eventually(
        "the second job's event reaches its own webhook",
        async || {
            receiver
                .entries()
                .iter()
                .any(|e| e["path"] == "/ok" && e["body"].as_str().unwrap_or("").contains(&second))
        },
    )
    .await;
    running.shutdown().await;
    let gone: Vec<Value> = receiver
        .entries()
        .into_iter()
        .filter(|e| e["path"] == "/gone")
        .collect();
    assert_eq!(
        gone.len(),
        1,
        "a disabled subscription was called again: {gone:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_receivers_time_out_and_undeliverable_events_are_dead_lettered() {
    let receiver = Receiver::start();
    // A 1 s timeout against a receiver that takes 3 s; one retry, then the dead-letter queue.
    let base = services().await;
    let services = webhook_services(&base, &[1], 1);
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let job = start_with_webhook(&api, &upload, &receiver.url("/slow"), &["job.completed"]).await;
    api.wait_terminal(&job).await;
    let deadline = Instant::now() + patience();
    let log = loop {
        let log = deliveries(&api, &job).await;
        let n = log["deliveries"].as_array().map(|a| a.len()).unwrap_or(0);
        if n >= 2 || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let attempts = log["deliveries"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{log}");
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains("no answer within 1 s"),
        "{log}"
    );
    assert_eq!(attempts[0]["outcome"], "retrying");
    assert_eq!(attempts[1]["outcome"], "dead_lettered");
    // Visible on the dead-letter queue (sent from the last attempt's record, through the
    // table's stream: the service runs until it is there).
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    let dlq = services.config.stack.webhook_dlq_url.clone().unwrap();
    let mut found = false;
    let deadline = Instant::now() + patience();
    while Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if out
            .messages
            .unwrap_or_default()
            .iter()
            .any(|m| m.body.as_deref().unwrap_or("").contains(&job))
        {
            found = true;
            break;
        }
    }
    running.shutdown().await;
    assert!(found, "the dead-lettered delivery is not on the DLQ");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_url_resolving_to_a_private_address_is_never_contacted() {
    let receiver = Receiver::start();
    // This machine's own name resolves to an internal address (checked here), so the URL passes
    // the literal check when subscribing and must be refused after DNS, at delivery.
    let host = String::from_utf8(Command::new("hostname").output().unwrap().stdout).unwrap();
    let host = host.trim().to_owned();
    let resolved: Vec<std::net::IpAddr> = tokio::net::lookup_host((host.as_str(), 0))
        .await
        .unwrap()
        .map(|a| a.ip())
        .collect();
    assert!(
        !resolved.is_empty()
            && resolved
                .iter()
                .all(|ip| horizon_domain::net::is_blocked(*ip)),
        "precondition: {host} should resolve to internal addresses only, got {resolved:?}"
    );
    // No allow-list: loopback is as refused as any private address.
    let base = services().await;
    let mut s = webhook_services(&base, &[1], 2);
    let mut c = (*s.config).clone();
    c.webhooks.allow_cidrs = Vec::new();
    s.config = std::sync::Arc::new(c);
    let running = horizon_local::start(s.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&s).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let url = format!("http://{host}:{}/ok", receiver.port);
    let resp = api
        .post_json(
            "/v1/extract/pdf",
            &json!({"uploadId": upload, "webhook": {"url": url, "events": ["job.completed"], "secret": SECRET}}).to_string(),
        )
        .await;
    assert_eq!(resp.status(), 202, "{}", resp.text().await.unwrap());
    let job = resp.json::<Value>().await.unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    api.wait_terminal(&job).await;
    let mut log = Value::Null;
    eventually("the refused delivery is logged", async || {
        log = deliveries(&api, &job).await;
        !log["deliveries"].as_array().unwrap().is_empty()
    })
    .await;
    running.shutdown().await;
    // The attempt is logged after it was refused: had it connected, the receiver would have
    // written the request down by now.
    assert!(receiver.entries().is_empty(), "the receiver was contacted");
    let first = &log["deliveries"][0];
    assert!(
        first["error"].as_str().unwrap_or("").contains("blocked"),
        "{log}"
    );
    assert_eq!(first["outcome"], "dead_lettered", "{log}");
}

/// The local service as a process of its own (the runner's executable, `HORIZON_EXTRACTOR`),
/// in its own process group, on `config`'s table and queues, serving `port`.
fn spawn_service(config: &horizon_app::Config, port: u16) -> Child {
    use std::os::unix::process::CommandExt;
    let binary = std::env::var("HORIZON_EXTRACTOR")
        .expect("HORIZON_EXTRACTOR (the local runner's executable): scripts/test sets it");
    let log =
        std::fs::File::create(std::env::temp_dir().join(format!("horizon-killed-{port}.log")))
            .unwrap();
    let mut command = Command::new(binary);
    command
        .env("HORIZON_TABLE", &config.stack.table)
        .env("HORIZON_EXTRACT_QUEUE_URL", &config.stack.extract_queue_url)
        .env("HORIZON_WEBHOOK_QUEUE_URL", &config.stack.webhook_queue_url)
        .env(
            "HORIZON_WEBHOOK_DLQ_URL",
            config.stack.webhook_dlq_url.clone().unwrap_or_default(),
        )
        .env("PORT", port.to_string())
        .env("HORIZON_WEBHOOK_ALLOW_CIDRS", "127.0.0.1/32")
        .env("HORIZON_WEBHOOK_SCHEDULE", "1,1,2,3,5,8,8")
        // A killed worker's job comes back through the reaper once its lease ends.
        .env("HORIZON_LEASE_SECONDS", "10")
        .env("HORIZON_JOB_DEADLINE_SECONDS", "8")
        .env("HORIZON_REAPER_SECONDS", "1")
        // A killed worker's message stays invisible for the queue's visibility timeout (3 min);
        // the reaper queues a job that waited this long again.
        .env("HORIZON_QUEUED_GRACE_SECONDS", "5")
        .env("HORIZON_RETRY_BASE_SECONDS", "1")
        .env("HORIZON_RATE_PER_SECOND", "0")
        .env_remove("HORIZON_DEV_API_KEY")
        .env("RUST_LOG", "info")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0);
    // Killed with the test, should the test end first (a failure, a timeout).
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command.spawn().expect("start the local service")
}

/// SIGKILL to the service's whole process group (the runner and its extraction children).
fn kill_service(child: &mut Child) {
    let group = format!("-{}", child.id());
    let killed = Command::new("kill")
        .args(["-KILL", "--", &group])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -KILL -- {group}");
    let _ = child.wait();
}

async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the service listens on {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The whole local service killed with SIGKILL three times while jobs with webhooks are in flight,
/// and started again each time: afterwards every job is terminal and its terminal event has
/// arrived, verified by the reference library, under one webhook id (a redelivery repeats it;
/// no second event is made).
#[tokio::test(flavor = "multi_thread")]
async fn a_service_killed_mid_flight_loses_no_job_and_no_event() {
    const JOBS: usize = 30;
    let receiver = Receiver::start();
    let services = services().await;
    let key = new_account(&services).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut service = spawn_service(&services.config, port);
    wait_listening(port).await;
    let api = Api::new(std::net::SocketAddr::from(([127, 0, 0, 1], port)), &key);
    let resp = api
        .post_json(
            "/v1/webhooks",
            &json!({"url": receiver.url("/ok"), "events": ["job.completed", "job.failed"], "secret": SECRET})
                .to_string(),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let mut jobs = Vec::new();
    for round in 0..3 {
        for _ in 0..JOBS / 3 {
            jobs.push(api.start_job(&upload).await);
        }
        // Mid-flight: some jobs queued, some being extracted, events being applied and sent.
        tokio::time::sleep(Duration::from_millis(400 + 300 * round)).await;
        kill_service(&mut service);
        service = spawn_service(&services.config, port);
        wait_listening(port).await;
    }
    let terminal_ids = |entries: &[Value]| {
        let mut ids: std::collections::HashMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for e in entries.iter().filter(|e| e["status"] == 200) {
            let body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
            let id = e["headers"]["webhook-id"].as_str().unwrap().to_owned();
            ids.entry(body["data"]["jobId"].as_str().unwrap().to_owned())
                .or_default()
                .insert(id);
        }
        ids
    };
    let deadline = Instant::now() + patience();
    let entries = loop {
        let entries = receiver.entries();
        let ids = terminal_ids(&entries);
        if jobs.iter().all(|j| ids.contains_key(j)) || Instant::now() > deadline {
            break entries;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut unfinished = Vec::new();
    for job in &jobs {
        let status = api
            .get(&format!("/v1/jobs/{job}"))
            .await
            .json::<Value>()
            .await
            .unwrap()["status"]
            .clone();
        if status != "completed" && status != "failed" {
            unfinished.push(format!("{job}: {status}"));
        }
    }
    kill_service(&mut service);
    let log = std::env::temp_dir().join(format!("horizon-killed-{port}.log"));
    assert!(
        unfinished.is_empty(),
        "jobs not terminal: {unfinished:?} (service log: {})",
        log.display()
    );
    assert!(
        entries.iter().all(|e| e["verified"] == true),
        "the reference library refused a delivery"
    );
    let ids = terminal_ids(&entries);
    let missing: Vec<&String> = jobs.iter().filter(|j| !ids.contains_key(*j)).collect();
    assert!(
        missing.is_empty(),
        "terminal events never delivered: {missing:?}"
    );
    let twice: Vec<_> = ids.iter().filter(|(_, set)| set.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "events sent twice under different ids: {twice:?}"
    );
}

/// A job deleted before the outbox reads its records: made, cancelled and deleted while only
/// the API runs (no outbox), its records are read once the whole service starts. Its event is
/// not sent (the receiver never hears of it), no record is parked, the job is taken off its
/// account's count, and the stream goes on: the next job's event arrives.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_deleted_before_its_records_are_read_emits_nothing_and_blocks_nothing() {
    let isolated = isolated_services("deleted").await;
    let services = webhook_services(&isolated, &[1, 2], 5);
    let receiver = Receiver::start();
    let key = new_account(&services).await;
    let api_only = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(api_only.addr, &key);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let gone = start_with_webhook(&api, &upload, &receiver.url("/ok"), &["job.failed"]).await;
    let cancel = |api: &Api, job: &str| {
        let (http, url) = (
            api.http.clone(),
            format!("{}/v1/jobs/{job}/cancel", api.base),
        );
        async move { http.post(url).send().await.unwrap().status() }
    };
    assert_eq!(cancel(&api, &gone).await, 200);
    assert_eq!(api.delete(&format!("/v1/jobs/{gone}")).await.status(), 204);
    api_only.shutdown().await;

    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &key);
    let next = start_with_webhook(&api, &upload, &receiver.url("/ok"), &["job.failed"]).await;
    let id: horizon_domain::JobId = next.parse().unwrap();
    let account = services
        .jobs
        .get(&id)
        .await
        .unwrap()
        .unwrap()
        .account()
        .clone();
    assert_eq!(cancel(&api, &next).await, 200);
    let entries = receiver.wait_for(1).await;
    let jobs: Vec<String> = entries
        .iter()
        .map(|e| {
            let body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
            body["data"]["jobId"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        jobs,
        std::slice::from_ref(&next),
        "only the job still there is told of"
    );
    eventually("both jobs are off the account's count", async || {
        services.metrics.active_jobs(&account).await.unwrap() == 0
    })
    .await;
    assert!(services.parked.parked(10).await.unwrap().is_empty());
    running.shutdown().await;
}
