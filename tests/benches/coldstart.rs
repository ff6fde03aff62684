//! Cold start and size of every function: `cargo bench --bench coldstart` (or
//! `scripts/bench coldstart [RUNS]`).
//!
//! Builds the five functions in release mode (the Lambda profile: LTO, stripped), prints each
//! binary's size, then starts each one RUNS times (default 20) as Lambda would: a fresh process
//! against a Lambda Runtime API, here a minimal emulator on 127.0.0.1. It times, from the
//! process's start, its first `GET /runtime/invocation/next` (the end of init) and its answer to
//! one fixture event that needs no AWS call. AWS itself is an address that only counts
//! connections: a function that reaches for the network during init is caught.
//! Target: init ≤ 10 ms (p50). Sizes printed here are the x86_64 host build's; the 8.25 MB budget
//! is the arm64 artefacts', checked by `scripts/build-lambdas`.
//!
//! The arm64 artefacts CI builds (`cargo lambda build --release --arm64`) cannot run on this
//! x86_64 machine; their sizes are printed by `scripts/build-lambdas`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};

/// Function binary, package, and the fixture event it answers without AWS.
const FUNCTIONS: &[(&str, &str, &str)] = &[
    ("jobs-api", "horizon-jobs-api", "jobs-api-openapi.json"),
    (
        "uploads",
        "horizon-uploads",
        "uploads-get-image-no-key.json",
    ),
    (
        "dashboard",
        "horizon-dashboard",
        "dashboard-stats-no-key.json",
    ),
    (
        "extract-worker",
        "horizon-extract-worker",
        "extract-worker-malformed.json",
    ),
    (
        "webhook-dispatch",
        "horizon-webhook-dispatch",
        "webhook-dispatch-malformed.json",
    ),
    (
        "job-events",
        "horizon-job-events",
        "job-events-malformed.json",
    ),
];

const INIT_TARGET_MS: f64 = 10.0;

/// Connections to the stand-in for AWS, over the whole run.
static AWS_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

/// What the emulator saw of one process.
#[derive(Default)]
struct Seen {
    first_next: Option<Instant>,
    /// `AWS_CONNECTIONS` when init ended.
    aws_at_init: usize,
    response: Option<(Instant, String)>,
    error: Option<String>,
}

type Shared = Arc<Mutex<Seen>>;

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));

    // One function per build, as scripts/build-lambdas: cargo would otherwise unify their
    // features, and every function would link what only one needs.
    for (_, package, _) in FUNCTIONS {
        eprintln!("[coldstart] cargo build --release -p {package} (minutes when cold)");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&root)
            .args(["build", "--release", "-p", package])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the release build of {package} failed");
    }

    // AWS: an address that counts connections and refuses every request with a 400 (an
    // error the SDK does not retry), so that an invocation touching AWS ends quickly.
    let aws_addr = serve(
        |_| async {
            Response::builder()
                .status(400)
                .header("content-type", "application/x-amz-json-1.0")
                .body(Full::new(Bytes::from_static(
                    br#"{"__type":"ValidationException","message":"no AWS in the benchmark"}"#,
                )))
                .unwrap()
        },
        true,
    )
    .await
    .0;

    println!(
        "{:<18} {:>8} {:>12} {:>12} {:>16} {:>14} {:>16}",
        "function",
        "x86 MB",
        "init p50 ms",
        "init max ms",
        "answer p50 ms",
        "AWS in init",
        "AWS per answer"
    );
    let mut misses = Vec::new();
    for (bin, _, fixture) in FUNCTIONS {
        let path = target.join("release").join(bin);
        let size_mb = std::fs::metadata(&path).expect("built").len() as f64 / 1_000_000.0;
        let event = std::fs::read(root.join("tests/fixtures/events").join(fixture))
            .unwrap_or_else(|e| panic!("{fixture}: {e}"));
        let (mut inits, mut firsts) = (Vec::new(), Vec::new());
        let (mut in_init, mut in_answer) = (0, 0);
        for _ in 0..runs {
            let run = cold_start(&path, bin, &event, aws_addr).await;
            inits.push(run.init_ms);
            firsts.push(run.answer_ms);
            in_init += run.aws_in_init;
            in_answer += run.aws_in_answer;
        }
        inits.sort_by(f64::total_cmp);
        firsts.sort_by(f64::total_cmp);
        let p50 = inits[inits.len() / 2];
        println!(
            "{bin:<18} {size_mb:>8.2} {p50:>12.2} {:>12.2} {:>16.2} {in_init:>14} {:>16.1}",
            inits[inits.len() - 1],
            firsts[firsts.len() / 2],
            in_answer as f64 / runs as f64,
        );
        if p50 > INIT_TARGET_MS {
            misses.push(format!("{bin}: init p50 {p50:.2} ms > {INIT_TARGET_MS} ms"));
        }
        if in_init > 0 {
            misses.push(format!(
                "{bin}: {in_init} connection(s) to AWS during init in {runs} starts"
            ));
        }
    }
    println!(
        "{runs} cold starts each. init = process start → its first GET /runtime/invocation/next; answer = → its \
         answer to one fixture event (the SQS functions' answers include their heartbeat write, refused \
         here). x86_64 host build, binaries in the page cache."
    );
    if misses.is_empty() {
        println!("targets (init ≤ {INIT_TARGET_MS} ms, no AWS connection): all met");
    } else {
        println!("targets missed:");
        for m in misses {
            println!("  {m}");
        }
    }
}

