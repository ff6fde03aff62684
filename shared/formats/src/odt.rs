//! OpenDocument text (ODT): `text:h` headings at their outline level, paragraphs (a `Title`
//! style is the top heading, `Caption` and the like captions, preformatted styles code),
//! `text:list` lists with their nesting (numbered where the list style's level is), tables
//! with spans and header rows, frames' pictures as figures and their text boxes' text,
//! footnotes and endnotes at the end, cited as `[n]`.

use std::collections::HashMap;

use horizon_layout::{Document, Kind};

use crate::build::{Builder, CellIn, Item};
use crate::package::Package;
use crate::xml::{El, Node};
use crate::{Error, SeePicture};

const NO_BOX: [f32; 4] = [0.0; 4];
const MAX_PICTURE: u64 = 64 << 20;
/// A cell or row repeated more often than this (ODF writes the rest of a sheet so) counts once.
const MAX_REPEAT: u32 = 100;

#[derive(Default)]
struct Styles {
    /// Paragraph styles: name → (display name, lower case; parent).
    paragraph: HashMap<String, (String, Option<String>)>,
    /// List styles: name → for each level (0-based), whether it is numbered.
    lists: HashMap<String, Vec<bool>>,
}

impl Styles {
    fn add(&mut self, root: &El) {
        for group in root
            .elements()
            .filter(|e| e.name == "styles" || e.name == "automatic-styles")
        {
            for s in group.elements() {
                let Some(name) = s.attr("style:name").or_else(|| s.attr("name")) else {
                    continue;
                };
                match s.name.as_str() {
                    "style" => {
                        let display = s
                            .attr("display-name")
                            .map(str::to_owned)
                            .unwrap_or_else(|| name.replace("_20_", " "));
                        self.paragraph.insert(
                            name.to_owned(),
                            (
                                display.to_ascii_lowercase(),
                                s.attr("parent-style-name").map(str::to_owned),
                            ),
                        );
                    }
                    "list-style" => {
                        let mut levels = vec![false; 10];
                        for l in s.elements() {
                            let level = l
                                .attr("level")
                                .and_then(|v| v.parse::<usize>().ok())
                                .unwrap_or(1);
                            if let Some(slot) = levels.get_mut(level.saturating_sub(1)) {
                                *slot = l.name == "list-level-style-number";
                            }
                        }
                        self.lists.insert(name.to_owned(), levels);
                    }
                    _ => {}
                }
            }
        }
    }

    /// The display names of a paragraph style and those it inherits from.
    fn names(&self, style: Option<&str>) -> Vec<&str> {
        let mut out = Vec::new();
        let mut at = style;
        while let Some((display, parent)) = at.and_then(|s| self.paragraph.get(s)) {
            if out.len() > 20 {
                break;
            }
            out.push(display.as_str());
            at = parent.as_deref();
        }
        out
    }
}

struct Reader<'p, 'b> {
    pkg: &'p Package<'p>,
    styles: Styles,
    b: Builder<'b>,
    notes: Vec<String>,
}

pub fn read(bytes: &[u8], see: &mut SeePicture<'_>) -> Result<(Document, Vec<String>), Error> {
    let pkg = Package::open(bytes)?;
    let content = pkg.required_xml("content.xml")?;
    let mut styles = Styles::default();
    if let Some(root) = pkg.xml("styles.xml")? {
        styles.add(&root);
    }
    styles.add(&content);
    let text = content
        .child("body")
        .and_then(|b| b.child("text"))
        .ok_or_else(|| {
            Error::Malformed("content.xml has no text body (not a text document)".into())
        })?;
    let mut r = Reader {
        pkg: &pkg,
        styles,
        b: Builder::new(see),
        notes: Vec::new(),
    };
    r.blocks(text)?;
    for note in std::mem::take(&mut r.notes) {
        r.b.text(Kind::Footnote, &note, NO_BOX);
    }
    Ok(r.b.finish())
}

