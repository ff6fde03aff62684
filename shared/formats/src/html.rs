//! HTML (and the XHTML of EPUB): parsed as browsers parse it (html5ever, through scraper), then
//! walked: `<h1>`–`<h6>` as headings, `<p>` and other blocks as paragraphs, `<ul>`/`<ol>` as
//! lists with their nesting, `<table>` with `colspan`/`rowspan` and `<thead>` as the header,
//! `<caption>`/`<figcaption>` as captions, `<pre>` as code, `<img>` as figures (their `alt`, and
//! the text of pictures given as `data:` URLs or, in an EPUB, inside the book), ARIA footnotes
//! as footnotes. Scripts, styles, forms and navigation are left out. Nothing is fetched.

use base64::Engine as _;
use ego_tree::NodeRef;
use horizon_layout::{Document, Kind};
use scraper::{Html, Node};

use crate::build::{Builder, CellIn, Item};
use crate::{Error, SeePicture};

/// Elements nested deeper than this are read as plain text (the tree is walked recursively).
const MAX_DEPTH: usize = 200;
const NO_BOX: [f32; 4] = [0.0; 4];

/// Finds the bytes of a picture the document refers to (inside an EPUB), by its `src`.
pub type Resolve<'a> = dyn Fn(&str) -> Option<Vec<u8>> + 'a;

const SKIPPED: &[&str] = &[
    "head", "script", "style", "noscript", "template", "svg", "iframe", "object", "embed",
    "canvas", "button", "select", "option", "input", "textarea", "nav", "map", "audio", "video",
];

const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "address",
    "center",
    "body",
    "html",
    "form",
    "fieldset",
    "details",
    "summary",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "li",
    "legend",
    "hgroup",
    "search",
];

/// The text of HTML `bytes`: UTF-8, else each byte as the Latin-1 character it is.
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

pub fn read(
    text: &str,
    see: &mut SeePicture<'_>,
    resolve: &Resolve<'_>,
) -> Result<(Document, Vec<String>), Error> {
    let mut b = Builder::new(see);
    walk(&mut b, text, resolve)?;
    Ok(b.finish())
}

/// Elements may be open this deep at most: an HTML parser's work grows with the square of the
/// depth (each tag looks through the open elements), so a file of a million nested `<div>`s
/// would hold a worker for hours.
pub const MAX_NESTING: usize = 4096;

/// How deeply `text` nests its elements, at most: start tags less end tags. Void elements,
/// self-closed tags, elements a parser closes by itself (`<p>`, `<li>`, `<td>`…, which old pages
/// leave open by the thousand) and what scripts, styles and comments hold are not counted.
fn nesting(text: &str) -> usize {
    const UNCOUNTED: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup",
        "thead", "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rp", "a", "html", "head",
        "body",
    ];
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut i = 0;
    let skip_to = |from: usize, end: &str| {
        lower[from..]
            .find(end)
            .map_or(bytes.len(), |at| from + at + end.len())
    };
    while let Some(at) = bytes[i..].iter().position(|&b| b == b'<') {
        i += at + 1;
        let rest = &bytes[i..];
        if rest.starts_with(b"!--") {
            i = skip_to(i, "-->");
            continue;
        }
        let closing = rest.first() == Some(&b'/');
        let name_start = usize::from(closing);
        let name_len = rest[name_start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 || !rest[name_start].is_ascii_alphabetic() {
            continue;
        }
        let name = &lower[i + name_start..i + name_start + name_len];
        if UNCOUNTED.contains(&name) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
            continue;
        }
        let end = rest.iter().position(|&b| b == b'>').unwrap_or(rest.len());
        if end > 0 && rest[end - 1] == b'/' {
            continue;
        }
        if matches!(name, "script" | "style" | "textarea" | "title" | "xmp") {
            i = skip_to(i, &format!("</{name}"));
            continue;
        }
        depth += 1;
        deepest = deepest.max(depth);
    }
    deepest
}

