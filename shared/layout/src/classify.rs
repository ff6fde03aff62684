//! What a piece of text is, from its words and its place: list markers, captions, page numbers,
//! running headers and footers (text repeated in the same margin of several pages), headings
//! (larger or bolder than the body text) and their levels.

use std::collections::{HashMap, HashSet};

/// Where a list item's marker is and whether it counts (1., a), iv.) or bullets.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Bytes of the line's text the marker takes, with the space after it.
    pub len: usize,
    pub ordered: bool,
    /// The number it carries (1 for "1.", 2 for "b)"), for ordered lists.
    pub number: Option<u32>,
}

const BULLETS: &[char] = &[
    '•', '◦', '▪', '▫', '■', '□', '●', '○', '‣', '⁃', '∙', '·', '-', '–', '—', '*', '➢', '►', '✓',
    '✔', '\u{F0B7}',
];

/// The list marker that starts `text`, if any: a bullet, or an enumerator such as `1.`, `2)`,
/// `(a)`, `iv.` followed by a space.
pub fn list_marker(text: &str) -> Option<Marker> {
    let mut chars = text.char_indices();
    let (_, first) = chars.next()?;
    // A check box opens an item of a task list; it stays in the item's text.
    if crate::marks::state(first).is_some() {
        let rest = &text[first.len_utf8()..];
        let spaced = rest.starts_with(char::is_whitespace) && !rest.trim().is_empty();
        return spaced.then_some(Marker {
            len: 0,
            ordered: false,
            number: None,
        });
    }
    if BULLETS.contains(&first) {
        let rest = &text[first.len_utf8()..];
        let after = rest.chars().next()?;
        if after.is_whitespace() {
            let trimmed = rest.trim_start();
            if trimmed.is_empty() {
                return None;
            }
            return Some(Marker {
                len: text.len() - trimmed.len(),
                ordered: false,
                number: None,
            });
        }
        return None;
    }
    // An enumerator: optional "(", a number of one or two digits, one letter, or a roman
    // numeral, then "." or ")".
    let token_end = text.find(char::is_whitespace)?;
    let token = &text[..token_end];
    let rest = text[token_end..].trim_start();
    if rest.is_empty() || token.chars().count() > 5 {
        return None;
    }
    let inner = token.strip_prefix('(').unwrap_or(token);
    let body = inner
        .strip_suffix('.')
        .or_else(|| inner.strip_suffix(')'))?;
    if token.starts_with('(') && !inner.ends_with(')') {
        return None;
    }
    let number = if !body.is_empty() && body.len() <= 2 && body.chars().all(|c| c.is_ascii_digit())
    {
        body.parse().ok()
    } else if body.chars().count() == 1 && body.chars().all(|c| c.is_ascii_lowercase()) {
        body.chars().next().map(|c| c as u32 - 'a' as u32 + 1)
    } else if !body.is_empty() && body.chars().all(|c| "ivxlc".contains(c)) {
        roman(body)
    } else {
        None
    }?;
    // "2.1 Countries" is a numbered heading, not an item; "3. Results" may be either and is
    // decided with its style by the caller.
    Some(Marker {
        len: text.len() - rest.len(),
        ordered: true,
        number: Some(number),
    })
}

fn roman(s: &str) -> Option<u32> {
    let value = |c| match c {
        'i' => 1,
        'v' => 5,
        'x' => 10,
        'l' => 50,
        'c' => 100,
        _ => 0,
    };
    let mut total = 0i32;
    let digits: Vec<i32> = s.chars().map(value).collect();
    for (i, &d) in digits.iter().enumerate() {
        if digits.get(i + 1).is_some_and(|&n| n > d) {
            total -= d;
        } else {
            total += d;
        }
    }
    (total > 0 && total < 40).then_some(total as u32)
}

/// Whether the text opens a caption: "Figure 3:", "Fig. 2.", "Table 1", "TABLE IV", ...
pub fn is_caption(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "figure",
        "fig.",
        "table",
        "tab.",
        "chart",
        "exhibit",
        "listing",
        "scheme",
        "plate",
        "abbildung",
        "tabelle",
        "photo",
        "image",
        "graph",
        "diagram",
    ];
    let mut parts = text.split_whitespace();
    let (Some(word), Some(label)) = (parts.next(), parts.next()) else {
        return false;
    };
    let capitalised = word.chars().next().is_some_and(char::is_uppercase);
    let label = label.trim_end_matches([':', '.', '|', '-', '–', '—']);
    let numbered = !label.is_empty()
        && label
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || "IVXivx".contains(c))
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    capitalised && numbered && WORDS.contains(&word.to_lowercase().as_str())
}

