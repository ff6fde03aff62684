//! The `horizon` command-line client, as a user runs it: the built binary against the local
//! runner (with its workers), checking what it prints and its exit codes.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::*;

/// The binary: `HORIZON_CLI`, or the workspace's debug build (scripts/test builds it).
fn binary() -> PathBuf {
    let path = std::env::var_os("HORIZON_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/horizon")
        });
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p horizon-cli` (scripts/test does)",
        path.display()
    );
    path
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `horizon ARGS` with the endpoint and key from the environment, as a user would set them.
async fn horizon(endpoint: &str, key: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(binary());
    cmd.args(args)
        .env("HORIZON_ENDPOINT", endpoint)
        .env_remove("HORIZON_API_KEY");
    if let Some(key) = key {
        cmd.env("HORIZON_API_KEY", key);
    }
    let out = cmd.output().await.expect("the CLI runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn fixture_path(name: &str) -> String {
    format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_uploads_extracts_and_manages_jobs_webhooks_and_keys() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let endpoint = format!("http://{}", running.addr);
    let key = new_account(&services).await;
    let cli = |args: &'static [&'static str]| {
        let (endpoint, key) = (endpoint.clone(), key.clone());
        async move { horizon(&endpoint, Some(&key), args).await }
    };
    let pdf = fixture_path("two-pages.pdf");
    let corrupt = fixture_path("corrupt.pdf");

    // upload: one line, the id first.
    let run = horizon(&endpoint, Some(&key), &["upload", &pdf]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("upl_"), "{}", run.stdout);
    assert!(
        run.stdout.contains("application/pdf") && run.stdout.contains("2 pages"),
        "{}",
        run.stdout
    );

    // extract --wait: the text, pages separated by a form feed; progress on stderr.
    let run = horizon(&endpoint, Some(&key), &["extract", &pdf, "--wait"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("Horizon walking skeleton. The first page says hello"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\x0cThe second page has its own text."),
        "{:?}",
        run.stdout
    );
    assert!(run.stderr.contains("completed"), "{}", run.stderr);

    // --json: the job with every chunk, and its tags.
    let run = horizon(
        &endpoint,
        Some(&key),
        &["extract", &pdf, "--wait", "--json", "--tag", "cli-test"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let job: Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert_eq!(job["status"], "completed");
    assert_eq!(job["tags"], serde_json::json!(["cli-test"]));
    let chunks = job["result"]["chunks"].as_array().unwrap();
    assert_eq!(
        chunks.len() as u64,
        job["result"]["chunkCount"].as_u64().unwrap()
    );
    let job_id = job["jobId"].as_str().unwrap().to_owned();

    // --format markdown: the whole document; an image goes to the image route by itself.
    let image = fixture_path("scan.jpg");
    let run = horizon(
        &endpoint,
        Some(&key),
        &["extract", &image, "--wait", "--format", "markdown"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("<!-- page 1 -->\n\n# Image Formats\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("JPEG"), "{}", run.stdout);
    let report = fixture_path("report.pdf");
    let run = horizon(
        &endpoint,
        Some(&key),
        &[
            "extract", &report, "--wait", "--format", "markdown", "--ocr", "never",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("| Indonesia | Asia | Jakarta |"),
        "{}",
        run.stdout
    );
    let run = horizon(
        &endpoint,
        Some(&key),
        &["extract", &report, "--ocr", "sometimes"],
    )
    .await;
    assert_eq!(run.code, 2, "a wrong command line: {}", run.stderr);

    // A PDF that cannot be read: exit 3, the job's error on stderr.
    let run = horizon(&endpoint, Some(&key), &["extract", &corrupt, "--wait"]).await;
    assert_eq!(run.code, 3, "{} {}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("failed") && run.stderr.contains("invalid_pdf"),
        "{}",
        run.stderr
    );

    // jobs list | get | cancel.
    let run = horizon(
        &endpoint,
        Some(&key),
        &["jobs", "list", "--tag", "cli-test"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(&format!("{job_id}\tcompleted")),
        "{}",
        run.stdout
    );
    let run = horizon(&endpoint, Some(&key), &["jobs", "get", &job_id, "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(got["jobId"], job_id.as_str());
    let run = horizon(&endpoint, Some(&key), &["jobs", "cancel", &job_id]).await;
    assert_eq!(run.code, 1, "cancelling a completed job is refused");
    assert!(run.stderr.contains("HTTP 409"), "{}", run.stderr);
    let run = cli(&["jobs", "get", "job_01JQZZZZZZZZZZZZZZZZZZZZZZ"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("HTTP 404") && run.stderr.contains("may have expired"),
        "the problem's detail is shown: {}",
        run.stderr
    );

    // webhooks add | list | rm.
    let run = cli(&["webhooks", "add", "https://example.com/hooks/cli"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("signing secret (shown only now): whsec_"),
        "{}",
        run.stdout
    );
    let webhook_id = run.stdout.split('\t').next().unwrap().to_owned();
    assert!(webhook_id.starts_with("wh_"), "{}", run.stdout);
    let run = cli(&["webhooks", "list"]).await;
    assert!(
        run.stdout.contains(&format!(
            "{webhook_id}\thttps://example.com/hooks/cli\tjob.completed,job.failed"
        )),
        "{}",
        run.stdout
    );
    let run = horizon(&endpoint, Some(&key), &["webhooks", "rm", &webhook_id]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = cli(&["webhooks", "list"]).await;
    assert!(!run.stdout.contains(&webhook_id), "{}", run.stdout);
    let run = cli(&["webhooks", "add", "http://169.254.169.254/latest"]).await;
    assert_eq!(run.code, 1, "an internal address is refused");
    assert!(run.stderr.contains("HTTP 400"), "{}", run.stderr);

    // keys create | revoke: a new key works until it is revoked.
    let run = cli(&["keys", "create", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let made: Value = serde_json::from_str(&run.stdout).unwrap();
    let (new_id, new_key) = (made["id"].as_str().unwrap(), made["key"].as_str().unwrap());
    assert!(new_key.starts_with("hzn_"));
    let run = horizon(&endpoint, Some(&key), &["keys", "revoke", new_id]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = horizon(&endpoint, Some(new_key), &["jobs", "list"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("HTTP 401") && run.stderr.contains("revoked"),
        "{}",
        run.stderr
    );
    let run = cli(&["keys", "create"]).await;
    let other = run
        .stdout
        .lines()
        .nth(1)
        .and_then(|l| l.rsplit(' ').next())
        .unwrap();
    let run = horizon(
        &endpoint,
        Some(other),
        &["jobs", "list", "--tag", "cli-test"],
    )
    .await;
    assert_eq!(run.code, 0, "a created key works: {}", run.stderr);
    assert!(run.stdout.contains(&job_id), "and sees its account's jobs");

    // jobs rm: a finished job is deleted; afterwards it is not found.
    let run = horizon(&endpoint, Some(&key), &["jobs", "rm", &job_id]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, format!("deleted {job_id}\n"));
    let run = horizon(&endpoint, Some(&key), &["jobs", "get", &job_id]).await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("HTTP 404"), "{}", run.stderr);

    // Without a key, with no service, with a wrong command line.
    let run = horizon(&endpoint, None, &["jobs", "list"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("HTTP 401") && run.stderr.contains("API key"),
        "{}",
        run.stderr
    );
    let run = horizon("http://127.0.0.1:9", Some(&key), &["jobs", "list"]).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot reach http://127.0.0.1:9"),
        "{}",
        run.stderr
    );
    let run = cli(&["jobs", "frobnicate"]).await;
    assert_eq!(run.code, 2);
    let run = horizon(&endpoint, Some(&key), &["upload", "/nonexistent/file.pdf"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cannot read /nonexistent/file.pdf"),
        "{}",
        run.stderr
    );

    running.shutdown().await;
}
