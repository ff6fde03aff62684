//! Benchmark of the extraction engine on a corpus, with outside anchors in the same run.
//!
//!   scripts/bench-extract [DIR]        (default ../shared/corpus/pdf, or HORIZON_CORPUS)
//!
//! 1. Born-digital text: per file, pages, time, pages/s, failures, similarity to poppler's
//!    `pdftotext` per page, the whole-document ratio to the curated ground truth
//!    (`<corpus>/groundtruth/<name>.txt`), peak memory; the text as our layout orders it, with
//!    `options.ocr = never`. Which pages `auto` would read with OCR. PDFium's own part of the
//!    time (each page and its text loaded, none of our work): the floor under our speed.
//! 2. Reading order against the ground truth (the share of its lines found in order), ours and
//!    pdftotext's.
//! 3. Tables found (tables, cells; on the 10-Q filings, the share of numbers that land in a
//!    table cell).
//! 4. OCR: born-digital pages rendered to PNG at 200 dpi, read by our engine (through the
//!    worker's child process, as an image) and by Debian's Tesseract, each with two workers of
//!    one thread on the two cores; both compared with the page's text layer (ordered similarity
//!    and word F1), pages/s, and the cost per 1,000 pages from one worker's time at Lambda's
//!    arm64 price. Ours twice: a new child for each page (its models loaded each time), and each
//!    worker's child kept from page to page (as for a document's pages, or an account's next
//!    document); Tesseract is a process per page.
//! 5. Turned pages: the OCR pages turned 90, 180 and 270 degrees, read by both again.
//! 6. Tables against published ground truth (the test tables of tabula-py and img2table), read
//!    as PDFs and as images: cell adjacency F1 and structure (see `extract/tables.rs`).
//! 7. Other scripts: printed pages of ten scripts, scanned (see `extract/scripts.rs`).
//! 8. Two-column papers scanned at 300 dpi: reading order on scans (see `extract/columns.rs`).
//!
//! `HORIZON_BENCH_MODE=fast` runs it all in the fast mode (no layout or table models); the
//! default is the accurate mode.
//!
//! The summary of 1 is also given apart for a held-out third of the files (chosen by a hash of
//! the name): figures to tune on, and figures never tuned on.
//!
//! Similarities are Levenshtein ratios after NFKC and whitespace normalisation, to four decimals.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use horizon_extract_worker::child;
use horizon_extract_worker::engine::{self, Input, Mode, Ocr};
use horizon_layout::{Document, Kind};

#[path = "extract/columns.rs"]
mod columns;
#[path = "extract/scripts.rs"]
mod scripts;
#[path = "extract/tables.rs"]
mod tables;
use unicode_normalization::UnicodeNormalization;

const DEADLINE: Duration = Duration::from_secs(120);
/// Lambda's arm64 price per GB-second, and the memory that gives a function one full vCPU.
const GB_SECOND: f64 = 0.000_013_333_4;
const LAMBDA_GB: f64 = 1.769;

fn normalise(s: &str) -> String {
    let nfkc: String = s.nfkc().collect();
    nfkc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// python-Levenshtein's `ratio`: 1 − indel distance ÷ total length.
/// Debian's Tesseract on one image, on one thread, with the model `lang` (English by default):
/// its text (empty where it fails) and its time.
fn tesseract(png: &Path, lang: Option<&str>) -> (String, Duration) {
    let started = Instant::now();
    let mut command = Command::new("tesseract");
    command.arg(png).arg("-").env("OMP_THREAD_LIMIT", "1");
    if let Some(lang) = lang {
        command.args(["-l", lang]);
    }
    let text = command
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    (text, started.elapsed())
}

/// Page `n`'s running text as our layout reads the PDF's text layer: the OCR benchmarks'
/// reference.
fn layer_text(setup: &Setup, bytes: &[u8], n: u32) -> Result<String, horizon_pdf::Failure> {
    engine::extract(
        bytes,
        &engine::Options {
            wanted: Some(n.to_string()),
            ..setup.options(Input::Pdf, Ocr::Never)
        },
        &|_, _| {},
    )
    .map(|x| x.document.text())
}

fn ratio(a: &str, b: &str) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    rapidfuzz::distance::indel::normalized_similarity(a.chars(), b.chars())
}

