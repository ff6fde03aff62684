//! Excel (XLSX): each sheet a page, its name the page's heading (hidden sheets say so), and its
//! used range a table: shared and inline strings, numbers as written, booleans, errors, dates
//! (by the cell's number format) as ISO dates, merged cells as spans. The first row is the
//! header. A sheet's cells are read as a stream, not as a tree: a sheet may be large.

use std::collections::HashMap;

use horizon_layout::Document;
use quick_xml::events::Event;

use crate::build::{Builder, CellIn, MAX_CELLS};
use crate::package::Package;
use crate::xml::El;
use crate::Error;

/// A sheet's part may unpack to this many bytes at most.
const MAX_SHEET: u64 = 512 << 20;

pub fn read(bytes: &[u8], main: &str) -> Result<(Document, Vec<String>), Error> {
    let pkg = Package::open(bytes)?;
    let book = pkg.required_xml(main)?;
    let rels = pkg.rels(main)?;
    let date1904 = book
        .child("workbookPr")
        .and_then(|p| p.attr("date1904"))
        .is_some_and(|v| v == "1" || v == "true");
    let shared: Vec<String> = match rels.of_kind("sharedStrings") {
        Some(part) => pkg
            .xml(part)?
            .map(|root| root.all("si").map(string_item).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let dates = match rels.of_kind("styles") {
        Some(part) => date_styles(pkg.xml(part)?.as_ref()),
        None => Vec::new(),
    };
    let mut none = |_: &[u8]| None;
    let mut b = Builder::new(&mut none);
    let sheets: Vec<&El> = book
        .child("sheets")
        .map(|s| s.all("sheet").collect())
        .unwrap_or_default();
    for sheet in sheets {
        let name = sheet.attr("name").unwrap_or("Sheet");
        b.page(0.0, 0.0);
        let hidden = matches!(sheet.attr("state"), Some("hidden" | "veryHidden"));
        b.heading(
            1,
            &if hidden {
                format!("{name} (hidden sheet)")
            } else {
                name.to_owned()
            },
            [0.0; 4],
        );
        let Some(part) = sheet.rel("id").and_then(|id| rels.part(id)) else {
            continue;
        };
        let Some(xml) = pkg.read_at_most(part, MAX_SHEET)? else {
            b.warnings
                .push(format!("sheet {name:?} has no part {part}"));
            continue;
        };
        let read = cells(&xml, part, &shared, &dates, date1904)?;
        if read.cut {
            b.warnings.push(format!(
                "sheet {name:?} has more than {MAX_CELLS} cells in its used range; the rows beyond were left out"
            ));
        }
        b.table(grid(&read), None, [0.0; 4]);
    }
    let (doc, warnings) = b.finish();
    Ok((doc, warnings))
}

/// A shared string: its text runs, phonetic guides left out.
fn string_item(si: &El) -> String {
    let mut out = String::new();
    for e in si.elements() {
        match e.name.as_str() {
            "t" => out.push_str(&e.text()),
            "r" => out.push_str(&e.texts("t")),
            _ => {}
        }
    }
    out
}

/// For each cell format (`s` of a cell), whether it shows a date.
fn date_styles(styles: Option<&El>) -> Vec<bool> {
    let Some(styles) = styles else {
        return Vec::new();
    };
    let custom: HashMap<u32, String> = styles
        .child("numFmts")
        .map(|n| {
            n.all("numFmt")
                .filter_map(|f| {
                    Some((
                        f.attr("numFmtId")?.parse().ok()?,
                        f.attr("formatCode")?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let is_date = |id: u32| match custom.get(&id) {
        Some(code) => date_code(code),
        None => matches!(id, 14..=22 | 27..=36 | 45..=47 | 50..=58),
    };
    styles
        .child("cellXfs")
        .map(|x| {
            x.all("xf")
                .map(|xf| {
                    xf.attr("numFmtId")
                        .and_then(|v| v.parse().ok())
                        .is_some_and(is_date)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a number format shows a date: it has day, month or year letters outside quotes,
/// brackets and escapes.
fn date_code(code: &str) -> bool {
    let mut quoted = false;
    let mut bracket = false;
    let mut escaped = false;
    for c in code.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '[' if !quoted => bracket = true,
            ']' if !quoted => bracket = false,
            'd' | 'D' | 'm' | 'M' | 'y' | 'Y' if !quoted && !bracket => return true,
            _ => {}
        }
    }
    false
}

struct Cells {
    values: Vec<(u32, u32, String)>,
    merges: Vec<[u32; 4]>,
    cut: bool,
}

/// `B12` as (row 11, column 1).
fn position(r: &str) -> Option<(u32, u32)> {
    let letters = r.chars().take_while(|c| c.is_ascii_alphabetic()).count();
    let (col, row) = r.split_at(letters);
    let mut c: u32 = 0;
    for ch in col.chars() {
        c = c
            .checked_mul(26)?
            .checked_add(ch.to_ascii_uppercase() as u32 - 'A' as u32 + 1)?;
    }
    let row: u32 = row.parse().ok()?;
    (c > 0 && row > 0).then(|| (row - 1, c - 1))
}

fn cells(
    xml: &[u8],
    part: &str,
    shared: &[String],
    dates: &[bool],
    date1904: bool,
) -> Result<Cells, Error> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().trim_text(false);
    let mut out = Cells {
        values: Vec::new(),
        merges: Vec::new(),
        cut: false,
    };
    let mut buf = Vec::new();
    let (mut row, mut col) = (0u32, 0u32);
    let mut kind = String::new();
    let mut style = 0usize;
    let mut value = String::new();
    let mut in_value = false;
    let mut in_cell = false;
    let mut depth = 0usize;
    let attr = |e: &quick_xml::events::BytesStart, key: &str| -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.local_name().as_ref() == key)
            .and_then(|a| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(|v| v.into_owned())
            })
    };
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| Error::malformed(part, e))?;
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                    if depth > crate::xml::MAX_DEPTH {
                        return Err(Error::Refused(format!("{part} nests elements too deeply")));
                    }
                }
                match e.local_name().as_ref() {
                    "row" => {
                        if let Some(r) = attr(e, "r").and_then(|r| r.parse::<u32>().ok()) {
                            row = r.saturating_sub(1);
                        }
                        col = 0;
                    }
                    "c" => {
                        if let Some(at) = attr(e, "r").as_deref().and_then(position) {
                            (row, col) = at;
                        }
                        kind = attr(e, "t").unwrap_or_default();
                        style = attr(e, "s").and_then(|s| s.parse().ok()).unwrap_or(0);
                        value.clear();
                        in_cell = matches!(event, Event::Start(_));
                        if !in_cell {
                            col += 1;
                        }
                    }
                    "v" | "t" if in_cell => in_value = matches!(event, Event::Start(_)),
                    "mergeCell" => {
                        if let Some(range) = attr(e, "ref") {
                            let mut ends = range.split(':').filter_map(position);
                            if let (Some(a), Some(z)) = (ends.next(), ends.next()) {
                                out.merges.push([a.0, a.1, z.0, z.1]);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_value => {
                value.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) if in_value => {
                let c = match r.resolve_char_ref().ok().flatten() {
                    Some(c) => c.to_string(),
                    None => match &*r.xml10_content() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        _ => String::new(),
                    },
                };
                value.push_str(&c);
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                match e.local_name().as_ref() {
                    "v" | "t" => in_value = false,
                    "c" if in_cell => {
                        in_cell = false;
                        let shown = show(
                            &kind,
                            &value,
                            shared,
                            dates.get(style).copied().unwrap_or(false),
                            date1904,
                        );
                        if !shown.trim().is_empty() {
                            if out.values.len() as u64 >= MAX_CELLS {
                                out.cut = true;
                                break;
                            }
                            out.values.push((row, col, shown));
                        }
                        col += 1;
                    }
                    _ => {}
                }
            }
            Event::DocType(_) => {
                return Err(Error::Refused(format!(
                    "{part} declares a document type (DTD)"
                )))
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

/// A cell's value as Excel shows it, closely enough: the string, TRUE/FALSE, the error, the
/// date, or the number as written.
fn show(kind: &str, value: &str, shared: &[String], date: bool, date1904: bool) -> String {
    match kind {
        "s" => value
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|i| shared.get(i))
            .cloned()
            .unwrap_or_default(),
        "b" => if value.trim() == "1" { "TRUE" } else { "FALSE" }.to_owned(),
        "n" | "" if date => value
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|serial| serial_date(serial, date1904))
            .unwrap_or_else(|| value.to_owned()),
        _ => value.to_owned(),
    }
}

/// An Excel date serial as `YYYY-MM-DD`, with the time when it has one.
fn serial_date(serial: f64, date1904: bool) -> Option<String> {
    if !(0.0..3_000_000.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    // Day 0 is 1899-12-31 and Excel counts a 29 February 1900 that never was (day 60).
    // The 1904 system's day 0 is 1904-01-01.
    let from_epoch = if date1904 {
        days - 24_107
    } else if days >= 60 {
        days - 25_569
    } else {
        days - 25_568
    };
    let (y, m, d) = civil(from_epoch);
    let seconds = ((serial - serial.floor()) * 86_400.0).round() as i64;
    Some(if seconds == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    })
}

/// Days since 1970-01-01 as a date (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The used range as rows of cells, merged ranges as spans.
fn grid(read: &Cells) -> Vec<Vec<CellIn>> {
    if read.values.is_empty() {
        return Vec::new();
    }
    let (mut r0, mut c0, mut r1, mut c1) = (u32::MAX, u32::MAX, 0, 0);
    for &(r, c, _) in &read.values {
        r0 = r0.min(r);
        c0 = c0.min(c);
        r1 = r1.max(r);
        c1 = c1.max(c);
    }
    let cols = u64::from(c1 - c0 + 1);
    let rows = (u64::from(r1 - r0 + 1)).min((MAX_CELLS / cols).max(1)) as u32;
    let cols = cols as u32;
    let mut text: HashMap<(u32, u32), &str> = HashMap::new();
    for (r, c, v) in &read.values {
        text.insert((r - r0, c - c0), v);
    }
    let mut covered: HashMap<(u32, u32), bool> = HashMap::new();
    let mut spans: HashMap<(u32, u32), (u32, u32)> = HashMap::new();
    for m in &read.merges {
        let [a, b, y, z] = *m;
        if a < r0 || b < c0 || y < a || z < b {
            continue;
        }
        let (a, b) = (a - r0, b - c0);
        let (y, z) = ((y - r0).min(rows.saturating_sub(1)), (z - c0).min(cols - 1));
        if y < a || z < b || u64::from(y - a + 1) * u64::from(z - b + 1) > 100_000 {
            continue;
        }
        spans.insert((a, b), (y - a + 1, z - b + 1));
        for r in a..=y {
            for c in b..=z {
                if (r, c) != (a, b) {
                    covered.insert((r, c), true);
                }
            }
        }
    }
    (0..rows)
        .map(|r| {
            (0..cols)
                .filter(|&c| !covered.contains_key(&(r, c)))
                .map(|c| {
                    let mut cell =
                        CellIn::new(text.get(&(r, c)).map(|s| s.to_string()).unwrap_or_default());
                    if let Some(&(rs, cs)) = spans.get(&(r, c)) {
                        cell.row_span = rs;
                        cell.col_span = cs;
                    }
                    cell
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references_dates_and_formats() {
        assert_eq!(position("A1"), Some((0, 0)));
        assert_eq!(position("AB12"), Some((11, 27)));
        assert_eq!(position("1A"), None);
        assert_eq!(serial_date(45292.0, false).as_deref(), Some("2024-01-01"));
        assert_eq!(
            serial_date(45292.5, false).as_deref(),
            Some("2024-01-01 12:00:00")
        );
        assert_eq!(serial_date(1.0, false).as_deref(), Some("1900-01-01"));
        assert_eq!(serial_date(0.0, true).as_deref(), Some("1904-01-01"));
        assert!(date_code("yyyy-mm-dd"));
        assert!(date_code("[$-409]d-mmm-yy;@"));
        assert!(!date_code("0.00\"days\""));
        assert!(!date_code("[Red]0.00"));
    }
}
