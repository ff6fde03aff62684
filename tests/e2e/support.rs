//! Test support: the local stack's configuration, a runner on a free port, an HTTP client.

use std::time::{Duration, Instant};

use horizon_shared::{Config, Services};
use serde_json::Value;

/// Tests that start queue pollers share the stack's queues: they take this lock so that one
/// test's pollers never consume another's messages (nextest also runs this binary serially).
pub static QUEUES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The configuration of the provisioned local stack, or a failure that says how to get one.
pub fn config() -> Config {
    let mut config = Config::from_env().unwrap_or_else(|e| {
        panic!(
            "the local stack is not configured ({e}).\n\
             Run the tests with scripts/test: it starts LocalStack, provisions a stack and sets the environment."
        )
    });
    config.local_port = 0; // a free port per runner
    config
}

pub async fn services() -> Services {
    let config = config();
    let services = Services::aws(config).await;
    // Fail with the reason when LocalStack is not answering, rather than with a timeout later.
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let health = format!("{endpoint}/_localstack/health");
    if !endpoint.is_empty() {
        if let Err(e) = reqwest::get(&health).await {
            panic!("LocalStack is not reachable at {endpoint} ({e}); scripts/test starts it");
        }
    }
    services
}

pub async fn sdk() -> aws_config::SdkConfig {
    horizon_shared::aws::sdk_config().await
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A client of one running local service.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Api {
            base: format!("http://{addr}"),
            // Redirects are part of what the tests check: never followed silently.
            http: reqwest::Client::builder()
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

    /// Uploads `bytes` and returns the upload id.
    pub async fn upload_id(&self, bytes: Vec<u8>) -> String {
        let resp = self.upload_raw(bytes, "application/pdf").await;
        assert_eq!(resp.status(), 201);
        let v: Value = resp.json().await.unwrap();
        v["id"].as_str().unwrap().to_owned()
    }

    /// Starts an extraction job and returns its id.
    pub async fn start_job(&self, upload_id: &str) -> String {
        let resp = self
            .post_json(
                "/v1/extract/pdf",
                &format!(r#"{{"uploadId":"{upload_id}"}}"#),
            )
            .await;
        assert_eq!(resp.status(), 202);
        let v: Value = resp.json().await.unwrap();
        v["jobId"].as_str().unwrap().to_owned()
    }

    /// Polls the job until it is `completed` or `failed`, as a client would.
    pub async fn wait_terminal(&self, job_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
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
                "job {job_id} still {} after 60 s",
                v["status"]
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
