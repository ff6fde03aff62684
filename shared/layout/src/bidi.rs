//! The reading order of a right-to-left line: its words as they stand on the page, put in the
//! order they are read, with the brackets and marks between them facing the way they are meant.
//!
//! A simplified Unicode bidirectional algorithm over whole words (each word's own characters are
//! already in reading order): a line mostly of Arabic or Hebrew reads from its right end; a run
//! of left-to-right words (a Latin name, and the spaces and marks between its words) keeps its
//! own order; a figure stands on its own; a bracket or a mark between words takes the direction
//! of the words around it, left to right only between two left-to-right words.
//!
//! A bracket set right to left is drawn as its mirror image, and PDFs (Chromium's among them)
//! name it by the glyph it shows, or sometimes by the character it means: a line whose
//! brackets of a kind do not pair up as read is given them in pairs, opening and closing in turn.

use std::borrow::Cow;

use crate::model::Word;
use crate::text::{is_closing_mark, leading_marks_last, mirrored, mostly_rtl};

/// Which way a word runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Mostly right-to-left letters.
    Rtl,
    /// Other letters.
    Ltr,
    /// Figures without letters.
    Number,
    /// Neither letters nor figures: brackets, marks, signs.
    Neutral,
}

impl Class {
    fn of(text: &str) -> Class {
        if mostly_rtl([text]) {
            Class::Rtl
        } else if text.chars().any(char::is_alphabetic) {
            Class::Ltr
        } else if text.chars().any(|c| c.is_numeric()) {
            Class::Number
        } else {
            Class::Neutral
        }
    }
}

/// The words of a right-to-left line, in reading order, each as it reads.
pub fn reading_order(words: &[Word]) -> Vec<Cow<'_, str>> {
    // As they stand on the page, left to right.
    let mut visual: Vec<&Word> = words.iter().collect();
    visual.sort_by(|a, b| (a.bbox[0] + a.bbox[2]).total_cmp(&(b.bbox[0] + b.bbox[2])));
    let class: Vec<Class> = visual.iter().map(|w| Class::of(&w.text)).collect();
    let n = visual.len();
    let letters = |j: usize| match class[j] {
        Class::Ltr => Some(true),
        Class::Rtl => Some(false),
        _ => None,
    };
    // A figure after left-to-right letters belongs with them ("Cloud 2.0", "Windows 10": the
    // nearest letters on its left run left to right).
    let number_ltr: Vec<bool> = (0..n)
        .map(|i| class[i] == Class::Number && nearest((0..i).rev(), letters) == Some(true))
        .collect();
    let strong = |j: usize| match class[j] {
        Class::Number => Some(number_ltr[j]),
        _ => letters(j),
    };
    // A mark between two left-to-right words runs with them; any other reads right to left.
    let ltr: Vec<bool> = (0..n)
        .map(|i| match class[i] {
            Class::Neutral => {
                nearest((0..i).rev(), strong) == Some(true)
                    && nearest(i + 1..n, strong) == Some(true)
            }
            _ => strong(i) == Some(true),
        })
        .collect();
    // From the right end; a run of left-to-right words keeps its order.
    let mut order = Vec::with_capacity(visual.len());
    let mut end = n;
    while end > 0 {
        let mut start = end - 1;
        if ltr[start] {
            while start > 0 && ltr[start - 1] {
                start -= 1;
            }
        }
        order.extend(start..end);
        end = start;
    }
    let mut texts: Vec<Cow<str>> = order
        .into_iter()
        .map(|i| {
            let text = visual[i].text.as_str();
            match class[i] {
                Class::Rtl => Cow::Borrowed(text),
                // A word's closing mark stands left of it, where a left-to-right word starts.
                Class::Ltr | Class::Number => Cow::Owned(leading_marks_last(text)),
                // Set right to left, a bracket shows its mirror image.
                Class::Neutral if !ltr[i] => text
                    .chars()
                    .map(|c| mirrored(c).unwrap_or(c))
                    .collect::<String>()
                    .into(),
                Class::Neutral => Cow::Borrowed(text),
            }
        })
        .collect();
    pair_brackets(&mut texts);
    texts
}

/// Whether the first word along `range` that runs one way or the other runs left to right.
fn nearest(
    range: impl Iterator<Item = usize>,
    runs: impl Fn(usize) -> Option<bool>,
) -> Option<bool> {
    range.filter_map(runs).next()
}

