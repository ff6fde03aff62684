//! The characters a line may be read with. The recognizer knows Chinese, Japanese kana, Latin
//! letters with their accents and Greek; read with all of them, English text comes out with
//! accents and CJK punctuation it does not have ("in à narrow ledger"). A job that names its
//! languages is read with their scripts' characters only; a page whose words are English is
//! read with English's (but for accents read with near certainty, as in names).

use horizon_layout::languages::Script;

/// A subset of a recognizer's classes: membership by index, and the indices (CTC's blank, 0,
/// always among them).
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    member: Vec<bool>,
    indices: Vec<usize>,
}

impl Mask {
    /// The classes among `chars` (index 0 the blank) whose every character `keep` allows.
    pub fn of(chars: &[String], keep: impl Fn(char) -> bool) -> Mask {
        let member: Vec<bool> = chars
            .iter()
            .enumerate()
            .map(|(i, c)| i == 0 || (!c.is_empty() && c.chars().all(&keep)))
            .collect();
        let indices = (0..member.len()).filter(|&i| member[i]).collect();
        Mask { member, indices }
    }

    pub fn allows(&self, class: usize) -> bool {
        self.member.get(class).copied().unwrap_or(false)
    }

    /// The best allowed class of one step's scores, and its score.
    pub fn best(&self, row: &[f32]) -> (usize, f32) {
        self.indices
            .iter()
            .filter_map(|&j| row.get(j).map(|&v| (j, v)))
            .fold((0, f32::MIN), |acc, x| if x.1 > acc.1 { x } else { acc })
    }
}

/// Whether `c` is a Latin letter with an accent ("é", "ü", "ł").
pub fn accented(c: char) -> bool {
    matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}') && c.is_alphabetic()
}

/// Whether English text is written with `c`: anything but accented Latin letters and the
/// characters of other scripts (Greek letters and mathematical signs stay: technical English
/// has them).
pub fn english(c: char) -> bool {
    if c.is_ascii() {
        return !c.is_ascii_control();
    }
    let other_script = east_asian(c)
        || matches!(c,
            '\u{0300}'..='\u{036F}' // combining accents
            | '\u{0400}'..='\u{1CFF}' // Cyrillic to Sundanese: scripts of their own
            | '\u{FF00}'..='\u{FFEF}' // full-width forms
        );
    !accented(c) && !other_script && !c.is_control()
}

/// Whether `c` is CJK's or Hangul's: radicals, punctuation, kana, Hangul letters and syllables,
/// ideographs and their compatibility forms.
pub fn east_asian(c: char) -> bool {
    matches!(c,
        '\u{2E80}'..='\u{A4CF}'
        | '\u{AC00}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FE30}'..='\u{FE4F}'
    )
}

/// Whether `script` is written with `c`; `None` for a script whose every character may be read
/// (CJK: the recognizer's own set).
fn writes(script: Script, c: char) -> Option<bool> {
    let latin = |c: char| {
        english(c)
            || matches!(c, '\u{00A0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}' | '\u{0300}'..='\u{036F}')
    };
    Some(match script {
        Script::English => english(c),
        Script::Latin => latin(c),
        Script::Greek => {
            english(c) || matches!(c, '\u{0370}'..='\u{03FF}' | '\u{1F00}'..='\u{1FFF}')
        }
        Script::Cyrillic => english(c) || matches!(c, '\u{0400}'..='\u{052F}'),
        Script::Hangul => {
            english(c)
                || matches!(c, '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}' | '\u{AC00}'..='\u{D7AF}')
        }
        Script::Arabic => {
            english(c) || matches!(c, '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}')
        }
        Script::Hebrew => english(c) || matches!(c, '\u{0590}'..='\u{05FF}'),
        Script::Devanagari => english(c) || matches!(c, '\u{0900}'..='\u{097F}'),
        Script::Thai => english(c) || matches!(c, '\u{0E00}'..='\u{0E7F}'),
        Script::Armenian => english(c) || matches!(c, '\u{0530}'..='\u{058F}'),
        Script::Bengali => english(c) || matches!(c, '\u{0980}'..='\u{09FF}'),
        Script::CanadianAboriginal => english(c) || matches!(c, '\u{1400}'..='\u{167F}'),
        Script::Ethiopic => english(c) || matches!(c, '\u{1200}'..='\u{139F}'),
        Script::Georgian => english(c) || matches!(c, '\u{10A0}'..='\u{10FF}'),
        Script::Gujarati => english(c) || matches!(c, '\u{0A80}'..='\u{0AFF}'),
        Script::Gurmukhi => english(c) || matches!(c, '\u{0A00}'..='\u{0A7F}'),
        Script::Kannada => english(c) || matches!(c, '\u{0C80}'..='\u{0CFF}'),
        Script::Khmer => english(c) || matches!(c, '\u{1780}'..='\u{17FF}'),
        Script::Lao => english(c) || matches!(c, '\u{0E80}'..='\u{0EFF}'),
        Script::Malayalam => english(c) || matches!(c, '\u{0D00}'..='\u{0D7F}'),
        Script::Myanmar => english(c) || matches!(c, '\u{1000}'..='\u{109F}'),
        Script::Oriya => english(c) || matches!(c, '\u{0B00}'..='\u{0B7F}'),
        Script::Sinhala => english(c) || matches!(c, '\u{0D80}'..='\u{0DFF}'),
        Script::Tamil => english(c) || matches!(c, '\u{0B80}'..='\u{0BFF}'),
        Script::Telugu => english(c) || matches!(c, '\u{0C00}'..='\u{0C7F}'),
        Script::Thaana => english(c) || matches!(c, '\u{0780}'..='\u{07BF}'),
        Script::Tibetan => english(c) || matches!(c, '\u{0F00}'..='\u{0FFF}'),
        Script::Cjk => return None,
    })
}