/// Word F1: how many words the two texts share, in any order.
fn word_f1(a: &str, b: &str) -> f64 {
    fn count(s: &str) -> std::collections::HashMap<&str, i64> {
        let mut m = std::collections::HashMap::<&str, i64>::new();
        for w in s.split_whitespace() {
            *m.entry(w).or_default() += 1;
        }
        m
    }
    let (ca, cb) = (count(a), count(b));
    let common: i64 = ca
        .iter()
        .map(|(w, n)| (*n).min(*cb.get(w).unwrap_or(&0)))
        .sum();
    let total: i64 = ca.values().sum::<i64>() + cb.values().sum::<i64>();
    if total == 0 {
        1.0
    } else {
        2.0 * common as f64 / total as f64
    }
}

/// The share of the reference's lines (of 30 characters or more, found once in each text) that
/// come in the same order as in the reference: consecutive pairs in order ÷ pairs. Also how many
/// lines were found.
fn order_score(ours: &str, reference: &str) -> (f64, usize) {
    let ours = normalise(ours);
    let anchors: Vec<String> = reference
        .lines()
        .map(normalise)
        .filter(|l| l.chars().count() >= 30)
        .map(|l| l.chars().take(25).collect::<String>())
        .collect();
    let unique = |text: &str, a: &str| {
        text.find(a)
            .filter(|&i| text[i + a.len()..].find(a).is_none())
    };
    let joined_ref = anchors.join("\n");
    let positions: Vec<usize> = anchors
        .iter()
        .filter(|a| joined_ref.matches(a.as_str()).count() == 1)
        .filter_map(|a| unique(&ours, a))
        .collect();
    let pairs = positions.len().saturating_sub(1);
    let in_order = positions.windows(2).filter(|w| w[0] < w[1]).count();
    (
        if pairs == 0 {
            f64::NAN
        } else {
            in_order as f64 / pairs as f64
        },
        positions.len(),
    )
}

