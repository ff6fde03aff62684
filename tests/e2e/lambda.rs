//! Every function as Lambda runs it, through cargo-lambda: `cargo lambda watch` (the Lambda
//! Runtime API emulator, which builds and starts each function on its first invocation) and
//! `cargo lambda invoke --data-file` with the committed fixture events, against the local
//! stack. scripts/test installs cargo-lambda (PyPI) and puts it on PATH.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{isolated_env, Own};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `cargo lambda watch` on a free port; the whole process group is stopped on drop.
struct Watch {
    child: std::process::Child,
    port: u16,
}

impl Watch {
    /// `cargo lambda watch` with `env` (the stack the functions use).
    fn start(env: std::collections::HashMap<String, String>) -> Watch {
        use std::os::unix::process::CommandExt;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let log =
            std::fs::File::create(std::env::temp_dir().join(format!("horizon-watch-{port}.log")))
                .unwrap();
        let child = std::process::Command::new("cargo")
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(root())
            // The functions log text at info: enough to see what went wrong in the log file.
            .envs(env)
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cargo lambda watch does not start ({e}); scripts/test installs cargo-lambda"
                )
            });
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch is not listening on {port} after 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Watch { child, port }
    }

    /// `cargo lambda invoke FUNCTION --data-file tests/fixtures/events/FIXTURE`: the response.
    async fn invoke(&self, function: &str, fixture: &str) -> Value {
        let data = root().join("tests/fixtures/events").join(fixture);
        let out = tokio::process::Command::new("cargo")
            .args(["lambda", "invoke", "-A", "127.0.0.1", "-P"])
            .arg(self.port.to_string())
            .args(["--output-format", "json", "--data-file"])
            .arg(&data)
            .arg(function)
            .current_dir(root())
            .output()
            .await
            .expect("cargo lambda invoke runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "cargo lambda invoke {function} {fixture}: {}\n{stdout}\n(watch log: {})",
            String::from_utf8_lossy(&out.stderr),
            std::env::temp_dir()
                .join(format!("horizon-watch-{}.log", self.port))
                .display()
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{function} {fixture}: not JSON ({e}): {stdout}"))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // The functions are the watcher's children (cargo run): stop the whole group.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

fn status(resp: &Value) -> u64 {
    resp["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("no statusCode: {resp}"))
}

fn failures(resp: &Value) -> Vec<&str> {
    resp["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures: {resp}"))
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_function_answers_its_fixture_events_through_cargo_lambda() {
    // A stack of its own: the reaper's run must not meet another test's jobs half-way.
    let own = Own::new("lambda");
    let watch = Watch::start(isolated_env(&own));

    let resp = watch.invoke("jobs-api", "jobs-api-openapi.json").await;
    assert_eq!(status(&resp), 200, "{resp}");
    assert!(resp["body"]
        .as_str()
        .unwrap_or("")
        .contains("/v1/extract/pdf"));
    let resp = watch.invoke("jobs-api", "jobs-api-docs.json").await;
    assert_eq!(status(&resp), 200);
    assert!(
        resp["headers"]["content-type"]
            .as_str()
            .unwrap_or("")
            .starts_with("text/html"),
        "{resp}"
    );
    let resp = watch
        .invoke("jobs-api", "jobs-api-get-job-no-key.json")
        .await;
    assert_eq!(status(&resp), 401, "{resp}");
    // The fixture's key is checked against the stack's table, where it does not exist.
    let resp = watch.invoke("jobs-api", "jobs-api-extract.json").await;
    assert_eq!(status(&resp), 401, "{resp}");
    assert_eq!(resp["headers"]["content-type"], "application/problem+json");

    let resp = watch
        .invoke("uploads", "uploads-get-image-no-key.json")
        .await;
    assert_eq!(status(&resp), 401, "{resp}");
    let resp = watch
        .invoke("dashboard", "dashboard-stats-no-key.json")
        .await;
    assert_eq!(status(&resp), 403, "{resp}");

    // The worker: a malformed message stays for a retry and the dead-letter queue; a message
    // for a job that does not exist is done with; the two schedules run.
    let resp = watch
        .invoke("extract-worker", "extract-worker-malformed.json")
        .await;
    assert_eq!(failures(&resp).len(), 1, "{resp}");
    let resp = watch
        .invoke("extract-worker", "extract-worker-sqs.json")
        .await;
    assert!(failures(&resp).is_empty(), "{resp}");
    let resp = watch
        .invoke("extract-worker", "extract-worker-reaper.json")
        .await;
    // The reaper reports what it did: how many jobs it queued again and how many it failed.
    assert!(
        resp["requeued"].is_u64() && resp["failed"].is_u64(),
        "the reaper reports what it did: {resp}"
    );
    let resp = watch
        .invoke("extract-worker", "extract-worker-snapshot.json")
        .await;
    assert!(
        resp["snapshotTaken"].is_boolean(),
        "the snapshot says whether it took this interval's: {resp}"
    );

    // The dispatcher: a delivery whose subscription does not exist is dropped; a malformed one
    // stays.
    let resp = watch
        .invoke("webhook-dispatch", "webhook-dispatch-sqs.json")
        .await;
    assert!(failures(&resp).is_empty(), "{resp}");
    let resp = watch
        .invoke("webhook-dispatch", "webhook-dispatch-malformed.json")
        .await;
    assert_eq!(failures(&resp).len(), 1, "{resp}");

    // The outbox's consumer: a job's write from the table's stream is applied (twice is
    // harmless); a record whose image is not a job fails. The fixture's is days old, past the
    // age the stream retries a record to: it is parked with its content, and the batch goes
    // on from the record after it.
    for _ in 0..2 {
        let resp = watch.invoke("job-events", "job-events-stream.json").await;
        assert_eq!(resp["batchItemFailures"], serde_json::json!([]), "{resp}");
    }
    let resp = watch
        .invoke("job-events", "job-events-malformed.json")
        .await;
    assert_eq!(
        resp["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "100000000000000000003"}]),
        "{resp}"
    );
}
