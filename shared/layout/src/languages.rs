//! The languages a job may name (`options.languages`), as ISO 639-1 codes, and the script each
//! is written in: OCR reads a page with the characters of the job's scripts only.

use serde::{Deserialize, Serialize};

/// A writing system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Script {
    /// English: the basic Latin letters only, no accents.
    English,
    /// Latin letters with their accents and extensions.
    Latin,
    Greek,
    /// Chinese characters, with Japanese kana.
    Cjk,
    Hangul,
    Cyrillic,
    Arabic,
    Hebrew,
    Devanagari,
    Thai,
    Armenian,
    Bengali,
    CanadianAboriginal,
    Ethiopic,
    Georgian,
    Gujarati,
    Gurmukhi,
    Kannada,
    Khmer,
    Lao,
    Malayalam,
    Myanmar,
    Oriya,
    Sinhala,
    Tamil,
    Telugu,
    Thaana,
    Tibetan,
}

/// Every language a job may name, with its script.
pub const LANGUAGES: &[(&str, Script)] = &[
    ("en", Script::English),
    ("fr", Script::Latin),
    ("de", Script::Latin),
    ("es", Script::Latin),
    ("it", Script::Latin),
    ("pt", Script::Latin),
    ("nl", Script::Latin),
    ("sv", Script::Latin),
    ("da", Script::Latin),
    ("no", Script::Latin),
    ("nb", Script::Latin),
    ("nn", Script::Latin),
    ("fi", Script::Latin),
    ("is", Script::Latin),
    ("pl", Script::Latin),
    ("cs", Script::Latin),
    ("sk", Script::Latin),
    ("sl", Script::Latin),
    ("hr", Script::Latin),
    ("bs", Script::Latin),
    ("hu", Script::Latin),
    ("ro", Script::Latin),
    ("tr", Script::Latin),
    ("ca", Script::Latin),
    ("eu", Script::Latin),
    ("gl", Script::Latin),
    ("et", Script::Latin),
    ("lv", Script::Latin),
    ("lt", Script::Latin),
    ("ga", Script::Latin),
    ("cy", Script::Latin),
    ("mt", Script::Latin),
    ("sq", Script::Latin),
    ("id", Script::Latin),
    ("ms", Script::Latin),
    ("tl", Script::Latin),
    ("sw", Script::Latin),
    ("vi", Script::Latin),
    ("af", Script::Latin),
    ("la", Script::Latin),
    ("el", Script::Greek),
    ("zh", Script::Cjk),
    ("ja", Script::Cjk),
    ("ko", Script::Hangul),
    ("ru", Script::Cyrillic),
    ("uk", Script::Cyrillic),
    ("be", Script::Cyrillic),
    ("bg", Script::Cyrillic),
    ("sr", Script::Cyrillic),
    ("mk", Script::Cyrillic),
    ("kk", Script::Cyrillic),
    ("mn", Script::Cyrillic),
    ("tg", Script::Cyrillic),
    ("ky", Script::Cyrillic),
    ("tt", Script::Cyrillic),
    ("ar", Script::Arabic),
    ("fa", Script::Arabic),
    ("ur", Script::Arabic),
    ("ps", Script::Arabic),
    ("sd", Script::Arabic),
    ("ug", Script::Arabic),
    ("he", Script::Hebrew),
    ("yi", Script::Hebrew),
    ("hi", Script::Devanagari),
    ("mr", Script::Devanagari),
    ("ne", Script::Devanagari),
    ("sa", Script::Devanagari),
    ("th", Script::Thai),
    ("hy", Script::Armenian),
    ("bn", Script::Bengali),
    ("as", Script::Bengali),
    ("iu", Script::CanadianAboriginal),
    ("cr", Script::CanadianAboriginal),
    ("am", Script::Ethiopic),
    ("ti", Script::Ethiopic),
    ("ka", Script::Georgian),
    ("gu", Script::Gujarati),
    ("pa", Script::Gurmukhi),
    ("kn", Script::Kannada),
    ("km", Script::Khmer),
    ("lo", Script::Lao),
    ("ml", Script::Malayalam),
    ("my", Script::Myanmar),
    ("or", Script::Oriya),
    ("si", Script::Sinhala),
    ("ta", Script::Tamil),
    ("te", Script::Telugu),
    ("dv", Script::Thaana),
    ("bo", Script::Tibetan),
    ("dz", Script::Tibetan),
];

/// The script of a language code (`"en"`, `"ko"`), whatever its case.
pub fn script(code: &str) -> Option<Script> {
    LANGUAGES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code.trim()))
        .map(|&(_, s)| s)
}

/// A job's `languages`, checked: at most ten known codes, each once, lower-cased.
pub fn parse(codes: &[String]) -> Result<Vec<String>, String> {
    if codes.len() > 10 {
        return Err("names at most 10 languages".into());
    }
    let mut out: Vec<String> = Vec::new();
    for code in codes {
        if script(code).is_none() {
            let known: Vec<&str> = LANGUAGES.iter().map(|(c, _)| *c).collect();
            return Err(format!(
                "{code:?} is not a language code this service knows (ISO 639-1: {})",
                known.join(", ")
            ));
        }
        let code = code.trim().to_ascii_lowercase();
        if !out.contains(&code) {
            out.push(code);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_known_codes_with_their_scripts() {
        assert_eq!(script("EN"), Some(Script::English));
        assert_eq!(script("ko"), Some(Script::Hangul));
        assert_eq!(script("xx"), None);
        assert_eq!(
            parse(&["en".into(), "FR".into(), "en".into()]),
            Ok(vec!["en".to_string(), "fr".to_string()])
        );
        assert!(parse(&["english".into()])
            .unwrap_err()
            .contains("\"english\""));
        assert!(parse(&vec!["en".to_string(); 11]).is_err());
    }
}
