//! Thumbnails: an image resized to fit `w`×`h` (either may be absent), in its own format.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// The largest thumbnail side we make.
pub const MAX_SIDE: u32 = 2048;

/// A requested size: at least one side, each 1..=2048.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl Size {
    /// From the query string's `w` and `h`; `Ok(None)` when neither is there. `Err` names the
    /// parameter that is out of bounds or not a number.
    pub fn from_query(query: &str) -> Result<Option<Size>, (&'static str, String)> {
        let mut size = Size {
            width: None,
            height: None,
        };
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (name, slot) = match key {
                "w" => ("w", &mut size.width),
                "h" => ("h", &mut size.height),
                _ => continue,
            };
            match value.parse::<u32>() {
                Ok(v) if (1..=MAX_SIDE).contains(&v) => *slot = Some(v),
                _ => {
                    return Err((
                        name,
                        format!("must be a whole number from 1 to {MAX_SIDE}, not {value:?}"),
                    ))
                }
            }
        }
        Ok((size.width.is_some() || size.height.is_some()).then_some(size))
    }

    /// A key part naming this size, for the cache.
    pub fn key(&self) -> String {
        format!("{}x{}", self.width.unwrap_or(0), self.height.unwrap_or(0))
    }
}

/// Decodes `bytes`, resizes to fit `size` (never enlarging), and encodes in the same format.
/// Decoding is bounded, so a decompression bomb is refused instead of exhausting memory.
pub fn make(bytes: &[u8], size: Size) -> Result<Vec<u8>, String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let format = reader.format().ok_or("unknown image format")?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| format!("cannot decode the image: {e}"))?;
    let (w, h) = (img.width().max(1), img.height().max(1));
    let box_w = size.width.unwrap_or(u32::MAX).min(w);
    let box_h = size.height.unwrap_or(u32::MAX).min(h);
    // Fit inside the box, keeping the aspect ratio.
    let scale = f64::min(box_w as f64 / w as f64, box_h as f64 / h as f64);
    let tw = ((w as f64 * scale).round() as u32).clamp(1, w);
    let th = ((h as f64 * scale).round() as u32).clamp(1, h);
    let out = if (tw, th) == (w, h) {
        img
    } else {
        img.resize_exact(tw, th, image::imageops::FilterType::Triangle)
    };
    let mut buf = Cursor::new(Vec::new());
    let out = match format {
        // JPEG has no alpha channel.
        ImageFormat::Jpeg => image::DynamicImage::ImageRgb8(out.to_rgb8()),
        _ => out,
    };
    out.write_to(&mut buf, format)
        .map_err(|e| format!("cannot encode the thumbnail: {e}"))?;
    Ok(buf.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_bounds() {
        assert_eq!(Size::from_query(""), Ok(None));
        assert_eq!(Size::from_query("x=1"), Ok(None));
        assert_eq!(
            Size::from_query("w=100"),
            Ok(Some(Size {
                width: Some(100),
                height: None
            }))
        );
        assert_eq!(Size::from_query("w=0").unwrap_err().0, "w");
        assert_eq!(Size::from_query("h=2049").unwrap_err().0, "h");
        assert_eq!(Size::from_query("w=abc").unwrap_err().0, "w");
        assert_eq!(Size::from_query("w=-5").unwrap_err().0, "w");
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(w, h, image::Rgba([10, 200, 30, 255]));
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, ImageFormat::Png).unwrap();
        buf.into_inner()
    }

    #[test]
    fn resizes_to_the_width_keeping_aspect_and_format() {
        let out = make(
            &png(400, 200),
            Size {
                width: Some(100),
                height: None,
            },
        )
        .unwrap();
        let img = image::load_from_memory(&out).unwrap();
        assert_eq!((img.width(), img.height()), (100, 50));
        assert_eq!(image::guess_format(&out).unwrap(), ImageFormat::Png);
        // Never enlarged.
        let out = make(
            &png(40, 20),
            Size {
                width: Some(100),
                height: None,
            },
        )
        .unwrap();
        assert_eq!(image::load_from_memory(&out).unwrap().width(), 40);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(make(
            b"\x89PNG\r\n\x1a\nnot really",
            Size {
                width: Some(10),
                height: None
            }
        )
        .is_err());
    }
}
