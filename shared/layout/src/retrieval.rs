//! Chunks sized for retrieval: the structural chunks of [`crate::chunk`] gathered up to a size.
//!
//! - `block` (the default): one chunk per block, as [`crate::chunk::chunks`] gives them.
//! - `by_title`: a heading starts a chunk, which gathers the blocks of its section (over page
//!   breaks) while they fit in `max_chars`; a heading directly followed by another stays with it.
//! - `by_page`: the blocks of one page, while they fit.
//!
//! In both, a table is a chunk of its own: a long one is split between rows with its header rows
//! repeated in every part (by [`crate::chunk`]), never inside a row. Page headers, footers and
//! numbers are left out (the Markdown keeps them). A chunk cut because the next block did not
//! fit starts with the last `overlap_chars` of the one before it (from a word's start), when
//! both are text. A gathered chunk's type is its blocks' when they are all of one type, else
//! `composite`. Each gathered chunk lists the blocks it holds (`blocks`: their ids as the
//! `block` strategy numbers them, types, pages and boxes), the pages it covers, and the heading
//! path of its section.

use serde::{Deserialize, Serialize};

use crate::chunk::{self, BlockRef, Chunk};
use crate::model::{Document, Kind};

/// How a document's chunks are cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    #[default]
    Block,
    ByTitle,
    ByPage,
}

/// What a job asks of its chunks (`options.chunking`): the strategy, the size (else the job's
/// `maxChunkChars` or the service's default) and the overlap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Chunking {
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_chars: Option<u32>,
}

/// The chunks of `doc` by `strategy`, each at most `max_chars` characters (unless one table
/// row or word is longer) before its overlap.
pub fn chunks(
    doc: &Document,
    strategy: Strategy,
    max_chars: usize,
    overlap_chars: usize,
) -> Vec<Chunk> {
    let max_chars = max_chars.max(1);
    let blocks = chunk::chunks(doc, max_chars);
    let by_page = match strategy {
        Strategy::Block => return blocks,
        Strategy::ByTitle => false,
        Strategy::ByPage => true,
    };
    let mut groups: Vec<(Vec<Chunk>, bool)> = Vec::new(); // the blocks, and whether cut for size
    let mut group: Vec<Chunk> = Vec::new();
    let mut cut = false;
    for b in blocks.into_iter().filter(|b| !b.kind.is_furniture()) {
        let size = |g: &[Chunk]| g.iter().map(|c| c.text.chars().count() + 2).sum::<usize>();
        if let Some(first) = group.first() {
            let boundary = b.kind == Kind::Table
                || first.kind == Kind::Table
                || if by_page {
                    b.page != first.page
                } else {
                    b.kind == Kind::Heading && !group.iter().all(|c| c.kind == Kind::Heading)
                };
            let full = size(&group) + b.text.chars().count() > max_chars;
            if boundary || full {
                groups.push((std::mem::take(&mut group), cut));
                cut = full && !boundary;
            }
        }
        group.push(b);
    }
    if !group.is_empty() {
        groups.push((group, cut));
    }
    let mut out: Vec<Chunk> = Vec::with_capacity(groups.len());
    let mut segment = (0u32, 0u32); // (page, next segment index)
    for (blocks, cut) in groups {
        let mut c = gather(blocks);
        if cut && overlap_chars > 0 && c.kind != Kind::Table {
            let prev = out.last().filter(|p| p.kind != Kind::Table);
            if let Some(tail) = prev
                .map(|p| tail(&p.text, overlap_chars))
                .filter(|t| !t.is_empty())
            {
                // A paragraph of its own in the Markdown, so that a heading or a list after it
                // still reads as one.
                c.text = format!("{tail} {}", c.text);
                c.markdown = format!("{tail}\n\n{}", c.markdown);
            }
        }
        c.id = format!("chunk_{:03}", out.len() + 1);
        if segment.0 != c.page {
            segment = (c.page, 0);
        }
        c.segment_index = segment.1;
        segment.1 += 1;
        out.push(c);
    }
    out
}