fn pdftotext(path: &Path) -> Result<(Vec<String>, Duration), String> {
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

fn page_text(doc: &Document, index: usize) -> String {
    doc.pages
        .get(index)
        .map(|p| {
            p.blocks
                .iter()
                .map(|b| b.text.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

struct Setup {
    program: PathBuf,
    pdfium: Option<String>,
    ocr_dir: PathBuf,
    mode: Mode,
}

impl Setup {
    fn request(
        &self,
        input: Input,
        ocr: Ocr,
        pages: Option<&str>,
        threads: usize,
    ) -> child::Request {
        child::Request {
            program: self.program.clone(),
            account: "bench".into(),
            input,
            ocr,
            mode: self.mode,
            pdfium: self.pdfium.clone(),
            ocr_dir: self.ocr_dir.clone(),
            ocr_threads: threads,
            max_pages: 100_000,
            max_megapixels: u64::MAX / 1_000_000,
            pages: pages.and_then(|p| p.parse().ok()),
            languages: Vec::new(),
            deadline: DEADLINE,
            max_total: DEADLINE * 10,
            memory_mb: 1024,
        }
    }

    fn options(&self, input: Input, ocr: Ocr) -> engine::Options {
        engine::Options {
            input,
            ocr,
            mode: self.mode,
            max_pages: 100_000,
            max_megapixels: u64::MAX / 1_000_000,
            wanted: None,
            pdfium: self.pdfium.clone(),
            ocr_dir: self.ocr_dir.clone(),
            threads: 1,
            languages: Vec::new(),
        }
    }
}

fn run_child(rt: &tokio::runtime::Runtime, req: &child::Request, bytes: Vec<u8>) -> child::Outcome {
    rt.block_on(child::extract(req, bytes, |_| {}))
        .expect("start the child")
}

struct Row {
    name: String,
    pages: u32,
    ours: Result<Duration, String>,
    theirs: Result<Duration, String>,
    /// PDFium's own part of our time (see [`pdfium_alone`]).
    pdfium: Option<Duration>,
    similarity: Option<f64>,
    ground_truth: Option<f64>,
    order: Option<(f64, usize)>,
    order_pdftotext: Option<(f64, usize)>,
    tables: usize,
    cells: usize,
    numbers_in_tables: Option<f64>,
    auto_ocr: usize,
    peak_mb: f64,
    headings: Option<Headings>,
}

/// Our headings against a PDF's outline (its bookmarks, the author's own list of headings):
/// outline entries, and those found among our headings on their page (±1); our headings, and
/// those that are outline entries.
#[derive(Debug, Clone, Copy, Default)]
struct Headings {
    outline: usize,
    found: usize,
    ours: usize,
    listed: usize,
}

impl Headings {
    fn of(doc: &Document, outline: &[horizon_pdf::OutlineEntry]) -> Option<Headings> {
        let ours: Vec<(u32, &str)> = doc
            .pages
            .iter()
            .flat_map(|p| {
                p.blocks
                    .iter()
                    .filter(|b| b.kind == Kind::Heading)
                    .map(move |b| (p.number, b.text.as_str()))
            })
            .collect();
        let last = doc.pages.last().map_or(0, |p| p.number);
        let entries: Vec<(u32, &str)> = outline
            .iter()
            .filter_map(|e| e.page.filter(|&p| p <= last).map(|p| (p, e.title.as_str())))
            .collect();
        if entries.is_empty() {
            return None;
        }
        let near = |a: u32, b: u32| a.abs_diff(b) <= 1;
        Some(Headings {
            outline: entries.len(),
            found: entries
                .iter()
                .filter(|(p, t)| ours.iter().any(|(q, h)| near(*p, *q) && same_heading(t, h)))
                .count(),
            ours: ours.len(),
            listed: ours
                .iter()
                .filter(|(q, h)| {
                    entries
                        .iter()
                        .any(|(p, t)| near(*p, *q) && same_heading(t, h))
                })
                .count(),
        })
    }
}

/// Whether a heading and an outline entry are the same heading: their letters and digits, one
/// holding the other, of lengths within 60%.
fn same_heading(a: &str, b: &str) -> bool {
    let key = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (a, b) = (key(a), key(b));
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    !short.is_empty() && short.len() * 10 >= long.len() * 6 && long.contains(short.as_str())
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
    let setup = Setup {
        program: std::env::current_exe().expect("own path"),
        pdfium: std::env::var("PDFIUM_LIB_PATH").ok(),
        ocr_dir: std::env::var_os("HORIZON_OCR_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/opt".into()),
        mode: match std::env::var("HORIZON_BENCH_MODE").as_deref() {
            Ok("fast") => Mode::Fast,
            _ => Mode::Accurate,
        },
    };
    println!("mode: {:?} (HORIZON_BENCH_MODE=fast|accurate)", setup.mode);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // One part alone: HORIZON_BENCH_PART=4 (the OCR pages, read upright and turned), 6, 7 or 8.
    match std::env::var("HORIZON_BENCH_PART").as_deref() {
        Ok("6") => {
            tables::benchmark(&rt, &setup);
            return;
        }
        Ok("4") => {
            ocr_benchmark(&rt, &setup, &ocr_sample(&files, &groundtruth, &setup));
            return;
        }
        Ok("7") => {
            scripts::benchmark(&rt, &setup);
            return;
        }
        Ok("8") => {
            columns::benchmark(&rt, &setup, &files, &groundtruth);
            return;
        }
        _ => {}
    }

    println!("== 1. Born-digital text (options.ocr = never), next to pdftotext ==");
    println!(
        "{:<40} {:>5} {:>8} {:>7} {:>8} {:>7} {:>6} {:>6} {:>6} {:>6} {:>7}  status",
        "file",
        "pages",
        "ours ms",
        "pages/s",
        "pdftotxt",
        "pages/s",
        "simil",
        "GT",
        "order",
        "tables",
        "peak MB"
    );
    let mut rows = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(path).expect("read");
        let outcome = run_child(
            &rt,
            &setup.request(Input::Pdf, Ocr::Never, None, 1),
            bytes.clone(),
        );
        let peak_mb = outcome.peak_rss_kb as f64 / 1024.0;
        let (ours, doc, auto_ocr) = match outcome.extraction {
            Ok(x) => {
                // The engine's own speed: in-process, single-threaded, text layer only.
                let started = Instant::now();
                let again =
                    engine::extract(&bytes, &setup.options(Input::Pdf, Ocr::Never), &|_, _| {});
                let took = started.elapsed();
                // Which pages `auto` would read with OCR (their text layer is missing or unusable).
                let auto = engine::ocr_candidates(&bytes, setup.pdfium.as_deref())
                    .map(|p| p.len())
                    .unwrap_or(0);
                match again {
                    Ok(_) => (Ok(took), Some(x.document), auto),
                    Err(e) => (Err(e.code), Some(x.document), auto),
                }
            }
            Err(e) => (Err(e.code), None, 0),
        };
        let headings = doc.as_ref().and_then(|doc| {
            let pdfium = horizon_pdf::pdfium(setup.pdfium.as_deref()).ok()?;
            let pdf = horizon_pdf::open(pdfium, &bytes, horizon_pdf::Limits { max_pages: 100_000 })
                .ok()?;
            Headings::of(doc, &pdf.outline())
        });
        let theirs = pdftotext(path);
        let pdfium = pdfium_alone(&setup, &bytes);
        let pages = doc
            .as_ref()
            .map_or(0, |d| d.pages.len())
            .max(theirs.as_ref().map(|t| t.0.len()).unwrap_or(0)) as u32;
        let similarity = match (&doc, &theirs) {
            (Some(doc), Ok((ref_pages, _))) => {
                let (mut sum, mut weight) = (0.0, 0.0);
                for (i, reference) in ref_pages.iter().enumerate() {
                    let r = normalise(reference);
                    if r.is_empty() {
                        continue;
                    }
                    let w = r.chars().count() as f64;
                    sum += ratio(&normalise(&page_text(doc, i)), &r) * w;
                    weight += w;
                }
                (weight > 0.0).then_some(sum / weight)
            }
            _ => None,
        };
        let truth = groundtruth.as_ref().and_then(|dir| {
            let stem = path.file_stem()?.to_string_lossy().into_owned();
            std::fs::read_to_string(dir.join(format!("{stem}.txt"))).ok()
        });
        let ours_text = doc.as_ref().map(Document::text).unwrap_or_default();
        // HORIZON_BENCH_TEXT=DIR keeps our text per file, to read beside the ground truth.
        if let Some(out) = std::env::var_os("HORIZON_BENCH_TEXT") {
            let _ = std::fs::create_dir_all(&out);
            let _ = std::fs::write(Path::new(&out).join(format!("{name}.txt")), &ours_text);
        }
        let ground_truth = truth
            .as_ref()
            .filter(|_| doc.is_some())
            .map(|t| ratio(&normalise(&ours_text), &normalise(t)));
        let order = truth
            .as_ref()
            .filter(|_| doc.is_some())
            .map(|t| order_score(&ours_text, t));
        let order_pdftotext = match (&truth, &theirs) {
            (Some(t), Ok((p, _))) => Some(order_score(&p.join("\n"), t)),
            _ => None,
        };
        let (mut tables, mut cells) = (0, 0);
        let mut numbers_in_tables = None;
        if let Some(doc) = &doc {
            let blocks = doc.pages.iter().flat_map(|p| &p.blocks);
            for b in blocks.clone().filter(|b| b.kind == Kind::Table) {
                tables += 1;
                cells += b
                    .table
                    .as_ref()
                    .map_or(0, |t| t.cells.iter().filter(|c| !c.text.is_empty()).count());
            }
            if name.contains("10") || name.contains("AAPL") || name.contains("MSFT") {
                let numbers = |t: &str| {
                    t.split_whitespace()
                        .filter(|w| {
                            w.chars().filter(char::is_ascii_digit).count() >= 3 && w.contains(',')
                        })
                        .count()
                };
                let all: usize = blocks.clone().map(|b| numbers(&b.text)).sum();
                let inside: usize = blocks
                    .filter(|b| b.kind == Kind::Table)
                    .map(|b| numbers(&b.text))
                    .sum();
                numbers_in_tables = (all > 0).then(|| inside as f64 / all as f64);
            }
        }
        let rate = |d: &Duration| pages as f64 / d.as_secs_f64().max(1e-9);
        let status = match (&ours, &theirs) {
            (Ok(_), Ok(_)) => "ok".to_owned(),
            (Err(a), Ok(_)) => format!("ours: {a}"),
            (Ok(_), Err(b)) => format!("pdftotext: {b}"),
            (Err(a), Err(b)) => format!("ours: {a}; pdftotext: {b}"),
        };
        let f = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or("-".into());
        println!(
            "{:<40} {:>5} {:>8} {:>7} {:>8} {:>7} {:>6} {:>6} {:>6} {:>6} {:>7.1}  {}",
            name.chars().take(40).collect::<String>(),
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
            f(similarity),
            f(ground_truth),
            f(order.map(|o| o.0)),
            tables,
            peak_mb,
            status
        );
        rows.push(Row {
            name,
            pages,
            ours: ours.map_err(|e| e.to_string()),
            theirs: theirs.map(|t| t.1),
            pdfium,
            similarity,
            ground_truth,
            order,
            order_pdftotext,
            tables,
            cells,
            numbers_in_tables,
            auto_ocr,
            peak_mb,
            headings,
        });
    }
    summary(&rows);
    tables::benchmark(&rt, &setup);
    let sample: Vec<(PathBuf, u32)> = ocr_sample(&files, &groundtruth, &setup);
    ocr_benchmark(&rt, &setup, &sample);
    scripts::benchmark(&rt, &setup);
    columns::benchmark(&rt, &setup, &files, &groundtruth);
}

/// PDFium's own part of a text layer, none of ours: the document opened and each page and its
/// text page loaded (its objects parsed, its characters placed), as the engine has PDFium do
/// before it reads a character. `None` where PDFium does not open the file as it is (a file the
/// engine repairs first, or one that needs a password).
fn pdfium_alone(setup: &Setup, bytes: &[u8]) -> Option<Duration> {
    let pdfium = horizon_pdf::pdfium(setup.pdfium.as_deref()).ok()?;
    let started = Instant::now();
    let doc = pdfium.load_pdf_from_byte_slice(bytes, None).ok()?;
    for page in doc.pages().iter() {
        page.text().ok()?;
    }
    Some(started.elapsed())
}

/// Whether a file is in the held-out third of an evaluation set: chosen by a hash of its name
/// (FNV-1a), so the split is the same on every machine and for every new file.
fn held_out(name: &str) -> bool {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    hash % 3 == 0
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
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
    let mut sims: Vec<f64> = rows.iter().filter_map(|r| r.similarity).collect();
    sims.sort_by(|a, b| a.total_cmp(b));
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
        "  ours      {:8.2} s  {:7.1} pages/s (in-process, single-threaded, layout included)",
        ours,
        pages as f64 / ours.max(1e-9)
    );
    println!(
        "  pdftotext {:8.2} s  {:7.1} pages/s (a process per file)",
        theirs,
        pages as f64 / theirs.max(1e-9)
    );
    println!(
        "  speed ratio ours/pdftotext: {:.2}x",
        theirs / ours.max(1e-9)
    );
    // The floor under our text layer: PDFium's own loading of each page, on the files it opens
    // as they are.
    let alone: Vec<&&Row> = both.iter().filter(|r| r.pdfium.is_some()).collect();
    let secs = |f: &dyn Fn(&Row) -> Option<Duration>| -> f64 {
        alone
            .iter()
            .filter_map(|r| f(r))
            .map(|d| d.as_secs_f64())
            .sum()
    };
    let (floor, ours_on, theirs_on) = (
        secs(&|r| r.pdfium),
        secs(&|r| r.ours.as_ref().ok().copied()),
        secs(&|r| r.theirs.as_ref().ok().copied()),
    );
    let floor_pages: u32 = alone.iter().map(|r| r.pages).sum();
    println!(
        "  PDFium alone {:5.2} s  {:7.1} pages/s (each page and its text loaded, none of our work; {} files, {floor_pages} pages, that PDFium opens as they are)",
        floor,
        floor_pages as f64 / floor.max(1e-9),
        alone.len()
    );
    println!(
        "  on those files, speed ratio to pdftotext: ours {:.2}x, PDFium alone {:.2}x (the most a reader on PDFium could reach)",
        theirs_on / ours_on.max(1e-9),
        theirs_on / floor.max(1e-9)
    );
    println!(
        "similarity to pdftotext over {} files: mean {:.4}, median {:.4}",
        sims.len(),
        mean(&sims),
        median(&sims)
    );
    println!(
        "ground truth over {} files: mean {:.4} (target >= 0.97)",
        gts.len(),
        mean(&gts)
    );
    // A third of the files, chosen by name and never looked at while tuning, apart from the rest.
    for (part, held) in [
        ("tuned on (two thirds)", false),
        ("held out (a third)", true),
    ] {
        let of = |f: &dyn Fn(&Row) -> Option<f64>| -> Vec<f64> {
            rows.iter()
                .filter(|r| held_out(&r.name) == held)
                .filter_map(f)
                .collect()
        };
        let (gt, sim) = (of(&|r| r.ground_truth), of(&|r| r.similarity));
        let order = of(&|r| r.order.map(|o| o.0));
        println!(
            "  {part}: ground truth mean {:.4} over {} files, similarity to pdftotext {:.4} over {}, reading order {:.4} over {}",
            mean(&gt),
            gt.len(),
            mean(&sim),
            sim.len(),
            mean(&order),
            order.len()
        );
    }
    if let Some(w) = worst {
        println!("peak memory: {:.1} MB on {}", w.peak_mb, w.name);
    }
    let auto: Vec<String> = rows
        .iter()
        .filter(|r| r.auto_ocr > 0)
        .map(|r| format!("{} ({} of {})", r.name, r.auto_ocr, r.pages))
        .collect();
    println!(
        "pages options.ocr = auto reads with OCR: {}",
        if auto.is_empty() {
            "none".into()
        } else {
            auto.join(", ")
        }
    );

    println!();
    println!("== 2. Reading order against the ground truth (share of its lines in order; lines found) ==");
    let (mut o_ours, mut o_theirs) = (Vec::new(), Vec::new());
    for r in rows.iter().filter(|r| r.order.is_some()) {
        let (a, n) = r.order.unwrap_or((f64::NAN, 0));
        let (b, m) = r.order_pdftotext.unwrap_or((f64::NAN, 0));
        println!(
            "  {:<40} ours {:.4} ({n} lines)   pdftotext {:.4} ({m} lines)",
            r.name, a, b
        );
        if a.is_finite() {
            o_ours.push(a);
        }
        if b.is_finite() {
            o_theirs.push(b);
        }
    }
    println!(
        "  mean: ours {:.4}, pdftotext {:.4}",
        mean(&o_ours),
        mean(&o_theirs)
    );

    println!();
    println!("== 3. Tables found ==");
    for r in rows.iter().filter(|r| r.tables > 0) {
        let numbers = r
            .numbers_in_tables
            .map(|n| format!("; {:.1}% of its numbers in table cells", n * 100.0))
            .unwrap_or_default();
        println!(
            "  {:<40} {} tables, {} cells{numbers}",
            r.name, r.tables, r.cells
        );
    }
    println!(
        "  in all: {} tables, {} cells in {} files",
        rows.iter().map(|r| r.tables).sum::<usize>(),
        rows.iter().map(|r| r.cells).sum::<usize>(),
        rows.iter().filter(|r| r.tables > 0).count()
    );

    println!();
    println!("== 3b. Headings against each PDF's own outline (its bookmarks; pdftotext gives no headings) ==");
    for r in rows.iter() {
        if let Some(h) = r.headings {
            println!(
                "  {:<40} outline {:>4}, found {:>4}; our headings {:>4}, in the outline {:>4}",
                r.name, h.outline, h.found, h.ours, h.listed
            );
        }
    }
    for (part, held) in [("tuned on", false), ("held out", true)] {
        let sum = rows
            .iter()
            .filter(|r| held_out(&r.name) == held)
            .filter_map(|r| r.headings)
            .fold(Headings::default(), |a, h| Headings {
                outline: a.outline + h.outline,
                found: a.found + h.found,
                ours: a.ours + h.ours,
                listed: a.listed + h.listed,
            });
        let share = |a: usize, b: usize| {
            if b == 0 {
                "-".to_owned()
            } else {
                format!("{:.3}", a as f64 / b as f64)
            }
        };
        println!(
            "  {part}: heading recall {} ({} of {} outline entries), precision against the outline {} ({} of {} headings; a floor: an outline lists only some levels)",
            share(sum.found, sum.outline),
            sum.found,
            sum.outline,
            share(sum.listed, sum.ours),
            sum.listed,
            sum.ours
        );
    }
}

/// Pages for the OCR benchmark: from each file with ground truth (a clean text layer), its first
/// page and its middle one; and one page of the Chinese book.
fn ocr_sample(
    files: &[PathBuf],
    groundtruth: &Option<PathBuf>,
    setup: &Setup,
) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    let limit = std::env::var("HORIZON_BENCH_OCR_PAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    for path in files {
        let stem = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let has_truth = groundtruth
            .as_ref()
            .is_some_and(|d| d.join(format!("{stem}.txt")).exists());
        let chinese = stem.contains("xv6-chinese");
        if !has_truth && !chinese {
            continue;
        }
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let Some(count) = horizon_pdf::page_count(&bytes, setup.pdfium.as_deref()) else {
            continue;
        };
        let mut pages = vec![1, count.div_ceil(2)];
        if chinese {
            pages = vec![(count / 3).max(1)];
        }
        pages.dedup();
        for p in pages {
            out.push((path.clone(), p));
        }
    }
    out.truncate(limit);
    out
}

fn ocr_benchmark(rt: &tokio::runtime::Runtime, setup: &Setup, sample: &[(PathBuf, u32)]) {
    println!();
    println!("== 4. OCR: born-digital pages rendered at 200 dpi, read back; the reference is the page's text layer ==");
    if !Setup::in_dir_ok(&setup.ocr_dir) {
        println!(
            "  no OCR models at {} (set HORIZON_OCR_DIR, or run scripts/install-ocr): skipped",
            setup.ocr_dir.display()
        );
        return;
    }
    if sample.is_empty() {
        println!("  no pages to read (HORIZON_BENCH_OCR_PAGES=0, or no file with ground truth): parts 4 and 5 skipped");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("horizon-ocr-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    // The pages as PNG, and their reference text.
    let mut pages: Vec<(PathBuf, String, String)> = Vec::new();
    let pdfium = horizon_pdf::pdfium(setup.pdfium.as_deref()).expect("PDFium");
    for (i, (path, n)) in sample.iter().enumerate() {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let Ok(pdf) = horizon_pdf::open(pdfium, &bytes, horizon_pdf::Limits { max_pages: 100_000 })
        else {
            continue;
        };
        let Ok((image, _)) = pdf.render(*n, engine::OCR_DPI) else {
            continue;
        };
        let png = tmp.join(format!("{i:03}.png"));
        image.save(&png).expect("write png");
        let Ok(reference) = layer_text(setup, &bytes, *n) else {
            continue;
        };
        let label = format!(
            "{} p{n}",
            path.file_stem().unwrap_or_default().to_string_lossy()
        );
        pages.push((png, reference, label));
    }
    println!("  {} pages", pages.len());
    // Two workers of one thread each, as two single-vCPU functions would be. Cold: a new child
    // for each page, its models loaded each time (a worker's first document). Warm: each worker
    // keeps its child (and so its models) from page to page, as a worker does for an account's
    // next document, and a child for the pages of one document.
    let read = |png: &PathBuf, rt: &tokio::runtime::Runtime| -> (String, Duration, f64) {
        let started = Instant::now();
        let out = run_child(
            rt,
            &setup.request(Input::Image, Ocr::Always, None, 1),
            std::fs::read(png).expect("png"),
        );
        let took = started.elapsed();
        let text = out
            .extraction
            .map(|x| x.document.text())
            .unwrap_or_default();
        (text, took, out.peak_rss_kb as f64 / 1024.0)
    };
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    let ours = |png: &PathBuf| read(png, &runtime());
    thread_local! {
        static WORKER: std::cell::OnceCell<tokio::runtime::Runtime> = const { std::cell::OnceCell::new() };
    }
    let warm = |png: &PathBuf| WORKER.with(|rt| read(png, rt.get_or_init(runtime)));
    let tesseract = |png: &PathBuf| -> (String, Duration, f64) {
        let (text, took) = tesseract(png, None);
        (text, took, 0.0)
    };
    let _ = rt;
    let pngs: Vec<PathBuf> = pages.iter().map(|p| p.0.clone()).collect();
    let (ours_results, ours_wall) = parallel(&pngs, 2, &ours);
    let (warm_results, warm_wall) = parallel(&pngs, 2, &warm);
    let (tess_results, tess_wall) = parallel(&pngs, 2, &tesseract);
    println!(
        "  {:<34} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "page", "ours sim", "ours F1", "ours s", "tess sim", "tess F1", "tess s"
    );
    // Sums of (similarity, F1) × length for ours and Tesseract: all pages, and Latin-script
    // pages only (Debian's Tesseract here reads English only).
    let mut all = [0.0f64; 5];
    let mut latin = [0.0f64; 5];
    let mut peak: f64 = 0.0;
    let mut busy = 0.0;
    for (k, (_, reference, label)) in pages.iter().enumerate() {
        let r = normalise(reference);
        let weight = r.chars().count() as f64;
        let (o, ot, op) = &ours_results[k];
        let (t, tt, _) = &tess_results[k];
        let (o, t) = (normalise(o), normalise(t));
        let (so, fo, st, ft) = (
            ratio(&o, &r),
            word_f1(&o, &r),
            ratio(&t, &r),
            word_f1(&t, &r),
        );
        println!(
            "  {:<34} {:>8.4} {:>8.4} {:>8.2} {:>8.4} {:>8.4} {:>8.2}",
            label.chars().take(34).collect::<String>(),
            so,
            fo,
            ot.as_secs_f64(),
            st,
            ft,
            tt.as_secs_f64()
        );
        let cjk = r
            .chars()
            .filter(|&c| horizon_layout::text::is_cjk(c))
            .count() as f64;
        for (sums, include) in [(&mut all, true), (&mut latin, cjk < 0.2 * weight)] {
            if include {
                for (k, v) in [so, fo, st, ft, 1.0].into_iter().enumerate() {
                    sums[k] += v * weight;
                }
            }
        }
        peak = peak.max(*op);
        busy += ot.as_secs_f64();
    }
    let weighted = |results: &[(String, Duration, f64)]| {
        let (mut sum, mut total) = (0.0, 0.0);
        for (k, (_, reference, _)) in pages.iter().enumerate() {
            let r = normalise(reference);
            let weight = r.chars().count() as f64;
            sum += ratio(&normalise(&results[k].0), &r) * weight;
            total += weight;
        }
        sum / total.max(1.0)
    };
    let n = pages.len().max(1) as f64;
    for (what, v) in [("all pages", all), ("Latin-script pages", latin)] {
        println!(
            "  {what}: similarity (weighted by length) ours {:.4}, tesseract {:.4}; word F1 ours {:.4}, tesseract {:.4}",
            v[0] / v[4],
            v[2] / v[4],
            v[1] / v[4],
            v[3] / v[4]
        );
    }
    let tess_rate = n / tess_wall.as_secs_f64();
    for (what, wall) in [
        ("a new child per page", ours_wall),
        ("each worker's child kept", warm_wall),
    ] {
        println!(
            "  pages/s on 2 cores (2 workers x 1 thread), {what}: ours {:.3}, tesseract {tess_rate:.3} (a process per page; ratio {:.2})",
            n / wall.as_secs_f64(),
            tess_wall.as_secs_f64() / wall.as_secs_f64()
        );
    }
    println!(
        "  kept children read the same: similarity {:.4}",
        weighted(&warm_results)
    );
    let warm_busy: f64 = warm_results.iter().map(|r| r.1.as_secs_f64()).sum();
    let warm_peak = warm_results.iter().map(|r| r.2).fold(0.0, f64::max);
    for (what, per_page, peak) in [
        (
            "a new child per page (process start, models loaded)",
            busy / n,
            peak,
        ),
        (
            "kept child (models loaded once, on its first page)",
            warm_busy / n,
            warm_peak,
        ),
    ] {
        println!(
            "  one worker, {what}: {per_page:.2} s per page, peak {peak:.0} MB; at {LAMBDA_GB} GB (one vCPU): {:.2} GB-s per page, ${:.4} per 1,000 OCR'd pages (goal <= $0.15; Textract $1.50)",
            per_page * LAMBDA_GB,
            per_page * LAMBDA_GB * GB_SECOND * 1000.0
        );
    }
    // 5. The same pages turned, as a sheet fed into a scanner sideways or upside down.
    println!();
    println!("== 5. Turned pages: the OCR pages above turned 90, 180 and 270 degrees clockwise, read again ==");
    println!(
        "  upright: similarity ours {:.4}, tesseract {:.4}",
        weighted(&ours_results),
        weighted(&tess_results)
    );
    for degrees in [90u32, 180, 270] {
        let turned: Vec<PathBuf> = pngs
            .iter()
            .map(|png| {
                let page = image::open(png).expect("our png").to_luma8();
                let page = match degrees {
                    90 => image::imageops::rotate90(&page),
                    180 => image::imageops::rotate180(&page),
                    _ => image::imageops::rotate270(&page),
                };
                let path = png.with_extension(format!("{degrees}.png"));
                page.save(&path).expect("write png");
                path
            })
            .collect();
        let (ours_turned, _) = parallel(&turned, 2, &ours);
        let (tess_turned, _) = parallel(&turned, 2, &tesseract);
        println!(
            "  turned {degrees:>3}: similarity ours {:.4}, tesseract {:.4} (Tesseract with its default settings)",
            weighted(&ours_turned),
            weighted(&tess_turned)
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Runs `f` over the items with `workers` threads; the results in order and the wall time.
fn parallel<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: &(dyn Fn(&T) -> R + Sync),
) -> (Vec<R>, Duration) {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().expect("lock");
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().expect("lock")[i] = Some(r);
            });
        }
    });
    let took = started.elapsed();
    (
        results
            .into_inner()
            .expect("lock")
            .into_iter()
            .flatten()
            .collect(),
        took,
    )
}

impl Setup {
    fn in_dir_ok(dir: &Path) -> bool {
        dir.join("models/det.onnx").exists() && dir.join("lib/libonnxruntime.so").exists()
    }
}