/// Adds the blocks of the HTML `text` to `b`.
pub fn walk(b: &mut Builder, text: &str, resolve: &Resolve<'_>) -> Result<(), Error> {
    if nesting(text) > MAX_NESTING {
        return Err(Error::Refused(format!(
            "the HTML nests elements more than {MAX_NESTING} deep"
        )));
    }
    let html = Html::parse_document(text);
    let mut w = Walk {
        b,
        inline: String::new(),
        resolve,
    };
    w.node(html.tree.root(), 0);
    w.flush();
    Ok(())
}

struct Walk<'x, 'b, 'r> {
    b: &'x mut Builder<'b>,
    inline: String,
    resolve: &'x Resolve<'r>,
}

fn name(n: NodeRef<'_, Node>) -> Option<&str> {
    match n.value() {
        Node::Element(e) => Some(e.name()),
        _ => None,
    }
}

fn attr<'a>(n: NodeRef<'a, Node>, key: &str) -> Option<&'a str> {
    match n.value() {
        Node::Element(e) => e.attr(key),
        _ => None,
    }
}

/// The text of `n` and everything in it but what is left out (and, with `lists`, nested lists).
fn text_of(n: NodeRef<Node>, lists: bool) -> String {
    let mut out = String::new();
    let mut stack = vec![n];
    while let Some(n) = stack.pop() {
        match n.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => {
                let tag = e.name();
                if SKIPPED.contains(&tag) || (!lists && (tag == "ul" || tag == "ol")) {
                    continue;
                }
                if tag == "br" {
                    out.push('\n');
                }
                if BLOCKS.contains(&tag) || tag == "tr" || tag == "td" || tag == "th" {
                    out.push(' ');
                }
                if tag == "img" {
                    if let Some(alt) = e.attr("alt") {
                        out.push_str(alt);
                    }
                }
                stack.extend(n.children().rev());
            }
            _ => stack.extend(n.children().rev()),
        }
    }
    out
}

