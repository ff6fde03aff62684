//! What goes in (words and ruling lines of a page) and what comes out (typed blocks).

use serde::{Deserialize, Serialize};

/// A rectangle `[x0, y0, x1, y1]`, origin top-left, y growing downwards: page points for PDFs,
/// pixels for images.
pub type BBox = [f32; 4];

/// Where a page's words came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The PDF's own text layer.
    #[default]
    Text,
    /// Optical character recognition of the page's pixels.
    Ocr,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Text => "text",
            Source::Ocr => "ocr",
        }
    }
}

/// The unit of a page's coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    #[default]
    Points,
    Pixels,
}

/// A word as the page gives it. `size` is the font size (or, from OCR, the height of the text)
/// in the page's unit: the layout's distances are measured in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    pub bbox: BBox,
    pub size: f32,
    #[serde(default)]
    pub bold: bool,
    #[serde(default)]
    pub italic: bool,
    #[serde(default)]
    pub mono: bool,
    /// Recognition confidence, 0–1 (OCR only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// The word ends a run of text in the source (a line as the PDF or the OCR engine saw it):
    /// the next word does not continue it on the same line.
    #[serde(default)]
    pub line_end: bool,
}

/// One page as read: its words in the source's order, and the straight lines drawn on it
/// (table rules), as thin rectangles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PageInput {
    pub number: u32,
    pub width: f32,
    pub height: f32,
    pub unit: Unit,
    pub source: Source,
    pub words: Vec<Word>,
    #[serde(default)]
    pub rules: Vec<BBox>,
    /// Regions drawn as figures (pictures, charts): short text inside them is the figure's.
    #[serde(default)]
    pub figures: Vec<BBox>,
    /// Regions a learned layout model found in the page's pixels (none when it did not run).
    #[serde(default)]
    pub regions: Vec<Region>,
}

/// What a layout model says a region of a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionKind {
    Text,
    Title,
    Figure,
    FigureCaption,
    Table,
    TableCaption,
    /// A running head, or anything else set in the top margin apart from the text.
    Header,
    Footer,
    Reference,
    Equation,
}

/// A region of a page as a layout model found it, in the page's unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub kind: RegionKind,
    pub bbox: BBox,
    /// The model's confidence, 0–1.
    pub score: f32,
    /// For a table: its structure as a table-structure model read it from the pixels (rows,
    /// columns, spans, header rows and each cell's box; the texts are empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<Table>,
}

/// A check box or radio button as found on a page (see [`crate::marks`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    pub selected: bool,
    pub bbox: BBox,
}

/// What a block is: a chunk's `type` in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Heading,
    #[default]
    Paragraph,
    List,
    Table,
    Caption,
    Code,
    /// A running header at the top of the page (repeated on other pages).
    Header,
    /// A running footer at the bottom of the page.
    Footer,
    PageNumber,
    /// Text inside a figure: axis labels, legends, the words of a diagram.
    Figure,
    /// A formula set apart from the text (a display equation), as its characters read.
    Formula,
    /// A footnote or endnote of a document that has them as such (Office, ODT, Markdown).
    Footnote,
    /// A slide's speaker notes.
    Note,
    /// Several blocks gathered into one chunk for retrieval ([`crate::retrieval`]); never a
    /// block of a page.
    Composite,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Heading => "heading",
            Kind::Paragraph => "paragraph",
            Kind::List => "list",
            Kind::Table => "table",
            Kind::Caption => "caption",
            Kind::Code => "code",
            Kind::Header => "header",
            Kind::Footer => "footer",
            Kind::PageNumber => "page_number",
            Kind::Figure => "figure",
            Kind::Formula => "formula",
            Kind::Footnote => "footnote",
            Kind::Note => "note",
            Kind::Composite => "composite",
        }
    }

    /// Page furniture: repeated on pages, not part of the running text.
    pub fn is_furniture(self) -> bool {
        matches!(self, Kind::Header | Kind::Footer | Kind::PageNumber)
    }
}

