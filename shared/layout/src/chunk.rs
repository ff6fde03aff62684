//! Chunks that follow the structure: a heading starts a chunk; consecutive paragraphs of one
//! section on one page share a chunk while they fit; a list or a table is a chunk of its own,
//! split between items or between rows when it is too long (a table's header rows repeated in
//! every part), never inside a row; captions, page headers, footers and numbers are chunks of
//! their own, typed as such. Each chunk knows the headings of the section it sits in.

use serde::{Deserialize, Serialize};

use crate::geom;
use crate::markdown;
use crate::model::{BBox, Block, Document, Kind, Mark, Source, Table};
use crate::text::chunk_text;

/// A chunk as the chunker builds it: its table and marks as the layout has them, its boxes in
/// the page's unit as measured. [`Chunk`] is what it gives out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Piece {
    /// `chunk_001`, `chunk_002`, ... in reading order.
    pub id: String,
    pub text: String,
    /// 1-based.
    pub page: u32,
    /// From 0 within the page.
    pub segment_index: u32,
    pub kind: Kind,
    pub markdown: String,
    pub bbox: BBox,
    pub source: Source,
    pub confidence: Option<f32>,
    /// The headings of the sections the chunk sits in, outermost first.
    pub headings: Vec<String>,
    /// Headings: their level.
    pub level: Option<u8>,
    /// Tables: the rows of this chunk, with the header rows.
    pub table: Option<Table>,
    /// A table that continues over page breaks: the pages it spans (else empty).
    pub pages: Vec<u32>,
    /// The check boxes and radio buttons in its text, in order.
    pub marks: Vec<Mark>,
}

/// The chunks of a document, each at most `max_chars` characters long unless a single table
/// row or word is longer.
pub fn chunks(doc: &Document, max_chars: usize) -> Vec<Chunk> {
    pieces(doc, max_chars)
        .into_iter()
        .map(Chunk::from)
        .collect()
}

/// The chunks of a document as the chunker builds them (see [`chunks`]).
pub(crate) fn pieces(doc: &Document, max_chars: usize) -> Vec<Piece> {
    let max_chars = max_chars.max(1);
    let mut out: Vec<Piece> = Vec::new();
    let mut path: Vec<(u8, String)> = Vec::new();
    for page in &doc.pages {
        let mut segment = 0u32;
        let mut push = |out: &mut Vec<Piece>, mut c: Piece| {
            c.id = format!("chunk_{:03}", out.len() + 1);
            c.segment_index = segment;
            segment += 1;
            out.push(c);
        };
        let mut pending: Vec<&Block> = Vec::new(); // paragraphs waiting to be packed
        let headings =
            |path: &Vec<(u8, String)>| path.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>();
        for b in &page.blocks {
            if b.kind != Kind::Paragraph {
                for c in pack(
                    &pending,
                    page.number,
                    page.source,
                    &headings(&path),
                    max_chars,
                ) {
                    push(&mut out, c);
                }
                pending.clear();
            }
            let base = Piece {
                id: String::new(),
                text: b.text.clone(),
                page: page.number,
                segment_index: 0,
                kind: b.kind,
                markdown: markdown::block(b),
                bbox: b.bbox,
                source: page.source,
                confidence: b.confidence,
                headings: headings(&path),
                level: b.level,
                table: None,
                pages: b.pages.clone(),
                marks: Vec::new(),
            };
            match b.kind {
                Kind::Paragraph => pending.push(b),
                Kind::Heading => {
                    let level = b.level.unwrap_or(6);
                    while path.last().is_some_and(|(l, _)| *l >= level) {
                        path.pop();
                    }
                    let base = Piece {
                        headings: headings(&path),
                        ..base
                    };
                    for piece in split_text(&base, b, max_chars) {
                        push(&mut out, piece);
                    }
                    path.push((level, b.text.clone()));
                }
                Kind::Table => {
                    for piece in split_table(&base, b.table.as_ref(), max_chars) {
                        push(&mut out, piece);
                    }
                }
                Kind::List => {
                    for piece in split_list(&base, b, max_chars) {
                        push(&mut out, piece);
                    }
                }
                _ => {
                    for piece in split_text(&base, b, max_chars) {
                        push(&mut out, piece);
                    }
                }
            }
        }
        for c in pack(
            &pending,
            page.number,
            page.source,
            &headings(&path),
            max_chars,
        ) {
            push(&mut out, c);
        }
        let first = out
            .iter()
            .position(|c| c.page == page.number)
            .unwrap_or(out.len());
        give_marks(&mut out[first..], &page.marks);
    }
    out
}

