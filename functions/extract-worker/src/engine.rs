//! The extraction engine the child process runs: a PDF's pages from their text layer or, where
//! that is missing or unusable (or when asked), from OCR of the rendered page; an image's pages
//! (a multi-page TIFF has several) from OCR; then the layout analysis of the whole document.

use std::io::Cursor;
use std::path::PathBuf;

use horizon_layout::{Document, PageInput, Unit};
use horizon_ocr::{Engine, Setup};
use horizon_pdf::{Failure, Limits, TextLayer};
use image::{GrayImage, ImageReader};
use serde::{Deserialize, Serialize};

/// What a job gives the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Input {
    Pdf,
    Image,
}

/// When PDF pages are read with OCR (see the API's `options.ocr`).
pub use horizon_shared::domain::OcrMode as Ocr;

/// How the engine is set up for one document.
#[derive(Debug, Clone)]
pub struct Options {
    pub input: Input,
    pub ocr: Ocr,
    pub max_pages: u32,
    /// Which pages (1-based) to read.
    pub wanted: Option<String>,
    pub pdfium: Option<String>,
    /// Where `scripts/install-ocr` put ONNX Runtime and the models.
    pub ocr_dir: PathBuf,
    pub threads: usize,
}

/// What came out of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extraction {
    pub document: Document,
    /// Pages read with OCR.
    pub ocr_pages: Vec<u32>,
    /// Pages on which nothing could be read.
    pub empty_pages: Vec<u32>,
    pub warnings: Vec<String>,
}

/// Pages are rendered at this resolution for OCR.
pub const OCR_DPI: f32 = 200.0;
/// A text layer with less than this share of real characters is not used.
const MIN_MAPPABLE: f32 = 0.5;
/// Images larger than this are read at a reduced size (their boxes stay in their own pixels).
const MAX_IMAGE_PIXELS: u64 = 24_000_000;
/// Images with more pixels than this are refused.
const MAX_DECODE_PIXELS: u64 = 150_000_000;

/// Reads a document. `progress(done, total)` is told as pages are read. Errors carry the job's
/// `error.code`.
pub fn extract(
    bytes: &[u8],
    options: &Options,
    progress: &dyn Fn(u32, u32),
) -> Result<Extraction, Failure> {
    let wanted = |n: u32| {
        options
            .wanted
            .as_deref()
            .and_then(|w| w.parse::<horizon_shared::domain::PageSelection>().ok())
            .is_none_or(|sel| sel.contains(n))
    };
    let mut ocr = LazyOcr {
        options,
        engine: None,
    };
    let mut out = Extraction {
        document: Document::default(),
        ocr_pages: Vec::new(),
        empty_pages: Vec::new(),
        warnings: Vec::new(),
    };
    let mut pages: Vec<PageInput> = Vec::new();
    match options.input {
        Input::Pdf => {
            let pdfium = horizon_pdf::pdfium(options.pdfium.as_deref())?;
            let pdf = horizon_pdf::open(
                pdfium,
                bytes,
                Limits {
                    max_pages: options.max_pages,
                },
            )?;
            out.warnings.extend(pdf.warnings.iter().cloned());
            let numbers: Vec<u32> = (1..=pdf.page_count()).filter(|&n| wanted(n)).collect();
            progress(0, numbers.len() as u32);
            for (done, &n) in numbers.iter().enumerate() {
                let layer = pdf.text_layer(n)?;
                let page = if needs_ocr(&layer, options.ocr) {
                    let (image, scale) = pdf.render(n, OCR_DPI)?;
                    out.ocr_pages.push(n);
                    ocr.page(&image, n, 1.0 / scale, Unit::Points)?
                } else {
                    layer.page
                };
                if page.words.is_empty() {
                    out.empty_pages.push(n);
                }
                pages.push(page);
                progress(done as u32 + 1, numbers.len() as u32);
            }
        }
        Input::Image => {
            let images = decode(bytes, options.max_pages)?;
            let numbers: Vec<u32> = (1..=images.len() as u32).filter(|&n| wanted(n)).collect();
            progress(0, numbers.len() as u32);
            for (done, &n) in numbers.iter().enumerate() {
                let Some((image, scale)) = images.get(n as usize - 1) else {
                    continue;
                };
                let page = ocr.page(image, n, *scale, Unit::Pixels)?;
                out.ocr_pages.push(n);
                if page.words.is_empty() {
                    out.empty_pages.push(n);
                }
                pages.push(page);
                progress(done as u32 + 1, numbers.len() as u32);
            }
        }
    }
    if !out.empty_pages.is_empty() {
        let how = if options.input == Input::Image || options.ocr != Ocr::Never {
            "no text was found on"
        } else {
            "no text layer on (OCR was turned off for)"
        };
        out.warnings.push(format!(
            "{how} page(s) {}; they give no chunks",
            list(&out.empty_pages)
        ));
    }
    out.document = horizon_layout::analyse(&pages);
    Ok(out)
}