/// One cell of a table; rows and columns from 0. A cell spanning several grid cells is given
/// once, at its top-left grid cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    pub row: u32,
    pub col: u32,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub row_span: u32,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub col_span: u32,
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub header: bool,
    /// Where the cell is on the page, when it is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<BBox>,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// A table: its grid's size and its cells, row by row. The first `header_rows` rows are the
/// header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    pub rows: u32,
    pub cols: u32,
    pub header_rows: u32,
    pub cells: Vec<Cell>,
}

impl Table {
    /// The text of each grid cell, row by row (a spanning cell's text in its first grid cell,
    /// the others empty).
    pub fn grid(&self) -> Vec<Vec<String>> {
        let mut grid = vec![vec![String::new(); self.cols as usize]; self.rows as usize];
        for c in &self.cells {
            if let Some(slot) = grid
                .get_mut(c.row as usize)
                .and_then(|r| r.get_mut(c.col as usize))
            {
                *slot = c.text.clone();
            }
        }
        grid
    }

    /// The table as text: its rows, one per line, cells separated by tabs.
    pub fn text(&self) -> String {
        self.grid()
            .iter()
            .map(|r| r.join("\t"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The rows `from..to` as a table of their own, with this table's header rows first.
    pub fn slice(&self, from: u32, to: u32) -> Table {
        let keep = |r: u32| r < self.header_rows || (r >= from && r < to);
        let renumber = |r: u32| {
            if r < self.header_rows {
                r
            } else {
                r - from + self.header_rows
            }
        };
        let cells = self
            .cells
            .iter()
            .filter(|c| keep(c.row))
            .map(|c| Cell {
                row: renumber(c.row),
                row_span: c.row_span.min(if c.row < self.header_rows {
                    self.header_rows - c.row
                } else {
                    to - c.row
                }),
                ..c.clone()
            })
            .collect();
        Table {
            rows: self.header_rows + (to - from),
            cols: self.cols,
            header_rows: self.header_rows,
            cells,
        }
    }
}

/// A block of a page: a heading, a paragraph, a list, a table, ... with its text as users read
/// it (normalised, words broken across lines joined). A table's `text` is its rows, one per
/// line, cells separated by tabs; a list's is its items, one per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    pub kind: Kind,
    pub text: String,
    pub bbox: BBox,
    /// Headings: 1 (the document's title or top level) to 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    /// Lists: the items, and whether they are numbered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ordered: bool,
    /// A nested list: each item's depth (0 at the top) and whether its own level is numbered.
    /// Empty for a flat list (every item at the top, numbered as `ordered` says).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nesting: Vec<Nesting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<Table>,
    /// Mean recognition confidence of the block's words (OCR only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// A table that continues over page breaks: the pages it spans, its first page first (its
    /// box is on the first). Empty for a block on one page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<u32>,
}

impl Block {
    /// A block of `kind` with only its text: no box, level, items or table.
    pub fn text_only(kind: Kind, text: impl Into<String>) -> Block {
        Block {
            kind,
            text: text.into(),
            bbox: [0.0; 4],
            level: None,
            items: Vec::new(),
            ordered: false,
            nesting: Vec::new(),
            table: None,
            confidence: None,
            pages: Vec::new(),
        }
    }
}

/// Where an item of a nested list sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nesting {
    pub depth: u8,
    pub ordered: bool,
}

/// A page as analysed: its blocks in reading order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageLayout {
    pub number: u32,
    pub width: f32,
    pub height: f32,
    pub unit: Unit,
    pub source: Source,
    pub blocks: Vec<Block>,
    /// The page's check boxes and radio buttons, in reading order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<Mark>,
}

/// A whole document as analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Document {
    pub pages: Vec<PageLayout>,
}

impl Document {
    /// The running text of the document: every block's text in reading order but page
    /// furniture and the text inside figures, pages apart by a blank line.
    pub fn text(&self) -> String {
        self.pages
            .iter()
            .map(|p| {
                p.blocks
                    .iter()
                    .filter(|b| b.kind != Kind::Figure && !b.kind.is_furniture())
                    .map(|b| b.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}