/// Each of a page's chunks takes as many of the page's marks as its text has, the first ones
/// inside its box not yet taken.
fn give_marks(chunks: &mut [Piece], marks: &[Mark]) {
    if marks.is_empty() {
        return;
    }
    let mut taken = vec![false; marks.len()];
    for c in chunks {
        let mut wanted = crate::marks::count(&c.text);
        for (mark, taken) in marks.iter().zip(taken.iter_mut()) {
            if wanted == 0 {
                break;
            }
            let (x, y) = geom::center(&mark.bbox);
            if !*taken && geom::contains(&c.bbox, x, y, 1.0) {
                *taken = true;
                wanted -= 1;
                c.marks.push(*mark);
            }
        }
    }
}

/// Consecutive paragraphs, packed into chunks while they fit; a paragraph too long for one is
/// split at sentences, then words.
fn pack(
    paragraphs: &[&Block],
    page: u32,
    source: Source,
    headings: &[String],
    max_chars: usize,
) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut group: Vec<(String, BBox, Option<f32>)> = Vec::new();
    let flush = |group: &mut Vec<(String, BBox, Option<f32>)>, out: &mut Vec<Piece>| {
        if group.is_empty() {
            return;
        }
        let texts: Vec<&str> = group.iter().map(|g| g.0.as_str()).collect();
        let text = texts.join("\n\n");
        let confidences: Vec<f32> = group.iter().filter_map(|g| g.2).collect();
        out.push(Piece {
            id: String::new(),
            markdown: texts
                .iter()
                .map(|t| markdown::block(&Block::text_only(Kind::Paragraph, *t)))
                .collect::<Vec<_>>()
                .join("\n\n"),
            text,
            page,
            segment_index: 0,
            kind: Kind::Paragraph,
            bbox: geom::union_all(group.iter().map(|g| &g.1)).unwrap_or_default(),
            source,
            confidence: (!confidences.is_empty())
                .then(|| confidences.iter().sum::<f32>() / confidences.len() as f32),
            headings: headings.to_vec(),
            level: None,
            table: None,
            pages: Vec::new(),
            marks: Vec::new(),
        });
        group.clear();
    };
    for b in paragraphs {
        for piece in chunk_text(&b.text, max_chars) {
            let len: usize = group.iter().map(|g| g.0.chars().count() + 2).sum::<usize>()
                + piece.chars().count();
            if !group.is_empty() && len > max_chars {
                flush(&mut group, &mut out);
            }
            group.push((piece, b.bbox, b.confidence));
        }
    }
    flush(&mut group, &mut out);
    out
}

/// A block's text in pieces that fit.
/// A block's text in pieces that fit, each rendered as the block is (a heading, a comment, ...);
/// code keeps its lines.
fn split_text(base: &Piece, b: &Block, max_chars: usize) -> Vec<Piece> {
    if base.text.chars().count() <= max_chars {
        return vec![base.clone()];
    }
    let pieces = if b.kind == Kind::Code {
        let mut pieces: Vec<String> = Vec::new();
        for line in b.text.split('\n') {
            match pieces.last_mut() {
                Some(p) if p.chars().count() + 1 + line.chars().count() <= max_chars => {
                    p.push('\n');
                    p.push_str(line);
                }
                _ => pieces.extend(
                    chunk_text(line, max_chars)
                        .into_iter()
                        .chain(line.is_empty().then(String::new)),
                ),
            }
        }
        pieces
    } else {
        chunk_text(&base.text, max_chars)
    };
    pieces
        .into_iter()
        .map(|text| Piece {
            markdown: markdown::block(&Block {
                text: text.clone(),
                ..b.clone()
            }),
            text,
            ..base.clone()
        })
        .collect()
}