struct ColdStart {
    init_ms: f64,
    answer_ms: f64,
    aws_in_init: usize,
    aws_in_answer: usize,
}

/// Starts the function once against a fresh emulator.
async fn cold_start(
    path: &std::path::Path,
    name: &str,
    event: &[u8],
    aws: SocketAddr,
) -> ColdStart {
    let seen: Shared = Arc::default();
    let event = Bytes::copy_from_slice(event);
    let state = seen.clone();
    let (addr, server) = serve(move |req| answer(req, state.clone(), event.clone()), false).await;
    let aws_before = AWS_CONNECTIONS.load(Ordering::SeqCst);
    let env: HashMap<&str, String> = HashMap::from([
        ("AWS_LAMBDA_RUNTIME_API", addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "bench".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        ("AWS_ENDPOINT_URL", format!("http://{aws}")),
        ("HORIZON_TABLE", "bench-jobs".into()),
        ("HORIZON_BUCKET", "bench-data".into()),
        (
            "HORIZON_EXTRACT_QUEUE_URL",
            format!("http://{aws}/000000000000/extract"),
        ),
        (
            "HORIZON_WEBHOOK_QUEUE_URL",
            format!("http://{aws}/000000000000/webhooks"),
        ),
        ("HORIZON_ADMIN_KEY", "a-benchmark-admin-key".into()),
        ("RUST_LOG", "warn".into()),
    ]);
    let started = Instant::now();
    let mut child = tokio::process::Command::new(path)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the function starts");
    let deadline = started + Duration::from_secs(10);
    loop {
        let measured = {
            let s = seen.lock().unwrap();
            if let Some(e) = &s.error {
                panic!("{name} reported an error: {e}");
            }
            match (s.first_next, &s.response) {
                (Some(next), Some((done, _))) => {
                    let ms = |t: Instant| (t - started).as_secs_f64() * 1000.0;
                    Some(ColdStart {
                        init_ms: ms(next),
                        answer_ms: ms(*done),
                        aws_in_init: s.aws_at_init - aws_before,
                        aws_in_answer: AWS_CONNECTIONS.load(Ordering::SeqCst) - s.aws_at_init,
                    })
                }
                _ => None,
            }
        };
        if let Some(result) = measured {
            let _ = child.kill().await;
            server.abort();
            return result;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{name} exited ({status}) before answering");
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not answer within 10 s"
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// An HTTP/1.1 server on a free local port answering every request with `respond`;
/// `count` counts its connections in `AWS_CONNECTIONS`.
async fn serve<F, Fut>(respond: F, count: bool) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if count {
                AWS_CONNECTIONS.fetch_add(1, Ordering::SeqCst);
            }
            let respond = respond.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let respond = respond.clone();
                    async move { Ok::<_, std::convert::Infallible>(respond(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, task)
}

/// The Lambda Runtime API for one process: the first `next` gets `event`, later ones wait.
async fn answer(
    req: Request<hyper::body::Incoming>,
    seen: Shared,
    event: Bytes,
) -> Response<Full<Bytes>> {
    let now = Instant::now();
    let path = req.uri().path().to_owned();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).into_owned();
    if path.ends_with("/invocation/next") {
        let first = {
            let mut s = seen.lock().unwrap();
            let first = s.first_next.is_none();
            if first {
                s.first_next = Some(now);
                s.aws_at_init = AWS_CONNECTIONS.load(Ordering::SeqCst);
            }
            first
        };
        if !first {
            // Lambda freezes the process here; the benchmark kills it.
            std::future::pending::<()>().await;
        }
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 30_000;
        return Response::builder()
            .header("lambda-runtime-aws-request-id", "coldstart-1")
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:000000000000:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .header("content-type", "application/json")
            .body(Full::new(event))
            .unwrap();
    }
    let mut s = seen.lock().unwrap();
    if path.ends_with("/response") {
        s.response = Some((now, text));
    } else if path.ends_with("/error") {
        s.error = Some(format!("{path}: {text}"));
    }
    Response::builder()
        .status(202)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap()
}
