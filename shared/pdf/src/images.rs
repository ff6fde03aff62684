//! The pages of image files (PNG, JPEG, WebP, GIF, TIFF with any number of pages), read one at
//! a time in grey: what OCR reads, and what the page previews show.

use std::io::Cursor;

use image::{GrayImage, ImageReader};

use crate::Failure;

/// Images larger than this are read at a reduced size (their boxes stay in their own pixels).
const MAX_IMAGE_PIXELS: u64 = 24_000_000;
/// Images with more pixels than this are refused.
const MAX_DECODE_PIXELS: u64 = 150_000_000;

/// The pages of an image file (PNG, JPEG, WebP, GIF, TIFF with any number of pages), read one at
/// a time, in grey, each with the factor from the pixels read to the file's own (1 unless it was
/// reduced).
pub struct ImagePages<'a> {
    bytes: &'a [u8],
    format: image::ImageFormat,
    tiff: Option<tiff::decoder::Decoder<Cursor<&'a [u8]>>>,
    /// How many pages the file has.
    pub count: u32,
    /// Each page's pixels, from its header (before any is decoded).
    sizes: Vec<u64>,
    read: u32,
}

fn bad(e: impl std::fmt::Display) -> Failure {
    Failure::new("invalid_image", format!("the image cannot be read ({e})"))
}