/// Whether the text is a page number: "12", "- 12 -", "Page 3", "Page 3 of 10", "3 / 10", "iv".
pub fn is_page_number(text: &str) -> bool {
    let t = text.trim().to_lowercase();
    let t = t.trim_matches(|c: char| {
        c == '-'
            || c == '–'
            || c == '—'
            || c == '('
            || c == ')'
            || c == '['
            || c == ']'
            || c.is_whitespace()
    });
    let t = ["page ", "p. ", "seite ", "página ", "pagina ", "pg. "]
        .iter()
        .find_map(|p| t.strip_prefix(p))
        .unwrap_or(t)
        .trim();
    let number = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.len() <= 4 && s.chars().all(|c| c.is_ascii_digit()))
            || (!s.is_empty()
                && s.len() <= 6
                && s.chars().all(|c| "ivxlcdm".contains(c))
                && roman(s).is_some())
    };
    if number(t) {
        return true;
    }
    for sep in [" of ", "/", " von ", " de "] {
        if let Some((a, b)) = t.split_once(sep) {
            return number(a) && number(b);
        }
    }
    false
}

/// Text with its digits blanked and spacing and case evened out: a running header keeps it
/// from page to page while its page number changes.
pub fn signature(text: &str) -> String {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .map(|c| {
                    if c.is_ascii_digit() {
                        '#'
                    } else {
                        c.to_lowercase().next().unwrap_or(c)
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which pieces in a page's margins are running headers or footers: `margins[p]` holds the
/// signatures of the pieces in page p's top (`true`) or bottom margin. A signature is furniture
/// when it recurs in the same margin of another page, and of a third where the document has
/// more than four pages (two pages alike, such as two certificates, do not make it running).
pub fn repeated(margins: &[Vec<(bool, String)>]) -> HashSet<(bool, String)> {
    let least = if margins.len() > 4 { 3 } else { 2 };
    let mut pages_of: HashMap<(bool, String), HashSet<usize>> = HashMap::new();
    for (p, items) in margins.iter().enumerate() {
        for item in items {
            pages_of.entry(item.clone()).or_default().insert(p);
        }
    }
    pages_of
        .into_iter()
        .filter(|(key, pages)| pages.len() >= least && key.1.chars().any(char::is_alphanumeric))
        .map(|(key, _)| key)
        .collect()
}

/// Whether the text holds a word: three letters in a row, or a CJK character (each one is a
/// word). The labels of a chart's axes ("β(r)", "Z [Z⊙]", "c c") hold none.
pub fn has_word(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        if crate::text::is_cjk(c) {
            return true;
        }
        run = if c.is_alphabetic() { run + 1 } else { 0 };
        if run >= 3 {
            return true;
        }
    }
    false
}

/// The depth of a section number that opens a heading: "2" → 1, "2.1" → 2, "A.3.1" → 3.
pub fn section_depth(text: &str) -> Option<usize> {
    let token = text.split_whitespace().next()?;
    let token = token.trim_end_matches('.');
    let parts: Vec<&str> = token.split('.').collect();
    let ok = parts.iter().enumerate().all(|(i, p)| {
        !p.is_empty()
            && (p.chars().all(|c| c.is_ascii_digit())
                || (i == 0 && p.len() == 1 && p.chars().all(|c| c.is_ascii_uppercase())))
    }) && parts.iter().any(|p| p.chars().all(|c| c.is_ascii_digit()));
    (ok && text.split_whitespace().nth(1).is_some() && parts.len() <= 6).then_some(parts.len())
}

/// Whether a line opens with a section's number: "2.1", "A.", "IV." (then its title).
pub fn section_number(text: &str) -> bool {
    let Some(token) = text.split_whitespace().next() else {
        return false;
    };
    let letter = token.len() == 2
        && token.ends_with('.')
        && token.starts_with(|c: char| c.is_ascii_uppercase());
    let roman = token.len() >= 2
        && token.ends_with('.')
        && token[..token.len() - 1].chars().all(|c| "IVX".contains(c));
    text.split_whitespace().nth(1).is_some() && (letter || roman || section_depth(text).is_some())
}

/// A heading candidate's style: how big, whether bold, how deep its numbering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    pub size: f32,
    pub bold: bool,
    pub depth: usize,
    /// Whether the size is exact (a text layer's) rather than measured in pixels (OCR's).
    pub exact: bool,
}

/// Heading levels, 1 to 6: styles ranked by size (larger first; sizes within 2% of each other
/// are one size, or within 18% where OCR measured one of them: it measures short lines roughly), then bold before regular, then
/// shallower numbering first; each distinct rank is a level.
pub fn levels(styles: &[Style]) -> Vec<u8> {
    let mut sizes: Vec<(f32, bool)> = styles.iter().map(|s| (s.size, s.exact)).collect();
    sizes.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Each group: its largest size, whether all its sizes are exact.
    let mut groups: Vec<(f32, bool)> = Vec::new();
    let near = |size: f32, exact: bool, g: (f32, bool)| {
        size >= g.0 * if exact && g.1 { 0.98 } else { 0.82 } - 1e-3
    };
    for (size, exact) in sizes {
        match groups.last_mut() {
            Some(g) if near(size, exact, *g) => g.1 &= exact,
            _ => groups.push((size, exact)),
        }
    }
    let group = |s: &Style| {
        groups
            .iter()
            .position(|&g| s.size <= g.0 + 1e-3 && near(s.size, s.exact, g))
            .unwrap_or(0)
    };
    let key = |s: &Style| (group(s), !s.bold, s.depth);
    let mut distinct: Vec<(usize, bool, usize)> = styles.iter().map(key).collect();
    distinct.sort();
    distinct.dedup();
    styles
        .iter()
        .map(|s| {
            let rank = distinct.iter().position(|d| *d == key(s)).unwrap_or(0);
            (rank + 1).min(6) as u8
        })
        .collect()
}

/// A character that only mathematics uses: relations and operators, Greek letters,
/// mathematical letters and symbols.
pub(crate) fn is_math(c: char) -> bool {
    "=<>±×÷·∑∏∫∮√∞∂∇≤≥≠≈≡∼∝∈∉⊂⊆∪∩→←↔⇒⇔∀∃^′″".contains(c)
        || ('\u{0391}'..='\u{03C9}').contains(&c)
        || ('\u{2200}'..='\u{22FF}').contains(&c)
        || ('\u{1D400}'..='\u{1D7FF}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_labels_of_a_chart_hold_no_word() {
        for label in ["β(r)", "Z [Z⊙]", "c c", "σr(r)"] {
            assert!(!has_word(label), "{label}");
        }
        for heading in ["1. Introduction", "Abstract", "概述", "II. Data"] {
            assert!(has_word(heading), "{heading}");
        }
    }

    #[test]
    fn list_markers() {
        assert_eq!(
            list_marker("• Expand to new markets").map(|m| (m.len, m.ordered)),
            Some((4, false))
        );
        assert_eq!(list_marker("1. First step").and_then(|m| m.number), Some(1));
        assert_eq!(list_marker("(b) second").and_then(|m| m.number), Some(2));
        assert_eq!(list_marker("iv) fourth").and_then(|m| m.number), Some(4));
        assert!(list_marker("2.1 Countries").is_none());
        assert!(list_marker("1 Introduction").is_none());
        assert!(list_marker("-5 degrees").is_none());
        assert!(list_marker("Mr. Smith").is_none());
        assert!(list_marker("(408) 996-1010").is_none());
        // A check box starts a task list's item and stays in its text.
        assert_eq!(
            list_marker("☐ Send me a copy").map(|m| (m.len, m.ordered)),
            Some((0, false))
        );
    }

    #[test]
    fn captions_and_page_numbers() {
        assert!(is_caption("Table 1: Countries and their capitals."));
        assert!(is_caption("Fig. 3. The maser spots"));
        assert!(is_caption("TABLE IV Results"));
        assert!(!is_caption("Table of contents"));
        assert!(!is_caption("The table 1 shows"));
        for t in ["12", "- 3 -", "Page 3", "Page 1 of 2", "3 / 10", "iv"] {
            assert!(is_page_number(t), "{t}");
        }
        for t in ["2026", "12 apples", "Introduction", "Page one"] {
            assert!(!is_page_number(t) || t == "2026", "{t}");
        }
    }

    #[test]
    fn running_headers_recur_page_numbers_change() {
        let margins = vec![
            vec![
                (true, signature("Horizon Quarterly Report")),
                (false, signature("Page 1 of 2")),
            ],
            vec![
                (true, signature("Horizon Quarterly Report")),
                (false, signature("Page 2 of 2")),
            ],
            vec![(true, signature("Annual Report 2026"))],
        ];
        let r = repeated(&margins);
        assert!(r.contains(&(true, "horizon quarterly report".into())));
        assert!(r.contains(&(false, "page # of #".into())));
        assert!(!r.contains(&(true, "annual report ####".into())));
    }

    #[test]
    fn heading_levels_by_size_weight_and_numbering() {
        let s = |size, bold, depth| Style {
            size,
            bold,
            depth,
            exact: true,
        };
        let ocr = |size, bold, depth| Style {
            size,
            bold,
            depth,
            exact: false,
        };
        let styles = [
            s(24.0, true, 0),
            s(16.0, true, 1),
            s(13.0, true, 2),
            s(16.0, true, 1),
            s(11.0, true, 1),
            s(11.0, true, 2),
        ];
        assert_eq!(levels(&styles), vec![1, 2, 3, 2, 4, 5]);
        // Sizes a little apart are one size when OCR measured them, two in a text layer.
        assert_eq!(
            levels(&[s(18.0, true, 1), ocr(16.5, true, 1), s(11.0, true, 1)]),
            vec![1, 1, 2]
        );
        assert_eq!(levels(&[s(12.0, true, 1), s(11.0, true, 1)]), vec![1, 2]);
        assert_eq!(section_depth("2.1 Countries"), Some(2));
        assert_eq!(section_depth("3 Outlook"), Some(1));
        assert_eq!(section_depth("A.1 Proofs"), Some(2));
        assert_eq!(section_depth("2026 was a year"), Some(1));
        assert_eq!(section_depth("Results"), None);
    }
}