impl Reader<'_, '_> {
    fn blocks(&mut self, parent: &El) -> Result<(), Error> {
        for e in parent.elements() {
            match e.name.as_str() {
                "h" => {
                    let level = e
                        .attr("outline-level")
                        .and_then(|v| v.parse::<u8>().ok())
                        .unwrap_or(1);
                    let text = self.inline(e)?;
                    self.b.heading(level, &text, NO_BOX);
                    self.frames(e)?;
                }
                "p" => self.paragraph(e)?,
                "list" => {
                    let mut items = Vec::new();
                    let style = e.attr("style-name").map(str::to_owned);
                    self.list(e, 0, style.as_deref(), &mut items)?;
                    self.b.list(items, NO_BOX);
                }
                "table" => self.table(e)?,
                "section" | "index-body" | "table-of-content" | "alphabetical-index"
                | "illustration-index" | "table-index" | "bibliography" | "user-index"
                | "object-index" | "change" => self.blocks(e)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn paragraph(&mut self, p: &El) -> Result<(), Error> {
        let text = self.inline(p)?;
        let names = self.styles.names(p.attr("style-name"));
        let is = |n: &str| names.contains(&n);
        if is("title") {
            self.b.heading(1, &text, NO_BOX);
        } else if is("caption")
            || is("figure")
            || is("illustration")
            || is("drawing")
            || (is("table") && !text.is_empty() && names.first() != Some(&"table contents"))
        {
            self.b.text(Kind::Caption, &text, NO_BOX);
        } else if names
            .iter()
            .any(|n| n.contains("preformatted") || n.contains("source text"))
        {
            self.b.code(&text);
        } else {
            self.b.text(Kind::Paragraph, &text, NO_BOX);
        }
        self.frames(p)
    }

    /// A paragraph's text: spans, links, spaces (`text:s`), tabs, line breaks; notes cited as
    /// `[n]` (their bodies kept for the end).
    fn inline(&mut self, el: &El) -> Result<String, Error> {
        let mut out = String::new();
        let mut stack: Vec<&Node> = el.children.iter().rev().collect();
        while let Some(n) = stack.pop() {
            let e = match n {
                Node::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Node::El(e) => e,
            };
            match e.name.as_str() {
                "s" => {
                    let c = e
                        .attr("c")
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(1)
                        .min(100);
                    out.push_str(&" ".repeat(c));
                }
                "tab" => out.push('\t'),
                "line-break" => out.push('\n'),
                "note" => {
                    let body = e.child("note-body").map(|b| {
                        b.find_all("p")
                            .iter()
                            .map(|p| p.text())
                            .collect::<Vec<_>>()
                            .join(" ")
                    });
                    self.notes.push(format!(
                        "[{}] {}",
                        self.notes.len() + 1,
                        body.unwrap_or_default()
                    ));
                    out.push_str(&format!("[{}]", self.notes.len()));
                }
                "frame" | "annotation" | "annotation-end" | "bookmark" | "soft-page-break"
                | "tracked-changes" => {}
                _ => stack.extend(e.children.iter().rev()),
            }
        }
        Ok(out)
    }

    /// The pictures and text boxes of frames anchored in a paragraph.
    fn frames(&mut self, p: &El) -> Result<(), Error> {
        for frame in p.find_all("frame") {
            let described = [frame.child("desc"), frame.child("title")]
                .into_iter()
                .flatten()
                .map(|d| d.text())
                .find(|t| !t.trim().is_empty())
                .unwrap_or_default();
            if let Some(image) = frame.child("image") {
                let bytes = image
                    .attr("xlink:href")
                    .or_else(|| image.attr("href"))
                    .filter(|h| !h.contains(':'))
                    .and_then(|h| {
                        self.pkg
                            .read_at_most(h.trim_start_matches("./"), MAX_PICTURE)
                            .ok()
                            .flatten()
                    });
                self.b.figure(&described, bytes.as_deref(), NO_BOX);
            }
            if let Some(text_box) = frame.child("text-box") {
                self.blocks(text_box)?;
            }
        }
        Ok(())
    }

    fn list(
        &mut self,
        list: &El,
        depth: u8,
        style: Option<&str>,
        out: &mut Vec<Item>,
    ) -> Result<(), Error> {
        let style = list.attr("style-name").or(style);
        let ordered = style
            .and_then(|s| self.styles.lists.get(s))
            .and_then(|levels| levels.get(depth as usize).copied())
            .unwrap_or(false);
        for item in list
            .elements()
            .filter(|e| e.name == "list-item" || e.name == "list-header")
        {
            let mut text = Vec::new();
            for part in item.elements() {
                match part.name.as_str() {
                    "p" | "h" => text.push(self.inline(part)?),
                    "list" => {
                        if !text.is_empty() {
                            out.push(Item {
                                depth,
                                ordered,
                                text: text.join(" "),
                            });
                            text.clear();
                        }
                        if depth < 20 {
                            self.list(part, depth + 1, style, out)?;
                        }
                    }
                    _ => {}
                }
            }
            if !text.is_empty() {
                out.push(Item {
                    depth,
                    ordered,
                    text: text.join(" "),
                });
            }
        }
        Ok(())
    }

    fn table(&mut self, table: &El) -> Result<(), Error> {
        let mut rows: Vec<Vec<CellIn>> = Vec::new();
        let mut header_rows = 0u32;
        let mut groups: Vec<(&El, bool)> = vec![(table, false)];
        let mut found: Vec<(&El, bool)> = Vec::new();
        while let Some((g, head)) = groups.pop() {
            for e in g.elements().collect::<Vec<_>>().into_iter().rev() {
                match e.name.as_str() {
                    "table-row" => found.push((e, head)),
                    "table-header-rows" => groups.push((e, true)),
                    "table-rows" | "table-row-group" => groups.push((e, head)),
                    _ => {}
                }
            }
        }
        // Gathered last to first.
        found.reverse();
        for (tr, head) in found {
            if head && rows.len() as u32 == header_rows {
                header_rows += 1;
            }
            let mut row = Vec::new();
            for tc in tr.elements() {
                if tc.name != "table-cell" {
                    continue;
                }
                let num = |k: &str| tc.attr(k).and_then(|v| v.parse::<u32>().ok()).unwrap_or(1);
                let mut text = Vec::new();
                for p in tc.find_all("p") {
                    text.push(self.inline(p)?);
                }
                let repeat = num("number-columns-repeated").clamp(1, MAX_REPEAT);
                for _ in 0..repeat {
                    let mut cell = CellIn::new(text.join("\n"));
                    cell.col_span = num("number-columns-spanned");
                    cell.row_span = num("number-rows-spanned");
                    cell.header = head;
                    row.push(cell);
                }
            }
            rows.push(row);
        }
        self.b.table(rows, Some(header_rows), NO_BOX);
        Ok(())
    }
}
