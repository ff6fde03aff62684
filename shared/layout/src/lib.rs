//! Document layout for Horizon, apart from any engine or cloud service: the words of each page
//! (from a PDF's text layer or from OCR, with their boxes and font sizes) and the rules drawn on
//! it become typed blocks in reading order: headings with levels, paragraphs, lists, tables
//! with their cells, captions, code, and page headers, footers and numbers (marked, not
//! dropped). Then Markdown ([`markdown`]) and chunks that follow the structure ([`chunk`]).
//!
//! The steps, each in its module: words into segments and rows ([`lines`]); ruled and
//! whitespace tables ([`tables`]); running headers and footers across pages ([`classify`]);
//! reading order by a recursive XY-cut ([`order`]); lines into blocks ([`blocks`]); heading
//! levels from the document's type sizes; text clean-up ([`text`]).

pub mod bidi;
pub mod blocks;
pub mod chunk;
pub mod classify;
pub mod geom;
pub mod languages;
pub mod lines;
pub mod markdown;
pub mod marks;
pub mod model;
pub mod order;
pub mod regions;
pub mod retrieval;
pub mod tables;
pub mod text;

pub use model::*;

use blocks::Draft;
use classify::{is_page_number, signature, Style};
use geom::median;
use lines::Segment;
use text::is_unspaced;

/// The share of a page's height at its top and bottom where running headers and footers sit.
const MARGIN: f32 = 0.1;
/// ... and where the layout model's running heads and feet are taken as such.
const MODEL_MARGIN: f32 = 0.12;

/// Labels around a figure (its axes' ticks) sit within this many font sizes of its drawing.
const FIGURE_MARGIN: f32 = 1.5;
/// ... and no label lies further out than this many font sizes.
const FIGURE_REACH: f32 = 4.0;