/// Brackets of one kind that do not pair up as read (a closing one before any opening one, or
/// one left open) are given in pairs, opening and closing in turn. A bracket so turned that is
/// left at the wrong end of its word (a closing one first, an opening one last) becomes a word
/// of its own.
fn pair_brackets(texts: &mut Vec<Cow<str>>) {
    for (open, close) in [('(', ')'), ('[', ']'), ('{', '}')] {
        let brackets: Vec<(usize, usize)> = texts
            .iter()
            .enumerate()
            .flat_map(|(i, t)| {
                t.char_indices()
                    .filter(|(_, c)| *c == open || *c == close)
                    .map(move |(at, _)| (i, at))
            })
            .collect();
        let opens = |&(i, at): &(usize, usize)| texts[i][at..].starts_with(open);
        let mut depth = 0i32;
        let paired = brackets.iter().all(|b| {
            depth += if opens(b) { 1 } else { -1 };
            depth >= 0
        }) && depth == 0;
        if paired || brackets.len() % 2 == 1 {
            continue;
        }
        let mut turned = vec![false; texts.len()];
        for (n, &(i, at)) in brackets.iter().enumerate() {
            let want = if n % 2 == 0 { open } else { close };
            if !texts[i][at..].starts_with(want) {
                // Both are one byte long: the bracket is replaced in place.
                texts[i]
                    .to_mut()
                    .replace_range(at..at + 1, want.encode_utf8(&mut [0; 4]));
                turned[i] = true;
            }
        }
        let mut split = Vec::with_capacity(texts.len() + 2);
        for (i, text) in std::mem::take(texts).into_iter().enumerate() {
            let alone = text.chars().count() == 1;
            if turned[i] && !alone && text.starts_with(close) {
                split.push(Cow::Owned(close.to_string()));
                split.push(Cow::Owned(text[1..].to_owned()));
            } else if turned[i] && !alone && text.ends_with(open) {
                split.push(Cow::Owned(text[..text.len() - 1].to_owned()));
                split.push(Cow::Owned(open.to_string()));
            } else {
                split.push(text);
            }
        }
        *texts = split;
    }
}

/// Whether `next`, which follows `prev` in a right-to-left line, goes on without a space: after
/// an opening bracket, before a closing one, and before marks that close a sentence or a word.
pub fn joined(prev: char, next: &str) -> bool {
    matches!(prev, '(' | '[' | '{')
        || next.starts_with([')', ']', '}'])
        || (!next.is_empty() && next.chars().all(is_closing_mark))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lines::tests::word;

    /// Words at the given left edges, each 2 units wide per character.
    fn at(words: &[(&str, f32)]) -> Vec<Word> {
        words
            .iter()
            .map(|(text, x)| {
                let mut w = word(text, *x, 0.0, 4.0);
                w.bbox[2] = x + 2.0 * text.chars().count() as f32;
                w
            })
            .collect()
    }

    fn read(words: &[(&str, f32)]) -> Vec<String> {
        reading_order(&at(words))
            .into_iter()
            .map(Cow::into_owned)
            .collect()
    }

    #[test]
    fn a_figure_in_brackets_reads_in_its_brackets() {
        // Chromium: "פורסם (2019) ועודכן", each bracket named by the glyph it shows.
        assert_eq!(
            read(&[
                ("ועודכן", 0.0),
                ("(", 14.0),
                ("2019", 17.0),
                (")", 26.0),
                ("פורסם", 30.0)
            ]),
            ["פורסם", "(", "2019", ")", "ועודכן"]
        );
    }

    #[test]
    fn a_latin_run_keeps_its_order_and_a_bracket_named_as_meant_is_paired() {
        // "בגרסה (Cloud 2.0) לאחר": the closing bracket, named ")" as meant where the opening
        // one is named by its glyph, is taken in by the Hebrew word beside it (and turned, as
        // a mirrored glyph would be).
        assert_eq!(
            read(&[
                ("(לאחר", 0.0),
                ("Cloud", 12.0),
                ("2.0", 24.0),
                (")", 32.0),
                ("בגרסה", 36.0)
            ]),
            ["בגרסה", "(", "Cloud", "2.0", ")", "לאחר"]
        );
    }

    #[test]
    fn marks_between_latin_words_stay_with_them() {
        assert_eq!(
            read(&[
                ("עולם", 0.0),
                ("Cloud", 10.0),
                ("(v2)", 22.0),
                ("Pro", 32.0),
                ("שלום", 40.0)
            ]),
            ["שלום", "Cloud", "(v2)", "Pro", "עולם"]
        );
        assert_eq!(
            read(&[
                ("עולם", 0.0),
                ("Tel", 10.0),
                ("-", 18.0),
                ("Aviv", 22.0),
                ("שלום", 32.0)
            ]),
            ["שלום", "Tel", "-", "Aviv", "עולם"]
        );
    }

    #[test]
    fn figures_stand_each_on_its_own() {
        assert_eq!(
            read(&[
                ("עד", 0.0),
                ("2020", 6.0),
                ("-", 16.0),
                ("2019", 20.0),
                ("מ", 30.0)
            ]),
            ["מ", "2019", "-", "2020", "עד"]
        );
    }
}
