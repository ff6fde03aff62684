//! Text detection: the model gives, for each pixel of a reduced image, the probability that it
//! lies inside a text line's core; cores are the connected regions above a threshold, grown back
//! by the margin the model was trained to shrink them by (PP-OCR's DB post-processing).

use image::{imageops, GrayImage};
use ort::session::Session;
use ort::value::TensorRef;

use crate::Unavailable;

/// The longer side of the image the detector sees, at most (a letter page at 200 dpi is read
/// at about 0.6 of its size, where body text is still 15 px tall).
pub const MAX_SIDE: u32 = 1280;
/// The shorter side at least: small images are enlarged.
const MIN_SIDE: u32 = 320;
/// Probability above which a pixel is text.
const THRESHOLD: f32 = 0.3;
/// Mean probability a region needs to count as a line.
const BOX_THRESHOLD: f32 = 0.5;
/// How far a core is grown back: its area × this ÷ its perimeter.
const UNCLIP: f32 = 1.6;

/// A text line's box in the image's pixels, with its orientation (degrees, clockwise positive
/// as the image's y runs down) and how elongated it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextBox {
    pub bbox: [f32; 4],
    pub score: f32,
    pub angle: f32,
    /// Length of the core ÷ its thickness, in detector pixels.
    pub elongation: f32,
    pub length: f32,
}

fn fail(e: impl std::fmt::Display) -> Unavailable {
    Unavailable(format!("text detection: {e}"))
}

/// The text boxes of an image, top to bottom.
pub fn detect(session: &mut Session, image: &GrayImage) -> Result<Vec<TextBox>, Unavailable> {
    let (w, h) = image.dimensions();
    if w < 4 || h < 4 {
        return Ok(Vec::new());
    }
    let mut scale = (MAX_SIDE as f32 / w.max(h) as f32).min(1.0);
    if (w.min(h) as f32 * scale) < MIN_SIDE as f32 {
        scale = (MIN_SIDE as f32 / w.min(h) as f32)
            .min(4.0)
            .min(2.0 * MAX_SIDE as f32 / w.max(h) as f32);
    }
    let rw = ((w as f32 * scale / 32.0).round() as u32).max(1) * 32;
    let rh = ((h as f32 * scale / 32.0).round() as u32).max(1) * 32;
    let small = imageops::resize(image, rw, rh, imageops::FilterType::Triangle);
    let plane: Vec<f32> = small
        .as_raw()
        .iter()
        .map(|&p| p as f32 / 127.5 - 1.0)
        .collect();
    drop(small);
    let mut data = Vec::with_capacity(plane.len() * 3);
    for _ in 0..3 {
        data.extend_from_slice(&plane);
    }
    drop(plane);
    let input = TensorRef::from_array_view(([1usize, 3, rh as usize, rw as usize], &*data))
        .map_err(fail)?;
    let outputs = session.run(ort::inputs![input]).map_err(fail)?;
    let (shape, prob) = outputs[0].try_extract_tensor::<f32>().map_err(fail)?;
    if shape.len() != 4 {
        return Err(fail(format!("unexpected output shape {shape:?}")));
    }
    let (ph, pw) = (shape[2] as usize, shape[3] as usize);
    let boxes = regions(prob, pw, ph);
    let (sx, sy) = (w as f32 / pw as f32, h as f32 / ph as f32);
    let mut out: Vec<TextBox> = boxes
        .into_iter()
        .map(|b| TextBox {
            bbox: [
                (b.bbox[0] * sx).clamp(0.0, w as f32),
                (b.bbox[1] * sy).clamp(0.0, h as f32),
                (b.bbox[2] * sx).clamp(0.0, w as f32),
                (b.bbox[3] * sy).clamp(0.0, h as f32),
            ],
            ..b
        })
        .filter(|b| b.bbox[2] - b.bbox[0] >= 4.0 && b.bbox[3] - b.bbox[1] >= 4.0)
        .collect();
    out.sort_by(|a, b| {
        a.bbox[1]
            .total_cmp(&b.bbox[1])
            .then(a.bbox[0].total_cmp(&b.bbox[0]))
    });
    Ok(out)
}

