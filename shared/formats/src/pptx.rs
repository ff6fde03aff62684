//! PowerPoint (PPTX): each slide a page, its size the deck's, in points. The slide's title is
//! its heading; its other shapes follow in the order they are drawn: text as paragraphs, or as
//! a list (with its levels) where the text is bulleted, tables with merged cells, pictures as
//! figures; footers, dates and slide numbers as page furniture. Boxes are the shapes' own, or
//! their placeholder's on the slide's layout or master. Speaker notes follow the slide as
//! `note` blocks; a hidden slide says so in its first block.

use std::collections::HashMap;

use horizon_layout::{BBox, Document, Kind};

use crate::build::{Builder, CellIn, Item};
use crate::package::{Package, Rels};
use crate::xml::El;
use crate::{Error, SeePicture};

const EMU_PER_POINT: f32 = 12700.0;
const MAX_PICTURE: u64 = 64 << 20;

/// A slide's shapes as drawn: `at` maps a group's child coordinates to the slide's.
#[derive(Clone, Copy)]
struct Transform {
    sx: f32,
    tx: f32,
    sy: f32,
    ty: f32,
}

impl Transform {
    const IDENTITY: Transform = Transform {
        sx: 1.0,
        tx: 0.0,
        sy: 1.0,
        ty: 0.0,
    };

    fn apply(&self, b: [f32; 4]) -> BBox {
        [
            b[0] * self.sx + self.tx,
            b[1] * self.sy + self.ty,
            b[2] * self.sx + self.tx,
            b[3] * self.sy + self.ty,
        ]
    }
}

fn int(e: &El, key: &str) -> f32 {
    e.attr(key)
        .and_then(|v| v.parse::<f32>().ok())
        .unwrap_or(0.0)
}

/// A shape's box from its `xfrm`, in points.
fn xfrm_box(props: Option<&El>) -> Option<BBox> {
    let x = props?.find("xfrm")?;
    let off = x.child("off")?;
    let ext = x.child("ext")?;
    let (x0, y0) = (int(off, "x"), int(off, "y"));
    Some([x0, y0, x0 + int(ext, "cx"), y0 + int(ext, "cy")].map(|v| v / EMU_PER_POINT))
}

struct Placeholder {
    kind: String,
    idx: Option<String>,
}

fn placeholder(shape: &El) -> Option<Placeholder> {
    let ph = shape
        .elements()
        .find(|e| e.name.starts_with("nv"))?
        .find("ph")?;
    Some(Placeholder {
        kind: ph.attr("type").unwrap_or("body").to_owned(),
        idx: ph.attr("idx").map(str::to_owned),
    })
}

/// Layouts and masters, read once each.
struct Inherited<'p> {
    pkg: &'p Package<'p>,
    parts: HashMap<String, Option<(El, Rels)>>,
}

impl Inherited<'_> {
    fn part(&mut self, name: &str) -> Result<Option<&(El, Rels)>, Error> {
        if !self.parts.contains_key(name) {
            let tree = self.pkg.xml(name)?;
            let read = match tree {
                Some(t) => Some((t, self.pkg.rels(name)?)),
                None => None,
            };
            self.parts.insert(name.to_owned(), read);
        }
        Ok(self.parts.get(name).and_then(Option::as_ref))
    }

    /// The box of the placeholder `ph` on the layout `layout` or, failing that, its master.
    fn placeholder_box(
        &mut self,
        layout: Option<&str>,
        ph: &Placeholder,
    ) -> Result<Option<BBox>, Error> {
        let mut at = layout.map(str::to_owned);
        for _ in 0..2 {
            let Some(name) = at.take() else { break };
            let Some((tree, rels)) = self.part(&name)? else {
                break;
            };
            let found = tree.find_all("sp").into_iter().find(|sp| {
                placeholder(sp).is_some_and(|p| {
                    (ph.idx.is_some() && p.idx == ph.idx)
                        || (p.kind == ph.kind && ph.kind != "body")
                })
            });
            if let Some(b) = found.and_then(|sp| xfrm_box(sp.child("spPr"))) {
                return Ok(Some(b));
            }
            at = rels.of_kind("slideMaster").map(str::to_owned);
        }
        Ok(None)
    }
}

