//! EPUB: the book's documents in reading order (its spine), each read as HTML into one flowing
//! page; pictures found inside the book. A book whose documents are encrypted (DRM) is refused
//! as such.

use horizon_layout::Document;

use crate::build::Builder;
use crate::package::{resolve, Package};
use crate::{html, Error, SeePicture};

const MAX_DOCUMENT: u64 = 64 << 20;
const MAX_PICTURE: u64 = 64 << 20;

pub fn read(bytes: &[u8], see: &mut SeePicture<'_>) -> Result<(Document, Vec<String>), Error> {
    let pkg = Package::open(bytes)?;
    let container = pkg.required_xml("META-INF/container.xml")?;
    let opf = container
        .find("rootfile")
        .and_then(|r| r.attr("full-path"))
        .ok_or_else(|| Error::Malformed("META-INF/container.xml names no package document".into()))?
        .to_owned();
    let root = pkg.required_xml(&opf)?;
    let dir = opf.rsplit_once('/').map_or("", |(d, _)| d);
    if let Some(enc) = pkg.xml("META-INF/encryption.xml")? {
        let locked = enc.find_all("CipherReference").iter().any(|c| {
            c.attr("URI").is_some_and(|u| {
                let u = u.to_ascii_lowercase();
                u.ends_with(".xhtml") || u.ends_with(".html") || u.ends_with(".htm")
            })
        });
        if locked {
            return Err(Error::Encrypted(
                "the book's documents are encrypted (DRM)".into(),
            ));
        }
    }
    let manifest = root.find("manifest");
    let href = |id: &str| {
        manifest?
            .all("item")
            .find(|i| i.attr("id") == Some(id))
            .and_then(|i| i.attr("href"))
            .map(|h| resolve(dir, &percent_decode(h)))
    };
    let spine: Vec<String> = root
        .find("spine")
        .map(|s| {
            s.all("itemref")
                .filter_map(|i| href(i.attr("idref")?))
                .collect()
        })
        .unwrap_or_default();
    let mut b = Builder::new(see);
    for doc in &spine {
        let Some(bytes) = pkg.read_at_most(doc, MAX_DOCUMENT)? else {
            b.warnings
                .push(format!("{doc}, in the book's reading order, is missing"));
            continue;
        };
        let doc_dir = doc.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
        let pictures = |src: &str| {
            if src.contains(':') {
                return None;
            }
            pkg.read_at_most(&resolve(&doc_dir, &percent_decode(src)), MAX_PICTURE)
                .ok()
                .flatten()
        };
        html::walk(&mut b, &html::decode(&bytes), &pictures)?;
    }
    Ok(b.finish())
}

/// `%20` and the like in a path, decoded.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
