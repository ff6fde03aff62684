//! Media: content types decided by the bytes (magic numbers, a zip package's parts), never by
//! what the client declares, and what can be read from the bytes cheaply (image dimensions, PDF
//! page counts).

use horizon_formats::Format;

/// The types accepted as documents (what [`accepted_type`] can find).
pub const ACCEPTED_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "image/tiff",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text",
    "application/epub+zip",
    "text/html",
    "text/markdown",
];

/// What the accepted types are, for messages.
pub const ACCEPTED: &str =
    "PDF, PNG, JPEG, WebP, GIF, TIFF, DOCX, PPTX, XLSX, ODT, EPUB, HTML and Markdown";

/// Whether a type has page pictures (`GET /v1/jobs/{jobId}/pages/{n}`): PDFs and images.
pub fn has_pages(content_type: &str) -> bool {
    content_type == "application/pdf" || content_type.starts_with("image/")
}

/// The media type of `bytes` when it is one we accept (see [`ACCEPTED_TYPES`]).
pub fn accepted_type(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if pdf_header(bytes) {
        Some("application/pdf")
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some("image/tiff")
    } else {
        horizon_formats::detect(bytes).map(Format::content_type)
    }
}

/// PDF readers accept `%PDF-` within the first 1024 bytes (some generators put junk first).
fn pdf_header(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    head.windows(5).any(|w| w == b"%PDF-")
}

/// A short description of bytes we refuse, for the error message.
pub fn describe(bytes: &[u8]) -> String {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    let what = if bytes.is_empty() {
        "an empty body"
    } else if starts(b"\x7FELF") {
        "an ELF executable"
    } else if starts(b"MZ") {
        "a Windows executable"
    } else if starts(b"PK\x03\x04") {
        "a ZIP archive that is none of DOCX, PPTX, XLSX, ODT and EPUB"
    } else if starts(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        "a legacy Office file (DOC, XLS, PPT) or an encrypted Office document"
    } else if starts(b"#!") {
        "a script"
    } else if std::str::from_utf8(&bytes[..bytes.len().min(512)]).is_ok() {
        "text"
    } else {
        "unrecognised binary data"
    };
    what.to_owned()
}

/// Whether a declared type (header or multipart part) agrees with the detected one. Generic
/// declarations (`application/octet-stream`, none) agree with anything.
pub fn declared_agrees(declared: Option<&str>, detected: &str) -> bool {
    let Some(declared) = declared else {
        return true;
    };
    let essence = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "" | "application/octet-stream" | "binary/octet-stream" => true,
        "image/jpg" | "image/pjpeg" => detected == "image/jpeg",
        "application/x-pdf" => detected == "application/pdf",
        "application/xhtml+xml" => detected == "text/html",
        "text/plain" | "text/x-markdown" => detected == "text/markdown",
        // A package sent as what it is packed in.
        "application/zip" | "application/x-zip-compressed" => {
            horizon_formats::Format::of_content_type(detected)
                .is_some_and(|f| !matches!(f, Format::Html | Format::Markdown))
        }
        other => other == detected,
    }
}

/// What an accepted file is: its type, and its dimensions (images) or page count (PDFs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub content_type: &'static str,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub pages: Option<u32>,
}

/// Inspects `bytes`: `Err` with a description of what was seen when the type is not accepted.
/// Dimensions come from the image header; a PDF's pages from PDFium (`pdfium_hint` is
/// `PDFIUM_LIB_PATH`), `None` when it cannot say (a damaged file is refused later, by the job).
/// The type and, for an image, its dimensions (from its header). A PDF's page count is not read
/// here: that takes PDFium, which reads untrusted bytes only in a child process
/// ([`crate::uploads::inspect`]).
pub fn inspect(bytes: &[u8]) -> Result<Inspection, String> {
    let Some(content_type) = accepted_type(bytes) else {
        return Err(describe(bytes));
    };
    let mut out = Inspection {
        content_type,
        width: None,
        height: None,
        pages: None,
    };
    if !has_pages(content_type) || content_type == "application/pdf" {
        // A PDF's pages are counted apart (see above); a document's are known once it is read.
    } else if let Ok(size) = imagesize::blob_size(bytes) {
        out.width = u32::try_from(size.width).ok();
        out.height = u32::try_from(size.height).ok();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_accepted_type() {
        assert_eq!(accepted_type(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(accepted_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(accepted_type(b"\xFF\xD8\xFF\xE0...."), Some("image/jpeg"));
        assert_eq!(accepted_type(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(accepted_type(b"GIF89a...."), Some("image/gif"));
        assert_eq!(accepted_type(b"II*\0...."), Some("image/tiff"));
        assert_eq!(accepted_type(b"MM\0*...."), Some("image/tiff"));
        for found in [
            b"%PDF-1.7".as_slice(),
            b"GIF89a....",
            b"RIFF\x10\0\0\0WEBPVP8 ",
        ] {
            assert!(ACCEPTED_TYPES.contains(&accepted_type(found).unwrap()));
        }
    }

    #[test]
    fn refuses_everything_else_and_says_what_it_saw() {
        for (bytes, what) in [
            (&b""[..], "an empty body"),
            (b"\x7FELF\x02\x01", "an ELF executable"),
            (b"MZ\x90\0", "a Windows executable"),
            (b"#!/bin/sh", "a script"),
        ] {
            assert_eq!(accepted_type(bytes), None);
            assert_eq!(describe(bytes), what);
        }
    }

    #[test]
    fn declared_types_must_agree() {
        assert!(declared_agrees(None, "application/pdf"));
        assert!(declared_agrees(
            Some("application/octet-stream"),
            "image/png"
        ));
        assert!(declared_agrees(
            Some("Application/PDF; charset=binary"),
            "application/pdf"
        ));
        assert!(!declared_agrees(Some("image/png"), "application/pdf"));
        assert!(declared_agrees(Some("image/jpg"), "image/jpeg"));
    }
}