/// A list in runs of whole items that fit (an item too long on its own is split by sentences).
fn split_list(base: &Piece, b: &Block, max_chars: usize) -> Vec<Piece> {
    if base.text.chars().count() <= max_chars {
        return vec![base.clone()];
    }
    let lines: Vec<&str> = b.text.split('\n').collect();
    let mut out = Vec::new();
    let mut start = 0;
    while start < b.items.len() {
        let mut end = start;
        let mut len = 0;
        while end < b.items.len() {
            let add = lines.get(end).map_or(0, |l| l.chars().count()) + 1;
            if end > start && len + add > max_chars {
                break;
            }
            len += add;
            end += 1;
        }
        let text = lines[start.min(lines.len())..end.min(lines.len())].join("\n");
        if end == start + 1 && text.chars().count() > max_chars {
            // One item too long on its own: its text (without its marker) in pieces.
            for piece in chunk_text(&b.items[start], max_chars) {
                out.push(Piece {
                    markdown: markdown::list(std::slice::from_ref(&piece), b.ordered, start + 1),
                    text: piece,
                    ..base.clone()
                });
            }
        } else {
            out.push(Piece {
                markdown: markdown::list_of(b, start, end),
                text,
                ..base.clone()
            });
        }
        start = end;
    }
    out
}

/// A table in runs of whole rows that fit, each with the table's header rows.
fn split_table(base: &Piece, table: Option<&Table>, max_chars: usize) -> Vec<Piece> {
    let Some(table) = table else {
        return vec![base.clone()];
    };
    let whole = Piece {
        table: Some(table.clone()),
        ..base.clone()
    };
    if base.text.chars().count() <= max_chars || table.rows <= table.header_rows + 1 {
        return vec![whole];
    }
    let grid = table.grid();
    let row_len = |r: u32| {
        grid[r as usize]
            .iter()
            .map(|c| c.chars().count() + 1)
            .sum::<usize>()
    };
    let header: usize = (0..table.header_rows).map(row_len).sum();
    let mut out = Vec::new();
    let mut from = table.header_rows;
    while from < table.rows {
        let mut to = from;
        let mut len = header;
        while to < table.rows && (to == from || len + row_len(to) <= max_chars) {
            len += row_len(to);
            to += 1;
        }
        // Keep cells that span rows whole.
        while to < table.rows
            && table
                .cells
                .iter()
                .any(|c| c.row < to && c.row + c.row_span > to)
        {
            to += 1;
        }
        let part = table.slice(from, to);
        out.push(Piece {
            text: part.text(),
            markdown: markdown::table(&part),
            table: Some(part),
            ..base.clone()
        });
        from = to;
    }
    out
}