pub fn read(
    bytes: &[u8],
    main: &str,
    see: &mut SeePicture<'_>,
) -> Result<(Document, Vec<String>), Error> {
    let pkg = Package::open(bytes)?;
    let pres = pkg.required_xml(main)?;
    let rels = pkg.rels(main)?;
    let (width, height) = pres
        .child("sldSz")
        .map(|s| (int(s, "cx") / EMU_PER_POINT, int(s, "cy") / EMU_PER_POINT))
        .unwrap_or((720.0, 540.0));
    let slides: Vec<String> = pres
        .child("sldIdLst")
        .map(|l| {
            l.all("sldId")
                .filter_map(|s| rels.part(s.rel("id")?).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut b = Builder::new(see);
    let mut inherited = Inherited {
        pkg: &pkg,
        parts: HashMap::new(),
    };
    for part in &slides {
        b.page(width, height);
        let Some(slide) = pkg.xml(part)? else {
            b.warnings.push(format!("{part} is missing"));
            continue;
        };
        let srels = pkg.rels(part)?;
        let mut shapes = Vec::new();
        if let Some(tree) = slide.find("spTree") {
            gather(tree, Transform::IDENTITY, &mut shapes);
        }
        // The title first; the rest as drawn.
        shapes.sort_by_key(|s| !is_title(s.el));
        let layout = srels.of_kind("slideLayout").map(str::to_owned);
        let hidden = slide.attr("show") == Some("0");
        if hidden {
            b.text(Kind::Paragraph, "(hidden slide)", [0.0; 4]);
        }
        for shape in shapes {
            let own = xfrm_box(Some(shape.el));
            let bbox = match (own, placeholder(shape.el)) {
                (Some(b), _) => shape.at.apply(b),
                (None, Some(ph)) => inherited
                    .placeholder_box(layout.as_deref(), &ph)?
                    .unwrap_or([0.0; 4]),
                (None, None) => [0.0; 4],
            };
            emit(&mut b, &pkg, &srels, shape.el, bbox)?;
        }
        if let Some(notes) = srels.of_kind("notesSlide").map(str::to_owned) {
            if let Some(tree) = pkg.xml(&notes)? {
                let text: Vec<String> = tree
                    .find_all("sp")
                    .into_iter()
                    .filter(|sp| placeholder(sp).is_some_and(|p| p.kind == "body"))
                    .flat_map(|sp| sp.find_all("p").into_iter().map(paragraph_text))
                    .collect();
                b.text(Kind::Note, &text.join("\n"), [0.0; 4]);
            }
        }
    }
    Ok(b.finish())
}

struct Shape<'a> {
    el: &'a El,
    at: Transform,
}

/// The drawable shapes under `tree`, groups opened, in drawing order.
fn gather<'a>(tree: &'a El, at: Transform, out: &mut Vec<Shape<'a>>) {
    for e in tree.elements() {
        match e.name.as_str() {
            "sp" | "pic" | "graphicFrame" | "cxnSp" => out.push(Shape { el: e, at }),
            "grpSp" => {
                let inner = e.child("grpSpPr").and_then(|p| p.child("xfrm")).map(|x| {
                    let get = |child: &str, a: &str| x.child(child).map_or(0.0, |c| int(c, a));
                    let (cx, ccx) = (get("ext", "cx"), get("chExt", "cx"));
                    let (cy, ccy) = (get("ext", "cy"), get("chExt", "cy"));
                    let sx = if ccx > 0.0 { cx / ccx } else { 1.0 };
                    let sy = if ccy > 0.0 { cy / ccy } else { 1.0 };
                    // Points: offsets are EMU, as the boxes' are.
                    let tx = (get("off", "x") - get("chOff", "x") * sx) / EMU_PER_POINT;
                    let ty = (get("off", "y") - get("chOff", "y") * sy) / EMU_PER_POINT;
                    Transform {
                        sx: at.sx * sx,
                        tx: at.sx * tx + at.tx,
                        sy: at.sy * sy,
                        ty: at.sy * ty + at.ty,
                    }
                });
                gather(e, inner.unwrap_or(at), out);
            }
            "AlternateContent" => {
                if let Some(first) = e.elements().next() {
                    gather(first, at, out);
                }
            }
            _ => {}
        }
    }
}

fn is_title(shape: &El) -> bool {
    placeholder(shape).is_some_and(|p| p.kind == "title" || p.kind == "ctrTitle")
}

/// A DrawingML paragraph's text: its runs, fields and line breaks.
fn paragraph_text(p: &El) -> String {
    let mut out = String::new();
    for e in p.elements() {
        match e.name.as_str() {
            "r" | "fld" => out.push_str(&e.texts("t")),
            "br" => out.push('\n'),
            _ => {}
        }
    }
    out
}

fn emit(b: &mut Builder, pkg: &Package, rels: &Rels, shape: &El, bbox: BBox) -> Result<(), Error> {
    match shape.name.as_str() {
        "pic" => {
            let description = shape
                .find("cNvPr")
                .and_then(|c| c.attr("descr").or_else(|| c.attr("title")))
                .unwrap_or("");
            let bytes = shape
                .find("blip")
                .and_then(|bl| bl.rel("embed"))
                .and_then(|id| rels.part(id))
                .and_then(|part| pkg.read_at_most(part, MAX_PICTURE).ok().flatten());
            b.figure(description, bytes.as_deref(), bbox);
        }
        "graphicFrame" => {
            if let Some(tbl) = shape.find("tbl") {
                table(b, tbl, bbox);
            }
        }
        _ => text_body(b, shape, bbox),
    }
    Ok(())
}

fn text_body(b: &mut Builder, shape: &El, bbox: BBox) {
    let Some(body) = shape.child("txBody") else {
        return;
    };
    let ph = placeholder(shape);
    let kind = ph.as_ref().map_or("", |p| p.kind.as_str());
    let paragraphs: Vec<&El> = body.all("p").collect();
    match kind {
        "title" | "ctrTitle" => {
            let text: Vec<String> = paragraphs.iter().map(|p| paragraph_text(p)).collect();
            b.heading(1, &text.join(" "), bbox);
            return;
        }
        "ftr" | "dt" => {
            let text: Vec<String> = paragraphs.iter().map(|p| paragraph_text(p)).collect();
            b.text(Kind::Footer, &text.join(" "), bbox);
            return;
        }
        "sldNum" => {
            let text: Vec<String> = paragraphs.iter().map(|p| paragraph_text(p)).collect();
            b.text(Kind::PageNumber, &text.join(" "), bbox);
            return;
        }
        _ => {}
    }
    // A body placeholder's paragraphs are bulleted unless they say not; a text box's are not
    // unless they say so.
    let bulleted_by_default = ph.is_some() && kind == "body";
    let mut items: Vec<Item> = Vec::new();
    for p in paragraphs {
        let props = p.child("pPr");
        let depth = props
            .and_then(|pp| pp.attr("lvl"))
            .and_then(|v| v.parse::<u8>().ok())
            .unwrap_or(0);
        let has = |name: &str| props.is_some_and(|pp| pp.child(name).is_some());
        let ordered = has("buAutoNum");
        let bulleted =
            !has("buNone") && (ordered || has("buChar") || has("buBlip") || bulleted_by_default);
        let text = paragraph_text(p);
        if bulleted && !text.trim().is_empty() {
            items.push(Item {
                depth,
                ordered,
                text,
            });
        } else {
            if !items.is_empty() {
                b.list(std::mem::take(&mut items), bbox);
            }
            b.text(Kind::Paragraph, &text, bbox);
        }
    }
    if !items.is_empty() {
        b.list(items, bbox);
    }
}

fn table(b: &mut Builder, tbl: &El, bbox: BBox) {
    let header = tbl
        .child("tblPr")
        .is_some_and(|p| matches!(p.attr("firstRow"), Some("1" | "true")));
    let rows: Vec<Vec<CellIn>> = tbl
        .all("tr")
        .map(|tr| {
            tr.all("tc")
                .filter(|tc| {
                    !matches!(tc.attr("hMerge"), Some("1" | "true"))
                        && !matches!(tc.attr("vMerge"), Some("1" | "true"))
                })
                .map(|tc| {
                    let text: Vec<String> =
                        tc.find_all("p").into_iter().map(paragraph_text).collect();
                    let mut cell = CellIn::new(text.join("\n"));
                    let span =
                        |k: &str| tc.attr(k).and_then(|v| v.parse::<u32>().ok()).unwrap_or(1);
                    cell.col_span = span("gridSpan");
                    cell.row_span = span("rowSpan");
                    cell
                })
                .collect()
        })
        .collect();
    b.table(rows, header.then_some(1), bbox);
}
