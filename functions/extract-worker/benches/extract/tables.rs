//! Part 6: tables against published ground truth. `HORIZON_BENCH_TABLES` is a directory with
//! `tables.tsv` (a name, a PDF and its expected table as CSV, per line; `scripts/bench-extract`
//! writes it from the test files of tabula-py and img2table). Each PDF is read twice: as a PDF
//! (its text layer) and as images of its pages at 150 dpi (OCR), both through the worker's
//! child process. Each expected table is scored against the table we give that matches it best:
//!
//! - cell adjacency F1, the ICDAR 2013 table competition's measure: each non-empty cell and the
//!   next non-empty cell to its right and below it make a relation; precision and recall of ours
//!   against the expected ones (cells compared without case or spaces);
//! - structure: whether our grid has the expected rows and columns (empty rows and columns
//!   left out on both sides).

use std::path::{Path, PathBuf};

use horizon_extract_worker::engine::{Input, Ocr};
use horizon_layout::{Document, Kind};

use crate::{held_out, mean, normalise, run_child, Setup};

/// Pages are rendered at this resolution for the image reading.
const IMAGE_DPI: f32 = 150.0;

type Grid = Vec<Vec<String>>;
/// Our best table for an expected one: its rows × columns and its adjacency F1.
type Best = Option<((usize, usize), f64)>;

struct Scored {
    name: String,
    want: (usize, usize),
    /// As a PDF and as images: the shape of our best table and its adjacency F1.
    pdf: Best,
    image: Best,
}

pub fn benchmark(rt: &tokio::runtime::Runtime, setup: &Setup) {
    println!();
    println!("== 6. Tables against published ground truth (cell adjacency F1; rows × columns) ==");
    let Some(dir) = std::env::var_os("HORIZON_BENCH_TABLES").map(PathBuf::from) else {
        println!("  HORIZON_BENCH_TABLES is not set (scripts/bench-extract sets it): skipped");
        return;
    };
    let Ok(manifest) = std::fs::read_to_string(dir.join("tables.tsv")) else {
        println!("  no tables.tsv in {}: skipped", dir.display());
        return;
    };
    let mut read: std::collections::HashMap<String, (Option<Document>, Option<Document>)> =
        Default::default();
    let mut scored = Vec::new();
    for line in manifest.lines().filter(|l| !l.trim().is_empty()) {
        let parts: Vec<&str> = line.split('\t').collect();
        let [name, pdf, truth] = parts[..] else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(dir.join(truth)) else {
            continue;
        };
        let want = trim(csv(&text));
        let docs = read.entry(pdf.to_owned()).or_insert_with(|| {
            (
                as_pdf(rt, setup, &dir.join(pdf)),
                as_images(rt, setup, &dir.join(pdf)),
            )
        });
        let best = |doc: &Option<Document>| doc.as_ref().and_then(|d| best(d, &want));
        scored.push(Scored {
            name: name.to_owned(),
            want: shape(&want),
            pdf: best(&docs.0),
            image: best(&docs.1),
        });
    }
    println!(
        "  {:<28} {:>9}  {:>9} {:>7}  {:>9} {:>7}",
        "table", "expected", "pdf", "F1", "image", "F1"
    );
    let show = |r: &Best| match r {
        Some(((rows, cols), f1)) => format!("{:>9} {f1:>7.3}", format!("{rows}×{cols}")),
        None => format!("{:>9} {:>7}", "none", "0"),
    };
    for s in &scored {
        println!(
            "  {:<28} {:>9}  {}  {}",
            s.name,
            format!("{}×{}", s.want.0, s.want.1),
            show(&s.pdf),
            show(&s.image)
        );
    }
    for (what, part) in [
        ("all", scored.iter().collect::<Vec<_>>()),
        (
            "tuned on",
            scored.iter().filter(|s| !held_out(&s.name)).collect(),
        ),
        (
            "held out",
            scored.iter().filter(|s| held_out(&s.name)).collect(),
        ),
    ] {
        if part.is_empty() {
            continue;
        }
        let f1 = |f: &dyn Fn(&Scored) -> &Best| {
            mean(
                &part
                    .iter()
                    .map(|s| f(s).map_or(0.0, |r| r.1))
                    .collect::<Vec<_>>(),
            )
        };
        let right = |f: &dyn Fn(&Scored) -> &Best| {
            part.iter()
                .filter(|s| f(s).is_some_and(|r| r.0 == s.want))
                .count()
        };
        println!(
            "  {what} ({} tables): adjacency F1 {:.3} as PDF, {:.3} as images; structure right {} and {} of {}",
            part.len(),
            f1(&|s| &s.pdf),
            f1(&|s| &s.image),
            right(&|s| &s.pdf),
            right(&|s| &s.image),
            part.len()
        );
    }
}

