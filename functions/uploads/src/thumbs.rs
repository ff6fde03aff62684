//! Thumbnails: an image resized to fit `w`×`h` (either may be absent, each one of [`SIDES`]),
//! as JPEG when the image is a JPEG and as PNG otherwise (compressed, whatever the source: a TIFF
//! is often stored raw). A tenant's image is decoded in a sandboxed child ([`in_child`]), never in
//! the service's own process: a decoder that crashes, hangs or runs away with memory on a hostile
//! image ends the child, not the instance and its other requests.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// The sides a thumbnail may be asked for: a handful, so that one image has at most
/// (7 + 1)² − 1 = 63 thumbnails, not millions.
pub const SIDES: [u32; 7] = [32, 64, 128, 256, 512, 1024, 2048];

/// A requested size: at least one side, each one of [`SIDES`].
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
                Ok(v) if SIDES.contains(&v) => *slot = Some(v),
                _ => return Err((name, format!("must be one of {SIDES:?}, not {value:?}"))),
            }
        }
        Ok((size.width.is_some() || size.height.is_some()).then_some(size))
    }

    /// A key part naming this size, for the cache.
    pub fn key(&self) -> String {
        format!("{}x{}", self.width.unwrap_or(0), self.height.unwrap_or(0))
    }
}

/// The child's first argument (then the width and height, 0 for none).
const FLAG: &str = "--horizon-thumbnail";

/// When this process was started as a thumbnail child: reads an image from stdin, writes its
/// content type, a newline and the thumbnail to stdout (or `error`, a newline and why), and
/// exits. Every binary that serves thumbnails calls it first thing in `main`.
pub fn serve_if_child() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some(FLAG) {
        return;
    }
    // Nothing is made without the sandbox's filter (see `horizon_pdf::sandbox::confine`).
    if horizon_pdf::sandbox::confine().is_err() {
        std::process::exit(70);
    }
    let side = |i: usize| args.get(i).and_then(|a| a.parse().ok()).filter(|v| *v > 0);
    let size = Size {
        width: side(1),
        height: side(2),
    };
    let mut bytes = Vec::new();
    let out = match std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes) {
        Ok(_) => match make(&bytes, size) {
            Ok((thumb, mime)) => [format!("{mime}\n").into_bytes(), thumb].concat(),
            Err(e) => format!("error\n{e}").into_bytes(),
        },
        Err(e) => format!("error\nreading the image: {e}").into_bytes(),
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout(), &out);
    std::process::exit(0);
}

/// [`make`] in a sandboxed child (see [`horizon_pdf::sandbox`]): the thumbnail and its content
/// type, or why the image could not be made one (the decoder's error, or the child's end: it
/// died, ran out of memory or time).
pub async fn in_child(
    how: &horizon_pdf::sandbox::Child<'_>,
    bytes: &[u8],
    size: Size,
) -> Result<(Vec<u8>, &'static str), String> {
    let (w, h) = (size.width.unwrap_or(0), size.height.unwrap_or(0));
    let out =
        horizon_pdf::sandbox::run(how, &[FLAG, &w.to_string(), &h.to_string()], bytes).await?;
    let newline = out.iter().position(|b| *b == b'\n');
    let (head, rest) = match newline {
        Some(i) => (&out[..i], &out[i + 1..]),
        None => (&out[..], &[][..]),
    };
    match head {
        b"image/png" => Ok((rest.to_vec(), "image/png")),
        b"image/jpeg" => Ok((rest.to_vec(), "image/jpeg")),
        b"error" => Err(String::from_utf8_lossy(rest).into_owned()),
        _ => Err("the image could not be read (the process reading it stopped)".into()),
    }
}

/// Decodes `bytes`, resizes to fit `size` (never enlarging), and encodes it: the bytes and their
/// content type. Decoding is bounded (128 MiB, a quarter of the uploads function's memory), so a
/// decompression bomb is refused instead of exhausting memory.
pub fn make(bytes: &[u8], size: Size) -> Result<(Vec<u8>, &'static str), String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let format = reader.format().ok_or("unknown image format")?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(128 * 1024 * 1024);
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
    let (out, format, mime) = match format {
        // JPEG has no alpha channel.
        ImageFormat::Jpeg => (
            image::DynamicImage::ImageRgb8(out.to_rgb8()),
            ImageFormat::Jpeg,
            "image/jpeg",
        ),
        _ => (out, ImageFormat::Png, "image/png"),
    };
    out.write_to(&mut buf, format)
        .map_err(|e| format!("cannot encode the thumbnail: {e}"))?;
    Ok((buf.into_inner(), mime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_bounds() {
        assert_eq!(Size::from_query(""), Ok(None));
        assert_eq!(Size::from_query("x=1"), Ok(None));
        assert_eq!(
            Size::from_query("w=128"),
            Ok(Some(Size {
                width: Some(128),
                height: None
            }))
        );
        assert_eq!(Size::from_query("w=0").unwrap_err().0, "w");
        assert_eq!(Size::from_query("w=100").unwrap_err().0, "w");
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
        let size = Size {
            width: Some(128),
            height: None,
        };
        let (out, mime) = make(&png(512, 256), size).unwrap();
        let img = image::load_from_memory(&out).unwrap();
        assert_eq!((img.width(), img.height()), (128, 64));
        assert_eq!(image::guess_format(&out).unwrap(), ImageFormat::Png);
        assert_eq!(mime, "image/png");
        // Never enlarged.
        let (out, _) = make(&png(40, 20), size).unwrap();
        assert_eq!(image::load_from_memory(&out).unwrap().width(), 40);
    }

    #[test]
    fn a_tiff_thumbnail_is_a_compressed_png() {
        // Noise-free but not flat: a raw TIFF of this is 16 MiB at 2048², the PNG a few KiB.
        let img = image::RgbaImage::from_fn(2048, 2048, |x, y| {
            image::Rgba([(x / 8) as u8, (y / 8) as u8, 128, 255])
        });
        let mut tiff = Cursor::new(Vec::new());
        img.write_to(&mut tiff, ImageFormat::Tiff).unwrap();
        let size = Size {
            width: Some(2048),
            height: None,
        };
        let (out, mime) = make(tiff.get_ref(), size).unwrap();
        assert_eq!(
            (mime, image::guess_format(&out).unwrap()),
            ("image/png", ImageFormat::Png)
        );
        assert!(out.len() < tiff.get_ref().len() / 10, "{} bytes", out.len());
        assert_eq!(image::load_from_memory(&out).unwrap().width(), 2048);
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
