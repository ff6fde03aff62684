//! Part 8 of the extraction benchmark: clean scans of two-column papers. Pages of the corpus's
//! arXiv papers with ground truth, rasterised at 300 dpi in grey by pdftoppm without their
//! annotations (the boxes a viewer draws round links are not printed), as a scanner would give
//! them, read by our OCR and by Debian's Tesseract; the reference is the page's text
//! layer as our layout reads it (running text, in reading order, without figures and page
//! furniture). Narrow gutters, full-width figures and captions above two columns, equations:
//! where a reading order goes wrong, the similarity drops by whole columns.
//!
//! Two sets: pages 2, 3 and 6 of each paper, looked at while mending the reading order of scans
//! (d3d3a37); pages 4 and 5, held out (never looked at).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use horizon_extract_worker::engine::{Input, Ocr};

use crate::{layer_text, normalise, ratio, run_child, tesseract, Setup};

const SETS: [(&str, &[u32]); 2] = [("looked at", &[2, 3, 6]), ("held out", &[4, 5])];

/// An arXiv paper of the corpus with ground truth ("eb__2201.00021.pdf").
fn is_paper(path: &Path, groundtruth: &Option<PathBuf>) -> bool {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let id = stem.strip_prefix("eb__").unwrap_or_default();
    id.contains('.')
        && id.chars().all(|c| c.is_ascii_digit() || c == '.')
        && groundtruth
            .as_ref()
            .is_some_and(|d| d.join(format!("{stem}.txt")).exists())
}

/// Page `n` of `pdf` as a 300-dpi grey scan.
fn scan(pdf: &Path, n: u32, png: &Path) -> Result<(), String> {
    let stem = png.with_extension("");
    let status = Command::new("pdftoppm")
        .args([
            "-r",
            "300",
            "-gray",
            "-singlefile",
            "-png",
            "-hide-annotations",
        ])
        .args(["-f", &n.to_string(), "-l", &n.to_string()])
        .arg(pdf)
        .arg(&stem)
        .status()
        .map_err(|e| format!("pdftoppm: {e}"))?;
    if !status.success() || !png.exists() {
        return Err("pdftoppm failed".into());
    }
    Ok(())
}

pub fn benchmark(
    rt: &tokio::runtime::Runtime,
    setup: &Setup,
    files: &[PathBuf],
    groundtruth: &Option<PathBuf>,
) {
    println!();
    println!(
        "== 8. Two-column papers scanned at 300 dpi; the reference is the page's text layer =="
    );
    let tmp = std::env::temp_dir().join(format!("horizon-columns-bench-{}", std::process::id()));
    if std::fs::create_dir_all(&tmp).is_err() {
        println!("  no temporary directory: skipped");
        return;
    }
    println!(
        "  {:<26} {:>10} {:>8} {:>10} {:>8} {:>8}",
        "page", "set", "ours", "tesseract", "ours s", "tess s"
    );
    // Sums of similarity × length for each set: [ours, tesseract, length].
    let mut sums = [[0.0f64; 3]; SETS.len()];
    for path in files.iter().filter(|p| is_paper(p, groundtruth)) {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let count = horizon_pdf::page_count(&bytes, setup.pdfium.as_deref()).unwrap_or(0);
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        for (set, (name, pages)) in SETS.iter().enumerate() {
            for &n in pages.iter().filter(|&&n| n <= count) {
                let label = format!("{} p{n}", stem.trim_start_matches("eb__"));
                let png = tmp.join(format!("{stem}-{n}.png"));
                let reference = layer_text(setup, &bytes, n).map(|t| normalise(&t));
                let (reference, image) = match (reference, scan(path, n, &png)) {
                    (Ok(r), Ok(())) => match std::fs::read(&png) {
                        Ok(image) => (r, image),
                        Err(e) => {
                            println!("  {label:<26} no scan: {e}");
                            continue;
                        }
                    },
                    (Err(e), _) => {
                        println!("  {label:<26} its text layer: {}", e.message);
                        continue;
                    }
                    (_, Err(e)) => {
                        println!("  {label:<26} {e}");
                        continue;
                    }
                };
                let started = Instant::now();
                let out = run_child(
                    rt,
                    &setup.request(Input::Image, Ocr::Always, None, 1),
                    image,
                );
                let took = started.elapsed();
                let ours = out
                    .extraction
                    .map(|x| x.document.text())
                    .unwrap_or_default();
                let (theirs, tess_took) = tesseract(&png, None);
                let (ours, tess) = (
                    ratio(&normalise(&ours), &reference),
                    ratio(&normalise(&theirs), &reference),
                );
                println!(
                    "  {label:<26} {name:>10} {ours:>8.4} {tess:>10.4} {:>8.2} {:>8.2}",
                    took.as_secs_f64(),
                    tess_took.as_secs_f64()
                );
                let weight = reference.chars().count() as f64;
                for (i, v) in [ours, tess, 1.0].into_iter().enumerate() {
                    sums[set][i] += v * weight;
                }
            }
        }
    }
    for ((name, pages), s) in SETS.iter().zip(sums) {
        if s[2] > 0.0 {
            println!(
                "  {name} (pages {pages:?}): similarity (weighted by length) ours {:.4}, tesseract {:.4}",
                s[0] / s[2],
                s[1] / s[2]
            );
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
