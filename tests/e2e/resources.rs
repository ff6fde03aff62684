//! What a test makes in LocalStack goes when the test ends, passing or failing (support::Own),
//! so that runs do not pile up tables and streams (each stream costs LocalStack's Kinesis
//! process time for as long as it exists). scripts/test checks the same of a whole run.

use std::time::{Duration, Instant};

use crate::support::*;

/// What LocalStack holds under `prefix`, as `localstack/resources list` says it: "kind name".
fn held(prefix: &str) -> Vec<String> {
    let out = std::process::Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../localstack/resources"
    ))
    .arg("list")
    .output()
    .expect("localstack/resources runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| {
            let name = line.split_once(' ').map_or("", |(_, n)| n);
            let name = name
                .trim_start_matches("__ddb_stream_")
                .trim_start_matches('/');
            name.starts_with(prefix)
        })
        .map(str::to_owned)
        .collect()
}

/// Waits until nothing is held under `prefix` (the guard removes it in the background).
async fn gone(prefix: &str) {
    let deadline = Instant::now() + patience();
    loop {
        let left = held(prefix);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} s after its test ended, LocalStack still holds under {prefix}: {left:?}",
            patience().as_secs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_test_leaves_localstack_as_it_found_it() {
    // A test that passes: a table and queues of its own, and a stack of its own, each used by a
    // job (an upload in the bucket, records in the stream, messages in the queues).
    let services = services().await;
    let isolated = isolated_services("sweep").await;
    let prefixes = [services.own.prefix.clone(), isolated.own.prefix.clone()];
    for s in [&services, &isolated] {
        let running = horizon_local::start(s.services.clone()).await.unwrap();
        let api = Api::new(running.addr, &new_account(s).await);
        let upload = api.upload_id(fixture("two-pages.pdf")).await;
        let done = api.wait_terminal(&api.start_job(&upload).await).await;
        assert_eq!(done["status"], "completed", "{done}");
        running.shutdown().await;
    }
    let made: Vec<String> = prefixes.iter().flat_map(|p| held(p)).collect();
    for kind in ["stack", "table", "stream", "queue", "bucket"] {
        assert!(
            made.iter()
                .any(|line| line.starts_with(&format!("{kind} "))),
            "the test made a {kind}: {made:?}"
        );
    }
    drop(services);
    drop(isolated);
    for prefix in &prefixes {
        gone(prefix).await;
    }

    // A test that fails: its guard drops while the panic unwinds.
    let (tx, rx) = std::sync::mpsc::channel();
    let failing = std::thread::spawn(move || {
        let own = Own::new("panics");
        isolated_env(&own);
        tx.send((own.prefix.clone(), held(&own.prefix))).unwrap();
        panic!("a test that fails half-way (on purpose)");
    });
    assert!(failing.join().is_err(), "the failing test panicked");
    let (prefix, made) = rx.recv().unwrap();
    assert!(made.len() >= 5, "its stack was there: {made:?}");
    gone(&prefix).await;
}
