//! Markdown (CommonMark with GitHub's tables, task lists and footnotes, by pulldown-cmark):
//! headings, paragraphs, nested lists, tables, code blocks, images as figures (their alt text,
//! and the text of `data:` pictures), footnotes at the end, cited as `[n]`. Raw HTML is left
//! out.

use std::collections::HashMap;

use base64::Engine as _;
use horizon_layout::{Document, Kind};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::build::{Builder, CellIn, Item};
use crate::{Error, SeePicture};

const NO_BOX: [f32; 4] = [0.0; 4];

#[derive(Default)]
struct Table {
    rows: Vec<Vec<CellIn>>,
    row: Vec<CellIn>,
    head: bool,
}

pub fn read(text: &str, see: &mut SeePicture<'_>) -> Result<(Document, Vec<String>), Error> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS;
    let mut b = Builder::new(see);
    let mut buf = String::new();
    // Open lists: whether each is numbered; the items of the outermost so far; the open item.
    let mut lists: Vec<bool> = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    let mut item: Option<(u8, bool)> = None;
    let mut table: Option<Table> = None;
    let mut image: Option<(String, String)> = None;
    let mut code = false;
    let mut numbers: HashMap<String, usize> = HashMap::new();
    let mut notes: Vec<(usize, String)> = Vec::new();
    let mut note: Option<(usize, String)> = None;
    let number = |label: &str, numbers: &mut HashMap<String, usize>| {
        let next = numbers.len() + 1;
        *numbers.entry(label.to_owned()).or_insert(next)
    };
    let push_item = |buf: &mut String, item: &mut Option<(u8, bool)>, items: &mut Vec<Item>| {
        if let Some((depth, ordered)) = *item {
            if !buf.trim().is_empty() {
                items.push(Item {
                    depth,
                    ordered,
                    text: std::mem::take(buf),
                });
            }
        }
        buf.clear();
    };
    for event in Parser::new_ext(text, options) {
        if let Some((_, alt)) = image.as_mut() {
            match event {
                Event::Text(t) | Event::Code(t) => {
                    alt.push_str(&t);
                    continue;
                }
                Event::End(TagEnd::Image) => {}
                _ => continue,
            }
        }
        match event {
            Event::Start(Tag::Heading { .. } | Tag::Paragraph | Tag::TableCell) => {
                if item.is_none() && note.is_none() {
                    buf.clear();
                } else if !buf.is_empty() {
                    buf.push(' ');
                }
            }
            Event::End(TagEnd::Heading(level)) => {
                b.heading(level as u8, &std::mem::take(&mut buf), NO_BOX);
            }
            Event::End(TagEnd::Paragraph) => {
                if let Some((_, text)) = note.as_mut() {
                    text.push(' ');
                    text.push_str(&std::mem::take(&mut buf));
                } else if item.is_none() {
                    b.text(Kind::Paragraph, &std::mem::take(&mut buf), NO_BOX);
                }
            }
            Event::Start(Tag::CodeBlock(_)) => {
                buf.clear();
                code = true;
            }
            Event::End(TagEnd::CodeBlock) => {
                code = false;
                b.code(&std::mem::take(&mut buf));
            }
            Event::Start(Tag::List(start)) => {
                // The item this list sits in comes before its own items.
                push_item(&mut buf, &mut item, &mut items);
                lists.push(start.is_some());
            }
            Event::End(TagEnd::List(_)) => {
                push_item(&mut buf, &mut item, &mut items);
                lists.pop();
                item = None;
                if lists.is_empty() {
                    b.list(std::mem::take(&mut items), NO_BOX);
                } else {
                    item = Some(((lists.len() - 1) as u8, *lists.last().unwrap_or(&false)));
                }
            }
            Event::Start(Tag::Item) => {
                push_item(&mut buf, &mut item, &mut items);
                item = Some((
                    lists.len().saturating_sub(1) as u8,
                    lists.last().copied().unwrap_or(false),
                ));
            }
            Event::End(TagEnd::Item) => push_item(&mut buf, &mut item, &mut items),
            Event::Start(Tag::Table(_)) => table = Some(Table::default()),
            Event::Start(Tag::TableHead) => {
                if let Some(t) = table.as_mut() {
                    t.head = true;
                }
            }
            Event::End(TagEnd::TableCell) => {
                if let Some(t) = table.as_mut() {
                    let mut cell = CellIn::new(std::mem::take(&mut buf));
                    cell.header = t.head;
                    t.row.push(cell);
                }
            }
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                if let Some(t) = table.as_mut() {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                    t.head = false;
                }
            }
            Event::End(TagEnd::Table) => {
                if let Some(t) = table.take() {
                    b.table(t.rows, Some(1), NO_BOX);
                }
            }
            Event::Start(Tag::Image { dest_url, .. }) => {
                image = Some((dest_url.to_string(), String::new()));
            }
            Event::End(TagEnd::Image) => {
                if let Some((src, alt)) = image.take() {
                    let bytes = src.strip_prefix("data:").and_then(|d| {
                        let (_, b64) = d.split_once(";base64,")?;
                        base64::engine::general_purpose::STANDARD
                            .decode(b64.trim())
                            .ok()
                    });
                    if item.is_none() && note.is_none() && table.is_none() {
                        let before = std::mem::take(&mut buf);
                        b.text(Kind::Paragraph, &before, NO_BOX);
                        b.figure(&alt, bytes.as_deref(), NO_BOX);
                    } else {
                        buf.push_str(&alt);
                    }
                }
            }
            Event::Start(Tag::FootnoteDefinition(label)) => {
                let n = number(&label, &mut numbers);
                note = Some((n, String::new()));
                buf.clear();
            }
            Event::End(TagEnd::FootnoteDefinition) => {
                if let Some((n, text)) = note.take() {
                    notes.push((n, format!("[{n}] {text} {}", std::mem::take(&mut buf))));
                }
            }
            Event::FootnoteReference(label) => {
                let n = number(&label, &mut numbers);
                buf.push_str(&format!("[{n}]"));
            }
            Event::TaskListMarker(done) => buf.push_str(if done { "☒ " } else { "☐ " }),
            Event::Text(t) | Event::Code(t) => buf.push_str(&t),
            Event::SoftBreak => buf.push(if code { '\n' } else { ' ' }),
            Event::HardBreak => buf.push('\n'),
            _ => {}
        }
    }
    if !items.is_empty() {
        b.list(items, NO_BOX);
    }
    notes.sort_by_key(|(n, _)| *n);
    for (_, text) in notes {
        b.text(Kind::Footnote, &text, NO_BOX);
    }
    Ok(b.finish())
}
