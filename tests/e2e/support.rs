//! Test support: the local stack's configuration, a runner on a free port, an HTTP client.

use std::time::{Duration, Instant};

use horizon_app::{Config, Services};
use serde_json::Value;

/// The configuration of the provisioned local stack, or a failure that says how to get one.
pub fn config() -> Config {
    let mut config = Config::from_env().unwrap_or_else(|e| {
        panic!(
            "the local stack is not configured ({e}).\n\
             Run the tests with scripts/test: it starts LocalStack, provisions a stack and sets the environment."
        )
    });
    config.local.port = 0; // a free port per runner
                           // The stack's table is shared by the tests running beside this one: a runner's reaper must
                           // not take their jobs. Tests of the reaper run it on a stack of their own.
    config.jobs.reaper_interval = std::time::Duration::from_secs(3600);
    config
}

/// Services on the local stack, with queues and a table of the test's own ([`own_queues`],
/// [`own_table`]), removed when the test ends (see [`Own`]).
pub async fn services() -> TestServices {
    // Logs as the service writes them, at RUST_LOG's level (shown with --no-capture).
    horizon_runtime::telemetry::init();
    let own = Own::new("");
    let config = own_table(own_queues(config(), &own).await, &own).await;
    let services = horizon_aws::services::from_config(config).await;
    // Fail with the reason when LocalStack is not answering, rather than with a timeout later.
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let health = format!("{endpoint}/_localstack/health");
    if !endpoint.is_empty() {
        if let Err(e) = reqwest::get(&health).await {
            panic!("LocalStack is not reachable at {endpoint} ({e}); scripts/test starts it");
        }
    }
    TestServices { services, own }
}

/// How long a test waits for an effect that goes through the stream, a queue or a worker before
/// it fails. Generous: on a loaded 2-core machine the local stream lags by up to 20 s, and a
/// test that fails on the machine's speed teaches people to ignore red
/// (`HORIZON_TEST_PATIENCE_SECONDS`, default 120).
pub fn patience() -> Duration {
    let secs = std::env::var("HORIZON_TEST_PATIENCE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

/// Waits until `check` holds; fails after [`patience`], saying what did not happen.
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + patience();
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what}: did not happen within {} s",
            patience().as_secs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The prefix of everything this run makes in LocalStack: scripts/test's stack name (it removes
/// what is left under it at the end, and fails when LocalStack then holds more than before).
pub fn run_prefix() -> String {
    std::env::var("HORIZON_TEST_PREFIX").unwrap_or_else(|_| "horizon-test".to_owned())
}

/// The resources a test makes, named after one prefix under the run's: removed when this drops,
/// that is when the test ends, passing or panicking. Removal goes on in a process of its own
/// (`localstack/resources remove`), so that a test does not wait for it; scripts/test removes
/// what a killed test left.
pub struct Own {
    pub prefix: String,
}

impl Own {
    /// A new, unique prefix; `what` says whose it is in LocalStack's listings.
    pub fn new(what: &str) -> Own {
        let id = &ulid_now()[18..];
        let what = if what.is_empty() {
            String::new()
        } else {
            format!("{what}-")
        };
        Own {
            prefix: format!("{}-{what}{id}", run_prefix()),
        }
    }

    fn remover(&self) -> std::process::Command {
        let mut remove = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../localstack/resources"
        ));
        remove.arg("remove").arg(&self.prefix);
        remove
    }
}

impl Drop for Own {
    fn drop(&mut self) {
        use std::os::unix::process::CommandExt;
        use std::process::Stdio;
        // Its own process group and no pipes of the test's: the test runner neither waits for
        // it nor stops it with the test.
        let started = self
            .remover()
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Err(e) = started {
            eprintln!("{} is left in LocalStack: {e}", self.prefix);
        }
    }
}

/// Services with the resources they run on ([`Own`]), which go when this drops. Use it as the
/// services (it dereferences to them); keep it in a binding for as long as the test runs.
pub struct TestServices {
    pub services: Services,
    pub own: Own,
}

