//! Benchmark: our extractor next to poppler's `pdftotext`, on the same PDFs in the same run.
//!
//!   scripts/bench-extract [DIR]        (default ../shared/corpus/pdf, or HORIZON_CORPUS)
//!
//! Per file and in total: pages, time, pages/s, failures, crashes, timeouts, similarity to
//! pdftotext (per page, Levenshtein ratio after NFKC and whitespace normalisation, weighted by
//! page length) and, where `<corpus>/groundtruth/<name>.txt` exists, the whole-document ratio to
//! that curated text; then the ratios. Speed is measured in-process, single-threaded (the engine);
//! failures, crashes, timeouts and peak memory through the worker's own child-process path.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use horizon_extract_worker::child;
use horizon_pdf::{extract, Limits, Plan};
use unicode_normalization::UnicodeNormalization;

const DEADLINE: Duration = Duration::from_secs(120);

fn normalise(s: &str) -> String {
    let nfkc: String = s.nfkc().collect();
    nfkc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// python-Levenshtein's `ratio`: 1 − indel distance ÷ total length.
fn ratio(a: &str, b: &str) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    rapidfuzz::distance::indel::normalized_similarity(a.chars(), b.chars())
}

fn pdftotext_pages(path: &Path) -> Result<(Vec<String>, Duration), String> {
    let started = Instant::now();
    let out = Command::new("timeout")
        .arg(DEADLINE.as_secs().to_string())
        .args(["pdftotext", "-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .output()
        .map_err(|e| format!("pdftotext: {e}"))?;
    let took = started.elapsed();
    if !out.status.success() {
        return Err(match out.status.code() {
            Some(124) => "timeout".into(),
            c => format!("exit {c:?}"),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    Ok((pages, took))
}

struct Row {
    name: String,
    pages: u32,
    ours: Result<Duration, String>,
    theirs: Result<Duration, String>,
    similarity: Option<(f64, f64)>, // (weighted ratio, weight)
    ground_truth: Option<f64>,
    peak_mb: f64,
}

fn main() {
    child::serve_if_child(); // this binary is also its own extraction child
    let corpus = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HORIZON_CORPUS").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/corpus/pdf"));
    let Ok(dir) = std::fs::read_dir(&corpus) else {
        eprintln!(
            "no PDF directory at {} (the shared corpus is not part of a clone): pass a directory of PDFs, or set HORIZON_CORPUS",
            corpus.display()
        );
        std::process::exit(2);
    };
    let groundtruth = corpus.parent().map(|p| p.join("groundtruth"));
    let mut files: Vec<PathBuf> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("pdf")))
        .collect();
    files.sort();
    let lib = std::env::var("PDFIUM_LIB_PATH").ok();
    let pdfium = horizon_pdf::pdfium(lib.as_deref()).unwrap_or_else(|e| panic!("{}", e.message));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let program = std::env::current_exe().expect("own path");
    let limits = Limits { max_pages: 100_000 };

    println!(
        "{:<44} {:>5} {:>9} {:>8} {:>9} {:>8} {:>6} {:>6} {:>7}  status",
        "file", "pages", "ours ms", "pages/s", "pdftotxt", "pages/s", "simil", "GT", "peak MB"
    );
    let mut rows = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(path).expect("read");
        // Through the worker's child process: failures, crashes, timeouts, memory.
        let req = child::Request {
            program: program.clone(),
            pdfium: lib.clone(),
            max_pages: limits.max_pages,
            pages: None,
            deadline: DEADLINE,
            memory_mb: 1024,
        };
        let outcome = rt
            .block_on(child::extract(&req, bytes.clone().into(), |_| {}))
            .expect("start the child");
        let peak_mb = outcome.peak_rss_kb as f64 / 1024.0;
        let (ours, our_pages) = match outcome.extraction {
            Ok(x) => {
                // The engine's own speed: in-process, single-threaded.
                let started = Instant::now();
                let again = extract(pdfium, &bytes, limits, &Plan::default());
                let took = started.elapsed();
                match again {
                    Ok(_) => (Ok(took), x.pages),
                    Err(e) => (Err(e.code), x.pages),
                }
            }
            Err(e) => (Err(e.code), Vec::new()),
        };
        let theirs = pdftotext_pages(path);
        let pages = our_pages
            .len()
            .max(theirs.as_ref().map(|t| t.0.len()).unwrap_or(0)) as u32;
        // What users get: the cleaned text (words joined across line breaks, normalised).
        let our_pages: Vec<String> = horizon_pdf::chunk::clean_pages(&our_pages);
        let similarity = match (&ours, &theirs) {
            (Ok(_), Ok((ref_pages, _))) => {
                let (mut sum, mut weight) = (0.0, 0.0);
                for (i, reference) in ref_pages.iter().enumerate() {
                    let r = normalise(reference);
                    if r.is_empty() {
                        continue;
                    }
                    let o = our_pages.get(i).map(|p| normalise(p)).unwrap_or_default();
                    let w = r.chars().count() as f64;
                    sum += ratio(&o, &r) * w;
                    weight += w;
                }
                (weight > 0.0).then_some((sum / weight, weight))
            }
            _ => None,
        };
        let ground_truth = groundtruth.as_ref().and_then(|dir| {
            let stem = path.file_stem()?.to_string_lossy().into_owned();
            let truth = std::fs::read_to_string(dir.join(format!("{stem}.txt"))).ok()?;
            Some(ratio(&normalise(&our_pages.join("\n")), &normalise(&truth)))
        });
        let rate = |d: &Duration| pages as f64 / d.as_secs_f64().max(1e-9);
        let status = match (&ours, &theirs) {
            (Ok(_), Ok(_)) => "ok".to_owned(),
            (Err(a), Ok(_)) => format!("ours: {a}"),
            (Ok(_), Err(b)) => format!("pdftotext: {b}"),
            (Err(a), Err(b)) => format!("ours: {a}; pdftotext: {b}"),
        };
        println!(
            "{:<44} {:>5} {:>9} {:>8} {:>9} {:>8} {:>6} {:>6} {:>7.1}  {}",
            name.chars().take(44).collect::<String>(),
            pages,
            ours.as_ref()
                .map(|d| format!("{:.1}", d.as_secs_f64() * 1e3))
                .unwrap_or("-".into()),
            ours.as_ref()
                .map(|d| format!("{:.0}", rate(d)))
                .unwrap_or("-".into()),
            theirs
                .as_ref()
                .map(|t| format!("{:.1}", t.1.as_secs_f64() * 1e3))
                .unwrap_or("-".into()),
            theirs
                .as_ref()
                .map(|t| format!("{:.0}", rate(&t.1)))
                .unwrap_or("-".into()),
            similarity
                .map(|s| format!("{:.3}", s.0))
                .unwrap_or("-".into()),
            ground_truth
                .map(|g| format!("{g:.3}"))
                .unwrap_or("-".into()),
            peak_mb,
            status
        );
        rows.push(Row {
            name,
            pages,
            ours: ours.map_err(|e| e.to_string()),
            theirs: theirs.map(|t| t.1),
            similarity,
            ground_truth,
            peak_mb,
        });
    }
    summary(&rows);
}

