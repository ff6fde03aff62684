//! XML parts (Office's, ODF's, EPUB's package files) as small element trees, read with
//! quick-xml under the limits untrusted files need: no document type declarations (so no entity
//! can be declared, expanded or fetched), only XML's five entities and character references,
//! at most [`MAX_DEPTH`] elements deep and [`MAX_NODES`] nodes in all.

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::Error;

/// How deeply elements may nest. Office writes a few dozen levels at most.
pub const MAX_DEPTH: usize = 256;
/// How many elements and texts one part may have.
pub const MAX_NODES: usize = 5_000_000;

/// An element: its local name (the namespace prefix dropped), its attributes under their
/// written names (`w:val`, `r:id`), and its children.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct El {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    El(El),
    Text(String),
}

impl El {
    /// The attribute `key`: a written name (`r:id`) exactly, or a local name (`val`) under any
    /// prefix.
    pub fn attr(&self, key: &str) -> Option<&str> {
        let local = |name: &str| name.rsplit(':').next() == Some(key);
        self.attrs
            .iter()
            .find(|(name, _)| name == key)
            .or_else(|| {
                (!key.contains(':'))
                    .then(|| self.attrs.iter().find(|(name, _)| local(name)))
                    .flatten()
            })
            .map(|(_, v)| v.as_str())
    }

    /// The attribute `key` under a namespace prefix: a relationship id (`r:id`, `r:embed`),
    /// never an unprefixed attribute of the same name.
    pub fn rel(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(name, _)| name.split_once(':').is_some_and(|(_, l)| l == key))
            .map(|(_, v)| v.as_str())
    }

    pub fn elements(&self) -> impl Iterator<Item = &El> {
        self.children.iter().filter_map(|n| match n {
            Node::El(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    pub fn child(&self, name: &str) -> Option<&El> {
        self.elements().find(|e| e.name == name)
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.elements().filter(move |e| e.name == name)
    }

    /// The value of `child`'s `val` attribute (`<w:pStyle w:val="Heading1"/>`).
    pub fn val(&self, child: &str) -> Option<&str> {
        self.child(child).and_then(|c| c.attr("val"))
    }

    /// The first element named `name` below this one, depth first.
    pub fn find(&self, name: &str) -> Option<&El> {
        let mut stack: Vec<&El> = self.elements().collect();
        stack.reverse();
        while let Some(e) = stack.pop() {
            if e.name == name {
                return Some(e);
            }
            let at = stack.len();
            stack.extend(e.elements());
            stack[at..].reverse();
        }
        None
    }

    /// Every element named `name` below this one, in document order (not below a match).
    pub fn find_all<'a>(&'a self, name: &str) -> Vec<&'a El> {
        let mut out = Vec::new();
        let mut stack: Vec<&El> = self.elements().collect();
        stack.reverse();
        while let Some(e) = stack.pop() {
            if e.name == name {
                out.push(e);
                continue;
            }
            let at = stack.len();
            stack.extend(e.elements());
            stack[at..].reverse();
        }
        out
    }

    /// The text of every element named `text` below this one (`t` in DrawingML), joined.
    pub fn texts(&self, text: &str) -> String {
        self.find_all(text)
            .iter()
            .map(|t| t.text())
            .collect::<Vec<_>>()
            .join("")
    }

    /// The element's own text, and its children's, in order.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut stack: Vec<&Node> = self.children.iter().rev().collect();
        while let Some(n) = stack.pop() {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::El(e) => stack.extend(e.children.iter().rev()),
            }
        }
        out
    }
}

fn local_name(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, local)) => local.to_owned(),
        None => name.to_owned(),
    }
}

fn element(start: &BytesStart, part: &str) -> Result<El, Error> {
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| Error::malformed(part, e))?;
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| Error::malformed(part, e))?
            .into_owned();
        attrs.push((a.key.as_ref().to_owned(), value));
    }
    Ok(El {
        name: local_name(start.name().as_ref()),
        attrs,
        children: Vec::new(),
    })
}