/// One piece of the document: a heading, paragraphs of one section, a list, a table, a caption,
/// a page header, footer or number, as the API gives it and a job's result keeps it. `page` is 1-based; `segmentIndex` counts from 0 within a
/// page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chunk {
    pub id: String,
    /// Plain text. A table's rows are lines with tab-separated cells; a list's items are lines.
    pub text: String,
    pub page: u32,
    pub segment_index: u32,
    /// `heading`, `paragraph`, `list`, `table`, `caption`, `code`, `header`, `footer`,
    /// `page_number`, `figure` (the words inside a chart or diagram, or a picture's description
    /// and text), `formula` (a display equation, as its characters read), `footnote`, `note` (a
    /// slide's speaker notes), `composite` (blocks of several types gathered by
    /// `options.chunking`).
    #[serde(rename = "type", default)]
    pub kind: Kind,
    /// The chunk as Markdown (headings with `#`, tables as pipe tables).
    #[serde(default)]
    pub markdown: String,
    /// `[x0, y0, x1, y1]`, origin top-left: page points for PDFs and slides, pixels for images;
    /// zero for documents without pages (DOCX, ODT, HTML, EPUB, Markdown, a sheet's blocks).
    #[serde(default)]
    pub bbox: [f64; 4],
    /// `text` (the file's own text: a PDF's text layer, an Office or web document's) or `ocr`.
    #[serde(default)]
    pub source: Source,
    /// OCR only: the mean recognition confidence of its characters, 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// The headings of the sections it sits in, outermost first.
    #[serde(default)]
    pub headings: Vec<String>,
    /// Headings: 1 (top) to 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    /// Tables: the cells, rows and columns from 0 (the header rows repeated in every chunk of a
    /// long table).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<TableCell>,
    /// A table that continues over page breaks: the pages it spans, `page` first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<u32>,
    /// The check boxes and radio buttons in `text` (written there as ☐, and ☒ or ☑ when
    /// selected; `[ ]` and `[x]` in `markdown`), in the same order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selection_marks: Vec<SelectionMark>,
    /// A chunk gathered for retrieval (`by_title`, `by_page`): the blocks it holds, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<BlockRef>,
}

/// One block of a gathered chunk: its id as the `block` strategy gives it (`chunk_007`), its
/// type, page and box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockRef {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub page: u32,
    pub bbox: [f64; 4],
}

/// A check box or radio button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelectionMark {
    pub state: SelectionState,
    /// `[x0, y0, x1, y1]` on the page, as the chunk's `bbox`.
    pub bbox: [f64; 4],
}

/// Whether a check box is ticked or a radio button chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SelectionState {
    Selected,
    Unselected,
}

/// A table cell: a cell spanning several rows or columns is given once, at its first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableCell {
    pub row: u32,
    pub col: u32,
    pub row_span: u32,
    pub col_span: u32,
    pub text: String,
    /// Whether it belongs to the table's header rows.
    pub header: bool,
    /// `[x0, y0, x1, y1]` on the page, as the chunk's `bbox`, when the cell's place is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f64; 4]>,
}

