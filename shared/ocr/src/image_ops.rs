//! Pixel work the models need: turning a page straight, cutting a line out of it, feeding a
//! picture to a model.

use image::{GrayImage, Luma};

/// The mean and deviation of each colour plane that PaddlePaddle's image models (orientation,
/// layout, table structure) were trained with, applied in OpenCV's BGR order as their packages
/// apply them.
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Runs a model on one picture: `image` at the top left of a `width`×`height` input of
/// normalised colour planes, zeros where it does not reach.
pub fn run<'s>(
    session: &'s mut ort::session::Session,
    image: &GrayImage,
    width: usize,
    height: usize,
) -> Result<ort::session::SessionOutputs<'s>, String> {
    let mut data = vec![0f32; 3 * width * height];
    planes(image, width, height, &mut data);
    let input = ort::value::TensorRef::from_array_view(([1usize, 3, height, width], &*data))
        .map_err(|e| e.to_string())?;
    session.run(ort::inputs![input]).map_err(|e| e.to_string())
}

/// Writes a grey image into `out` as a model's three normalised colour planes (C×H×W) of
/// `width`×`height`, the image at the top left; what it does not cover stays as `out` has it
/// (0 for zero padding).
pub fn planes(image: &GrayImage, width: usize, height: usize, out: &mut [f32]) {
    let (w, h) = (
        (image.width() as usize).min(width),
        (image.height() as usize).min(height),
    );
    for y in 0..h {
        for x in 0..w {
            let v = image.get_pixel(x as u32, y as u32).0[0] as f32 / 255.0;
            for c in 0..3 {
                out[(c * height + y) * width + x] = (v - MEAN[c]) / STD[c];
            }
        }
    }
}

/// The image turned by `degrees` about its centre so that a line at that angle (clockwise, as
/// y runs down) comes out horizontal; the same size, with white where nothing was.
pub fn rotate(image: &GrayImage, degrees: f32) -> GrayImage {
    let (w, h) = image.dimensions();
    let (s, c) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let mut out = GrayImage::from_pixel(w, h, Luma([255]));
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let sx = c * dx - s * dy + cx - 0.5;
            let sy = s * dx + c * dy + cy - 0.5;
            out.put_pixel(x, y, Luma([sample(image, sx, sy)]));
        }
    }
    out
}

/// Bilinear sample; white outside.
fn sample(image: &GrayImage, x: f32, y: f32) -> u8 {
    let (w, h) = image.dimensions();
    if x < -1.0 || y < -1.0 || x > w as f32 || y > h as f32 {
        return 255;
    }
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |xi: f32, yi: f32| -> f32 {
        if xi < 0.0 || yi < 0.0 || xi >= w as f32 || yi >= h as f32 {
            255.0
        } else {
            image.get_pixel(xi as u32, yi as u32).0[0] as f32
        }
    };
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx;
    (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
}

/// The part of the image inside the box (clamped to the image), at least 1×1.
pub fn crop(image: &GrayImage, b: [f32; 4]) -> GrayImage {
    let (w, h) = image.dimensions();
    let x0 = (b[0].max(0.0) as u32).min(w.saturating_sub(1));
    let y0 = (b[1].max(0.0) as u32).min(h.saturating_sub(1));
    let x1 = (b[2].ceil().max(0.0) as u32).clamp(x0 + 1, w.max(x0 + 1));
    let y1 = (b[3].ceil().max(0.0) as u32).clamp(y0 + 1, h.max(y0 + 1));
    image::imageops::crop_imm(image, x0, y0, (x1 - x0).min(w - x0), (y1 - y0).min(h - y0))
        .to_image()
}

/// The part of `image` inside `b` with `margin` white pixels round it, and the left edge of
/// what it shows, in the image's pixels.
pub fn padded_crop(image: &GrayImage, b: [f32; 4], margin: u32) -> (GrayImage, f32) {
    let inner = crop(image, b);
    let mut out = GrayImage::from_pixel(
        inner.width() + 2 * margin,
        inner.height() + 2 * margin,
        image::Luma([255]),
    );
    image::imageops::replace(&mut out, &inner, margin as i64, margin as i64);
    let x0 = (b[0].max(0.0) as u32).min(image.width().saturating_sub(1));
    (out, x0 as f32 - margin as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tilted_bar_comes_out_level() {
        let mut img = GrayImage::from_pixel(200, 100, Luma([255]));
        for x in 20..180u32 {
            let y = 50.0 + (x as f32 - 100.0) * 3f32.to_radians().tan();
            for dy in 0..3 {
                img.put_pixel(x, (y as u32) + dy, Luma([0]));
            }
        }
        let level = rotate(&img, 3.0);
        let rows: Vec<u32> = (0..100)
            .filter(|&y| {
                (30..170)
                    .filter(|&x| level.get_pixel(x, y).0[0] < 128)
                    .count()
                    > 100
            })
            .collect();
        assert!(!rows.is_empty() && rows.len() <= 4, "{rows:?}");
    }

    #[test]
    fn crops_stay_inside() {
        let img = GrayImage::new(10, 10);
        assert_eq!(crop(&img, [-5.0, -5.0, 3.0, 3.0]).dimensions(), (3, 3));
        assert_eq!(crop(&img, [8.0, 8.0, 30.0, 30.0]).dimensions(), (2, 2));
        assert_eq!(crop(&img, [20.0, 20.0, 30.0, 30.0]).dimensions(), (1, 1));
    }
}