/// Analyses a document's pages.
pub fn analyse(pages: &[PageInput]) -> Document {
    let pages: &[PageInput] = &pages.iter().map(regions::with_figures).collect::<Vec<_>>();
    // Per page: tables from rules, then the other words into segments.
    let prepared: Vec<Prepared> = pages.iter().map(prepare).collect();
    // Across pages: what in the margins is a running header, footer or page number.
    let margins: Vec<Vec<(bool, String)>> = pages
        .iter()
        .zip(&prepared)
        .map(|(page, p)| {
            p.segments
                .iter()
                .filter_map(|s| margin(page, s).map(|top| (top, signature(&s.text()))))
                .collect()
        })
        .collect();
    let repeated = classify::repeated(&margins);
    let mut prepared = prepared;
    for (page, p) in pages.iter().zip(&mut prepared) {
        for found in &mut p.tables {
            drop_running_rows(page, found, &repeated);
        }
    }
    let mut drafts: Vec<Vec<Draft>> = Vec::new();
    for (page, p) in pages.iter().zip(prepared) {
        let mut kinds: Vec<Option<Kind>> = p
            .segments
            .iter()
            .map(|s| {
                margin(page, s)
                    .and_then(|top| {
                        let text = s.text();
                        if is_page_number(&text) && !in_column_of_figures(s, &p.segments) {
                            Some(Kind::PageNumber)
                        } else if repeated.contains(&(top, signature(&text))) {
                            Some(if top { Kind::Header } else { Kind::Footer })
                        } else {
                            None
                        }
                    })
                    .or_else(|| regions::furniture(page, s, p.em, MODEL_MARGIN))
            })
            .collect();
        beside_page_numbers(page, &p.segments, &mut kinds);
        attach_to_body(&p.segments, &p.tables, &mut kinds);
        let mut furniture: Vec<(Kind, &Segment)> = Vec::new();
        let mut body: Vec<Segment> = Vec::new();
        for (s, kind) in p.segments.iter().zip(kinds) {
            match kind {
                Some(k) => furniture.push((k, s)),
                None => body.push(s.clone()),
            }
        }
        // Short labels in and around a figure (not a box around paragraphs, not a panel's
        // caption such as "(a) ...") are the figure's: its ticks, and from them its axes' titles.
        // Each figure's text, with where it came in the source: before how many body pieces.
        let mut figures: Vec<(usize, Vec<Segment>)> = Vec::new();
        let mut source: Vec<usize> = (0..body.len()).collect(); // each body piece's first place
        for region in &page.figures {
            let texts: Vec<usize> = body
                .iter()
                .filter(|s| {
                    let (cx, cy) = geom::center(&s.bbox);
                    geom::contains(region, cx, cy, FIGURE_MARGIN * p.em)
                })
                .map(Segment::chars)
                .collect();
            if median(texts.iter().map(|&n| n as f32).collect()) > 40.0 {
                continue;
            }
            let label = |s: &Segment| {
                let t = s.text();
                s.chars() <= 30 && !classify::is_caption(&t) && !t.starts_with('(')
            };
            let taken = labels(region, &body, label, p.em);
            let first = (0..body.len())
                .find(|&i| taken[i])
                .map_or(usize::MAX, |i| source[i]);
            source = source
                .into_iter()
                .zip(&taken)
                .filter(|(_, &t)| !t)
                .map(|(i, _)| i)
                .collect();
            let mut labels = Vec::new();
            let mut rest = Vec::new();
            for (s, t) in body.into_iter().zip(taken) {
                if t {
                    labels.push(s)
                } else {
                    rest.push(s)
                }
            }
            body = rest;
            figures.push((first, labels));
        }
        // Where each figure's first piece came, counted in the pieces left in the body.
        for figure in &mut figures {
            figure.0 = source.partition_point(|&i| i < figure.0);
        }
        figures.sort_by_key(|f| f.0);
        // Reading order over the body's segments and the ruled tables.
        let columns = regions::Columns::of(page);
        let mut atoms: Vec<order::Atom> = body
            .iter()
            .enumerate()
            .map(|(i, s)| order::Atom {
                bbox: columns.as_ref().map_or(s.bbox, |c| c.clip(&s.bbox, s.size)),
                size: s.size,
                chars: s.chars(),
                numeric: s.is_numeric(),
                order: (page.source == Source::Text).then_some(i),
                table: false,
            })
            .collect();
        atoms.extend(p.tables.iter().map(|t| order::Atom {
            bbox: t.bbox,
            size: p.em,
            chars: 1000,
            numeric: false,
            order: None,
            table: true,
        }));
        let stream = page.source == Source::Text;
        let mut leaves = order::leaves(&atoms);
        if stream {
            // A text layer's own order places each region (the producer wrote them in reading
            // order; geometry alone misplaces floats, formulas and the text of figures): each leaf
            // goes where its first piece comes in the source; a table, after the leaf before it.
            let mut keyed: Vec<(f32, Vec<usize>)> = Vec::new();
            let mut last = -1.0f32;
            for leaf in leaves {
                let key = leaf
                    .iter()
                    .filter(|&&i| i < body.len())
                    .min()
                    .map(|&i| i as f32)
                    .unwrap_or(last + 0.5);
                last = key;
                keyed.push((key, leaf));
            }
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            leaves = keyed.into_iter().map(|k| k.1).collect();
        }
        let mut page_drafts = Vec::new();
        let tops: Vec<&(Kind, &Segment)> = furniture
            .iter()
            .filter(|(k, s)| {
                *k == Kind::Header || (*k == Kind::PageNumber && s.bbox[1] < page.height / 2.0)
            })
            .collect();
        let tops = geom::in_lines(tops, |t| t.1.bbox);
        let mut bottoms: Vec<&(Kind, &Segment)> =
            furniture.iter().filter(|f| !tops.contains(f)).collect();
        bottoms.sort_by(|a, b| {
            a.1.bbox[1]
                .total_cmp(&b.1.bbox[1])
                .then(a.1.bbox[0].total_cmp(&b.1.bbox[0]))
        });
        let furniture_draft = |(kind, s): &(Kind, &Segment)| {
            Draft::of_lines(*kind, vec![blocks::Line::of(&[s], usize::MAX)])
        };
        page_drafts.extend(tops.into_iter().map(furniture_draft));
        let mut body_drafts = blocks::page_blocks(&body, p.tables, &leaves, stream);
        blocks::head_tables(&mut body_drafts, p.em);
        regions::formulas(page, &mut body_drafts);
        // Figures: on a text layer where the source has them (its author's place, next to the
        // text that refers to them), else after the body.
        for (first, segments) in figures.into_iter().rev().filter(|f| !f.1.is_empty()) {
            let lines = lines::stream_rows(&segments, &(0..segments.len()).collect::<Vec<_>>())
                .iter()
                .map(|row| {
                    blocks::Line::of(
                        &row.iter().map(|&i| &segments[i]).collect::<Vec<_>>(),
                        usize::MAX,
                    )
                })
                .collect();
            let draft = Draft::of_lines(Kind::Figure, lines);
            let at = if stream {
                body_drafts
                    .iter()
                    .position(|d| {
                        d.lines
                            .iter()
                            .any(|l| l.first >= first && l.first != usize::MAX)
                    })
                    .unwrap_or(body_drafts.len())
            } else {
                body_drafts.len()
            };
            body_drafts.insert(at, draft);
        }
        page_drafts.extend(body_drafts);
        page_drafts.extend(bottoms.into_iter().map(furniture_draft));
        drafts.push(page_drafts);
    }
    headings(&mut drafts, pages);
    let vocabulary = text::Vocabulary::of(
        pages
            .iter()
            .flat_map(|p| p.words.iter().map(|w| w.text.as_str())),
    );
    let mut pages: Vec<PageLayout> = pages
        .iter()
        .zip(drafts)
        .map(|(page, drafts)| PageLayout {
            number: page.number,
            width: page.width,
            height: page.height,
            unit: page.unit,
            source: page.source,
            marks: marks::on_page(&page.words),
            blocks: drafts
                .into_iter()
                .map(|d| settle(d, &vocabulary))
                .filter(|b| !b.text.is_empty())
                .collect(),
        })
        .collect();
    continue_past_floats(&mut pages, &vocabulary);
    tables::join_continued(&mut pages);
    Document { pages }
}

