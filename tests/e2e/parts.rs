//! Long documents read in parts (a job fanned out over page ranges, assembled through the
//! table's stream): the result is the one reading the document in one piece gives.

use horizon_domain::parts::{PartSize, PartState};
use horizon_domain::JobId;
use serde_json::Value;

use crate::support::*;

/// The corpus (`HORIZON_CORPUS`), when it is here.
fn corpus(name: &str) -> Option<Vec<u8>> {
    let dir = std::env::var("HORIZON_CORPUS")
        .unwrap_or_else(|_| format!("{}/../../shared/corpus/pdf", env!("CARGO_MANIFEST_DIR")));
    let read = std::fs::read(format!("{dir}/{name}")).ok();
    if read.is_none() {
        eprintln!("{name} not found in the corpus at {dir} (set HORIZON_CORPUS): skipped");
    }
    read
}

/// Every chunk of a finished job, through the paged chunks route, and its Markdown.
async fn result(api: &Api, job: &str) -> (Vec<Value>, String) {
    let mut chunks = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/jobs/{job}/chunks?limit=1000&cursor={c}"),
            None => format!("/v1/jobs/{job}/chunks?limit=1000"),
        };
        let page: Value = api.get(&path).await.json().await.unwrap();
        chunks.extend(page["chunks"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let md = api
        .get(&format!("/v1/jobs/{job}/markdown"))
        .await
        .text()
        .await
        .unwrap();
    (chunks, md)
}

/// Reads `bytes` (`kind` is `pdf` or `image`) through the API and waits for the job.
async fn read(api: &Api, bytes: Vec<u8>, kind: &str) -> (String, Value) {
    let content_type = if kind == "pdf" {
        "application/pdf"
    } else {
        "image/tiff"
    };
    let resp = api.upload_raw(bytes, content_type).await;
    assert_eq!(resp.status(), 201);
    let upload: Value = resp.json().await.unwrap();
    let resp = api
        .post_json(
            &format!("/v1/extract/{kind}"),
            &format!(r#"{{"uploadId":"{}"}}"#, upload["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(resp.status(), 202);
    let job: Value = resp.json().await.unwrap();
    let id = job["jobId"].as_str().unwrap().to_owned();
    let done = api.wait_terminal(&id).await;
    (id, done)
}

/// Real documents read in one piece and in parts of at most five pages (one scanned page a
/// part): the same chunks (ids, types, text, tables with their cells, headings with their
/// levels, pages, `segmentIndex`) and the same Markdown. The documents have tables that go on
/// over a page, running heads and footers, and headings on many pages: the passes across the
/// whole document run over the parts' borders.
#[tokio::test(flavor = "multi_thread")]
async fn a_document_read_in_parts_reads_as_in_one_piece() {
    let base = services().await;
    let whole = with_config(&base, |c| {
        c.extraction.part_size = PartSize {
            units: 1e9,
            pages: usize::MAX,
        }
    });
    let parted = with_config(&base, |c| {
        c.extraction.part_size = PartSize {
            units: 1.0,
            pages: 5,
        };
        c.jobs.parts_at_once = 3;
    });
    let mut documents: Vec<(String, Vec<u8>, &str)> = vec![(
        "scan-2pages.tiff".into(),
        fixture("scan-2pages.tiff"),
        "image",
    )];
    for name in [
        "eb__2022_Q3_AAPL.pdf",
        "eb__1601.03642.pdf",
        "eb__2201.00214.pdf",
    ] {
        if let Some(bytes) = corpus(name) {
            documents.push((name.into(), bytes, "pdf"));
        }
    }
    let key = new_account(&base).await;
    for (name, bytes, kind) in documents {
        let running = horizon_local::start(whole.clone()).await.unwrap();
        let api = Api::new(running.addr, &key);
        let (one_id, one) = read(&api, bytes.clone(), kind).await;
        assert_eq!(one["status"], "completed", "{name}: {one}");
        let one_job = base
            .jobs
            .get(&one_id.parse::<JobId>().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(one_job.parts().is_empty(), "{name}: read in one piece");
        let (one_chunks, one_md) = result(&api, &one_id).await;
        running.shutdown().await;

        let running = horizon_local::start(parted.clone()).await.unwrap();
        let api = Api::new(running.addr, &key);
        let (id, done) = read(&api, bytes, kind).await;
        assert_eq!(done["status"], "completed", "{name}: {done}");
        let job = base
            .jobs
            .get(&id.parse::<JobId>().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(job.parts().len() > 1, "{name}: read in parts");
        assert!(
            job.parts().iter().all(|p| p.state == PartState::Done),
            "{name}"
        );
        let pages: u32 = job.parts().iter().map(|p| p.count).sum();
        assert_eq!(done["result"]["pages"], pages, "{name}: every page read");
        let (chunks, md) = result(&api, &id).await;
        running.shutdown().await;

        assert_eq!(done["result"]["pages"], one["result"]["pages"], "{name}");
        assert_eq!(
            done["result"]["chunkCount"], one["result"]["chunkCount"],
            "{name}"
        );
        assert_eq!(
            done["result"]["warnings"], one["result"]["warnings"],
            "{name}"
        );
        assert_eq!(chunks.len(), one_chunks.len(), "{name}");
        for (a, b) in chunks.iter().zip(&one_chunks) {
            for field in [
                "id",
                "type",
                "text",
                "markdown",
                "page",
                "pages",
                "segmentIndex",
                "level",
                "cells",
            ] {
                assert_eq!(a[field], b[field], "{name}: {field} of {}", b["id"]);
            }
        }
        assert_eq!(md, one_md, "{name}: the Markdown");
        // The parts' pages are gone once the whole is assembled.
        assert_eq!(
            objects_under(&base, &format!("results/{id}/parts/")).await,
            0,
            "{name}"
        );
    }
}

/// A job in parts is cancelled: the parts not started never start, the running ones stop, and
/// deleting the job removes every part's data.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_in_parts_is_cancelled_and_deleted_whole() {
    let base = services().await;
    let parted = with_config(&base, |c| {
        c.extraction.part_size = PartSize {
            units: 1.0,
            pages: 1,
        };
        c.jobs.parts_at_once = 1;
    });
    let running = horizon_local::start(parted.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&base).await);
    let resp = api
        .upload_raw(fixture("scan-2pages.tiff"), "image/tiff")
        .await;
    let upload: Value = resp.json().await.unwrap();
    let resp = api
        .post_json(
            "/v1/extract/image",
            &format!(r#"{{"uploadId":"{}"}}"#, upload["id"].as_str().unwrap()),
        )
        .await;
    let id = resp.json::<Value>().await.unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let job_id: JobId = id.parse().unwrap();
    eventually("the job is divided", async || {
        base.jobs
            .get(&job_id)
            .await
            .unwrap()
            .is_some_and(|j| !j.parts().is_empty())
    })
    .await;
    let resp = api.post_json(&format!("/v1/jobs/{id}/cancel"), "{}").await;
    assert_eq!(resp.status(), 200);
    let done = api.wait_terminal(&id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "cancelled");
    // One part at a time: the second was never let go, and never starts.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let job = base.jobs.get(&job_id).await.unwrap().unwrap();
    assert_eq!(job.parts().len(), 2);
    assert_eq!(job.parts()[1].attempts, 0, "{:?}", job.parts());
    let resp = api.delete(&format!("/v1/jobs/{id}")).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(objects_under(&base, &format!("results/{id}/")).await, 0);
    running.shutdown().await;
}