fn as_pdf(rt: &tokio::runtime::Runtime, setup: &Setup, path: &Path) -> Option<Document> {
    let bytes = std::fs::read(path).ok()?;
    run_child(rt, &setup.request(Input::Pdf, Ocr::Never, None, 2), bytes)
        .extraction
        .ok()
        .map(|x| x.document)
}

/// The PDF's pages rendered to PNG and read as images, as one document.
fn as_images(rt: &tokio::runtime::Runtime, setup: &Setup, path: &Path) -> Option<Document> {
    let bytes = std::fs::read(path).ok()?;
    let pdfium = horizon_pdf::pdfium(setup.pdfium.as_deref()).ok()?;
    let pdf = horizon_pdf::open(pdfium, &bytes, horizon_pdf::Limits { max_pages: 100 }).ok()?;
    let mut doc = Document::default();
    for n in 1..=pdf.page_count() {
        let (image, _) = pdf.render(n, IMAGE_DPI).ok()?;
        let mut png = std::io::Cursor::new(Vec::new());
        image.write_to(&mut png, image::ImageFormat::Png).ok()?;
        let x = run_child(
            rt,
            &setup.request(Input::Image, Ocr::Always, None, 2),
            png.into_inner(),
        )
        .extraction
        .ok()?;
        doc.pages.extend(x.document.pages);
    }
    Some(doc)
}

/// Our table that matches `want` best: its shape and adjacency F1.
fn best(doc: &Document, want: &Grid) -> Best {
    doc.pages
        .iter()
        .flat_map(|p| &p.blocks)
        .filter(|b| b.kind == Kind::Table)
        .filter_map(|b| b.table.as_ref())
        .map(|t| {
            let got = trim(t.grid());
            (shape(&got), adjacency_f1(&got, want))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

fn shape(g: &Grid) -> (usize, usize) {
    (g.len(), g.first().map_or(0, Vec::len))
}

/// The grid with its cells normalised (NFKC, no spaces, lower case) and its empty rows and
/// columns left out.
fn trim(grid: Grid) -> Grid {
    let cols = grid.iter().map(Vec::len).max().unwrap_or(0);
    let grid: Grid = grid
        .into_iter()
        .map(|mut r| {
            r.resize(cols, String::new());
            r.iter()
                .map(|c| normalise(c).replace(' ', "").to_lowercase())
                .collect()
        })
        .filter(|r: &Vec<String>| r.iter().any(|c| !c.is_empty()))
        .collect();
    let keep: Vec<usize> = (0..cols)
        .filter(|&c| grid.iter().any(|r| !r[c].is_empty()))
        .collect();
    grid.into_iter()
        .map(|r| keep.iter().map(|&c| r[c].clone()).collect())
        .collect()
}

/// The ICDAR 2013 adjacency relations of a grid: (cell, its next non-empty neighbour, across).
fn relations(g: &Grid) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for (r, row) in g.iter().enumerate() {
        for (c, cell) in row.iter().enumerate().filter(|(_, t)| !t.is_empty()) {
            if let Some(right) = row[c + 1..].iter().find(|t| !t.is_empty()) {
                out.push((cell.clone(), right.clone(), true));
            }
            if let Some(below) = g[r + 1..]
                .iter()
                .filter_map(|x| x.get(c))
                .find(|t| !t.is_empty())
            {
                out.push((cell.clone(), below.clone(), false));
            }
        }
    }
    out
}

fn adjacency_f1(got: &Grid, want: &Grid) -> f64 {
    let (got, mut want) = (relations(got), relations(want));
    if got.is_empty() || want.is_empty() {
        return 0.0;
    }
    let (n_got, n_want) = (got.len(), want.len());
    let mut hits = 0;
    for g in got {
        if let Some(i) = want.iter().position(|w| *w == g) {
            want.swap_remove(i);
            hits += 1;
        }
    }
    let (p, r) = (hits as f64 / n_got as f64, hits as f64 / n_want as f64);
    if hits == 0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// A CSV file's rows (RFC 4180 quoting).
fn csv(text: &str) -> Grid {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            ('\r', false) => {}
            (c, _) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}
