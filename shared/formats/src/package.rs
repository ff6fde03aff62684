//! A zip package (Office Open XML, ODF, EPUB) read under limits: how many entries, how many
//! bytes each may unpack to and all of them together, and how far an entry may be compressed.
//! Sizes are checked against what the archive declares and again while unpacking, so that an
//! archive that lies about them is caught too. Nothing outside the archive is ever read.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{Cursor, Read as _};

use crate::xml::{self, El};
use crate::Error;

/// At most this many entries.
pub const MAX_ENTRIES: usize = 50_000;
/// An XML part read whole may unpack to this many bytes at most.
pub const MAX_PART: u64 = 64 << 20;
/// Every entry read, together, may unpack to this many bytes at most.
pub const MAX_UNPACKED: u64 = 1 << 30;
/// An entry larger than [`BOMB_FLOOR`] unpacked that is compressed more than this is refused:
/// deflate cannot do much better than 1032:1, and real documents stay far below.
pub const MAX_RATIO: u64 = 500;
const BOMB_FLOOR: u64 = 8 << 20;

pub struct Package<'a> {
    zip: std::cell::RefCell<zip::ZipArchive<Cursor<&'a [u8]>>>,
    unpacked: Cell<u64>,
}

impl<'a> Package<'a> {
    pub fn open(bytes: &'a [u8]) -> Result<Package<'a>, Error> {
        let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
            Error::Malformed(format!("the file is not a readable zip package: {e}"))
        })?;
        if zip.len() > MAX_ENTRIES {
            return Err(Error::Refused(format!(
                "the package has {} entries, more than the {MAX_ENTRIES} allowed",
                zip.len()
            )));
        }
        Ok(Package {
            zip: std::cell::RefCell::new(zip),
            unpacked: Cell::new(0),
        })
    }

    pub fn has(&self, name: &str) -> bool {
        self.zip.borrow().index_for_name(name).is_some()
    }

    /// The entry `name` unpacked (at most `max` bytes), or `None` when there is none.
    pub fn read_at_most(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>, Error> {
        let mut zip = self.zip.borrow_mut();
        let Some(index) = zip.index_for_name(name) else {
            return Ok(None);
        };
        let mut entry = zip.by_index(index).map_err(|e| match e {
            zip::result::ZipError::UnsupportedArchive(m) if m.contains("ncrypt") => {
                Error::Encrypted(format!("{name} is encrypted"))
            }
            e => Error::Malformed(format!("{name} cannot be unpacked: {e}")),
        })?;
        if entry.encrypted() {
            return Err(Error::Encrypted(format!("{name} is encrypted")));
        }
        let declared = entry.size();
        let left = MAX_UNPACKED.saturating_sub(self.unpacked.get());
        let cap = max.min(left);
        let too_large = |n: u64| {
            Error::Refused(format!(
                "{name} unpacks to {n} bytes or more, over the limit of {cap} (a zip bomb, or far larger than a document needs)"
            ))
        };
        if declared > cap {
            return Err(too_large(declared));
        }
        let compressed = entry.compressed_size().max(1);
        if declared > BOMB_FLOOR && declared / compressed > MAX_RATIO {
            return Err(Error::Refused(format!(
                "{name} is compressed {}:1, as only zip bombs are",
                declared / compressed
            )));
        }
        let mut out = Vec::with_capacity(declared.min(cap) as usize);
        (&mut entry)
            .take(cap + 1)
            .read_to_end(&mut out)
            .map_err(|e| Error::Malformed(format!("{name} cannot be unpacked: {e}")))?;
        if out.len() as u64 > cap {
            return Err(too_large(out.len() as u64));
        }
        self.unpacked.set(self.unpacked.get() + out.len() as u64);
        Ok(Some(out))
    }

    /// An XML part as a tree (see [`xml::parse`]), or `None` when there is none.
    pub fn xml(&self, name: &str) -> Result<Option<El>, Error> {
        match self.read_at_most(name, MAX_PART)? {
            Some(bytes) => Ok(Some(xml::parse(&bytes, name)?)),
            None => Ok(None),
        }
    }

    /// An XML part that must be there.
    pub fn required_xml(&self, name: &str) -> Result<El, Error> {
        self.xml(name)?
            .ok_or_else(|| Error::Malformed(format!("the package has no {name}")))
    }

    /// The relationships of the part `part` (`word/document.xml` has
    /// `word/_rels/document.xml.rels`), by id. External targets are kept apart, never followed.
    pub fn rels(&self, part: &str) -> Result<Rels, Error> {
        let (dir, file) = part.rsplit_once('/').unwrap_or(("", part));
        let name = if dir.is_empty() {
            format!("_rels/{file}.rels")
        } else {
            format!("{dir}/_rels/{file}.rels")
        };
        let mut rels = Rels::default();
        let Some(root) = self.xml(&name)? else {
            return Ok(rels);
        };
        for r in root.all("Relationship") {
            let (Some(id), Some(target)) = (r.attr("Id"), r.attr("Target")) else {
                continue;
            };
            let kind = r
                .attr("Type")
                .unwrap_or("")
                .rsplit('/')
                .next()
                .unwrap_or("");
            let external = r.attr("TargetMode") == Some("External");
            rels.0.insert(
                id.to_owned(),
                Rel {
                    kind: kind.to_owned(),
                    target: if external {
                        target.to_owned()
                    } else {
                        resolve(dir, target)
                    },
                    external,
                },
            );
        }
        Ok(rels)
    }
}

#[derive(Debug, Clone)]
pub struct Rel {
    /// The last segment of the relationship's type (`image`, `slide`, `notesSlide`).
    pub kind: String,
    /// The part it points at, from the package's root; a URL when `external`.
    pub target: String,
    pub external: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Rels(HashMap<String, Rel>);

impl Rels {
    /// The internal part `id` points at.
    pub fn part(&self, id: &str) -> Option<&str> {
        self.0
            .get(id)
            .filter(|r| !r.external)
            .map(|r| r.target.as_str())
    }

    /// The first internal part of a type (`notesSlide`).
    pub fn of_kind(&self, kind: &str) -> Option<&str> {
        let mut found: Vec<&Rel> = self
            .0
            .values()
            .filter(|r| r.kind == kind && !r.external)
            .collect();
        found.sort_by(|a, b| a.target.cmp(&b.target));
        found.first().map(|r| r.target.as_str())
    }
}

/// `target` as a path from the package's root, relative to the directory `dir` (`..` and `.`
/// resolved; a leading `/` is the root). It never leaves the package: `..` stops at the root.
pub fn resolve(dir: &str, target: &str) -> String {
    let target = target.split(['#', '?']).next().unwrap_or("");
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|s| !s.is_empty()).collect()
    };
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_inside_the_package() {
        assert_eq!(resolve("word", "media/image1.png"), "word/media/image1.png");
        assert_eq!(resolve("ppt/slides", "../media/a.png"), "ppt/media/a.png");
        assert_eq!(
            resolve("ppt/slides", "/ppt/notes/n1.xml"),
            "ppt/notes/n1.xml"
        );
        assert_eq!(resolve("a", "../../../../etc/passwd"), "etc/passwd");
        assert_eq!(resolve("OEBPS", "ch1.xhtml#s2"), "OEBPS/ch1.xhtml");
    }
}
