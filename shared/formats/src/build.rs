//! The document model built block by block, as the readers walk a file: text cleaned the same
//! way for every format, lists with their nesting, tables placed on their grid from cells with
//! spans, pictures handed to the caller (who may read their text), pages opened as the format
//! has them (one flowing page for a text document, one per slide or sheet).

use horizon_layout::{BBox, Block, Cell, Document, Kind, Nesting, PageLayout, Source, Table, Unit};

/// A table may have at most this many grid cells (rows × columns); the rest is left out, with a
/// warning.
pub const MAX_CELLS: u64 = 2_000_000;
/// A cell spans at most this many columns or rows (HTML's own limits are 1000 and 65534).
const MAX_SPAN: u32 = 1000;

/// What a picture's bytes read as (the caller's OCR), or `None`.
pub type SeePicture<'a> = dyn FnMut(&[u8]) -> Option<String> + 'a;

pub struct Builder<'a> {
    pages: Vec<PageLayout>,
    see: &'a mut SeePicture<'a>,
    pub warnings: Vec<String>,
}

/// A cell as a format gives it, before it is placed on the table's grid.
#[derive(Debug, Clone, Default)]
pub struct CellIn {
    pub text: String,
    pub col_span: u32,
    pub row_span: u32,
    pub header: bool,
}

impl CellIn {
    pub fn new(text: String) -> CellIn {
        CellIn {
            text,
            col_span: 1,
            row_span: 1,
            header: false,
        }
    }
}

/// One item of a list as read: its depth, whether its level is numbered, its text.
#[derive(Debug, Clone)]
pub struct Item {
    pub depth: u8,
    pub ordered: bool,
    pub text: String,
}

impl<'a> Builder<'a> {
    pub fn new(see: &'a mut SeePicture<'a>) -> Builder<'a> {
        Builder {
            pages: Vec::new(),
            see,
            warnings: Vec::new(),
        }
    }

    /// Opens the next page: a slide or sheet, or (with no size) the single flowing page of a
    /// text document.
    pub fn page(&mut self, width: f32, height: f32) {
        self.pages.push(PageLayout {
            number: self.pages.len() as u32 + 1,
            width,
            height,
            unit: Unit::Points,
            source: Source::Text,
            blocks: Vec::new(),
            marks: Vec::new(),
        });
    }

    fn push(&mut self, block: Block) {
        if self.pages.is_empty() {
            self.page(0.0, 0.0);
        }
        if let Some(page) = self.pages.last_mut() {
            page.blocks.push(block);
        }
    }

    /// A block of `kind` (paragraph, caption, footnote, note, header, footer…) with `text`
    /// cleaned; nothing when it is blank.
    pub fn text(&mut self, kind: Kind, text: &str, bbox: BBox) {
        let text = clean(text);
        if text.is_empty() {
            return;
        }
        self.push(Block {
            bbox,
            ..Block::text_only(kind, text)
        });
    }

    pub fn heading(&mut self, level: u8, text: &str, bbox: BBox) {
        let text = clean(text);
        if text.is_empty() {
            return;
        }
        self.push(Block {
            level: Some(level.clamp(1, 6)),
            bbox,
            ..Block::text_only(Kind::Heading, text)
        });
    }

    /// Code, its lines and indentation kept.
    pub fn code(&mut self, text: &str) {
        let text = text.trim_matches('\n').trim_end();
        if text.trim().is_empty() {
            return;
        }
        self.push(Block::text_only(Kind::Code, text));
    }

    pub fn list(&mut self, items: Vec<Item>, bbox: BBox) {
        let items: Vec<Item> = items
            .into_iter()
            .map(|i| Item {
                text: clean(&i.text),
                ..i
            })
            .filter(|i| !i.text.is_empty())
            .collect();
        let Some(first) = items.first() else {
            return;
        };
        // Depths as found may skip levels (a first item at level 2): they are made to step by one.
        let mut depths: Vec<u8> = Vec::new();
        let mut nesting = Vec::new();
        let mut seen: Vec<u8> = Vec::new();
        for i in &items {
            while seen.last().is_some_and(|&d| d > i.depth) {
                seen.pop();
            }
            if seen.last() != Some(&i.depth) {
                seen.push(i.depth);
            }
            let depth = (seen.len() - 1) as u8;
            depths.push(depth);
            nesting.push(Nesting {
                depth,
                ordered: i.ordered,
            });
        }
        let ordered = first.ordered;
        let flat = nesting.iter().all(|n| n.depth == 0 && n.ordered == ordered);
        let text = items
            .iter()
            .zip(&depths)
            .map(|(i, &d)| format!("{}{}", "  ".repeat(d as usize), i.text))
            .collect::<Vec<_>>()
            .join("\n");
        self.push(Block {
            items: items.into_iter().map(|i| i.text).collect(),
            ordered,
            nesting: if flat { Vec::new() } else { nesting },
            bbox,
            ..Block::text_only(Kind::List, text)
        });
    }

    /// A table from its rows of cells, placed as HTML places them: a cell goes to the first
    /// grid position its row has free (rows above may span into it). `header_rows`: as the
    /// format marks them, else the leading rows of header cells, else the first row.
    pub fn table(&mut self, rows: Vec<Vec<CellIn>>, header_rows: Option<u32>, bbox: BBox) {
        if let Some(table) = self.place(rows, header_rows) {
            self.push(Block {
                table: Some(table.clone()),
                bbox,
                ..Block::text_only(Kind::Table, table.text())
            });
        }
    }

    fn place(&mut self, rows: Vec<Vec<CellIn>>, header_rows: Option<u32>) -> Option<Table> {
        let mut taken: Vec<Vec<bool>> = Vec::new();
        let mut cells: Vec<Cell> = Vec::new();
        let mut cols = 0u32;
        let mut cut = false;
        let total = rows.len() as u32;
        for (r, row) in rows.into_iter().enumerate() {
            let r = r as u32;
            let mut c = 0u32;
            for cell in row {
                let at = |taken: &Vec<Vec<bool>>, c: u32| {
                    taken
                        .get(r as usize)
                        .and_then(|row| row.get(c as usize))
                        .copied()
                        .unwrap_or(false)
                };
                while at(&taken, c) {
                    c += 1;
                }
                let col_span = cell.col_span.clamp(1, MAX_SPAN);
                let row_span = cell.row_span.clamp(1, MAX_SPAN).min(total - r);
                if u64::from(c + col_span) * u64::from(r + row_span) > MAX_CELLS {
                    cut = true;
                    break;
                }
                for rr in r..r + row_span {
                    let line = {
                        if taken.len() <= rr as usize {
                            taken.resize(rr as usize + 1, Vec::new());
                        }
                        &mut taken[rr as usize]
                    };
                    if line.len() < (c + col_span) as usize {
                        line.resize((c + col_span) as usize, false);
                    }
                    for slot in &mut line[c as usize..(c + col_span) as usize] {
                        *slot = true;
                    }
                }
                cells.push(Cell {
                    row: r,
                    col: c,
                    row_span,
                    col_span,
                    text: clean(&cell.text),
                    header: cell.header,
                    bbox: None,
                });
                c += col_span;
                cols = cols.max(c);
            }
        }
        if cut {
            self.warnings.push(format!(
                "a table larger than {MAX_CELLS} cells was cut to that size"
            ));
        }
        let rows = taken
            .len()
            .max(cells.iter().map(|c| c.row + 1).max().unwrap_or(0) as usize)
            as u32;
        if cells.iter().all(|c| c.text.is_empty()) || cols == 0 {
            return None;
        }
        let marked = (0..rows)
            .take_while(|&r| {
                let mut row = cells.iter().filter(|c| c.row == r).peekable();
                row.peek().is_some() && row.all(|c| c.header)
            })
            .count() as u32;
        let header_rows = header_rows
            .filter(|&n| n > 0)
            .unwrap_or(if marked > 0 {
                marked
            } else {
                u32::from(rows > 1)
            })
            .min(rows);
        for cell in &mut cells {
            cell.header = cell.row < header_rows;
        }
        Some(Table {
            rows,
            cols,
            header_rows,
            cells,
        })
    }

    /// A picture: its description (alt text) and what its pixels read as, as a figure; nothing
    /// when it has neither.
    pub fn figure(&mut self, description: &str, pixels: Option<&[u8]>, bbox: BBox) {
        let seen = pixels.and_then(|p| (self.see)(p)).unwrap_or_default();
        let text = [clean(description), clean(&seen)]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        if !text.is_empty() {
            self.push(Block {
                bbox,
                ..Block::text_only(Kind::Figure, text)
            });
        }
    }

    pub fn finish(self) -> (Document, Vec<String>) {
        let mut pages = self.pages;
        if pages.is_empty() {
            pages.push(PageLayout {
                number: 1,
                width: 0.0,
                height: 0.0,
                unit: Unit::Points,
                source: Source::Text,
                blocks: Vec::new(),
                marks: Vec::new(),
            });
        }
        let mut warnings: Vec<String> = Vec::new();
        for w in self.warnings {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        (Document { pages }, warnings)
    }
}