/// One chunk of several blocks, in their order.
fn gather(blocks: Vec<Chunk>) -> Chunk {
    let refs: Vec<BlockRef> = blocks
        .iter()
        .map(|b| BlockRef {
            id: b.id.clone(),
            kind: b.kind,
            page: b.page,
            bbox: b.bbox,
        })
        .collect();
    let mut pages: Vec<u32> = blocks
        .iter()
        .flat_map(|b| std::iter::once(b.page).chain(b.pages.iter().copied()))
        .collect();
    pages.sort_unstable();
    pages.dedup();
    // The section's path: that of its first block that is no heading, else the last heading's
    // own path with the heading.
    let headings = match blocks.iter().find(|b| b.kind != Kind::Heading) {
        Some(b) => b.headings.clone(),
        None => blocks
            .last()
            .map(|h| [h.headings.clone(), vec![h.text.clone()]].concat())
            .unwrap_or_default(),
    };
    let confidences: Vec<f64> = blocks.iter().filter_map(|b| b.confidence).collect();
    let mut blocks = blocks.into_iter();
    let Some(mut c) = blocks.next() else {
        return Chunk::default();
    };
    let first_page = c.page;
    for b in blocks {
        if b.kind != c.kind {
            c.kind = Kind::Composite;
        }
        c.level = None;
        c.text = format!("{}\n\n{}", c.text, b.text);
        c.markdown = format!("{}\n\n{}", c.markdown, b.markdown);
        if b.page == first_page {
            c.bbox = union(c.bbox, b.bbox);
        }
        c.selection_marks.extend(b.selection_marks);
    }
    c.confidence = (!confidences.is_empty()).then(|| {
        (confidences.iter().sum::<f64>() / confidences.len() as f64 * 1000.0).round() / 1000.0
    });
    c.headings = headings;
    c.pages = if pages.len() > 1 { pages } else { Vec::new() };
    c.blocks = refs;
    c
}

