//! Page previews: one page of a PDF or an image as a JPEG of a chosen width, with the page's
//! size in the units of its blocks' boxes (points for a PDF, the image's own pixels for an
//! image), so that a viewer can draw the boxes over it. Grey, as the pages are read.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::GrayImage;

use crate::images::ImagePages;
use crate::{Failure, Limits};

/// The widths a preview may be asked for (a handful, so that a page has few cached sizes).
pub const WIDTHS: [u32; 4] = [400, 800, 1200, 1600];

/// At most this many pages of a file are looked at for a preview.
const MAX_PAGES: u32 = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub jpeg: Vec<u8>,
    /// The page's size in its boxes' units.
    pub width: f64,
    pub height: f64,
}

impl Preview {
    /// As one byte string: `"<width> <height>\n"`, then the JPEG (what the sandboxed child
    /// writes, and what a cache can keep whole).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {}\n", self.width, self.height).into_bytes();
        out.extend_from_slice(&self.jpeg);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Preview> {
        let split = bytes.iter().position(|b| *b == b'\n')?;
        let head = std::str::from_utf8(&bytes[..split]).ok()?;
        let (w, h) = head.split_once(' ')?;
        let jpeg = bytes[split + 1..].to_vec();
        jpeg.starts_with(b"\xFF\xD8").then_some(())?;
        Some(Preview {
            jpeg,
            width: w.parse().ok()?,
            height: h.parse().ok()?,
        })
    }
}

/// Page `number` (from 1) of `bytes`, a PDF or an image, `width` pixels wide (an image is never
/// enlarged). `pdfium` is the library's configured path.
pub fn page(
    bytes: &[u8],
    number: u32,
    width: u32,
    pdfium: Option<&str>,
) -> Result<Preview, Failure> {
    if crate::images::is_image(bytes) {
        let mut pages = ImagePages::open(bytes, MAX_PAGES)?;
        if number == 0 || number > pages.count {
            return Err(no_page(number, pages.count));
        }
        while let Some((n, image)) = pages.next(&|n| n == number)? {
            if let (true, Some((image, factor))) = (n == number, image) {
                let (w, h) = (
                    f64::from(image.width()) * f64::from(factor),
                    f64::from(image.height()) * f64::from(factor),
                );
                let target = width.min(image.width()).max(1);
                let scaled = if target == image.width() {
                    image
                } else {
                    let th = (f64::from(image.height()) * f64::from(target)
                        / f64::from(image.width()))
                    .round()
                    .max(1.0) as u32;
                    image::imageops::resize(
                        &image,
                        target,
                        th,
                        image::imageops::FilterType::Triangle,
                    )
                };
                return Ok(Preview {
                    jpeg: jpeg(&scaled)?,
                    width: w,
                    height: h,
                });
            }
        }
        return Err(no_page(number, pages.count));
    }
    let pdfium = crate::pdfium(pdfium)?;
    let pdf = crate::open(
        pdfium,
        bytes,
        Limits {
            max_pages: MAX_PAGES,
        },
    )?;
    let count = pdf.page_count();
    if number == 0 || number > count {
        return Err(no_page(number, count));
    }
    let (w, h) = pdf.page_size(number)?;
    let (image, _) = pdf.render(number, width as f32 * 72.0 / w)?;
    Ok(Preview {
        jpeg: jpeg(&image)?,
        width: f64::from(w),
        height: f64::from(h),
    })
}

fn no_page(number: u32, count: u32) -> Failure {
    Failure::new(
        "no_such_page",
        format!("there is no page {number}: the document has {count}"),
    )
}

fn jpeg(image: &GrayImage) -> Result<Vec<u8>, Failure> {
    let mut out = Cursor::new(Vec::new());
    JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(image)
        .map_err(|e| Failure::new("preview_failed", format!("cannot encode the page: {e}")))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_page_keeps_its_own_pixels_as_its_size() {
        let path = format!(
            "{}/../../tests/fixtures/scan-2pages.tiff",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(path).unwrap();
        let preview = page(&bytes, 2, 400, None).unwrap();
        assert_eq!((preview.width, preview.height), (1700.0, 2200.0));
        let decoded = image::load_from_memory(&preview.jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (400, 518));
        let round = Preview::from_bytes(&preview.to_bytes()).unwrap();
        assert_eq!(round, preview);
        assert_eq!(page(&bytes, 3, 400, None).unwrap_err().code, "no_such_page");
    }
}