/// A word broken at the end of a page ("eas-") goes on after the figures, captions and tables
/// set at the top of the next page ("ily follow ..."): the paragraph that completes it comes
/// first on its page, before those floats, as a reader takes it.
fn continue_past_floats(pages: &mut [PageLayout], vocabulary: &text::Vocabulary) {
    /// How many blocks into a page the continuation may be looked for.
    const LOOK: usize = 8;
    for i in 1..pages.len() {
        let running = |b: &&Block| !b.kind.is_furniture() && b.kind != Kind::Figure;
        let Some(last) = pages[i - 1].blocks.iter().rev().find(running) else {
            continue;
        };
        if !matches!(last.kind, Kind::Paragraph | Kind::List) {
            continue;
        }
        let before = last.text.clone();
        let blocks = &mut pages[i].blocks;
        let Some(first) = blocks.iter().position(|b| !b.kind.is_furniture()) else {
            continue;
        };
        let found = (first..blocks.len().min(first + LOOK)).find(|&k| {
            blocks[k].kind == Kind::Paragraph && vocabulary.continues(&before, &blocks[k].text)
        });
        let Some(k) = found else { continue };
        let floats = blocks[first..k]
            .iter()
            .any(|b| matches!(b.kind, Kind::Figure | Kind::Caption | Kind::Table));
        if floats {
            let block = blocks.remove(k);
            blocks.insert(first, block);
        }
    }
}

struct Prepared {
    em: f32,
    tables: Vec<tables::Found>,
    segments: Vec<Segment>,
}