/// Whether most of a text's letters are `such`.
pub fn mostly(text: &str, such: impl Fn(char) -> bool) -> bool {
    let (all, such) = text
        .chars()
        .filter(|c| c.is_alphabetic())
        .fold((0, 0), |(all, n), c| (all + 1, n + such(c) as usize));
    2 * such > all
}

/// Whether `c` is a letter of `script`'s own, not one it shares with English.
pub fn own_letter(script: Script, c: char) -> bool {
    c.is_alphabetic() && !english(c) && writes(script, c) == Some(true)
}

/// The mask for a job's scripts over a recognizer's `chars`: `None` (every class) when there
/// are none, or one of them is read with every character.
pub fn for_scripts(chars: &[String], scripts: &[Script]) -> Option<Mask> {
    if scripts.is_empty() || scripts.iter().any(|&s| writes(s, 'a').is_none()) {
        return None;
    }
    Some(Mask::of(chars, |c| {
        scripts.iter().any(|&s| writes(s, c) == Some(true))
    }))
}

/// The scripts among `scripts` of which the recognizer's `chars` hold no letter: it cannot
/// read them.
pub fn unreadable(chars: &[String], scripts: &[Script]) -> Vec<Script> {
    scripts
        .iter()
        .copied()
        .filter(|&s| {
            !chars.iter().any(|c| c.chars().any(|ch| own_letter(s, ch)))
                && s != Script::English
                && s != Script::Cjk
        })
        .collect()
}

/// Words that make up a good share of any English text.
const ENGLISH_WORDS: &[&str] = &[
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "with", "as", "was", "on", "be",
    "by", "this", "are", "from", "at", "or", "which", "an", "not", "have", "has", "were", "their",
];

/// Whether a page's words (as first read) are English: enough of them, and a good share of
/// them English's commonest words.
pub fn is_english<'a>(words: impl IntoIterator<Item = &'a str>) -> bool {
    let (mut all, mut common) = (0usize, 0usize);
    for w in words {
        let w = w
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        if w.is_empty() {
            continue;
        }
        all += 1;
        common += ENGLISH_WORDS.contains(&w.as_str()) as usize;
    }
    all >= 20 && common * 100 >= all * 12
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars() -> Vec<String> {
        ["", "a", "à", "α", "中", "한", "—", "。", " "]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn each_script_keeps_its_own_characters() {
        let allowed = |m: &Mask| (0..9).filter(|&i| m.allows(i)).collect::<Vec<_>>();
        // English: no accents, no CJK; Greek letters (in formulas) stay.
        let english = Mask::of(&chars(), english);
        assert_eq!(allowed(&english), [0, 1, 3, 6, 8]);
        let latin = for_scripts(&chars(), &[Script::Latin]).unwrap();
        assert_eq!(allowed(&latin), [0, 1, 2, 3, 6, 8]);
        let korean = for_scripts(&chars(), &[Script::Hangul]).unwrap();
        assert_eq!(allowed(&korean), [0, 1, 3, 5, 6, 8]);
        assert_eq!(for_scripts(&chars(), &[Script::English, Script::Cjk]), None);
        assert_eq!(for_scripts(&chars(), &[]), None);
        // The best allowed class of a step.
        let row = [0.1, 0.2, 0.6, 0.0, 0.0, 0.0, 0.0, 0.1, 0.0];
        assert_eq!(english.best(&row), (1, 0.2));
    }

    #[test]
    fn scripts_the_recognizer_has_no_letter_of_cannot_be_read() {
        let scripts = [Script::English, Script::Hangul, Script::Arabic, Script::Cjk];
        assert_eq!(unreadable(&chars(), &scripts), [Script::Arabic]);
    }

    #[test]
    fn english_pages_are_told_by_their_commonest_words() {
        let english = "The results of the survey are given in the table, and the method is \
            described in the next section of this report for the reader";
        assert!(is_english(english.split(' ')));
        let french = "Les résultats de l'enquête sont donnés dans le tableau et la méthode est \
            décrite dans la section suivante de ce rapport pour le lecteur";
        assert!(!is_english(french.split(' ')));
        assert!(!is_english("The end".split(' ')));
    }
}