/// Text as users read it: runs of white space (line breaks, tabs, non-breaking spaces) as one
/// space, none at either end; control characters dropped.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if !c.is_control() && c != '\u{feff}' && c != '\u{ad}' {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(text: &str, col_span: u32, row_span: u32) -> CellIn {
        CellIn {
            text: text.into(),
            col_span,
            row_span,
            header: false,
        }
    }

    #[test]
    fn cells_with_spans_are_placed_on_the_grid() {
        let mut none = |_: &[u8]| None;
        let mut b = Builder::new(&mut none);
        b.table(
            vec![
                vec![cell("Region", 1, 2), cell("Sales", 2, 1)],
                vec![cell("Q1", 1, 1), cell("Q2", 1, 1)],
                vec![cell("North", 1, 1), cell("10", 1, 1), cell("12", 1, 1)],
            ],
            Some(2),
            [0.0; 4],
        );
        let (doc, _) = b.finish();
        let t = doc.pages[0].blocks[0].table.clone().unwrap();
        assert_eq!((t.rows, t.cols, t.header_rows), (3, 3, 2));
        let at = |r, c| {
            t.cells
                .iter()
                .find(|x| x.row == r && x.col == c)
                .map(|x| (x.text.as_str(), x.row_span, x.col_span))
        };
        assert_eq!(at(0, 0), Some(("Region", 2, 1)));
        assert_eq!(at(0, 1), Some(("Sales", 1, 2)));
        assert_eq!(at(1, 1), Some(("Q1", 1, 1)));
        assert_eq!(at(2, 2), Some(("12", 1, 1)));
    }

    #[test]
    fn list_depths_step_by_one_and_text_is_cleaned() {
        let mut none = |_: &[u8]| None;
        let mut b = Builder::new(&mut none);
        let item = |depth, text: &str| Item {
            depth,
            ordered: false,
            text: text.into(),
        };
        b.list(
            vec![item(0, " a\n b "), item(3, "deep"), item(0, "c")],
            [0.0; 4],
        );
        let (doc, _) = b.finish();
        let l = &doc.pages[0].blocks[0];
        assert_eq!(l.text, "a b\n  deep\nc");
        assert_eq!(
            l.nesting.iter().map(|n| n.depth).collect::<Vec<_>>(),
            [0, 1, 0]
        );
    }
}