/// The root element of the XML `bytes` (the part named `part`, for errors).
pub fn parse(bytes: &[u8], part: &str) -> Result<El, Error> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<El> = vec![El::default()];
    let mut nodes = 0usize;
    let mut buf = Vec::new();
    let mut count = |part: &str| {
        nodes += 1;
        if nodes > MAX_NODES {
            Err(Error::Refused(format!(
                "{part} has more than {MAX_NODES} XML nodes"
            )))
        } else {
            Ok(())
        }
    };
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| Error::malformed(part, e))?;
        match event {
            Event::Start(start) => {
                count(part)?;
                if stack.len() > MAX_DEPTH {
                    return Err(Error::Refused(format!(
                        "{part} nests elements more than {MAX_DEPTH} deep"
                    )));
                }
                stack.push(element(&start, part)?);
            }
            Event::Empty(start) => {
                count(part)?;
                let el = element(&start, part)?;
                push(&mut stack, Node::El(el));
            }
            Event::End(_) => {
                let Some(done) = stack.pop().filter(|_| !stack.is_empty()) else {
                    return Err(Error::malformed(part, "an end tag without its start"));
                };
                push(&mut stack, Node::El(done));
            }
            Event::Text(t) => {
                count(part)?;
                push(&mut stack, Node::Text(t.xml10_content().into_owned()));
            }
            Event::CData(t) => {
                count(part)?;
                push(&mut stack, Node::Text(t.xml10_content().into_owned()));
            }
            Event::GeneralRef(r) => {
                count(part)?;
                let text = match r.resolve_char_ref().map_err(|e| Error::malformed(part, e))? {
                    Some(c) => c.to_string(),
                    None => {
                        match &*r.xml10_content() {
                            "lt" => "<",
                            "gt" => ">",
                            "amp" => "&",
                            "apos" => "'",
                            "quot" => "\"",
                            other => {
                                return Err(Error::Refused(format!(
                                    "{part} refers to the entity &{other};, which XML does not define (entities are not expanded)"
                                )))
                            }
                        }
                        .to_owned()
                    }
                };
                push(&mut stack, Node::Text(text));
            }
            Event::DocType(_) => {
                return Err(Error::Refused(format!(
                    "{part} declares a document type (DTD); entity declarations and external references are not read"
                )))
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
        buf.clear();
    }
    if stack.len() != 1 {
        return Err(Error::malformed(part, "it ends inside an element"));
    }
    let top = stack.pop().unwrap_or_default();
    top.children
        .into_iter()
        .find_map(|n| match n {
            Node::El(e) => Some(e),
            Node::Text(_) => None,
        })
        .ok_or_else(|| Error::malformed(part, "it has no root element"))
}

/// Adds `node` to the innermost open element, joining adjacent texts (entity references split
/// them).
fn push(stack: &mut [El], node: Node) {
    let Some(parent) = stack.last_mut() else {
        return;
    };
    if let (Node::Text(add), Some(Node::Text(last))) = (&node, parent.children.last_mut()) {
        last.push_str(add);
        return;
    }
    parent.children.push(node);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_attributes_and_text() {
        let root = parse(
            br#"<?xml version="1.0"?><w:p xmlns:w="x"><w:r><w:t xml:space="preserve">a &amp; b&#33;</w:t></w:r><w:pStyle w:val="Title"/></w:p>"#,
            "p",
        )
        .unwrap();
        assert_eq!(root.name, "p");
        assert_eq!(root.text(), "a & b!");
        assert_eq!(root.val("pStyle"), Some("Title"));
        assert_eq!(root.find("t").unwrap().attr("space"), Some("preserve"));
    }

    #[test]
    fn refuses_what_untrusted_xml_can_do() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>"#;
        assert!(matches!(parse(bomb, "x"), Err(Error::Refused(m)) if m.contains("document type")));
        assert!(
            matches!(parse(b"<a>&lol;</a>", "x"), Err(Error::Refused(m)) if m.contains("&lol;"))
        );
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 2),
            "</a>".repeat(MAX_DEPTH + 2)
        );
        assert!(
            matches!(parse(deep.as_bytes(), "x"), Err(Error::Refused(m)) if m.contains("deep"))
        );
        assert!(matches!(
            parse(b"<a><b></a>", "x"),
            Err(Error::Malformed(_))
        ));
    }
}