impl<'a> ImagePages<'a> {
    pub fn open(bytes: &'a [u8], max_pages: u32) -> Result<ImagePages<'a>, Failure> {
        let format = image::guess_format(bytes).map_err(bad)?;
        let (tiff, count, sizes) = if format == image::ImageFormat::Tiff {
            // Count the pages and their sizes from their directories, without decoding any.
            let mut counter = tiff::decoder::Decoder::new(Cursor::new(bytes)).map_err(bad)?;
            let pixels = |d: &mut tiff::decoder::Decoder<_>| {
                d.dimensions()
                    .map(|(w, h)| w as u64 * h as u64)
                    .map_err(bad)
            };
            let mut sizes = vec![pixels(&mut counter)?];
            let mut count = 1u32;
            while counter.more_images() {
                if count >= max_pages {
                    return Err(Failure::new(
                        "too_many_pages",
                        format!(
                            "the image has more than {max_pages} pages; the limit is {max_pages}"
                        ),
                    ));
                }
                counter.next_image().map_err(bad)?;
                sizes.push(pixels(&mut counter)?);
                count += 1;
            }
            (
                Some(tiff::decoder::Decoder::new(Cursor::new(bytes)).map_err(bad)?),
                count,
                sizes,
            )
        } else {
            let (w, h) = reader(bytes, format).into_dimensions().map_err(bad)?;
            (None, 1, vec![w as u64 * h as u64])
        };
        Ok(ImagePages {
            bytes,
            format,
            tiff,
            count,
            sizes,
            read: 0,
        })
    }

    /// The pixels page `number` (1-based) is read at: its own, or fewer for a page so large
    /// that it is reduced.
    pub fn pixels(&self, number: u32) -> u64 {
        let own = number
            .checked_sub(1)
            .and_then(|i| self.sizes.get(i as usize))
            .copied()
            .unwrap_or(0);
        own.min(MAX_IMAGE_PIXELS)
    }

    /// The next page's number and, when `wanted` says so, its pixels; `None` after the last.
    #[allow(clippy::type_complexity)]
    pub fn next(
        &mut self,
        wanted: &dyn Fn(u32) -> bool,
    ) -> Result<Option<(u32, Option<(GrayImage, f32)>)>, Failure> {
        if self.read >= self.count {
            return Ok(None);
        }
        self.read += 1;
        let n = self.read;
        if let Some(decoder) = self.tiff.as_mut() {
            if n > 1 {
                decoder.next_image().map_err(bad)?;
            }
            return Ok(Some((
                n,
                if wanted(n) {
                    Some(reduce(tiff_page(decoder).map_err(bad)?))
                } else {
                    None
                },
            )));
        }
        if !wanted(n) {
            return Ok(Some((n, None)));
        }
        let (w, h) = reader(self.bytes, self.format)
            .into_dimensions()
            .map_err(bad)?;
        too_big(w, h)?;
        let image = reader(self.bytes, self.format).decode().map_err(bad)?;
        Ok(Some((n, Some(reduce(image.to_luma8())))))
    }
}

/// A reader of a one-page image, its allocations capped.
fn reader(bytes: &[u8], format: image::ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    reader
}

fn too_big(w: u32, h: u32) -> Result<(), Failure> {
    if w as u64 * h as u64 > MAX_DECODE_PIXELS {
        return Err(Failure::new(
            "too_large",
            format!("the image has {w}×{h} pixels; the limit is {MAX_DECODE_PIXELS} pixels"),
        ));
    }
    Ok(())
}

/// A page no larger than [`MAX_IMAGE_PIXELS`], with the factor back to the original pixels.
fn reduce(image: GrayImage) -> (GrayImage, f32) {
    let (w, h) = image.dimensions();
    let pixels = w as u64 * h as u64;
    if pixels <= MAX_IMAGE_PIXELS {
        return (image, 1.0);
    }
    let f = (MAX_IMAGE_PIXELS as f64 / pixels as f64).sqrt();
    let (nw, nh) = (
        ((w as f64 * f) as u32).max(1),
        ((h as f64 * f) as u32).max(1),
    );
    (
        image::imageops::resize(&image, nw, nh, image::imageops::FilterType::Triangle),
        w as f32 / nw as f32,
    )
}

/// The current page of a TIFF in grey: bilevel or 8- and 16-bit grey, RGB(A) or CMYK with
/// their samples interleaved; other layouts are refused.
fn tiff_page(decoder: &mut tiff::decoder::Decoder<Cursor<&[u8]>>) -> Result<GrayImage, String> {
    use tiff::decoder::DecodingResult;
    use tiff::ColorType;
    let (w, h) = decoder.dimensions().map_err(|e| e.to_string())?;
    too_big(w, h).map_err(|f| f.message)?;
    let color = decoder.colortype().map_err(|e| e.to_string())?;
    let white_is_zero = decoder
        .get_tag_u32(tiff::tags::Tag::PhotometricInterpretation)
        .map(|p| p == 0)
        .unwrap_or(false);
    let data = decoder.read_image().map_err(|e| e.to_string())?;
    let (w, h) = (w as usize, h as usize);
    let samples: Vec<u8> = match data {
        DecodingResult::U8(v) => v,
        DecodingResult::U16(v) => v.into_iter().map(|s| (s >> 8) as u8).collect(),
        _ => return Err(format!("unsupported TIFF sample format ({color:?})")),
    };
    let short = || "the TIFF's pixel data is shorter than its size".to_owned();
    let mut out = vec![0u8; w * h];
    match color {
        ColorType::Gray(1) => {
            let stride = w.div_ceil(8);
            if samples.len() < stride * h {
                return Err(short());
            }
            for y in 0..h {
                for x in 0..w {
                    let bit = (samples[y * stride + x / 8] >> (7 - x % 8)) & 1;
                    out[y * w + x] = if bit == 1 { 255 } else { 0 };
                }
            }
        }
        ColorType::Gray(8) | ColorType::Gray(16) => {
            out.copy_from_slice(samples.get(..w * h).ok_or_else(short)?)
        }
        ColorType::RGB(8 | 16) | ColorType::RGBA(8 | 16) | ColorType::CMYK(8 | 16) => {
            let n = match color {
                ColorType::RGB(_) => 3,
                _ => 4,
            };
            if samples.len() < w * h * n {
                return Err("planar TIFF colour (one plane per colour) is not supported".into());
            }
            for (i, px) in samples.chunks_exact(n).take(w * h).enumerate() {
                out[i] = match color {
                    ColorType::CMYK(_) => {
                        255 - px.iter().map(|&v| v as u32).max().unwrap_or(0) as u8
                    }
                    _ => ((77 * px[0] as u32 + 150 * px[1] as u32 + 29 * px[2] as u32) >> 8) as u8,
                };
            }
        }
        other => return Err(format!("unsupported TIFF colour type {other:?}")),
    }
    if white_is_zero {
        for p in &mut out {
            *p = 255 - *p;
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out).ok_or_else(|| "TIFF size mismatch".into())
}

/// Whether `bytes` are an image this module reads (anything else is taken for a PDF).
pub fn is_image(bytes: &[u8]) -> bool {
    image::guess_format(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn image_pages_are_counted_and_only_the_wanted_ones_decoded() {
        let bytes = fixture("scan-2pages.tiff");
        let mut pages = ImagePages::open(&bytes, 10).unwrap();
        assert_eq!(pages.count, 2);
        // Each page's size is known before any is decoded.
        assert_eq!(
            (pages.pixels(1), pages.pixels(2)),
            (1700 * 2200, 1700 * 2200)
        );
        assert_eq!(pages.pixels(3), 0);
        let first = pages.next(&|n| n == 2).unwrap().unwrap();
        assert_eq!(first.0, 1);
        assert!(first.1.is_none(), "page 1 is not wanted: not decoded");
        let (n, image) = pages.next(&|n| n == 2).unwrap().unwrap();
        assert_eq!(n, 2);
        let (image, scale) = image.unwrap();
        assert_eq!((image.width(), image.height(), scale), (1700, 2200, 1.0));
        // Ink on paper: the bilevel page reads black on white.
        let dark = image.pixels().filter(|p| p.0[0] < 128).count();
        assert!(dark > 0 && dark < image.pixels().count() / 4, "{dark}");
        assert!(pages.next(&|_| true).unwrap().is_none());

        assert_eq!(
            ImagePages::open(&bytes, 1).err().unwrap().code,
            "too_many_pages"
        );
        assert_eq!(
            ImagePages::open(b"not an image", 1).err().unwrap().code,
            "invalid_image"
        );
        let png = fixture("photo.png");
        let mut one = ImagePages::open(&png, 10).unwrap();
        assert_eq!(one.count, 1);
        let (w, h) = image::load_from_memory(&png)
            .unwrap()
            .to_luma8()
            .dimensions();
        assert_eq!(one.pixels(1), w as u64 * h as u64);
        assert!(one.next(&|_| true).unwrap().unwrap().1.is_some());
    }
}
