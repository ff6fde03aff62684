//! Documents that are not PDFs or images, read in Rust into the layout's document model
//! (`horizon_layout::Document`): Word (DOCX), PowerPoint (PPTX), Excel (XLSX), OpenDocument text
//! (ODT), HTML, EPUB and Markdown. Each keeps the structure its format states (heading levels,
//! nested lists, tables with merged cells, captions, footnotes, pictures, slides, sheets) rather
//! than guessing it from the look of a page.
//!
//! The type is found from the bytes ([`detect`]), never from a name or a declared type. The
//! files are untrusted: zip packages are read under limits ([`package`]), XML without document
//! type declarations or entities ([`xml`]), and nothing a file refers to outside itself is
//! fetched. What breaks a limit is refused with [`Error::Refused`].

pub mod build;
mod docx;
mod epub;
mod html;
mod markdown;
mod odt;
pub mod package;
mod pptx;
mod xlsx;
pub mod xml;

use horizon_layout::Document;

pub use build::SeePicture;

/// The formats read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Docx,
    Pptx,
    Xlsx,
    Odt,
    Epub,
    Html,
    Markdown,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Docx,
        Format::Pptx,
        Format::Xlsx,
        Format::Odt,
        Format::Epub,
        Format::Html,
        Format::Markdown,
    ];

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            Format::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Odt => "application/vnd.oasis.opendocument.text",
            Format::Epub => "application/epub+zip",
            Format::Html => "text/html",
            Format::Markdown => "text/markdown",
        }
    }

    pub fn of_content_type(content_type: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.content_type() == content_type)
    }

    /// The format's short name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Docx => "DOCX",
            Format::Pptx => "PPTX",
            Format::Xlsx => "XLSX",
            Format::Odt => "ODT",
            Format::Epub => "EPUB",
            Format::Html => "HTML",
            Format::Markdown => "Markdown",
        }
    }
}

/// Why a document could not be read. `code()` is the failed job's `error.code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not a well-formed file of its format.
    #[error("{0}")]
    Malformed(String),
    /// Over a limit that protects the reader: a zip bomb, entity declarations, XML nested too
    /// deeply, too many entries.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Encrypted(String),
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "invalid_document",
            Error::Refused(_) => "unsafe_document",
            Error::Encrypted(_) => "encrypted",
        }
    }

    pub(crate) fn malformed(part: &str, e: impl std::fmt::Display) -> Error {
        Error::Malformed(format!("{part} is not well-formed XML: {e}"))
    }
}

/// A document as read: the model, and what could not be read of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub format: Format,
    pub document: Document,
    pub warnings: Vec<String>,
}

const OOXML_MAIN: &[(&str, Format)] = &[
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        Format::Docx,
    ),
    (
        "application/vnd.ms-word.document.macroEnabled.main+xml",
        Format::Docx,
    ),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
        Format::Docx,
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        Format::Pptx,
    ),
    (
        "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
        Format::Pptx,
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
        Format::Pptx,
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        Format::Xlsx,
    ),
    (
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
        Format::Xlsx,
    ),
];

/// The format of `bytes` and, for Office Open XML, its main part (`word/document.xml`).
fn identify(bytes: &[u8]) -> Option<(Format, String)> {
    if bytes.starts_with(b"PK\x03\x04") {
        let package = package::Package::open(bytes).ok()?;
        // ODF and EPUB name themselves in a first entry, `mimetype`.
        if let Ok(Some(mime)) = package.read_at_most("mimetype", 200) {
            let mime = String::from_utf8_lossy(&mime);
            return match mime.trim() {
                "application/vnd.oasis.opendocument.text" => {
                    Some((Format::Odt, "content.xml".into()))
                }
                "application/epub+zip" => Some((Format::Epub, String::new())),
                _ => None,
            };
        }
        let types = package.xml("[Content_Types].xml").ok()??;
        return types.all("Override").find_map(|o| {
            let kind = o.attr("ContentType")?;
            let (_, format) = OOXML_MAIN.iter().find(|(t, _)| *t == kind)?;
            let part = o.attr("PartName")?.trim_start_matches('/');
            Some((*format, part.to_owned()))
        });
    }
    let text = text_head(bytes)?;
    if looks_like_html(text) {
        return Some((Format::Html, String::new()));
    }
    is_markdown(bytes).then(|| (Format::Markdown, String::new()))
}

/// The format of `bytes`, when it is one read here.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    identify(bytes).map(|(f, _)| f)
}

/// The start of a text file (a UTF-8 byte order mark and leading white space dropped), when its
/// first bytes are text.
fn text_head(bytes: &[u8]) -> Option<&str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = &bytes[..bytes.len().min(1024)];
    let head = match std::str::from_utf8(head) {
        Ok(s) => s,
        // Cut inside a character.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
        Err(_)
            if head
                .iter()
                .all(|&b| b >= 0x20 || b"\t\n\r\x0c".contains(&b)) =>
        {
            // Not UTF-8 but text (Latin-1, Windows-1252): HTML may be.
            return Some("");
        }
        Err(_) => return None,
    };
    Some(head.trim_start())
}

fn looks_like_html(head: &str) -> bool {
    let lower = head.to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
        return true;
    }
    (lower.starts_with("<?xml")
        || lower.starts_with("<!--")
        || lower.starts_with("<head")
        || lower.starts_with("<meta"))
        && (lower.contains("<html") || lower.contains("<body") || lower.contains("<!doctype html"))
}

/// Text that is read as Markdown: UTF-8 with no control characters but white space, and not
/// something else that is text (a script, XML, JSON, PostScript, an e-mail's headers aside).
fn is_markdown(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let start = text.trim_start();
    if start.is_empty()
        || start.starts_with("#!")
        || start.starts_with('<')
        || start.starts_with('{')
        || start.starts_with("%!")
        || start.starts_with("%PDF")
    {
        return false;
    }
    !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

/// Reads `bytes` (of any format [`detect`] finds). `see` is given each picture's bytes and
/// returns the text in it, if it reads pictures.
pub fn read(bytes: &[u8], see: &mut SeePicture<'_>) -> Result<Read, Error> {
    let Some((format, main)) = identify(bytes) else {
        return Err(Error::Malformed(
            "the file is none of DOCX, PPTX, XLSX, ODT, EPUB, HTML or Markdown".into(),
        ));
    };
    let (document, warnings) = match format {
        Format::Docx => docx::read(bytes, &main, see)?,
        Format::Pptx => pptx::read(bytes, &main, see)?,
        Format::Xlsx => xlsx::read(bytes, &main)?,
        Format::Odt => odt::read(bytes, see)?,
        Format::Epub => epub::read(bytes, see)?,
        Format::Html => html::read(&html::decode(bytes), see, &|_| None)?,
        Format::Markdown => markdown::read(&String::from_utf8_lossy(bytes), see)?,
    };
    Ok(Read {
        format,
        document,
        warnings,
    })
}

#[cfg(test)]
mod tests;