fn union(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

/// The last `n` characters of `text` or fewer, from the start of a word (empty when the last
/// word alone is longer).
fn tail(text: &str, n: usize) -> &str {
    let count = text.chars().count();
    if count <= n {
        return text;
    }
    let start = text
        .char_indices()
        .nth(count - n)
        .map(|(i, _)| i)
        .unwrap_or(0);
    let rest = &text[start..];
    if text[..start].ends_with(char::is_whitespace) {
        return rest.trim_start();
    }
    // Mid-word: from the next word on.
    rest.find(char::is_whitespace)
        .map_or("", |i| rest[i..].trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::tests::{block as plain, doc, heading as plain_heading};
    use crate::model::{Block, Cell, Table};

    fn block(kind: Kind, text: &str, y: f32) -> Block {
        Block {
            bbox: [72.0, y, 500.0, y + 12.0],
            ..plain(kind, text)
        }
    }

    fn heading(level: u8, text: &str, y: f32) -> Block {
        Block {
            bbox: [72.0, y, 500.0, y + 12.0],
            ..plain_heading(level, text)
        }
    }

    fn table(rows: u32, y: f32) -> Block {
        let cells = (0..rows)
            .flat_map(|r| {
                (0..2).map(move |c| Cell {
                    row: r,
                    col: c,
                    row_span: 1,
                    col_span: 1,
                    text: if r == 0 {
                        format!("Head {c}")
                    } else {
                        format!("row {r} cell {c} with some words")
                    },
                    header: r == 0,
                    bbox: None,
                })
            })
            .collect();
        let t = Table {
            rows,
            cols: 2,
            header_rows: 1,
            cells,
        };
        let mut b = block(Kind::Table, &t.text(), y);
        b.table = Some(t);
        b
    }

    fn sample() -> Document {
        let para = |i: usize, y: f32| {
            block(
                Kind::Paragraph,
                &format!("Paragraph {i} says something about the results of the year."),
                y,
            )
        };
        doc(vec![
            vec![
                block(Kind::Header, "Quarterly Report", 10.0),
                heading(1, "Annual Report", 40.0),
                heading(2, "1 Introduction", 80.0),
                para(1, 100.0),
                para(2, 120.0),
                heading(2, "2 Results", 160.0),
                para(3, 180.0),
                table(8, 200.0),
                block(Kind::PageNumber, "1", 780.0),
            ],
            vec![
                para(4, 40.0),
                heading(3, "2.1 Countries", 80.0),
                para(5, 100.0),
            ],
        ])
    }

    #[test]
    fn block_is_the_structural_chunking() {
        let d = sample();
        assert_eq!(
            chunks(&d, Strategy::Block, 1500, 0),
            chunk::chunks(&d, 1500)
        );
    }

    #[test]
    fn by_title_gathers_each_section_over_pages_with_its_path() {
        let c = chunks(&sample(), Strategy::ByTitle, 1500, 0);
        let texts: Vec<&str> = c.iter().map(|c| c.text.as_str()).collect();
        // The titles stay with the first section; the table is a chunk of its own; the section
        // "2 Results" goes on over the page break after the table.
        assert!(
            texts[0].starts_with("Annual Report\n\n1 Introduction\n\nParagraph 1"),
            "{texts:?}"
        );
        assert_eq!(c[0].kind, Kind::Composite);
        assert_eq!(c[0].headings, vec!["Annual Report", "1 Introduction"]);
        assert!(
            texts[1].starts_with("2 Results\n\nParagraph 3"),
            "{texts:?}"
        );
        assert_eq!(c[2].kind, Kind::Table);
        assert!(!c[2].cells.is_empty());
        assert_eq!(
            c[3].text,
            "Paragraph 4 says something about the results of the year."
        );
        assert_eq!(
            (c[3].page, c[3].headings.last().map(String::as_str)),
            (2, Some("2 Results"))
        );
        assert!(texts[4].starts_with("2.1 Countries\n\nParagraph 5"));
        assert_eq!(
            c[4].headings,
            vec!["Annual Report", "2 Results", "2.1 Countries"]
        );
        // No page furniture; every chunk lists its blocks, ids as the block strategy gives them.
        assert!(c
            .iter()
            .all(|c| !c.text.contains("Quarterly Report") && !c.blocks.is_empty()));
        let ids: Vec<&str> = c[0].blocks.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["chunk_002", "chunk_003", "chunk_004"]);
        assert_eq!(
            c.iter()
                .map(|c| (c.id.as_str(), c.page, c.segment_index))
                .collect::<Vec<_>>(),
            [
                ("chunk_001", 1, 0),
                ("chunk_002", 1, 1),
                ("chunk_003", 1, 2),
                ("chunk_004", 2, 0),
                ("chunk_005", 2, 1)
            ]
        );
    }

    #[test]
    fn by_page_never_crosses_a_page() {
        let c = chunks(&sample(), Strategy::ByPage, 1500, 0);
        assert!(c
            .iter()
            .all(|c| c.pages.is_empty() && c.blocks.iter().all(|b| b.page == c.page)));
        let last = c.last().expect("chunks");
        assert_eq!(last.page, 2);
        assert!(last.text.starts_with("Paragraph 4") && last.text.contains("2.1 Countries"));
        assert_eq!(last.bbox, [72.0, 40.0, 500.0, 112.0]);
    }

    #[test]
    fn a_long_table_is_split_between_rows_with_its_header_in_every_part() {
        let d = doc(vec![vec![heading(1, "Data", 10.0), table(40, 40.0)]]);
        let c = chunks(&d, Strategy::ByTitle, 300, 50);
        let tables: Vec<&Chunk> = c.iter().filter(|c| c.kind == Kind::Table).collect();
        assert!(tables.len() > 2, "{}", tables.len());
        for t in &tables {
            assert!(t.text.starts_with("Head 0\tHead 1\n"), "{}", t.text);
            assert!(t.text.chars().count() <= 300);
            // Whole rows only, and no overlap glued to a table.
            assert!(t
                .text
                .lines()
                .skip(1)
                .all(|l| l.starts_with("row ") && l.ends_with("words")));
        }
    }

    #[test]
    fn size_and_overlap() {
        let paras: Vec<Block> = (0..20)
            .map(|i| {
                block(
                    Kind::Paragraph,
                    &format!("Sentence number {i} is here, with a few more words."),
                    i as f32 * 20.0,
                )
            })
            .collect();
        let c = chunks(&doc(vec![paras]), Strategy::ByTitle, 200, 30);
        assert!(c.len() > 3);
        for w in c.windows(2) {
            let (prev, next) = (&w[0], &w[1]);
            let body = next
                .text
                .split_once("Sentence")
                .map(|(overlap, _)| overlap.trim())
                .unwrap_or("");
            assert!(
                !body.is_empty() && prev.text.ends_with(body),
                "{:?} then {:?}",
                prev.text,
                next.text
            );
            assert!(body.chars().count() <= 30);
        }
        for c in &c {
            assert!(
                c.text.chars().count() <= 200 + 31,
                "{}",
                c.text.chars().count()
            );
        }
    }

    #[test]
    fn tails_start_at_a_word() {
        assert_eq!(tail("one two three", 7), "three");
        assert_eq!(tail("one two three", 9), "two three");
        assert_eq!(tail("one two three", 10), "two three");
        assert_eq!(tail("short", 10), "short");
        assert_eq!(tail("αβγ δεζ", 3), "δεζ");
        assert_eq!(tail("one twothree", 5), "");
    }
}
