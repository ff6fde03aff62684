//! Markdown (CommonMark with GitHub's tables): headings as `#`, lists as `-` or `1.`, tables
//! as pipe tables (or HTML where they have spanned cells or several header rows), code fenced;
//! a figure's words and page boundaries as HTML comments, so that they are kept but do not
//! show. The document's Markdown is its running text: page headers, footers and numbers are
//! left out of it (they stay in its chunks, typed as such).

use std::collections::HashMap;

use crate::model::{Block, Cell, Document, Kind, Table};

/// The whole document, each page opened by `<!-- page N -->`, without its page furniture.
pub fn document(doc: &Document) -> String {
    let mut out = String::new();
    for page in &doc.pages {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&format!("<!-- page {} -->", page.number));
        for b in page.blocks.iter().filter(|b| !b.kind.is_furniture()) {
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

/// A table: a pipe table, whose first row is its header row (GitHub's tables need one), where
/// one can hold it; HTML where the table has spanned cells or more than one header row, which a
/// pipe table cannot show (GitHub's Markdown shows both).
pub fn table(t: &Table) -> String {
    let grid = t.grid();
    if grid.is_empty() || t.cols == 0 {
        return String::new();
    }
    if t.header_rows > 1 || t.cells.iter().any(|c| c.row_span > 1 || c.col_span > 1) {
        return html_table(t);
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

/// A table as an HTML block: header rows in `<thead>`, header cells as `<th>`, spans as
/// `colspan` and `rowspan`, and an empty `<td>` where no cell covers the grid. One row a line
/// and no blank line, so that CommonMark reads it as one HTML block.
fn html_table(t: &Table) -> String {
    let (rows, cols) = (t.rows as usize, t.cols as usize);
    let mut covered = vec![vec![false; cols]; rows];
    let mut starts: HashMap<(u32, u32), &Cell> = HashMap::new();
    for c in &t.cells {
        starts.entry((c.row, c.col)).or_insert(c);
        for row in covered
            .iter_mut()
            .take(rows)
            .skip(c.row as usize)
            .take(c.row_span as usize)
        {
            for slot in row
                .iter_mut()
                .skip(c.col as usize)
                .take(c.col_span as usize)
            {
                *slot = true;
            }
        }
    }
    let header_rows = (t.header_rows as usize).min(rows);
    let mut out = vec!["<table>".to_owned()];
    for (r, covered) in covered.iter().enumerate() {
        if r == 0 && header_rows > 0 {
            out.push("<thead>".into());
        }
        if r == header_rows {
            out.push("<tbody>".into());
        }
        let mut line = String::from("<tr>");
        for (k, &covered) in covered.iter().enumerate() {
            let Some(c) = starts.get(&(r as u32, k as u32)) else {
                if !covered {
                    line.push_str("<td></td>");
                }
                continue;
            };
            let tag = if r < header_rows || c.header {
                "th"
            } else {
                "td"
            };
            line.push('<');
            line.push_str(tag);
            for (name, span, room) in [
                ("rowspan", c.row_span, rows - r),
                ("colspan", c.col_span, cols - k),
            ] {
                let span = (span as usize).min(room);
                if span > 1 {
                    line.push_str(&format!(" {name}=\"{span}\""));
                }
            }
            line.push('>');
            line.push_str(&html_text(&c.text));
            line.push_str(&format!("</{tag}>"));
        }
        line.push_str("</tr>");
        out.push(line);
        if r + 1 == header_rows {
            out.push("</thead>".into());
        }
    }
    if header_rows < rows {
        out.push("</tbody>".into());
    }
    out.push("</table>".into());
    out.join("\n")
}

/// Text inside HTML: `&`, `<` and `>` as entities, a line break as `<br>`.
fn html_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', "<br>")
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

/// Text as Markdown shows it: a character is escaped only where Markdown would read it as
/// markup, so that the Markdown's text reads as the document's ("[12]", "p < 0.05", "a * b",
/// "snake_case", "C:\\Users", "3* and 4**"):
/// - `\\` before ASCII punctuation or a line's end (an escape, or a hard line break);
/// - `` ` `` when the text has two or more (a code span needs a pair);
/// - `*` and `_` that start a line (a list item, a rule), or that could open or close emphasis
///   when the text has an opener of that kind before a closer;
/// - `[` and `]` when the text has `](` (a link), or a line of it starts with `[` and has `]:`
///   (a link's definition; as none is ever defined, `[1]` and `[a][b]` are text);
/// - `<` before a letter, `/`, `!` or `?` (HTML, or an autolink).
///
/// A selection mark is `[x]` or `[ ]` (in a list item, a task list's box).
fn inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let backticks = chars.iter().filter(|&&c| c == '`').count();
    // An inline link; or a line that would define a link's target (with none defined, `[1]`
    // and `[a][b]` are text).
    let links = text.contains("](") || text.lines().any(|l| l.starts_with('[') && l.contains("]:"));
    let emphasis = [emphasis_marks(&chars, '*'), emphasis_marks(&chars, '_')].concat();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if let Some(selected) = crate::marks::state(c) {
            out.push_str(if selected { "[x]" } else { "[ ]" });
            continue;
        }
        let before = i.checked_sub(1).map(|j| chars[j]);
        let after = chars.get(i + 1).copied();
        let escape = match c {
            '\\' => after.is_none_or(|a| a.is_ascii_punctuation() || a == '\n'),
            '`' => backticks > 1,
            '*' | '_' => before.is_none_or(|b| b == '\n') || emphasis.contains(&i),
            '[' | ']' => links,
            '<' => after.is_some_and(|a| a.is_ascii_alphabetic() || matches!(a, '/' | '!' | '?')),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The places of the `mark`s (`*` or `_`) that could open or close emphasis, by CommonMark's
/// flanking rules, when one that could open comes before one that could close; none otherwise.
fn emphasis_marks(chars: &[char], mark: char) -> Vec<usize> {
    let space = |c: Option<char>| c.is_none_or(char::is_whitespace);
    let punct = |c: Option<char>| {
        c.is_some_and(|c| c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace()))
    };
    let mut marks = Vec::new(); // (place, can open, can close)
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != mark {
            i += 1;
            continue;
        }
        let end = chars[i..]
            .iter()
            .position(|&c| c != mark)
            .map_or(chars.len(), |n| i + n);
        let before = i.checked_sub(1).map(|j| chars[j]);
        let after = chars.get(end).copied();
        let left = !space(after) && (!punct(after) || space(before) || punct(before));
        let right = !space(before) && (!punct(before) || space(after) || punct(after));
        let (open, close) = if mark == '_' {
            (
                left && (!right || punct(before)),
                right && (!left || punct(after)),
            )
        } else {
            (left, right)
        };
        marks.extend((i..end).map(|k| (k, open, close)));
        i = end;
    }
    let first_opener = marks.iter().find(|m| m.1).map(|m| m.0);
    let last_closer = marks.iter().rev().find(|m| m.2).map(|m| m.0);
    match (first_opener, last_closer) {
        (Some(o), Some(c)) if o < c => marks.iter().filter(|m| m.1 || m.2).map(|m| m.0).collect(),
        _ => Vec::new(),
    }
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
        assert_eq!(block(&l), "- a\n- b*");
        l.ordered = true;
        assert_eq!(block(&l), "1. a\n2. b*");
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
            "Agree [x] Yes [ ] No [sic]"
        );
        l.ordered = false;
        l.items = vec!["☑ Passport".into(), "☐ Visa".into()];
        assert_eq!(block(&l), "- [x] Passport\n- [ ] Visa");
    }

    #[test]
    fn text_is_escaped_only_where_markdown_would_read_markup() {
        let p = |text| block(&b(Kind::Paragraph, text));
        // As written: nothing here would be read as markup.
        for text in [
            "As shown in [12] and [3, 4], p < 0.05 and a * b = c.",
            "The snake_case name, C:\\Users\\me, 5 * 3, costs 3* and 4** at most.",
            "One `tick` only? No: one ` tick.",
        ] {
            // The last has two backticks: they are escaped.
            if text.contains("tick`") {
                assert_eq!(p(text), "One \\`tick\\` only? No: one \\` tick.");
            } else {
                assert_eq!(p(text), text);
            }
        }
        // Markup that would show otherwise is escaped.
        assert_eq!(p("*bold* and _it_"), "\\*bold\\* and \\_it\\_");
        assert_eq!(
            p("see [the site](x) <b>now</b>"),
            "see \\[the site\\](x) \\<b>now\\</b>"
        );
        assert_eq!(p("[1]: Smith, 2020"), "\\[1\\]: Smith, 2020");
        assert_eq!(p("precision [PH05]: F = 2"), "precision [PH05]: F = 2");
        assert_eq!(p("a \\* b and c\\"), "a \\\\* b and c\\\\");
        assert_eq!(p("x\n* not an item"), "x\n\\* not an item");
    }

    #[test]
    fn tables_with_spans_or_two_header_rows_are_html() {
        let cell = |row, col, row_span, col_span, text: &str| Cell {
            row,
            col,
            row_span,
            col_span,
            text: text.into(),
            header: false,
            bbox: None,
        };
        // Region spans two header rows; "2025" spans both quarter columns; a hole at the end.
        let t = Table {
            rows: 4,
            cols: 3,
            header_rows: 2,
            cells: vec![
                cell(0, 0, 2, 1, "Region"),
                cell(0, 1, 1, 2, "2025"),
                cell(1, 1, 1, 1, "Q1"),
                cell(1, 2, 1, 1, "Q2"),
                cell(2, 0, 1, 1, "North & <East>"),
                cell(2, 1, 1, 1, "1"),
                cell(2, 2, 1, 1, "2\n(est.)"),
                cell(3, 0, 1, 1, "South"),
                cell(3, 1, 1, 1, "3"),
            ],
        };
        assert_eq!(
            table(&t),
            [
                "<table>",
                "<thead>",
                "<tr><th rowspan=\"2\">Region</th><th colspan=\"2\">2025</th></tr>",
                "<tr><th>Q1</th><th>Q2</th></tr>",
                "</thead>",
                "<tbody>",
                "<tr><td>North &amp; &lt;East&gt;</td><td>1</td><td>2<br>(est.)</td></tr>",
                "<tr><td>South</td><td>3</td><td></td></tr>",
                "</tbody>",
                "</table>",
            ]
            .join("\n")
        );
    }

    #[test]
    fn a_document_s_markdown_leaves_its_page_furniture_out() {
        let page = crate::model::PageLayout {
            number: 1,
            width: 612.0,
            height: 792.0,
            unit: Default::default(),
            source: Default::default(),
            marks: Vec::new(),
            blocks: vec![
                b(Kind::Header, "Journal of Things, vol. 3"),
                b(Kind::Paragraph, "The body."),
                b(Kind::PageNumber, "17"),
                b(Kind::Footer, "Downloaded from example.org"),
            ],
        };
        let doc = Document { pages: vec![page] };
        assert_eq!(document(&doc), "<!-- page 1 -->\n\nThe body.\n");
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