fn summary(rows: &[Row]) {
    let both: Vec<&Row> = rows
        .iter()
        .filter(|r| r.ours.is_ok() && r.theirs.is_ok())
        .collect();
    let pages: u32 = both.iter().map(|r| r.pages).sum();
    let ours: f64 = both
        .iter()
        .map(|r| r.ours.as_ref().map(|d| d.as_secs_f64()).unwrap_or(0.0))
        .sum();
    let theirs: f64 = both
        .iter()
        .map(|r| r.theirs.as_ref().map(|d| d.as_secs_f64()).unwrap_or(0.0))
        .sum();
    let failed = |f: &dyn Fn(&Row) -> bool| rows.iter().filter(|r| f(r)).count();
    let ours_failed = failed(&|r| r.ours.is_err());
    let theirs_failed = failed(&|r| r.theirs.is_err());
    let crashes = failed(&|r| r.ours.as_ref().err().is_some_and(|e| e == "engine_crashed"));
    let timeouts = failed(&|r| r.ours.as_ref().err().is_some_and(|e| e == "timeout"));
    let mut sims: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.similarity.map(|s| s.0))
        .collect();
    sims.sort_by(|a, b| a.total_cmp(b));
    let mean = |v: &[f64]| {
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let median = |v: &[f64]| {
        if v.is_empty() {
            f64::NAN
        } else {
            v[v.len() / 2]
        }
    };
    let gts: Vec<f64> = rows.iter().filter_map(|r| r.ground_truth).collect();
    let worst = rows.iter().max_by(|a, b| a.peak_mb.total_cmp(&b.peak_mb));
    println!();
    println!(
        "files: {}   read by us: {}   read by pdftotext: {}",
        rows.len(),
        rows.len() - ours_failed,
        rows.len() - theirs_failed
    );
    println!("our failures: {ours_failed} (crashes {crashes}, timeouts {timeouts}; panics are contained and would count as crashes)");
    for r in rows.iter().filter(|r| r.ours.is_err()) {
        println!(
            "  {}: {}",
            r.name,
            r.ours.as_ref().err().map(String::as_str).unwrap_or("")
        );
    }
    println!("on the {} files both read ({pages} pages):", both.len());
    println!(
        "  ours      {:8.2} s  {:7.1} pages/s (in-process, single-threaded)",
        ours,
        pages as f64 / ours.max(1e-9)
    );
    println!(
        "  pdftotext {:8.2} s  {:7.1} pages/s (a process per file)",
        theirs,
        pages as f64 / theirs.max(1e-9)
    );
    println!(
        "  speed ratio ours/pdftotext: {:.2}x (target >= 1.0, goal 1.7)",
        theirs / ours.max(1e-9)
    );
    println!("similarity to pdftotext over {} files: mean {:.4} (target >= 0.92), median {:.4} (target >= 0.97)", sims.len(), mean(&sims), median(&sims));
    println!(
        "ground truth over {} files: mean {:.4} (target >= 0.97)",
        gts.len(),
        mean(&gts)
    );
    if let Some(w) = worst {
        println!(
            "peak memory: {:.1} MB on {} (target < 512)",
            w.peak_mb, w.name
        );
    }
}