impl Walk<'_, '_, '_> {
    fn flush(&mut self) {
        if !self.inline.trim().is_empty() {
            let text = std::mem::take(&mut self.inline);
            self.b.text(Kind::Paragraph, &text, NO_BOX);
        }
        self.inline.clear();
    }

    fn children(&mut self, n: NodeRef<Node>, depth: usize) {
        for c in n.children() {
            self.node(c, depth + 1);
        }
    }

    fn node(&mut self, n: NodeRef<Node>, depth: usize) {
        let tag = match n.value() {
            Node::Text(t) => {
                self.inline.push_str(t);
                return;
            }
            Node::Element(e) => e.name(),
            Node::Document | Node::Fragment => {
                self.children(n, depth);
                return;
            }
            _ => return,
        };
        if depth > MAX_DEPTH {
            self.inline.push(' ');
            self.inline.push_str(&text_of(n, true));
            return;
        }
        if SKIPPED.contains(&tag) {
            return;
        }
        if matches!(attr(n, "role"), Some("doc-footnote" | "doc-endnote")) {
            self.flush();
            self.b.text(Kind::Footnote, &text_of(n, true), NO_BOX);
            return;
        }
        match tag {
            "br" => self.inline.push('\n'),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.flush();
                let level = tag[1..].parse().unwrap_or(1);
                self.b.heading(level, &text_of(n, true), NO_BOX);
            }
            "ul" | "ol" => {
                self.flush();
                let mut items = Vec::new();
                list_items(n, 0, depth, &mut items);
                self.b.list(items, NO_BOX);
            }
            "table" => {
                self.flush();
                self.table(n);
            }
            "pre" => {
                self.flush();
                self.b.code(&text_of(n, true));
            }
            "caption" | "figcaption" => {
                self.flush();
                self.b.text(Kind::Caption, &text_of(n, true), NO_BOX);
            }
            "img" => {
                self.flush();
                self.picture(n);
            }
            "hr" => self.flush(),
            "figure" => {
                self.flush();
                self.children(n, depth);
                self.flush();
            }
            _ if BLOCKS.contains(&tag) => {
                self.flush();
                self.children(n, depth);
                self.flush();
            }
            _ => self.children(n, depth),
        }
    }

    fn picture(&mut self, n: NodeRef<Node>) {
        let alt = attr(n, "alt").or_else(|| attr(n, "title")).unwrap_or("");
        let src = attr(n, "src").unwrap_or("");
        let bytes = match src.strip_prefix("data:") {
            Some(data) => data.split_once(";base64,").and_then(|(_, b64)| {
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim().as_bytes())
                    .ok()
            }),
            None if !src.is_empty() => (self.resolve)(src),
            None => None,
        };
        self.b.figure(alt, bytes.as_deref(), NO_BOX);
    }

    fn table(&mut self, table: NodeRef<Node>) {
        let mut rows: Vec<Vec<CellIn>> = Vec::new();
        let mut head_rows = 0u32;
        let mut caption = None;
        let add_row = |tr: NodeRef<Node>, head: bool, rows: &mut Vec<Vec<CellIn>>| {
            let cells = tr
                .children()
                .filter(|c| matches!(name(*c), Some("td" | "th")))
                .map(|c| {
                    let span = |k: &str| {
                        attr(c, k)
                            .and_then(|v| v.trim().parse::<u32>().ok())
                            .unwrap_or(1)
                    };
                    CellIn {
                        text: text_of(c, true),
                        col_span: span("colspan"),
                        row_span: span("rowspan").max(1),
                        header: head || name(c) == Some("th"),
                    }
                })
                .collect();
            rows.push(cells);
        };
        for part in table.children() {
            match name(part) {
                Some("caption") => caption = Some(text_of(part, true)),
                Some("tr") => add_row(part, false, &mut rows),
                Some(group @ ("thead" | "tbody" | "tfoot")) => {
                    for tr in part.children().filter(|c| name(*c) == Some("tr")) {
                        let head = group == "thead";
                        if head && rows.len() as u32 == head_rows {
                            head_rows += 1;
                        }
                        add_row(tr, head, &mut rows);
                    }
                }
                _ => {}
            }
        }
        if let Some(caption) = caption {
            self.b.text(Kind::Caption, &caption, NO_BOX);
        }
        self.b
            .table(rows, (head_rows > 0).then_some(head_rows), NO_BOX);
    }
}

/// The items of the list `n` at `depth`, nested lists' items after their parent's.
fn list_items(n: NodeRef<Node>, depth: u8, tree_depth: usize, out: &mut Vec<Item>) {
    let ordered = name(n) == Some("ol");
    for li in n.children().filter(|c| name(*c) == Some("li")) {
        out.push(Item {
            depth,
            ordered,
            text: text_of(li, false),
        });
        if tree_depth > MAX_DEPTH {
            continue;
        }
        // Nested lists, wherever they sit in the item.
        let mut stack: Vec<NodeRef<Node>> = li.children().collect();
        stack.reverse();
        while let Some(c) = stack.pop() {
            match name(c) {
                Some("ul" | "ol") => list_items(c, depth.saturating_add(1), tree_depth + 2, out),
                Some(t) if SKIPPED.contains(&t) => {}
                Some(_) => stack.extend(c.children().rev()),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_what_a_parser_nests() {
        assert_eq!(nesting("<div><span>a</span><div><b>b</b></div></div>"), 3);
        // Old pages leave paragraphs and cells open; scripts compare with `<`.
        let old = "<p>one".repeat(10_000) + &"<tr><td>x".repeat(10_000);
        assert_eq!(nesting(&old), 0);
        let script = format!(
            "<script>{}</script><!-- <div><div> -->",
            "if (a<b) c<d;".repeat(10_000)
        );
        assert_eq!(nesting(&script), 0);
        assert_eq!(nesting(&"<div>".repeat(5000)), 5000);
    }
}
