//! Large documents: a generated scanned PDF and a generated born-digital one, each read through
//! the local runner in parts (the defaults) and in one piece, side by side.
//!
//!   scripts/bench large [SCANNED_PAGES] [BORN_DIGITAL_PAGES]   default 300 and 3000 (0: skip)
//!
//! For each: wall time from submission to `completed`, the parts and the longest part, pages/s,
//! the peak memory of one extraction child (sampled from /proc), and the compute cost per 1,000
//! pages at Lambda's arm64 price for the worker's 1,769 MB (the sum of the time the workers
//! spent, not the wall time). The one-piece run has no job limit (it may take longer than a
//! job may); on Lambda every part runs at once (`HORIZON_PARTS_AT_ONCE`), so the wall time
//! there is about the plan, the longest part and the assembly: the last line compares that
//! with the one-piece time.

use std::time::{Duration, Instant};

use horizon_app::{Config, Services};
use horizon_domain::parts::PartSize;
use horizon_domain::JobId;
use serde_json::Value;

/// Lambda's arm64 price per GB-second, and the worker's memory (infra/template.yaml).
const PRICE_GB_S: f64 = 0.000_013_333_4;
const WORKER_GB: f64 = 1769.0 / 1024.0;

#[tokio::main]
async fn main() {
    horizon_runtime::telemetry::init();
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<usize>().ok());
    let scanned = args.next().unwrap_or(300);
    let born = args.next().unwrap_or(3000);
    let mut config = Config::from_env().unwrap_or_else(|e| {
        eprintln!(
            "{e}\nrun it with scripts/bench large (it starts and provisions the local stack)"
        );
        std::process::exit(2);
    });
    config.local.port = 0;
    config.jobs.max_active = 0;
    println!(
        "large: {} local worker(s), {} OCR thread(s) per child; parts of at most {} scanned pages or {} pages",
        config.local.workers,
        config.extraction.ocr_threads,
        config.extraction.part_size.units,
        config.extraction.part_size.pages
    );
    let services = horizon_aws::services::from_config(config).await;
    let documents = [
        (
            format!("scanned PDF, {scanned} pages"),
            scanned_pdf(scanned),
        ),
        (
            format!("born-digital PDF, {born} pages"),
            born_digital_pdf(born),
        ),
    ];
    println!(
        "{:<30} {:>10} {:>9} {:>6} {:>13} {:>8} {:>14} {:>12}",
        "document",
        "how",
        "wall s",
        "parts",
        "longest s",
        "pages/s",
        "child peak MB",
        "$/1000 pages"
    );
    // A document of no pages is left out (`scripts/bench large 0 3000` runs the second alone).
    for (name, bytes) in documents
        .into_iter()
        .zip([scanned, born])
        .filter(|(_, n)| *n > 0)
        .map(|(d, _)| d)
    {
        let one = run(&services, &bytes, false, None).await;
        let parted = run(&services, &bytes, true, None).await;
        // The workers share the cores (one OCR thread each, by default, on 2 cores): one piece
        // read alone could use them all, and is measured so too, to compare with its best.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let all_cores = if services.config.extraction.ocr_threads < cores {
            Some(run(&services, &bytes, false, Some(cores)).await)
        } else {
            None
        };
        let all_cores_label = format!("one, {cores} thr");
        for (how, r) in [
            ("one piece", Some(&one)),
            ("in parts", Some(&parted)),
            (all_cores_label.as_str(), all_cores.as_ref()),
        ]
        .into_iter()
        .filter_map(|(how, r)| r.map(|r| (how, r)))
        {
            println!(
                "{:<30} {:>10} {:>9.1} {:>6} {:>13.1} {:>8.2} {:>14.0} {:>12.4}",
                name,
                how,
                r.wall.as_secs_f64(),
                r.parts,
                r.longest.as_secs_f64(),
                r.pages as f64 / r.wall.as_secs_f64(),
                r.peak_mb,
                r.worker_seconds * WORKER_GB * PRICE_GB_S / r.pages as f64 * 1000.0
            );
        }
        println!(
            "{name}: in parts / one piece, wall time here: {:.2}×; on Lambda (every part at once): longest part {:.1} s against {:.1} s, {:.2}×",
            parted.wall.as_secs_f64() / one.wall.as_secs_f64(),
            parted.longest.as_secs_f64(),
            one.wall.as_secs_f64(),
            parted.longest.as_secs_f64() / one.wall.as_secs_f64()
        );
        if let Some(all) = &all_cores {
            println!(
                "{name}: in parts / one piece with all {cores} cores' threads: {:.2}×",
                parted.wall.as_secs_f64() / all.wall.as_secs_f64()
            );
        }
    }
}