/// Whether a PDF page is read with OCR: always, never, or (`auto`) when its text layer is
/// missing, mostly characters that map to nothing, or a stray word or two on a scanned image.
pub fn needs_ocr(layer: &TextLayer, mode: Ocr) -> bool {
    match mode {
        Ocr::Always => true,
        Ocr::Never => false,
        Ocr::Auto => {
            layer.chars == 0
                || layer.mappable() < MIN_MAPPABLE
                || (layer.chars < 20 && layer.image_cover > 0.3)
        }
    }
}

/// The pages of a PDF that `auto` reads with OCR.
pub fn ocr_candidates(bytes: &[u8], pdfium: Option<&str>) -> Result<Vec<u32>, Failure> {
    let pdf = horizon_pdf::open(
        horizon_pdf::pdfium(pdfium)?,
        bytes,
        Limits {
            max_pages: u32::MAX,
        },
    )?;
    let mut out = Vec::new();
    for n in 1..=pdf.page_count() {
        if needs_ocr(&pdf.text_layer(n)?, Ocr::Auto) {
            out.push(n);
        }
    }
    Ok(out)
}

fn list(pages: &[u32]) -> String {
    pages
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The OCR engine, loaded on first use (a born-digital PDF never loads it).
struct LazyOcr<'a> {
    options: &'a Options,
    engine: Option<Engine>,
}

impl LazyOcr<'_> {
    fn page(
        &mut self,
        image: &GrayImage,
        number: u32,
        scale: f32,
        unit: Unit,
    ) -> Result<PageInput, Failure> {
        if self.engine.is_none() {
            let setup = Setup::in_dir(&self.options.ocr_dir, self.options.threads);
            self.engine =
                Some(Engine::load(&setup).map_err(|e| Failure::new("engine_unavailable", e.0))?);
        }
        let engine = self
            .engine
            .as_mut()
            .ok_or_else(|| Failure::new("engine_unavailable", "OCR did not load"))?;
        engine
            .page(image, number, scale, unit)
            .map_err(|e| Failure::new("ocr_failed", format!("page {number}: {e}")))
    }
}

/// The pages of an image file (PNG, JPEG, WebP, TIFF with any number of pages), in grey, each
/// with the factor from the pixels read to the file's own (1 unless it was reduced).
pub fn decode(bytes: &[u8], max_pages: u32) -> Result<Vec<(GrayImage, f32)>, Failure> {
    let bad = |e: String| Failure::new("invalid_image", format!("the image cannot be read ({e})"));
    let format = image::guess_format(bytes).map_err(|e| bad(e.to_string()))?;
    let mut pages = Vec::new();
    if format == image::ImageFormat::Tiff {
        let mut decoder =
            tiff::decoder::Decoder::new(Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
        loop {
            if pages.len() as u32 >= max_pages {
                return Err(Failure::new(
                    "too_many_pages",
                    format!("the image has more than {max_pages} pages; the limit is {max_pages}"),
                ));
            }
            pages.push(reduce(tiff_page(&mut decoder).map_err(bad)?));
            if !decoder.more_images() {
                break;
            }
            decoder.next_image().map_err(|e| bad(e.to_string()))?;
        }
    } else {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(1 << 30);
        reader.limits(limits);
        let (w, h) = reader.into_dimensions().map_err(|e| bad(e.to_string()))?;
        too_big(w, h)?;
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(1 << 30);
        reader.limits(limits);
        let image = reader.decode().map_err(|e| bad(e.to_string()))?;
        pages.push(reduce(image.to_luma8()));
    }
    Ok(pages)
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

/// The current page of a TIFF in grey: bilevel, grey, palette-free colour, 8 or 16 bits.
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
    let mut out = vec![0u8; w * h];
    match color {
        ColorType::Gray(1) => {
            let stride = w.div_ceil(8);
            for y in 0..h {
                for x in 0..w {
                    let byte = samples.get(y * stride + x / 8).copied().unwrap_or(0);
                    let bit = (byte >> (7 - x % 8)) & 1;
                    out[y * w + x] = if bit == 1 { 255 } else { 0 };
                }
            }
        }
        ColorType::Gray(_) => out.copy_from_slice(samples.get(..w * h).ok_or("short TIFF data")?),
        ColorType::RGB(_) | ColorType::RGBA(_) | ColorType::CMYK(_) => {
            let n = samples.len() / (w * h).max(1);
            for (i, px) in samples.chunks(n.max(1)).take(w * h).enumerate() {
                out[i] = match color {
                    ColorType::CMYK(_) => {
                        255 - px.iter().take(4).map(|&v| v as u32).max().unwrap_or(0) as u8
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
