//! Word (DOCX): the body's paragraphs and tables in order. Headings from the paragraph's style
//! (`Title`, `Heading 1`…) or outline level; lists from numbering (nesting from the level,
//! numbered or bulleted from the level's format); tables with merged cells (`gridSpan`,
//! `vMerge`) and repeated header rows; captions by style; footnotes and endnotes at the end,
//! cited as `[n]`; pictures as figures (their description, and their text when read); the
//! default header and footer as such. Deleted text of tracked changes is left out.

use std::collections::HashMap;

use horizon_layout::{Document, Kind};

use crate::build::{Builder, CellIn, Item};
use crate::package::{Package, Rels};
use crate::xml::El;
use crate::{Error, SeePicture};

const NO_BOX: [f32; 4] = [0.0; 4];
/// Pictures larger than this are not read.
const MAX_PICTURE: u64 = 64 << 20;

#[derive(Default)]
struct Style {
    name: String,
    based_on: Option<String>,
    outline: Option<u8>,
    num: Option<(String, u8)>,
}

#[derive(Default)]
struct Styles {
    by_id: HashMap<String, Style>,
    default: Option<String>,
}

impl Styles {
    fn read(root: Option<El>) -> Styles {
        let mut out = Styles::default();
        let Some(root) = root else {
            return out;
        };
        for s in root.all("style") {
            if s.attr("type") != Some("paragraph") {
                continue;
            }
            let Some(id) = s.attr("styleId") else {
                continue;
            };
            if s.attr("default") == Some("1") {
                out.default = Some(id.to_owned());
            }
            let ppr = s.child("pPr");
            out.by_id.insert(
                id.to_owned(),
                Style {
                    name: s.val("name").unwrap_or(id).to_ascii_lowercase(),
                    based_on: s.val("basedOn").map(str::to_owned),
                    outline: ppr
                        .and_then(|p| p.val("outlineLvl"))
                        .and_then(|v| v.parse().ok()),
                    num: ppr.and_then(|p| p.child("numPr")).and_then(num_pr),
                },
            );
        }
        out
    }

    /// The style `id` and those it is based on, nearest first.
    fn chain(&self, id: Option<&str>) -> Vec<&Style> {
        let mut out = Vec::new();
        let mut at = id.or(self.default.as_deref());
        while let Some(style) = at.and_then(|i| self.by_id.get(i)) {
            if out.len() > 20 {
                break;
            }
            out.push(style);
            at = style.based_on.as_deref();
        }
        out
    }
}

fn num_pr(num: &El) -> Option<(String, u8)> {
    let id = num.val("numId").unwrap_or("").to_owned();
    let level = num.val("ilvl").and_then(|v| v.parse().ok()).unwrap_or(0);
    Some((id, level))
}

/// Which list levels are numbered: by `numId`, the format of each level.
#[derive(Default)]
struct Numbering(HashMap<String, HashMap<u8, String>>);

impl Numbering {
    fn read(root: Option<El>) -> Numbering {
        let Some(root) = root else {
            return Numbering::default();
        };
        let levels = |e: &El| -> HashMap<u8, String> {
            e.all("lvl")
                .filter_map(|l| {
                    Some((
                        l.attr("ilvl")?.parse().ok()?,
                        l.val("numFmt").unwrap_or("decimal").to_owned(),
                    ))
                })
                .collect()
        };
        let abstracts: HashMap<&str, HashMap<u8, String>> = root
            .all("abstractNum")
            .filter_map(|a| Some((a.attr("abstractNumId")?, levels(a))))
            .collect();
        let mut out = HashMap::new();
        for num in root.all("num") {
            let Some(id) = num.attr("numId") else {
                continue;
            };
            let mut formats = num
                .val("abstractNumId")
                .and_then(|a| abstracts.get(a))
                .cloned()
                .unwrap_or_default();
            for o in num.all("lvlOverride") {
                if let (Some(level), Some(lvl)) =
                    (o.attr("ilvl").and_then(|v| v.parse().ok()), o.child("lvl"))
                {
                    if let Some(f) = lvl.val("numFmt") {
                        formats.insert(level, f.to_owned());
                    }
                }
            }
            out.insert(id.to_owned(), formats);
        }
        Numbering(out)
    }

    fn ordered(&self, id: &str, level: u8) -> bool {
        self.0
            .get(id)
            .and_then(|l| l.get(&level))
            .is_some_and(|f| f != "bullet" && f != "none")
    }
}

