//! Part 7 of the extraction benchmark: scans of scripts other than Latin and Chinese (Korean,
//! Arabic, Russian, Hebrew, Hindi, Thai; Bengali, Tamil and Georgian, whose models have no
//! word list). Each page is an HTML page printed by Chromium and
//! rasterised at 150 dpi in grey by pdftoppm, as a scanner would give it; the reference is the
//! printed PDF's own text layer. Ours reads each page with no languages named (the script is
//! detected) and with its language named; Tesseract (Debian's, with the language's model) is the
//! anchor. Three sets: the test fixtures (`tests/fixtures/*.html`), tuned on; the pages in
//! `benches/extract/pages/seen`, each set held out until its first run found faults, since
//! mended (upright Hebrew turned upside down and Thai split at every letter in the first;
//! Korean and Hindi scripts not found at 150 dpi in the second, `*-2.html`); and the pages in
//! `benches/extract/pages/held-out`, written after those and never tuned on (the Bengali, Tamil
//! and Georgian ones with the models that read them).

use std::path::{Path, PathBuf};
use std::process::Command;

use horizon_extract_worker::engine::{self, Input, Ocr};

use crate::{normalise, ratio, run_child, tesseract, Setup};

/// A page: its label, its HTML, its ISO 639-1 code, Tesseract's name for the language, and
/// its set.
struct Page {
    label: String,
    html: PathBuf,
    code: &'static str,
    tesseract: &'static str,
    set: usize,
}

const SETS: [&str; 3] = ["tuned on", "seen", "held out"];

const LANGUAGES: &[(&str, &str)] = &[
    ("ko", "kor"),
    ("ar", "ara"),
    ("ru", "rus"),
    ("he", "heb"),
    ("hi", "hin"),
    ("th", "tha"),
    ("bn", "ben"),
    ("ta", "tam"),
    ("ka", "kat"),
    ("hy", "hye"),
];

fn pages() -> Vec<Page> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tuned = [
        ("korean-scan.html", "ko"),
        ("russian-scan.html", "ru"),
        ("arabic.html", "ar"),
        ("hebrew.html", "he"),
        ("armenian-scan.html", "hy"),
    ];
    let mut out = Vec::new();
    let mut add = |set: usize, html: PathBuf, code: &str| {
        if let Some(&(code, tesseract)) = LANGUAGES.iter().find(|(c, _)| *c == code) {
            let name = html.file_name().unwrap_or_default().to_string_lossy();
            out.push(Page {
                label: format!("{} {name}", SETS[set]),
                html: html.clone(),
                code,
                tesseract,
                set,
            });
        }
    };
    for (file, code) in tuned {
        add(0, root.join("../../tests/fixtures").join(file), code);
    }
    // The other sets' pages are named by their language: `ko.html`, `ko-2.html`.
    for (set, dir) in [(1, "seen"), (2, "held-out")] {
        let dir = root.join("benches/extract/pages").join(dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        for html in files {
            let stem = html.file_stem().unwrap_or_default().to_string_lossy();
            let code = stem.split('-').next().unwrap_or_default().to_owned();
            add(set, html, &code);
        }
    }
    out
}

/// The page printed and scanned: the PDF's bytes and the image's path.
fn scan(html: &Path, tmp: &Path, k: usize) -> Result<(Vec<u8>, PathBuf), String> {
    let pdf = tmp.join(format!("{k}.pdf"));
    let printed = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--no-pdf-header-footer"])
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(html)
        .output()
        .map_err(|e| format!("chromium: {e}"))?;
    if !pdf.exists() {
        return Err(format!(
            "chromium printed nothing: {}",
            String::from_utf8_lossy(&printed.stderr)
        ));
    }
    let stem = tmp.join(format!("{k}"));
    let status = Command::new("pdftoppm")
        .args(["-r", "150", "-gray", "-singlefile", "-png"])
        .arg(&pdf)
        .arg(&stem)
        .status()
        .map_err(|e| format!("pdftoppm: {e}"))?;
    if !status.success() {
        return Err("pdftoppm failed".into());
    }
    let bytes = std::fs::read(&pdf).map_err(|e| e.to_string())?;
    Ok((bytes, stem.with_extension("png")))
}

pub fn benchmark(rt: &tokio::runtime::Runtime, setup: &Setup) {
    println!();
    println!("== 7. Other scripts: pages printed by Chromium, scanned at 150 dpi; the reference is the print's text layer ==");
    let tmp = std::env::temp_dir().join(format!("horizon-scripts-bench-{}", std::process::id()));
    if std::fs::create_dir_all(&tmp).is_err() {
        println!("  no temporary directory: skipped");
        return;
    }
    println!(
        "  {:<28} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "page", "ours auto", "ours named", "tesseract", "ours s", "tess s"
    );
    // Sums of similarity × length for each set: [ours auto, ours named, tesseract, length].
    let mut sums = [[0.0f64; 4]; SETS.len()];
    for (k, page) in pages().iter().enumerate() {
        let (pdf, png) = match scan(&page.html, &tmp, k) {
            Ok(x) => x,
            Err(e) => {
                println!("  {:<28} {e}", page.label);
                continue;
            }
        };
        let reference =
            match engine::extract(&pdf, &setup.options(Input::Pdf, Ocr::Never), &|_, _| {}) {
                Ok(x) => normalise(&x.document.text()),
                Err(e) => {
                    println!("  {:<28} its text layer: {}", page.label, e.message);
                    continue;
                }
            };
        let Ok(image) = std::fs::read(&png) else {
            println!("  {:<28} no scan", page.label);
            continue;
        };
        let ours = |languages: Vec<String>| {
            let started = std::time::Instant::now();
            let request = horizon_extract_worker::child::Request {
                languages,
                ..setup.request(Input::Image, Ocr::Always, None, 1)
            };
            let out = run_child(rt, &request, image.clone());
            let text = out
                .extraction
                .map(|x| x.document.text())
                .unwrap_or_default();
            (ratio(&normalise(&text), &reference), started.elapsed())
        };
        let (auto, took) = ours(Vec::new());
        let (named, _) = ours(vec![page.code.to_owned()]);
        let (theirs, tess_took) = tesseract(&png, Some(page.tesseract));
        let tess = ratio(&normalise(&theirs), &reference);
        println!(
            "  {:<28} {:>10.4} {:>10.4} {:>10.4} {:>8.2} {:>8.2}",
            page.label,
            auto,
            named,
            tess,
            took.as_secs_f64(),
            tess_took.as_secs_f64()
        );
        let weight = reference.chars().count() as f64;
        for (i, v) in [auto, named, tess, 1.0].into_iter().enumerate() {
            sums[page.set][i] += v * weight;
        }
    }
    for (part, s) in SETS.iter().zip(sums) {
        if s[3] > 0.0 {
            println!(
                "  {part}: similarity (weighted by length) ours {:.4} (languages not named), {:.4} (named); tesseract {:.4}",
                s[0] / s[3],
                s[1] / s[3],
                s[2] / s[3]
            );
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