impl std::ops::Deref for TestServices {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl std::ops::DerefMut for TestServices {
    fn deref_mut(&mut self) -> &mut Services {
        &mut self.services
    }
}

/// `config` with queues of its own: an extraction and a webhook queue, each with a dead-letter
/// queue, set up like the stack's (visibility timeout, receive count). No other test's pollers
/// take their messages, and a test that fails leaves nothing in them for the next one.
pub async fn own_queues(mut config: Config, own: &Own) -> Config {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    let name = own.prefix.clone();
    let like = |stack: String, suffix: &'static str| {
        let sqs = sqs.clone();
        let name = format!("{name}-{suffix}");
        async move {
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(&stack)
                .attribute_names(A::All)
                .send()
                .await
                .unwrap_or_else(|e| panic!("the stack's queue {stack}: {e:?}"));
            let attrs = attrs.attributes().cloned().unwrap_or_default();
            let dlq = sqs
                .create_queue()
                .queue_name(format!("{name}-dlq"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("creating {name}-dlq: {e:?}"));
            let dlq_url = dlq.queue_url().unwrap_or_default().to_owned();
            let dlq_arn = sqs
                .get_queue_attributes()
                .queue_url(&dlq_url)
                .attribute_names(A::QueueArn)
                .send()
                .await
                .ok()
                .and_then(|a| a.attributes()?.get(&A::QueueArn).cloned())
                .unwrap_or_else(|| panic!("{name}-dlq has no ARN"));
            let receives: Value = attrs
                .get(&A::RedrivePolicy)
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default();
            let redrive = serde_json::json!({
                "deadLetterTargetArn": dlq_arn,
                "maxReceiveCount": receives["maxReceiveCount"].as_u64().unwrap_or(3),
            });
            let mut create = sqs
                .create_queue()
                .queue_name(&name)
                .attributes(A::RedrivePolicy, redrive.to_string());
            if let Some(v) = attrs.get(&A::VisibilityTimeout) {
                create = create.attributes(A::VisibilityTimeout, v);
            }
            let queue = create
                .send()
                .await
                .unwrap_or_else(|e| panic!("creating {name}: {e:?}"));
            (queue.queue_url().unwrap_or_default().to_owned(), dlq_url)
        }
    };
    let (extract, extract_dlq) = like(config.stack.extract_queue_url.clone(), "extract").await;
    assert_eq!(extract_dlq, dead_letter_queue(&extract));
    let (webhooks, webhook_dlq) = like(config.stack.webhook_queue_url.clone(), "webhooks").await;
    config.stack.extract_queue_url = extract;
    config.stack.webhook_queue_url = webhooks;
    config.stack.webhook_dlq_url = Some(webhook_dlq);
    config
}

/// `config` with a table of its own, made like the stack's (keys, indexes, time to live, and the
/// stream of new and old images): a runner's stream reader applies the effects of this test's
/// jobs alone, to this test's queues. (One table per test costs about 0.1 s in LocalStack.)
pub async fn own_table(mut config: Config, own: &Own) -> Config {
    use aws_sdk_dynamodb::types::{
        BillingMode, GlobalSecondaryIndex, StreamSpecification, StreamViewType,
        TimeToLiveSpecification,
    };
    let ddb = aws_sdk_dynamodb::Client::new(&sdk().await);
    let stack = ddb
        .describe_table()
        .table_name(&config.stack.table)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the stack's table {}: {e:?}", config.stack.table))
        .table
        .expect("a table description");
    let name = format!("{}-jobs", own.prefix);
    let indexes = stack.global_secondary_indexes().iter().map(|g| {
        GlobalSecondaryIndex::builder()
            .set_index_name(g.index_name.clone())
            .set_key_schema(g.key_schema.clone())
            .set_projection(g.projection.clone())
            .build()
            .unwrap()
    });
    let made = ddb
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(stack.attribute_definitions.clone())
        .set_key_schema(stack.key_schema.clone())
        .set_global_secondary_indexes(Some(indexes.collect()))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await;
    // The SDK retries a request that timed out: a table it made the first time is ours.
    if let Err(e) = made {
        let exists = e
            .as_service_error()
            .is_some_and(|s| s.is_resource_in_use_exception());
        assert!(exists, "creating table {name}: {e:?}");
    }
    ddb.update_time_to_live()
        .table_name(&name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expiresAt")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("time to live on {name}: {e:?}"));
    config.stack.table = name;
    config
}

/// The dead-letter queue of a queue made by the stack or by [`own_queues`]: its name with `-dlq`.
pub fn dead_letter_queue(queue_url: &str) -> String {
    format!("{queue_url}-dlq")
}

pub async fn sdk() -> aws_config::SdkConfig {
    horizon_aws::sdk_config().await
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A new account with one API key; returns the key.
pub async fn new_account(services: &Services) -> String {
    let now = services.clock.now();
    let account = horizon_domain::AccountId(format!("acct_t{}", ulid_now()));
    let (key, record) = horizon_runtime::auth::new_key(account, now).unwrap();
    services.accounts.put_key(&record).await.unwrap();
    key
}

fn ulid_now() -> String {
    horizon_domain::JobId::new(time::OffsetDateTime::now_utc())
        .as_str()
        .trim_start_matches("job_")
        .to_lowercase()
}

pub use horizon_tests::pdfs::{make_pdf, write_pdf};

/// A client of one running local service, with one account's key.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub key: String,
}

impl Api {
    pub fn new(addr: std::net::SocketAddr, key: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "authorization",
            format!("Bearer {key}").parse().expect("a header value"),
        );
        Api {
            key: key.to_owned(),
            base: format!("http://{addr}"),
            // Redirects are part of what the tests check: never followed silently.
            http: reqwest::Client::builder()
                .default_headers(headers)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
        }
    }

    pub async fn upload_raw(&self, bytes: Vec<u8>, content_type: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/api/upload", self.base))
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .expect("POST /api/upload")
    }

    pub async fn upload_multipart(&self, bytes: &[u8], filename: &str) -> reqwest::Response {
        let boundary = "horizon-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
                 Content-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.http
            .post(format!("{}/api/upload", self.base))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("POST /api/upload (multipart)")
    }

    pub async fn post_json(&self, path: &str, body: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("POST")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.http
            .delete(format!("{}{path}", self.base))
            .send()
            .await
            .expect("DELETE")
    }

    /// Uploads `bytes` and returns the upload id.
    pub async fn upload_id(&self, bytes: Vec<u8>) -> String {
        let resp = self.upload_raw(bytes, "application/pdf").await;
        assert_eq!(resp.status(), 201);
        let v: Value = resp.json().await.unwrap();
        v["id"].as_str().unwrap().to_owned()
    }

    /// Starts an extraction job and returns its id.
    pub async fn start_job(&self, upload_id: &str) -> String {
        self.start_job_with(upload_id, "").await
    }

    /// Starts a PDF job with `options` (what goes inside the request's `options` object).
    pub async fn start_job_with(&self, upload_id: &str, options: &str) -> String {
        let resp = self
            .post_json(
                "/v1/extract/pdf",
                &format!(r#"{{"uploadId":"{upload_id}","options":{{{options}}}}}"#),
            )
            .await;
        assert_eq!(resp.status(), 202);
        let v: Value = resp.json().await.unwrap();
        v["jobId"].as_str().unwrap().to_owned()
    }

    /// Polls the job until it is `completed` or `failed`, as a client would.
    pub async fn wait_terminal(&self, job_id: &str) -> Value {
        let deadline = Instant::now() + patience();
        loop {
            let v: Value = self
                .get(&format!("/v1/jobs/{job_id}"))
                .await
                .json()
                .await
                .unwrap();
            if v["status"] == "completed" || v["status"] == "failed" {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "job {job_id} still {} after {} s",
                v["status"],
                patience().as_secs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The environment of a stack of its own, provisioned now from infra/resources.yaml under
/// `own`'s prefix (and removed with it): this process's environment with the stack's settings.
/// For tests that count or that run the reaper (which scans the whole table): nothing else
/// writes to it.
pub fn isolated_env(own: &Own) -> std::collections::HashMap<String, String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -e; eval \"$({root}/scripts/provision {})\"; env -0",
            own.prefix
        ))
        .output()
        .expect("bash runs scripts/provision");
    assert!(
        out.status.success(),
        "provisioning {} failed: {}",
        own.prefix,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// The configuration of a stack of its own (see [`isolated_env`]).
pub fn isolated_config(own: &Own) -> Config {
    let vars = isolated_env(own);
    let mut config =
        Config::from_lookup(|k| vars.get(k).cloned().filter(|v| !v.is_empty())).unwrap();
    config.local.port = 0;
    config
}

/// Services on a stack of their own (see [`isolated_env`]), named after `what`.
pub async fn isolated_services(what: &str) -> TestServices {
    horizon_runtime::telemetry::init();
    let own = Own::new(what);
    let services = horizon_aws::services::from_config(isolated_config(&own)).await;
    TestServices { services, own }
}

/// An HTTP client of the dashboard API (no API key: the runner on loopback opens it).
pub struct Horizon {
    pub base: String,
    pub http: reqwest::Client,
}

impl Horizon {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Horizon {
            base: format!("http://{addr}/horizon/api"),
            http: reqwest::Client::new(),
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        let status = resp.status();
        let body = resp.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    pub async fn status(&self, method: reqwest::Method, path: &str) -> u16 {
        self.http
            .request(method, format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }

    /// The number of messages the workload shows waiting in `queue`.
    pub async fn queue_length(&self, queue: &str) -> u64 {
        let workload = self.get("/workload").await;
        let row = workload
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == queue);
        row.unwrap_or_else(|| panic!("no queue {queue} in {workload}"))["length"]
            .as_u64()
            .unwrap()
    }

    /// DELETE `path`: the status and the body.
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .delete(format!("{}{path}", self.base))
            .send()
            .await
            .expect("DELETE");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.post(format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("POST");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// The number of objects under `prefix` in the stack's bucket.
pub async fn objects_under(services: &Services, prefix: &str) -> usize {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk().await)
            .force_path_style(true)
            .build(),
    )
    .list_objects_v2()
    .bucket(&services.config.stack.bucket)
    .prefix(prefix)
    .send()
    .await
    .unwrap()
    .key_count()
    .unwrap_or(0) as usize
}

/// `services` with its configuration changed as `change` says.
pub fn with_config(
    services: &horizon_app::Services,
    change: impl FnOnce(&mut horizon_app::Config),
) -> horizon_app::Services {
    let mut s = services.clone();
    let mut config = (*s.config).clone();
    change(&mut config);
    s.config = std::sync::Arc::new(config);
    s
}