struct Run {
    wall: Duration,
    pages: u64,
    parts: usize,
    /// The longest part (in one piece: the whole run).
    longest: Duration,
    /// The time workers spent on it, parts summed.
    worker_seconds: f64,
    peak_mb: f64,
}

/// Reads `bytes` through a runner of its own, in parts or in one piece.
/// `threads`: OCR threads per child, when not the configuration's.
async fn run(base: &Services, bytes: &[u8], parts: bool, threads: Option<usize>) -> Run {
    let mut services = base.clone();
    let mut config = (*base.config).clone();
    if let Some(threads) = threads {
        config.extraction.ocr_threads = threads;
    }
    if !parts {
        config.extraction.part_size = PartSize {
            units: 1e12,
            pages: usize::MAX,
        };
        config.jobs.max_run = Duration::from_secs(24 * 3600);
        config.jobs.lease = Duration::from_secs(24 * 3600);
    }
    services.config = std::sync::Arc::new(config);
    let running = horizon_local::start(services.clone())
        .await
        .expect("start the local runner");
    let base_url = format!("http://{}", running.addr);
    let now = services.clock.now();
    let account = horizon_domain::AccountId(format!("acct_large{}", now.unix_timestamp_nanos()));
    let (key, record) = horizon_runtime::auth::new_key(account, now).expect("a key");
    services.accounts.put_key(&record).await.expect("a key");
    let http = reqwest::Client::new();
    // Through the presigned upload: a request body is held to API Gateway's 10 MB.
    let grant: Value = http
        .post(format!("{base_url}/api/uploads"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"filename": "large.pdf", "size": bytes.len(), "contentType": "application/pdf"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut put = http.put(grant["uploadUrl"].as_str().expect("an upload URL"));
    for (name, value) in grant["headers"].as_object().into_iter().flatten() {
        put = put.header(name, value.as_str().unwrap_or_default());
    }
    let put = put.body(bytes.to_vec()).send().await.unwrap();
    assert!(
        put.status().is_success(),
        "the presigned PUT: {}",
        put.status()
    );
    let upload = serde_json::json!({ "id": grant["id"] });
    let sampler = Sampler::start();
    let started = Instant::now();
    let job: Value = http
        .post(format!("{base_url}/v1/extract/pdf"))
        .bearer_auth(&key)
        .json(&serde_json::json!({ "uploadId": upload["id"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = job["jobId"].as_str().expect("a job").to_owned();
    let done = loop {
        let v: Value = http
            .get(format!("{base_url}/v1/jobs/{id}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["status"] == "completed" || v["status"] == "failed" {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let wall = started.elapsed();
    let peak_mb = sampler.stop();
    assert_eq!(done["status"], "completed", "{done}");
    let stored = services
        .jobs
        .get(&id.parse::<JobId>().unwrap())
        .await
        .unwrap()
        .unwrap();
    running.shutdown().await;
    let spans: Vec<Duration> = stored
        .parts()
        .iter()
        .map(|p| {
            Duration::from_millis(
                (p.finished_at.unwrap_or_default() - p.started_at.unwrap_or_default()).max(0)
                    as u64,
            )
        })
        .collect();
    Run {
        wall,
        pages: done["result"]["pages"].as_u64().unwrap_or(0),
        parts: stored.parts().len().max(1),
        longest: spans.iter().max().copied().unwrap_or(wall),
        worker_seconds: if spans.is_empty() {
            wall.as_secs_f64()
        } else {
            spans.iter().map(Duration::as_secs_f64).sum()
        },
        peak_mb,
    }
}

/// The largest resident memory of any one child of this process, sampled every 100 ms.
struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<f64>,
}

impl Sampler {
    fn start() -> Sampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let me = std::process::id().to_string();
        let thread = std::thread::spawn(move || {
            let mut peak = 0u64;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    let status =
                        std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
                    let field = |name: &str| {
                        status
                            .lines()
                            .find(|l| l.starts_with(name))
                            .and_then(|l| l.split_whitespace().nth(1))
                            .map(str::to_owned)
                    };
                    if field("PPid:").as_deref() == Some(me.as_str()) {
                        let rss: u64 = field("VmRSS:").and_then(|v| v.parse().ok()).unwrap_or(0);
                        peak = peak.max(rss);
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            peak as f64 / 1024.0
        });
        Sampler { stop, thread }
    }

    fn stop(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or(0.0)
    }
}

/// `pages` pages of text, 40 lines each.
fn born_digital_pdf(pages: usize) -> Vec<u8> {
    let pages: Vec<Vec<String>> = (1..=pages)
        .map(|n| {
            let mut lines = vec![format!("Chapter {} section {n}", n / 10 + 1)];
            lines.extend((1..40).map(|l| {
                format!("Page {n}, line {l}: the quick brown fox jumps over the lazy dog again.")
            }));
            lines
        })
        .collect();
    horizon_tests::pdfs::make_pdf(&pages)
}

/// `pages` scanned pages: the fixtures' scanned JPEGs in turn, each filling a letter page (no
/// text layer: every page is read with OCR).
fn scanned_pdf(pages: usize) -> Vec<u8> {
    let dir = format!("{}/fixtures", env!("CARGO_MANIFEST_DIR"));
    let scans: Vec<(Vec<u8>, u32, u32, &str)> = ["scan-form.jpg", "scan-table.jpg", "scan.jpg"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(format!("{dir}/{name}")).expect("a fixture");
            let image = image::load_from_memory(&bytes).expect("a JPEG");
            let space = if image.color().channel_count() == 1 {
                "/DeviceGray"
            } else {
                "/DeviceRGB"
            };
            (bytes, image.width(), image.height(), space)
        })
        .collect();
    let mut objects: Vec<Vec<u8>> = Vec::new();
    // The images first (objects 1..=3), then each page's contents and page.
    for (bytes, w, h, space) in &scans {
        let mut o = format!(
            "<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace {space} /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
            bytes.len()
        )
        .into_bytes();
        o.extend_from_slice(bytes);
        o.extend_from_slice(b"\nendstream");
        objects.push(o);
    }
    let pages_id = scans.len() + 2 * pages + 1;
    let mut kids = Vec::new();
    for n in 0..pages {
        let image = n % scans.len() + 1;
        let ops = "q 612 0 0 792 0 0 cm /Im Do Q";
        objects.push(format!("<< /Length {} >>\nstream\n{ops}\nendstream", ops.len()).into_bytes());
        let content = objects.len();
        objects.push(format!("<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 612 792] /Contents {content} 0 R /Resources << /XObject << /Im {image} 0 R >> >> >>").into_bytes());
        kids.push(format!("{} 0 R", objects.len()));
    }
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        )
        .into_bytes(),
    );
    objects.push(format!("<< /Type /Catalog /Pages {pages_id} 0 R >>").into_bytes());
    horizon_tests::pdfs::write_pdf(&objects)
}
