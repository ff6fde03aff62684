//! Making damaged PDFs readable: a file cut short (its cross-reference table and trailer lost
//! with its end) or one whose trailer does not name its catalog. PDFium rebuilds the
//! cross-reference table by scanning for objects when the file's own is unusable, but it still
//! needs a trailer that names the document's root; this supplies one, and, when the catalog
//! itself was lost, a new page tree over the pages that survive, in file order.

/// Repaired copies of `bytes` to try, best first, each with what was done; none when nothing
/// can be done. First a trailer that names the catalog; then (the catalog's own page tree may be
/// what is broken, or lost) a new page tree over the pages that survive, in file order.
pub fn repair(bytes: &[u8]) -> Vec<(Vec<u8>, String)> {
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Vec::new();
    }
    // Keep whole objects only: a truncated last object could swallow what we append.
    let Some(end) = rfind(bytes, b"endobj").map(|e| e + b"endobj".len()) else {
        return Vec::new();
    };
    let body = &bytes[..end];
    let objects = objects(body);
    let Some(max) = objects.iter().map(|o| o.number).max() else {
        return Vec::new();
    };
    let trailer = |root: u32| {
        format!(
            "\ntrailer\n<< /Size {} /Root {root} 0 R >>\nstartxref\n0\n%%EOF\n",
            max + 3
        )
    };
    let mut candidates = Vec::new();
    if let Some(catalog) = objects.iter().rev().find(|o| o.kind == Kind::Catalog) {
        let mut out = body.to_vec();
        out.extend_from_slice(trailer(catalog.number).as_bytes());
        candidates.push((
            out,
            "the file was damaged (its trailer was missing or unusable); text was read from what remains".to_owned(),
        ));
    }
    let pages: Vec<u32> = objects
        .iter()
        .filter(|o| o.kind == Kind::Page)
        .map(|o| o.number)
        .collect();
    if !pages.is_empty() {
        let (tree, root) = (max + 1, max + 2);
        let kids: Vec<String> = pages.iter().map(|p| format!("{p} 0 R")).collect();
        let mut out = body.to_vec();
        out.extend_from_slice(
            format!(
                "\n{tree} 0 obj\n<< /Type /Pages /Kids [{}] /Count {} >>\nendobj\n\
                 {root} 0 obj\n<< /Type /Catalog /Pages {tree} 0 R >>\nendobj\n{}",
                kids.join(" "),
                pages.len(),
                trailer(root)
            )
            .as_bytes(),
        );
        candidates.push((
            out,
            format!(
                "the file was damaged (its page tree was lost or unusable); {} page(s) were recovered, in file order",
                pages.len()
            ),
        ));
    }
    candidates
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Catalog,
    Page,
    Other,
}

struct Object {
    number: u32,
    kind: Kind,
}

/// The objects `N G obj ... endobj` in the file, in order, with what their dictionary says
/// they are.
fn objects(body: &[u8]) -> Vec<Object> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(pos) = find(&body[at..], b" obj").map(|p| p + at) {
        at = pos + 4;
        // Back over "G" and "N": digits, a space, digits, at the start of a line.
        let mut i = pos;
        let gen_end = i;
        while i > 0 && body[i - 1].is_ascii_digit() {
            i -= 1;
        }
        if i == gen_end || i == 0 || body[i - 1] != b' ' {
            continue;
        }
        i -= 1;
        let num_end = i;
        while i > 0 && body[i - 1].is_ascii_digit() {
            i -= 1;
        }
        if i == num_end || (i > 0 && !matches!(body[i - 1], b'\n' | b'\r')) {
            continue;
        }
        let Some(number) = std::str::from_utf8(&body[i..num_end])
            .ok()
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        // The dictionary: up to a stream or the end of the object.
        let rest = &body[at..];
        let stop = [find(rest, b"stream"), find(rest, b"endobj")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(rest.len().min(65_536));
        found.push(Object {
            number,
            kind: kind(&rest[..stop]),
        });
    }
    found
}

fn kind(dict: &[u8]) -> Kind {
    let mut at = 0;
    while let Some(p) = find(&dict[at..], b"/Type").map(|p| p + at) {
        at = p + 5;
        let mut j = at;
        while j < dict.len() && dict[j].is_ascii_whitespace() {
            j += 1;
        }
        let name = &dict[j..];
        let word_end = |n: usize| name.get(n).is_none_or(|c| !c.is_ascii_alphanumeric());
        if name.starts_with(b"/Catalog") && word_end(8) {
            return Kind::Catalog;
        }
        if name.starts_with(b"/Page") && word_end(5) {
            return Kind::Page;
        }
    }
    Kind::Other
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &[u8] = b"%PDF-1.4\n1 0 obj\n<< /Type /Page /Parent 9 0 R >>\nendobj\n2 0 obj\n<< /Type /Page /Parent 9 0 R >>\nendobj\n3 0 obj\n<< /Length 99 >>\nstream\nBT (cut";

    #[test]
    fn a_file_cut_short_gets_a_page_tree_and_a_trailer() {
        let candidates = repair(PAGE);
        assert_eq!(candidates.len(), 1, "no catalog: only the page tree");
        let (fixed, note) = &candidates[0];
        let text = String::from_utf8_lossy(fixed);
        assert!(!text.contains("(cut"), "the partial object is dropped");
        assert!(text.contains("/Kids [1 0 R 2 0 R] /Count 2"), "{text}");
        assert!(text.contains("/Type /Catalog /Pages 3 0 R"), "{text}");
        assert!(text.contains("/Root 4 0 R"), "{text}");
        assert!(note.contains("2 page(s)"), "{note}");
    }

    #[test]
    fn an_existing_catalog_is_named_by_the_new_trailer() {
        let pdf = b"%PDF-1.7\n7 0 obj\n<</Type/Catalog/Pages 8 0 R>>\nendobj\n8 0 obj\n<</Type /Pages /Kids [] /Count 0>>\nendobj\n";
        let candidates = repair(pdf);
        assert_eq!(candidates.len(), 1);
        assert!(String::from_utf8_lossy(&candidates[0].0).contains("/Root 7 0 R"));
    }

    #[test]
    fn nothing_to_save_is_none() {
        assert!(repair(b"not a pdf").is_empty());
        assert!(repair(b"%PDF-1.4\ngarbage without objects").is_empty());
        assert!(repair(b"%PDF-1.4\n1 0 obj\n<< /Foo 1 >>\nendobj\n").is_empty());
    }
}
