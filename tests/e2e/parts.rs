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

/// A PDF of one page of text and `size` bytes in all (the rest an unused stream), written to
/// `path` a megabyte at a time.
fn padded_pdf(path: &std::path::Path, size: u64) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let text = "BT /F1 12 Tf 72 720 Td (A very large document: its one page of text.) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut at = 0u64;
    let mut offsets = Vec::new();
    let put = |out: &mut std::io::BufWriter<std::fs::File>, bytes: &[u8], at: &mut u64| {
        out.write_all(bytes).unwrap();
        *at += bytes.len() as u64;
    };
    put(&mut out, b"%PDF-1.4\n", &mut at);
    for (i, body) in objects.iter().enumerate() {
        offsets.push(at);
        put(
            &mut out,
            format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes(),
            &mut at,
        );
    }
    // Object 6: padding, referenced by nothing, up to the size asked for (less the trailer).
    let padding = size - at - 400;
    offsets.push(at);
    put(
        &mut out,
        format!("6 0 obj\n<< /Length {padding} >>\nstream\n").as_bytes(),
        &mut at,
    );
    let mut block = vec![0u8; 1 << 20];
    let mut left = padding;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    while left > 0 {
        for b in block.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        let n = left.min(block.len() as u64) as usize;
        put(&mut out, &block[..n], &mut at);
        left -= n as u64;
    }
    put(&mut out, b"\nendstream\nendobj\n", &mut at);
    let tail = |xref: u64| {
        let mut tail = format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1);
        for off in &offsets {
            tail.push_str(&format!("{off:010} 00000 n \n"));
        }
        tail.push_str(&format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        ));
        tail
    };
    // Blank lines before the table make the size exact (the offset has as many digits either way).
    let filler = size - at - tail(size).len() as u64;
    put(&mut out, &vec![b'\n'; filler as usize], &mut at);
    let xref = at;
    put(&mut out, tail(xref).as_bytes(), &mut at);
    out.flush().unwrap();
}

/// This process's anonymous resident memory (what it holds, not the files it maps), in MB.
fn anonymous_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

/// A 500 MB PDF goes through the presigned upload (PUT by curl from its file) and its job: the
/// upload's check and the worker download it to a file and map it, so the runner (API and
/// worker in this process) never holds it: its anonymous memory grows by far less than the
/// document.
#[tokio::test(flavor = "multi_thread")]
async fn a_500_mb_document_is_read_without_being_held_in_memory() {
    const SIZE: u64 = 500_000_000;
    let base = services().await;
    assert!(base.config.extraction.max_pdf_bytes >= SIZE);
    let running = horizon_local::start(base.services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&base).await);
    let path = std::env::temp_dir().join(format!("horizon-large-{}.pdf", std::process::id()));
    padded_pdf(&path, SIZE);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), SIZE);

    // The largest anonymous memory while it is checked and read, sampled.
    let before = anonymous_mb();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(anonymous_mb());
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            peak
        })
    };
    let grant: Value = api
        .post_json(
            "/api/uploads",
            &serde_json::json!({"filename": "large.pdf", "size": SIZE, "contentType": "application/pdf"})
                .to_string(),
        )
        .await
        .json()
        .await
        .unwrap();
    // PUT from the file a megabyte at a time, as a plain HTTP client streams a file.
    let file = tokio::fs::File::open(&path).await.unwrap();
    let chunks = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 1 << 20];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut put = api
        .http
        .put(grant["uploadUrl"].as_str().unwrap())
        .header("content-length", SIZE);
    for (name, value) in grant["headers"].as_object().into_iter().flatten() {
        if name != "content-length" {
            put = put.header(name, value.as_str().unwrap());
        }
    }
    let put = put
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.status(),
        200,
        "{}",
        put.text().await.unwrap_or_default()
    );
    let _ = std::fs::remove_file(&path);
    let id = api.start_job(grant["id"].as_str().unwrap()).await;
    let done = api.wait_terminal(&id).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    running.shutdown().await;
    assert_eq!(done["status"], "completed", "{done}");
    let text = done["result"]["chunks"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("A very large document"), "{done}");
    assert!(
        peak.saturating_sub(before) < 150,
        "the runner's memory grew by {} MB for a {} MB document",
        peak.saturating_sub(before),
        SIZE / 1_000_000
    );
}
