//! Markdown (CommonMark with GitHub's pipe tables): headings as `#`, lists as `-` or `1.`,
//! tables as pipe tables, code fenced; page headers, footers and numbers, and page boundaries,
//! as HTML comments, so that they are kept but do not show.

use crate::model::{Block, Document, Kind, Table};

/// The whole document, each page opened by `<!-- page N -->`.
pub fn document(doc: &Document) -> String {
    let mut out = String::new();
    for page in &doc.pages {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&format!("<!-- page {} -->", page.number));
        for b in &page.blocks {
            out.push_str("\n\n");
            out.push_str(&block(b));
        }
    }
    out.push('\n');
    out
}

/// One block.
pub fn block(b: &Block) -> String {
    match b.kind {
        Kind::Heading => format!(
            "{} {}",
            "#".repeat(b.level.unwrap_or(2).clamp(1, 6) as usize),
            inline(&b.text)
        ),
        Kind::List => list_of(b, 0, b.items.len()),
        Kind::Table => b.table.as_ref().map(table).unwrap_or_default(),
        Kind::Code => {
            // A fence longer than any run of backticks inside.
            let longest = b.text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
            let fence = "`".repeat(longest.max(2) + 1);
            format!("{fence}\n{}\n{fence}", b.text)
        }
        Kind::Header => comment("header", &b.text),
        Kind::Footer => comment("footer", &b.text),
        Kind::PageNumber => comment("page number", &b.text),
        Kind::Figure => comment("figure", &b.text),
        Kind::Note => format!("> **Notes:** {}", inline(&b.text).replace('\n', "\n> ")),
        // No model reads formulas as LaTeX here: a formula is its characters, as text.
        Kind::Caption | Kind::Paragraph | Kind::Formula | Kind::Footnote | Kind::Composite => {
            paragraph(&b.text)
        }
    }
}

/// List items, numbered from `first` when ordered.
pub fn list(items: &[String], ordered: bool, first: usize) -> String {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            if ordered {
                format!("{}. {}", first + i, inline(item))
            } else {
                format!("- {}", inline(item))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The items `from..to` of a list block, nested ones indented under their parents (four
/// spaces a level, which CommonMark reads as a sub-list under `-`, `1.` and `10.` alike), each
/// level numbered on its own.
pub fn list_of(b: &Block, from: usize, to: usize) -> String {
    if b.nesting.len() != b.items.len() {
        return list(&b.items[from..to], b.ordered, from + 1);
    }
    let mut counters: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    for (i, (item, nest)) in b.items.iter().zip(&b.nesting).enumerate().take(to) {
        let depth = nest.depth as usize;
        counters.truncate(depth + 1);
        counters.resize(depth + 1, 0);
        counters[depth] += 1;
        if i < from {
            continue;
        }
        let marker = if nest.ordered {
            format!("{}.", counters[depth])
        } else {
            "-".to_owned()
        };
        out.push(format!("{}{marker} {}", "    ".repeat(depth), inline(item)));
    }
    out.join("\n")
}

/// A pipe table: the first row is the header row (GitHub's tables need one).
pub fn table(t: &Table) -> String {
    let grid = t.grid();
    if grid.is_empty() || t.cols == 0 {
        return String::new();
    }
    let row = |cells: &Vec<String>| {
        format!(
            "| {} |",
            cells
                .iter()
                .map(|c| cell(c))
                .collect::<Vec<_>>()
                .join(" | ")
        )
    };
    let mut lines = vec![
        row(&grid[0]),
        format!("|{}", " --- |".repeat(t.cols as usize)),
    ];
    lines.extend(grid[1..].iter().map(row));
    lines.join("\n")
}

fn cell(text: &str) -> String {
    inline(text).replace('|', "\\|").replace('\n', " ")
}

fn comment(what: &str, text: &str) -> String {
    format!(
        "<!-- {what}: {} -->",
        text.replace('-', "&#45;").replace('>', "&gt;")
    )
}

/// A paragraph, with what would read as Markdown at its start escaped.
fn paragraph(text: &str) -> String {
    let t = inline(text);
    if t.starts_with(['#', '>', '-', '+', '=', '|', '~']) {
        return format!("\\{t}");
    }
    // "1. " would open a numbered list: its delimiter is escaped ("1\. ").
    if let Some(m) = crate::classify::list_marker(&t).filter(|m| m.ordered) {
        let marker = t[..m.len].trim_end();
        if let Some(delimiter) = marker.rfind(['.', ')']) {
            return format!("{}\\{}", &t[..delimiter], &t[delimiter..]);
        }
    }
    t
}

/// Characters that would start emphasis, code or a link are escaped; a selection mark is
/// `[x]` or `[ ]` (in a list item, a task list's box).
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if let Some(selected) = crate::marks::state(c) {
            out.push_str(if selected { "[x]" } else { "[ ]" });
            continue;
        }
        if matches!(c, '\\' | '*' | '`' | '[' | ']' | '<') || (c == '_' && out.ends_with(' ')) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Cell;

    fn b(kind: Kind, text: &str) -> Block {
        Block::text_only(kind, text)
    }

    #[test]
    fn blocks_render_as_markdown() {
        let mut h = b(Kind::Heading, "2 Results");
        h.level = Some(2);
        assert_eq!(block(&h), "## 2 Results");
        let mut l = b(Kind::List, "• a\n• b");
        l.items = vec!["a".into(), "b*".into()];
        assert_eq!(block(&l), "- a\n- b\\*");
        l.ordered = true;
        assert_eq!(block(&l), "1. a\n2. b\\*");
        assert_eq!(block(&b(Kind::Paragraph, "- not a list")), "\\- not a list");
        assert_eq!(
            block(&b(Kind::Footer, "Page 1 of 2 -->")),
            "<!-- footer: Page 1 of 2 &#45;&#45;&gt; -->"
        );
        assert_eq!(
            block(&b(Kind::Paragraph, "1. not a list item")),
            "1\\. not a list item"
        );
        assert_eq!(
            block(&b(Kind::Paragraph, "Agree ☒ Yes ☐ No [sic]")),
            "Agree [x] Yes [ ] No \\[sic\\]"
        );
        l.ordered = false;
        l.items = vec!["☑ Passport".into(), "☐ Visa".into()];
        assert_eq!(block(&l), "- [x] Passport\n- [ ] Visa");
    }

    #[test]
    fn nested_lists_indent_and_number_each_level() {
        let mut l = b(Kind::List, "");
        l.items = ["one", "a", "b", "two", "c"].map(String::from).to_vec();
        l.nesting = [(0, true), (1, false), (1, false), (0, true), (1, true)]
            .map(|(depth, ordered)| crate::model::Nesting { depth, ordered })
            .to_vec();
        assert_eq!(block(&l), "1. one\n    - a\n    - b\n2. two\n    1. c");
        assert_eq!(list_of(&l, 3, 5), "2. two\n    1. c");
    }

    #[test]
    fn tables_are_pipe_tables_with_a_header_row() {
        let cell = |row, col, text: &str| Cell {
            row,
            col,
            row_span: 1,
            col_span: 1,
            text: text.into(),
            header: row == 0,
            bbox: None,
        };
        let t = Table {
            rows: 2,
            cols: 2,
            header_rows: 1,
            cells: vec![
                cell(0, 0, "Item"),
                cell(0, 1, "Amount"),
                cell(1, 0, "Paper | A4"),
                cell(1, 1, "12"),
            ],
        };
        assert_eq!(
            table(&t),
            "| Item | Amount |\n| --- | --- |\n| Paper \\| A4 | 12 |"
        );
    }
}