impl From<Piece> for Chunk {
    fn from(c: Piece) -> Chunk {
        Chunk {
            id: c.id,
            text: c.text,
            page: c.page,
            segment_index: c.segment_index,
            kind: c.kind,
            markdown: c.markdown,
            bbox: hundredths(c.bbox),
            source: c.source,
            confidence: c.confidence.map(|v| (v as f64 * 1000.0).round() / 1000.0),
            headings: c.headings,
            level: c.level,
            cells: c
                .table
                .map(|t| {
                    t.cells
                        .into_iter()
                        .map(|cell| TableCell {
                            row: cell.row,
                            col: cell.col,
                            row_span: cell.row_span,
                            col_span: cell.col_span,
                            text: cell.text,
                            header: cell.header,
                            bbox: cell.bbox.map(hundredths),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            pages: c.pages,
            selection_marks: c
                .marks
                .into_iter()
                .map(|m| SelectionMark {
                    state: if m.selected {
                        SelectionState::Selected
                    } else {
                        SelectionState::Unselected
                    },
                    bbox: hundredths(m.bbox),
                })
                .collect(),
            blocks: Vec::new(),
        }
    }
}

/// A box in the page's unit, to a hundredth.
fn hundredths(b: BBox) -> [f64; 4] {
    b.map(|v| (v as f64 * 100.0).round() / 100.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Cell, PageLayout, Unit};

    pub(crate) fn block(kind: Kind, text: &str) -> Block {
        Block {
            kind,
            text: text.into(),
            bbox: [0.0, 0.0, 10.0, 10.0],
            level: None,
            items: Vec::new(),
            ordered: false,
            nesting: Vec::new(),
            table: None,
            confidence: None,
            pages: Vec::new(),
        }
    }

    pub(crate) fn heading(level: u8, text: &str) -> Block {
        Block {
            level: Some(level),
            ..block(Kind::Heading, text)
        }
    }

    pub(crate) fn doc(pages: Vec<Vec<Block>>) -> Document {
        Document {
            pages: pages
                .into_iter()
                .enumerate()
                .map(|(i, blocks)| PageLayout {
                    number: i as u32 + 1,
                    width: 612.0,
                    height: 792.0,
                    unit: Unit::Points,
                    source: Source::Text,
                    blocks,
                    marks: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn headings_start_chunks_and_give_the_path() {
        let d = doc(vec![
            vec![
                heading(1, "Report"),
                heading(2, "1 Intro"),
                block(Kind::Paragraph, "One."),
                block(Kind::Paragraph, "Two."),
            ],
            vec![
                heading(2, "2 Results"),
                heading(3, "2.1 Countries"),
                block(Kind::Paragraph, "Three."),
                block(Kind::Footer, "Page 2"),
            ],
        ]);
        let c = chunks(&d, 1000);
        let summary: Vec<(&str, Kind, u32, u32, Vec<String>)> = c
            .iter()
            .map(|c| {
                (
                    c.text.as_str(),
                    c.kind,
                    c.page,
                    c.segment_index,
                    c.headings.clone(),
                )
            })
            .collect();
        assert_eq!(summary[0], ("Report", Kind::Heading, 1, 0, vec![]));
        assert_eq!(
            summary[1],
            ("1 Intro", Kind::Heading, 1, 1, vec!["Report".to_string()])
        );
        assert_eq!(
            summary[2],
            (
                "One.\n\nTwo.",
                Kind::Paragraph,
                1,
                2,
                vec!["Report".to_string(), "1 Intro".to_string()]
            )
        );
        assert_eq!(summary[3].4, vec!["Report".to_string()]);
        assert_eq!(summary[5].0, "Three.");
        assert_eq!(
            summary[5].4,
            vec![
                "Report".to_string(),
                "2 Results".to_string(),
                "2.1 Countries".to_string()
            ]
        );
        assert_eq!((summary[6].1, summary[6].3), (Kind::Footer, 3));
        assert_eq!(
            c.iter().map(|c| c.id.as_str()).collect::<Vec<_>>()[..3],
            ["chunk_001", "chunk_002", "chunk_003"]
        );
    }

    #[test]
    fn a_long_table_is_split_between_rows_with_its_header_repeated() {
        let mut cells = vec![Cell {
            row: 0,
            col: 0,
            row_span: 1,
            col_span: 1,
            text: "Name".into(),
            header: true,
            bbox: None,
        }];
        for r in 1..=20 {
            cells.push(Cell {
                row: r,
                col: 0,
                row_span: 1,
                col_span: 1,
                text: format!("Row number {r:02}"),
                header: false,
                bbox: None,
            });
        }
        let table = Table {
            rows: 21,
            cols: 1,
            header_rows: 1,
            cells,
        };
        let mut b = block(Kind::Table, &table.text());
        b.table = Some(table);
        let c = chunks(&doc(vec![vec![b]]), 100);
        assert!(c.len() > 2);
        for part in &c {
            assert!(part.text.starts_with("Name\n"), "{}", part.text);
            assert!(
                part.markdown.starts_with("| Name |\n| --- |"),
                "{}",
                part.markdown
            );
            assert!(part.text.chars().count() <= 100);
            assert_eq!(part.kind, Kind::Table);
        }
        let rows: usize = c
            .iter()
            .map(|p| p.cells.iter().map(|c| c.row).max().unwrap() as usize)
            .sum();
        assert_eq!(rows, 20, "every row once");
    }

    #[test]
    fn long_paragraphs_split_at_sentences() {
        let text = "A sentence of some length here. ".repeat(10);
        let c = chunks(&doc(vec![vec![block(Kind::Paragraph, text.trim())]]), 70);
        assert!(c.len() >= 4);
        assert!(c
            .iter()
            .all(|c| c.text.chars().count() <= 70 && c.text.ends_with('.')));
    }
}