fn prepare(page: &PageInput) -> Prepared {
    let em = median(page.words.iter().map(|w| w.size).collect()).max(1e-3);
    let (mut tables, mut used) =
        tables::ruled(&page.rules, &page.words, em, page.source != Source::Text);
    regions::read_open_tables(page, &mut tables, &mut used, em);
    // On a text layer, the tables its rules and columns make (exact positions) stand, unless
    // the table model reads one the same way, rows aside; it reads the table regions where
    // they make none.
    let seen: Vec<tables::Found> =
        if page.source == Source::Text && page.regions.iter().any(|r| r.table.is_some()) {
            let plain = PageInput {
                regions: Vec::new(),
                ..page.clone()
            };
            analyse(std::slice::from_ref(&plain))
                .pages
                .into_iter()
                .flat_map(|p| p.blocks)
                .filter_map(|b| {
                    let table = b.table.filter(|_| b.kind == Kind::Table)?;
                    Some(tables::Found {
                        bbox: b.bbox,
                        table,
                        drawn: false,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
    let read = regions::tables(page, &tables, &seen, &mut used, em);
    tables.extend(read);
    let rest: Vec<Word> = page
        .words
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(w, _)| w.clone())
        .collect();
    Prepared {
        em,
        tables,
        segments: match regions::Columns::of(page) {
            Some(columns) => columns.split(lines::segments(&rest)),
            None => lines::segments(&rest),
        },
    }
}

/// Whether a piece stands in a column of figures: a figure (or a dash) set right above or
/// below it, within three lines of it, as a table's cells are ("(927)" over "(73)" in a
/// table at the top of a page); a page number stands alone.
fn in_column_of_figures(piece: &Segment, segments: &[Segment]) -> bool {
    let h = geom::height(&piece.bbox);
    segments.iter().any(|t| {
        let gap = (t.bbox[1] - piece.bbox[3]).max(piece.bbox[1] - t.bbox[3]);
        t.is_numeric()
            && geom::h_overlap_ratio(&piece.bbox, &t.bbox) > 0.5
            && (0.0..=3.0 * h).contains(&gap)
    })
}

/// `Some(true)` for a piece in the page's top margin, `Some(false)` in its bottom margin.
/// A line in a margin beside the page number (a book's running section title, on one or two
/// pages only) is a header or footer too.
fn beside_page_numbers(page: &PageInput, segments: &[Segment], kinds: &mut [Option<Kind>]) {
    let numbers: Vec<usize> = (0..segments.len())
        .filter(|&i| kinds[i] == Some(Kind::PageNumber))
        .collect();
    for i in 0..segments.len() {
        if kinds[i].is_some() {
            continue;
        }
        let Some(top) = margin(page, &segments[i]) else {
            continue;
        };
        let beside = numbers
            .iter()
            .any(|&n| geom::v_overlap_ratio(&segments[n].bbox, &segments[i].bbox) >= 0.5);
        if beside {
            kinds[i] = Some(if top { Kind::Header } else { Kind::Footer });
        }
    }
}

/// Which pieces are a figure's labels: those within [`FIGURE_MARGIN`] font sizes of its
/// drawing, then of the labels taken, up to [`FIGURE_REACH`] from the drawing (a tick's number
/// sits by the axis, the axis's title beyond the numbers); outside the drawing, only plain text
/// no larger than the body's.
fn labels(region: &BBox, body: &[Segment], label: impl Fn(&Segment) -> bool, em: f32) -> Vec<bool> {
    let reach = FIGURE_REACH * em;
    let mut area = *region;
    let mut taken = vec![false; body.len()];
    let mut grew = true;
    while grew {
        grew = false;
        for (s, t) in body.iter().zip(taken.iter_mut()) {
            let b = &s.bbox;
            let within = b[0] >= region[0] - reach
                && b[2] <= region[2] + reach
                && b[1] >= region[1] - reach
                && b[3] <= region[3] + reach;
            if *t || !within || geom::distance(b, &area) > FIGURE_MARGIN * em || !label(s) {
                continue;
            }
            // Outside the drawing, a heading or a list item set close below it stays the body's.
            let (cx, cy) = geom::center(b);
            let outside = !geom::contains(region, cx, cy, 0.0);
            let plain = !s.bold && s.size <= 1.3 * em && classify::list_marker(&s.text()).is_none();
            if outside && !plain {
                continue;
            }
            *t = true;
            area = geom::union(&area, b);
            grew = true;
        }
    }
    taken
}

/// A repeated header or footer line set as close to the body's lines (or a table) as its own
/// lines are to each other (within 0.8 of its own size) is part of it: the column heads of a
/// table that starts each page, not a running header, which stands apart. Page numbers stay
/// what they are.
fn attach_to_body(segments: &[Segment], tables: &[tables::Found], kinds: &mut [Option<Kind>]) {
    let near = |a: &Segment, b: &BBox| {
        let gap = (a.bbox[1] - b[3]).max(b[1] - a.bbox[3]);
        // Text set sideways down a margin, as tall as the page, is near every line.
        let above_or_below = geom::overlap(a.bbox[0], a.bbox[2], b[0], b[2]) > 0.0;
        let a_line = geom::height(b) <= 2.0 * geom::height(&a.bbox);
        (above_or_below || a_line) && gap <= 0.8 * a.size
    };
    loop {
        let attached: Vec<usize> = (0..segments.len())
            .filter(|&i| matches!(kinds[i], Some(Kind::Header | Kind::Footer)))
            .filter(|&i| {
                let body = (0..segments.len())
                    .filter(|&j| kinds[j].is_none())
                    .map(|j| &segments[j].bbox);
                body.chain(tables.iter().map(|t| &t.bbox))
                    .any(|b| near(&segments[i], b))
            })
            .collect();
        if attached.is_empty() {
            return;
        }
        for i in attached {
            kinds[i] = None;
        }
    }
}

/// Whether a piece sits in the page's top (`true`) or bottom margin, outside any figure (a
/// chart's labels are the chart's, wherever it is drawn).
/// A table's first or last row that is the page's running head or foot (its cells the text that
/// repeats in that margin on other pages, or the page number), taken in by a table that reaches
/// into the margin: the row goes (it is page furniture, not the table's).
fn drop_running_rows(
    page: &PageInput,
    found: &mut tables::Found,
    repeated: &std::collections::HashSet<(bool, String)>,
) {
    let reaches = |top: bool| {
        if top {
            found.bbox[1] < MARGIN * page.height
        } else {
            found.bbox[3] > (1.0 - MARGIN) * page.height
        }
    };
    let (bottom, top) = (reaches(false), reaches(true));
    let table = &mut found.table;
    let running = |table: &Table, row: u32, top: bool| {
        let cells: Vec<&model::Cell> = table.cells.iter().filter(|c| c.row == row).collect();
        let in_margin = cells.iter().filter_map(|c| c.bbox).all(|b| {
            let cy = (b[1] + b[3]) / 2.0;
            if top {
                cy < MARGIN * page.height
            } else {
                cy > (1.0 - MARGIN) * page.height
            }
        });
        let texts: Vec<&str> = cells
            .iter()
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
            .collect();
        in_margin
            && texts
                .iter()
                .any(|t| repeated.contains(&(top, signature(t))))
            && texts
                .iter()
                .all(|t| is_page_number(t) || repeated.contains(&(top, signature(t))))
    };
    if bottom && table.rows > 2 && running(table, table.rows - 1, false) {
        let last = table.rows - 1;
        table.cells.retain(|c| c.row != last);
        for c in &mut table.cells {
            c.row_span = c.row_span.min(last - c.row);
        }
        table.rows -= 1;
    }
    if top && table.rows > 2 && running(table, 0, true) {
        table.cells.retain(|c| c.row != 0);
        for c in &mut table.cells {
            c.row -= 1;
        }
        table.rows -= 1;
        table.header_rows = table.header_rows.saturating_sub(1);
    }
    if let Some(bbox) = table
        .cells
        .iter()
        .filter_map(|c| c.bbox)
        .reduce(|a, b| geom::union(&a, &b))
    {
        found.bbox[1] = found.bbox[1].max(bbox[1]);
        found.bbox[3] = found.bbox[3].min(bbox[3]);
    }
}

fn margin(page: &PageInput, s: &Segment) -> Option<bool> {
    let (cx, cy) = geom::center(&s.bbox);
    let in_figure = page
        .figures
        .iter()
        .any(|f| geom::contains(f, cx, cy, FIGURE_MARGIN * s.size));
    if s.chars() > 150 || in_figure {
        None
    } else if cy < MARGIN * page.height {
        Some(true)
    } else if cy > (1.0 - MARGIN) * page.height {
        Some(false)
    } else {
        None
    }
}

/// Headings: short blocks set larger than the body text, or bold at its size (or, in scans,
/// markedly taller). Their levels come from their styles across the document.
fn headings(drafts: &mut [Vec<Draft>], pages: &[PageInput]) {
    // The body size: the size most characters are set in (to half a point, or a pixel).
    let mut weight: std::collections::HashMap<i64, usize> = Default::default();
    let quantum = |p: &PageInput| if p.unit == Unit::Pixels { 1.0 } else { 0.5 };
    for (page, ds) in pages.iter().zip(drafts.iter()) {
        for d in ds.iter().filter(|d| d.kind == Kind::Paragraph) {
            for l in &d.lines {
                let n: usize = l.words.iter().map(|w| w.text.chars().count()).sum();
                *weight
                    .entry((l.size / quantum(page)).round() as i64)
                    .or_default() += n;
            }
        }
    }
    let Some(body_key) = weight
        .iter()
        .max_by_key(|(k, n)| (**n, -**k))
        .map(|(k, _)| *k)
    else {
        return;
    };
    let mut found: Vec<(usize, usize, Style)> = Vec::new();
    for (p, (page, ds)) in pages.iter().zip(drafts.iter()).enumerate() {
        let body = body_key as f32 * quantum(page);
        let ocr = page.source == Source::Ocr;
        for (i, d) in ds.iter().enumerate() {
            if !matches!(d.kind, Kind::Paragraph | Kind::List) || d.lines.len() > 3 {
                continue;
            }
            let text = d.raw_text();
            let words = text.split_whitespace().count();
            let letters = text.chars().filter(|c| c.is_alphabetic()).count();
            if letters < 2
                || !classify::has_word(&text)
                || text.chars().count() > 200
                || text.trim_end().ends_with([',', ';'])
                || (text.trim_end().ends_with('.') && words > 6)
            {
                continue;
            }
            let size = d.size();
            let larger = size >= body * if ocr { 1.25 } else { 1.15 };
            let bold = d.bold() && size >= body * 0.95;
            let caps = d.lines.len() == 1
                && words <= 6
                && letters >= 4
                && text
                    .chars()
                    .filter(|c| c.is_alphabetic())
                    .all(char::is_uppercase)
                && size >= body * 0.85;
            // An italic line of its own, numbered as a section ("A. Allowed classes", "2.1 Data")
            // and set at the body's size, over a paragraph: a subsection heading in the style
            // of IEEE's and ACM's papers.
            let italic_numbered = !ocr
                && d.kind == Kind::Paragraph
                && d.lines.len() == 1
                && words <= 10
                && !text.trim_end().ends_with(['.', ':', ','])
                && d.lines[0].words.iter().all(|w| w.italic)
                && classify::section_number(&text)
                && size >= body * 0.95
                && ds
                    .get(i + 1)
                    .is_some_and(|n| n.kind == Kind::Paragraph && n.lines.len() >= 2);
            // "1. INTRODUCTION" is numbered like a list item, and a heading.
            let list_like = d.kind == Kind::List && !(bold || larger || caps);
            // OCR measures size and weight roughly: a long line is a heading only when it is
            // set much larger.
            let rough = ocr && text.chars().count() > 50 && size < body * 1.5;
            // Text set up a margin is no heading, however large it measures.
            let upright = geom::height(&d.bbox) <= 2.0 * geom::width(&d.bbox);
            if !upright {
                continue;
            }
            // OCR may measure one line of a paragraph large: a line set close under a
            // paragraph that has not ended goes on with it.
            let continues = ocr
                && i > 0
                && ds[i - 1].kind == Kind::Paragraph
                && !ds[i - 1]
                    .raw_text()
                    .trim_end()
                    .ends_with(['.', '!', '?', ':'])
                && geom::h_overlap_ratio(&ds[i - 1].bbox, &d.bbox) > 0.5
                && d.bbox[1] - ds[i - 1].bbox[3] < 0.5 * body;
            if continues && !d.bold() {
                continue;
            }
            if (larger || bold || caps || italic_numbered) && !list_like && !rough {
                let depth = classify::section_depth(&text).unwrap_or(1);
                found.push((
                    p,
                    i,
                    Style {
                        size,
                        bold: d.bold() || caps,
                        depth,
                        exact: !ocr,
                    },
                ));
            }
        }
    }
    let styles: Vec<Style> = found.iter().map(|f| f.2).collect();
    for ((p, i, _), level) in found.into_iter().zip(classify::levels(&styles)) {
        let d = &mut drafts[p][i];
        d.kind = Kind::Heading;
        d.level = Some(level);
    }
}

/// The block users get: its text cleaned (words broken across lines joined where the document
/// says so, normalised, lines of a paragraph run together), its list items and table cells.
fn settle(d: Draft, vocabulary: &text::Vocabulary) -> Block {
    let clean = |raw: &str| {
        join_lines(&text::normalise(&text::dehyphenate(
            &mark_hyphens(raw),
            vocabulary,
        )))
    };
    let confidence = {
        let scored: Vec<(f32, usize)> = d
            .lines
            .iter()
            .flat_map(|l| &l.words)
            .filter_map(|w| w.confidence.map(|c| (c, w.text.chars().count())))
            .collect();
        let n: usize = scored.iter().map(|s| s.1).sum();
        (n > 0).then(|| scored.iter().map(|(c, k)| c * *k as f32).sum::<f32>() / n as f32)
    };
    let mut block = Block {
        kind: d.kind,
        text: String::new(),
        bbox: d.bbox,
        level: d.level,
        items: Vec::new(),
        ordered: d.ordered,
        nesting: Vec::new(),
        table: None,
        confidence,
        pages: Vec::new(),
    };
    match d.kind {
        Kind::Table => {
            let mut table = d.table.unwrap_or_default();
            for c in &mut table.cells {
                c.text = clean(&c.text);
            }
            block.text = table.text();
            block.table = Some(table);
        }
        Kind::List => {
            let mut starts = d.item_starts.clone();
            starts.push(d.lines.len());
            for w in starts.windows(2) {
                let raw = d.lines[w[0]..w[1]]
                    .iter()
                    .map(blocks::Line::text)
                    .collect::<Vec<_>>()
                    .join("\n");
                let marker = classify::list_marker(&raw).map(|m| m.len).unwrap_or(0);
                block.items.push(clean(&raw[marker..]));
                if !block.text.is_empty() {
                    block.text.push('\n');
                }
                block.text.push_str(&clean(&raw));
            }
        }
        // Code keeps its lines.
        Kind::Code => {
            block.text = d
                .lines
                .iter()
                .map(|l| text::normalise(&l.text()))
                .collect::<Vec<_>>()
                .join("\n")
        }
        _ => block.text = clean(&d.raw_text()),
    }
    block
}

/// A hyphen at the end of a line followed by a lower-case letter may break a word: it becomes
/// the break mark that [`text::dehyphenate`] decides on (PDFium marks the ones it recognises).
fn mark_hyphens(raw: &str) -> String {
    let lines: Vec<&str> = raw.split('\n').collect();
    let mut out = String::with_capacity(raw.len());
    for (i, line) in lines.iter().enumerate() {
        let next_lower = lines
            .get(i + 1)
            .and_then(|n| n.chars().next())
            .is_some_and(char::is_lowercase);
        let before = line.trim_end_matches('-').chars().last();
        if next_lower
            && line.ends_with('-')
            && !line.ends_with("--")
            && before.is_some_and(char::is_alphabetic)
        {
            out.push_str(&line[..line.len() - 1]);
            out.push('\u{FFFE}');
        } else {
            out.push_str(line);
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
    out
}

/// The lines of a block run together: a space between lines, none between two characters of a
/// script written without spaces (Han, kana).
fn join_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n').map(str::trim).filter(|l| !l.is_empty()) {
        if let (Some(prev), Some(next)) = (out.chars().last(), line.chars().next()) {
            if !(is_unspaced(prev) && is_unspaced(next)) {
                out.push(' ');
            }
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests;
