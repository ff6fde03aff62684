//! A job's page selection: which pages of a document to read.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A set of 1-based page ranges, parsed from text like `"1-3,7,10-"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSelection {
    text: String,
    ranges: Vec<(u32, Option<u32>)>,
}

impl PageSelection {
    pub fn contains(&self, page: u32) -> bool {
        self.ranges
            .iter()
            .any(|&(a, b)| page >= a && b.is_none_or(|b| page <= b))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The selection `text` of exactly `pages` (see [`crate::parts::ranges`]).
    pub(crate) fn of_ranges(text: String, pages: &[u32]) -> PageSelection {
        let mut ranges: Vec<(u32, Option<u32>)> = Vec::new();
        for &n in pages {
            match ranges.last_mut() {
                Some((_, Some(last))) if *last + 1 == n => *last = n,
                _ => ranges.push((n, Some(n))),
            }
        }
        PageSelection { text, ranges }
    }
}

impl FromStr for PageSelection {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a page selection like \"1-3,7,10-\"");
        if s.len() > 200 || s.trim().is_empty() {
            return Err(bad());
        }
        let mut ranges = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            let num = |t: &str| t.trim().parse::<u32>().ok().filter(|n| *n >= 1);
            let range = match part.split_once('-') {
                None => num(part).map(|n| (n, Some(n))),
                Some((a, "")) => num(a).map(|a| (a, None)),
                Some((a, b)) => match (num(a), num(b)) {
                    (Some(a), Some(b)) if a <= b => Some((a, Some(b))),
                    _ => None,
                },
            };
            ranges.push(range.ok_or_else(bad)?);
        }
        Ok(PageSelection {
            text: s.trim().to_owned(),
            ranges,
        })
    }
}

impl Serialize for PageSelection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for PageSelection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