/// Connected regions of the thresholded (and slightly dilated) probability map, as grown boxes
/// in map pixels.
fn regions(prob: &[f32], w: usize, h: usize) -> Vec<TextBox> {
    let on = |i: usize| prob[i] > THRESHOLD;
    // A 2×2 dilation joins the cores of characters a hair apart.
    let mut bit = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            bit[i] = on(i)
                || (x > 0 && on(i - 1))
                || (y > 0 && on(i - w))
                || (x > 0 && y > 0 && on(i - w - 1));
        }
    }
    let mut seen = vec![false; w * h];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    for start in 0..w * h {
        if !bit[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut n, mut sum) = (0usize, 0f64);
        let (mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0f64, 0f64, 0f64, 0f64, 0f64);
        let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
        while let Some(i) = stack.pop() {
            let (y, x) = (i / w, i % w);
            n += 1;
            sum += prob[i] as f64;
            let (fx, fy) = (x as f64, y as f64);
            sx += fx;
            sy += fy;
            sxx += fx * fx;
            syy += fy * fy;
            sxy += fx * fy;
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
            let mut visit = |j: usize| {
                if bit[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        let score = (sum / n as f64) as f32;
        let (bw, bh) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
        if bw.min(bh) < 3.0 || score < BOX_THRESHOLD {
            continue;
        }
        // Orientation and extent along its own axes, from the second moments.
        let nf = n as f64;
        let (mx, my) = (sx / nf, sy / nf);
        let (cxx, cyy, cxy) = (sxx / nf - mx * mx, syy / nf - my * my, sxy / nf - mx * my);
        let theta = 0.5 * (2.0 * cxy).atan2(cxx - cyy);
        let spread = ((cxx - cyy).powi(2) + 4.0 * cxy * cxy).sqrt();
        let major = (((cxx + cyy + spread) / 2.0).max(0.0) * 12.0).sqrt() as f32;
        let minor = (((cxx + cyy - spread) / 2.0).max(0.0) * 12.0)
            .sqrt()
            .max(1.0) as f32;
        // Grow the core back by area × ratio ÷ perimeter of its rectangle.
        let d = bw * bh * UNCLIP / (2.0 * (bw + bh));
        out.push(TextBox {
            bbox: [
                x0 as f32 - d,
                y0 as f32 - d,
                x1 as f32 + 1.0 + d,
                y1 as f32 + 1.0 + d,
            ],
            score,
            angle: theta.to_degrees() as f32,
            elongation: major / minor,
            length: major,
        });
    }
    out
}

/// The page's skew in degrees, when it is slightly turned (0.3° to 15°): the median orientation
/// of its long lines, weighted by their length.
pub fn skew(boxes: &[TextBox]) -> Option<f32> {
    let mut lines: Vec<(f32, f32)> = boxes
        .iter()
        .filter(|b| b.elongation >= 6.0 && b.length >= 40.0 && b.angle.abs() < 20.0)
        .map(|b| (b.angle, b.length))
        .collect();
    if lines.len() < 3 {
        return None;
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f32 = lines.iter().map(|l| l.1).sum();
    let mut acc = 0.0;
    let median = lines
        .iter()
        .find(|l| {
            acc += l.1;
            acc >= total / 2.0
        })
        .map(|l| l.0)?;
    (median.abs() >= 0.3 && median.abs() <= 15.0).then_some(median)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probability map with two tilted bars.
    #[test]
    fn regions_give_boxes_and_their_tilt() {
        let (w, h) = (200usize, 60usize);
        let mut prob = vec![0.0f32; w * h];
        for x in 10..190 {
            let y = 15 + (x as f32 * 0.035) as usize; // about 2 degrees
            for dy in 0..4 {
                prob[(y + dy) * w + x] = 0.9;
            }
            for dy in 0..4 {
                prob[(45 + dy) * w + x] = 0.9;
            }
        }
        let boxes = regions(&prob, w, h);
        assert_eq!(boxes.len(), 2, "{boxes:?}");
        let tilted = boxes.iter().find(|b| b.bbox[1] < 30.0).unwrap();
        assert!((tilted.angle - 2.0).abs() < 0.5, "{tilted:?}");
        assert!(skew(&[*tilted, *tilted, *tilted]).is_some());
        let flat = boxes.iter().find(|b| b.bbox[1] > 30.0).unwrap();
        assert!(flat.angle.abs() < 0.2);
        assert!(skew(&[*flat, *flat, *flat]).is_none());
    }
}