/// What a paragraph is, from its style and properties.
enum Role {
    Title,
    Heading(u8),
    /// A list item: its list (the numbering, or the style), level and kind of marker.
    Item {
        list: String,
        depth: u8,
        ordered: bool,
    },
    Text(Kind),
}

struct Reader<'p, 'b> {
    pkg: &'p Package<'p>,
    rels: Rels,
    styles: Styles,
    numbering: Numbering,
    notes: HashMap<(&'static str, String), El>,
    cited: Vec<(&'static str, String)>,
    b: Builder<'b>,
    list: Vec<Item>,
    list_id: Option<String>,
    /// A `Title` paragraph was met: the headings after it sit a level below it.
    title: bool,
}

pub fn read(
    bytes: &[u8],
    main: &str,
    see: &mut SeePicture<'_>,
) -> Result<(Document, Vec<String>), Error> {
    let pkg = Package::open(bytes)?;
    let doc = pkg.required_xml(main)?;
    let rels = pkg.rels(main)?;
    let part = |kind: &str| -> Result<Option<El>, Error> {
        match rels.of_kind(kind) {
            Some(p) => pkg.xml(p),
            None => Ok(None),
        }
    };
    let styles = Styles::read(part("styles")?);
    let numbering = Numbering::read(part("numbering")?);
    let mut notes = HashMap::new();
    for (kind, note) in [("footnotes", "footnote"), ("endnotes", "endnote")] {
        if let Some(root) = part(kind)? {
            for n in root.all(note) {
                if let Some(id) = n.attr("id") {
                    notes.insert((note_kind(note), id.to_owned()), n.clone());
                }
            }
        }
    }
    let body = doc
        .child("body")
        .ok_or_else(|| Error::Malformed(format!("{main} has no body")))?;
    let mut r = Reader {
        pkg: &pkg,
        rels,
        styles,
        numbering,
        notes,
        cited: Vec::new(),
        b: Builder::new(see),
        list: Vec::new(),
        list_id: None,
        title: false,
    };
    let section = body.child("sectPr");
    r.furniture(section, "headerReference", Kind::Header)?;
    r.blocks(body)?;
    r.flush_list();
    r.furniture(section, "footerReference", Kind::Footer)?;
    r.footnotes()?;
    Ok(r.b.finish())
}

fn note_kind(name: &str) -> &'static str {
    if name.starts_with("end") {
        "endnote"
    } else {
        "footnote"
    }
}

impl Reader<'_, '_> {
    fn blocks(&mut self, parent: &El) -> Result<(), Error> {
        for e in parent.elements() {
            match e.name.as_str() {
                "p" => self.paragraph(e)?,
                "tbl" => {
                    self.flush_list();
                    self.table(e)?;
                }
                "sdt" => {
                    if let Some(content) = e.child("sdtContent") {
                        self.blocks(content)?;
                    }
                }
                "customXml" | "ins" | "moveTo" => self.blocks(e)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn role(&self, p: &El) -> Role {
        let ppr = p.child("pPr");
        let chain = self.styles.chain(ppr.and_then(|p| p.val("pStyle")));
        let name = chain.first().map(|s| s.name.as_str()).unwrap_or("");
        if name == "title" {
            return Role::Title;
        }
        if let Some(n) = name
            .strip_prefix("heading ")
            .and_then(|n| n.trim().parse::<u8>().ok())
        {
            return Role::Heading(n.clamp(1, 6));
        }
        let outline = ppr
            .and_then(|p| p.val("outlineLvl"))
            .and_then(|v| v.parse::<u8>().ok())
            .or_else(|| chain.iter().find_map(|s| s.outline));
        if let Some(level) = outline.filter(|&l| l < 9) {
            return Role::Heading((level + 1).min(6));
        }
        let num = ppr
            .and_then(|p| p.child("numPr"))
            .and_then(num_pr)
            .or_else(|| chain.iter().find_map(|s| s.num.clone()));
        // Word's numbered styles name their depth ("List Bullet 2"): their numbering's first
        // level is indented as the second.
        let named_depth = name
            .starts_with("list")
            .then(|| name.rsplit(' ').next()?.parse::<u8>().ok())
            .flatten()
            .map_or(0, |n| n.saturating_sub(1));
        if let Some((id, level)) = num.filter(|(id, _)| !id.is_empty() && id != "0") {
            return Role::Item {
                depth: level.max(named_depth),
                ordered: self.numbering.ordered(&id, level),
                list: id,
            };
        }
        // Lists styled but not numbered (as some generators write them).
        for (prefix, ordered) in [("list bullet", false), ("list number", true)] {
            if let Some(rest) = name.strip_prefix(prefix) {
                let depth = rest.trim().parse::<u8>().map_or(0, |n| n.saturating_sub(1));
                return Role::Item {
                    list: prefix.to_owned(),
                    depth,
                    ordered,
                };
            }
        }
        if name == "caption" {
            Role::Text(Kind::Caption)
        } else if name.contains("code") || name.contains("preformatted") {
            Role::Text(Kind::Code)
        } else {
            Role::Text(Kind::Paragraph)
        }
    }

    fn paragraph(&mut self, p: &El) -> Result<(), Error> {
        let mut text = String::new();
        let mut inside = Inside::default();
        self.runs(p, &mut text, &mut inside)?;
        match self.role(p) {
            Role::Item {
                list,
                depth,
                ordered,
            } => {
                // Another list starts where the numbering changes at the top level.
                if depth == 0 && self.list_id.as_ref().is_some_and(|l| *l != list) {
                    self.flush_list();
                }
                self.list_id = Some(list);
                self.list.push(Item {
                    depth,
                    ordered,
                    text,
                })
            }
            role => {
                self.flush_list();
                match role {
                    Role::Title => {
                        self.title = true;
                        self.b.heading(1, &text, NO_BOX);
                    }
                    Role::Heading(level) => {
                        self.b.heading(level + u8::from(self.title), &text, NO_BOX)
                    }
                    Role::Text(Kind::Code) => self.b.code(&text),
                    Role::Text(kind) => self.b.text(kind, &text, NO_BOX),
                    Role::Item { .. } => {}
                }
            }
        }
        for (description, bytes) in inside.pictures {
            self.flush_list();
            self.b.figure(&description, bytes.as_deref(), NO_BOX);
        }
        for boxed in inside.text_boxes {
            self.blocks(&boxed)?;
        }
        Ok(())
    }

    /// A paragraph's text, from its runs (and hyperlinks, fields, insertions…); pictures and
    /// text boxes found on the way are gathered in `inside`.
    fn runs(&mut self, el: &El, text: &mut String, inside: &mut Inside) -> Result<(), Error> {
        for e in el.elements() {
            match e.name.as_str() {
                "t" => text.push_str(&e.text()),
                "tab" | "ptab" => text.push('\t'),
                "br" | "cr" => text.push('\n'),
                "noBreakHyphen" => text.push('-'),
                "footnoteReference" | "endnoteReference" => {
                    if let Some(id) = e.attr("id") {
                        let key = (note_kind(&e.name), id.to_owned());
                        if !self.cited.contains(&key) {
                            self.cited.push(key.clone());
                        }
                        let n = self.cited.iter().position(|k| *k == key).unwrap_or(0) + 1;
                        text.push_str(&format!("[{n}]"));
                    }
                }
                "drawing" | "pict" | "object" => self.picture(e, inside)?,
                "AlternateContent" => {
                    if let Some(first) = e.elements().next() {
                        self.runs(first, text, inside)?;
                    }
                }
                // Math: its characters, in order.
                "oMath" | "oMathPara" => text.push_str(&e.texts("t")),
                "del" | "moveFrom" | "instrText" | "delText" | "pPr" | "rPr" | "footnoteRef"
                | "endnoteRef" => {}
                _ => self.runs(e, text, inside)?,
            }
        }
        Ok(())
    }

    fn picture(&mut self, e: &El, inside: &mut Inside) -> Result<(), Error> {
        for boxed in e.find_all("txbxContent") {
            inside.text_boxes.push(boxed.clone());
        }
        let described = e
            .find("docPr")
            .or_else(|| e.find("shape"))
            .and_then(|d| {
                d.attr("descr")
                    .or_else(|| d.attr("alt"))
                    .or_else(|| d.attr("title"))
            })
            .unwrap_or("")
            .to_owned();
        let target = e
            .find("blip")
            .and_then(|b| b.rel("embed"))
            .or_else(|| e.find("imagedata").and_then(|i| i.rel("id")))
            .and_then(|id| self.rels.part(id))
            .map(str::to_owned);
        let bytes = match target {
            Some(part) => self.pkg.read_at_most(&part, MAX_PICTURE).unwrap_or(None),
            None => None,
        };
        if bytes.is_none() && e.find("blip").and_then(|b| b.rel("link")).is_some() {
            self.b.warnings.push(
                "a picture linked from outside the document was not fetched (nothing outside a file is read)".into(),
            );
        }
        if bytes.is_some() || !described.is_empty() {
            inside.pictures.push((described, bytes));
        }
        Ok(())
    }

    fn flush_list(&mut self) {
        self.list_id = None;
        if !self.list.is_empty() {
            let items = std::mem::take(&mut self.list);
            self.b.list(items, NO_BOX);
        }
    }

    fn cell_text(&mut self, tc: &El) -> Result<String, Error> {
        let mut lines = Vec::new();
        for p in tc.find_all("p") {
            let mut text = String::new();
            let mut inside = Inside::default();
            self.runs(p, &mut text, &mut inside)?;
            lines.push(text);
        }
        Ok(lines.join("\n"))
    }

    fn table(&mut self, tbl: &El) -> Result<(), Error> {
        // Each cell with its first grid column; `vMerge` continuations counted into the cell
        // above that starts the merge.
        let mut rows: Vec<Vec<CellIn>> = Vec::new();
        let mut header_rows = 0u32;
        let mut header_done = false;
        let mut merging: HashMap<u32, (usize, usize)> = HashMap::new();
        for tr in tbl.all("tr") {
            let header = tr.child("trPr").is_some_and(|p| {
                p.child("tblHeader")
                    .is_some_and(|h| h.attr("val").is_none_or(|v| v != "0" && v != "false"))
            });
            if header && !header_done {
                header_rows += 1;
            } else {
                header_done = true;
            }
            let mut row = Vec::new();
            let mut col = tr
                .child("trPr")
                .and_then(|p| p.val("gridBefore"))
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0);
            let r = rows.len();
            for tc in tr.elements().flat_map(|e| match e.name.as_str() {
                "tc" => vec![e],
                "sdt" | "customXml" => e.find_all("tc"),
                _ => Vec::new(),
            }) {
                let props = tc.child("tcPr");
                let span = props
                    .and_then(|p| p.val("gridSpan"))
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(1)
                    .max(1);
                let merge = props
                    .and_then(|p| p.child("vMerge"))
                    .map(|m| m.attr("val").unwrap_or("continue"));
                if merge == Some("continue") {
                    if let Some(&(sr, si)) = merging.get(&col) {
                        if let Some(start) = rows
                            .get_mut(sr)
                            .and_then(|row: &mut Vec<CellIn>| row.get_mut(si))
                        {
                            start.row_span += 1;
                        }
                    }
                    col += span;
                    continue;
                }
                let mut cell = CellIn::new(self.cell_text(tc)?);
                cell.col_span = span;
                if merge == Some("restart") {
                    merging.insert(col, (r, row.len()));
                } else {
                    merging.remove(&col);
                }
                row.push(cell);
                col += span;
            }
            rows.push(row);
        }
        self.b.table(rows, Some(header_rows), NO_BOX);
        Ok(())
    }

    /// The section's default header or footer, as page furniture.
    fn furniture(
        &mut self,
        section: Option<&El>,
        reference: &str,
        kind: Kind,
    ) -> Result<(), Error> {
        let Some(part) = section
            .into_iter()
            .flat_map(|s| s.all(reference))
            .find(|r| r.attr("type").is_none_or(|t| t == "default"))
            .and_then(|r| r.rel("id"))
            .and_then(|id| self.rels.part(id))
            .map(str::to_owned)
        else {
            return Ok(());
        };
        let Some(root) = self.pkg.xml(&part)? else {
            return Ok(());
        };
        let mut lines = Vec::new();
        for p in root.find_all("p") {
            let mut text = String::new();
            self.runs(p, &mut text, &mut Inside::default())?;
            lines.push(text);
        }
        self.b.text(kind, &lines.join(" "), NO_BOX);
        Ok(())
    }

    fn footnotes(&mut self) -> Result<(), Error> {
        let cited = std::mem::take(&mut self.cited);
        for (n, key) in cited.iter().enumerate() {
            let Some(note) = self.notes.get(key).cloned() else {
                continue;
            };
            let mut lines = Vec::new();
            for p in note.find_all("p") {
                let mut text = String::new();
                self.runs(p, &mut text, &mut Inside::default())?;
                lines.push(text);
            }
            self.b.text(
                Kind::Footnote,
                &format!("[{}] {}", n + 1, lines.join(" ")),
                NO_BOX,
            );
        }
        Ok(())
    }
}

#[derive(Default)]
struct Inside {
    pictures: Vec<(String, Option<Vec<u8>>)>,
    text_boxes: Vec<El>,
}
