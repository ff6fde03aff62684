//! The whole analysis on pages built word by word.

use super::*;
use crate::lines::tests::line;

fn page(number: u32, words: Vec<Word>, rules: Vec<BBox>) -> PageInput {
    PageInput {
        number,
        width: 612.0,
        height: 792.0,
        unit: Unit::Points,
        source: Source::Text,
        words,
        rules,
        figures: Vec::new(),
        regions: Vec::new(),
    }
}

fn bold(mut words: Vec<Word>) -> Vec<Word> {
    for w in &mut words {
        w.bold = true;
    }
    words
}

fn kinds(doc: &Document) -> Vec<(Kind, String)> {
    doc.pages
        .iter()
        .flat_map(|p| p.blocks.iter().map(|b| (b.kind, b.text.clone())))
        .collect()
}

/// A report page: running header and footer, a title, headings at two levels, paragraphs, a
/// bulleted list and a caption.
fn report_page(n: u32) -> PageInput {
    let mut w = Vec::new();
    w.extend(line("Horizon Quarterly Report", 72.0, 30.0, 9.0));
    if n == 1 {
        w.extend(bold(line("Annual Report 2026", 72.0, 80.0, 24.0)));
    }
    w.extend(bold(line("1 Introduction", 72.0, 130.0, 16.0)));
    w.extend(line(
        "The first paragraph of the report tells what",
        72.0,
        160.0,
        11.0,
    ));
    w.extend(line(
        "happened this year in a few short lines.",
        72.0,
        174.0,
        11.0,
    ));
    w.extend(bold(line("1.1 Scope", 72.0, 200.0, 13.0)));
    w.extend(line("• Expand to three new markets.", 72.0, 225.0, 11.0));
    w.extend(line("• Hire a second team.", 72.0, 240.0, 11.0));
    w.extend(line(
        "Table 1: Countries and their capitals.",
        72.0,
        270.0,
        10.0,
    ));
    w.extend(line(&format!("Page {n} of 2"), 280.0, 760.0, 9.0));
    page(n, w, Vec::new())
}

#[test]
fn a_report_gives_typed_blocks_in_order() {
    let doc = analyse(&[report_page(1), report_page(2)]);
    let p1 = kinds(&Document {
        pages: vec![doc.pages[0].clone()],
    });
    assert_eq!(
        p1,
        vec![
            (Kind::Header, "Horizon Quarterly Report".to_string()),
            (Kind::Heading, "Annual Report 2026".into()),
            (Kind::Heading, "1 Introduction".into()),
            (Kind::Paragraph, "The first paragraph of the report tells what happened this year in a few short lines.".into()),
            (Kind::Heading, "1.1 Scope".into()),
            (Kind::List, "• Expand to three new markets.\n• Hire a second team.".into()),
            (Kind::Caption, "Table 1: Countries and their capitals.".into()),
            (Kind::PageNumber, "Page 1 of 2".into()),
        ]
    );
    let levels: Vec<Option<u8>> = doc.pages[0]
        .blocks
        .iter()
        .filter(|b| b.kind == Kind::Heading)
        .map(|b| b.level)
        .collect();
    assert_eq!(levels, vec![Some(1), Some(2), Some(3)]);
    let list = &doc.pages[0].blocks[5];
    assert_eq!(
        list.items,
        vec!["Expand to three new markets.", "Hire a second team."]
    );
    assert!(!list.ordered);
}

#[test]
fn two_columns_written_across_are_read_down() {
    let mut w = Vec::new();
    w.extend(bold(line(
        "Reading Order in Two Columns",
        150.0,
        60.0,
        20.0,
    )));
    let left = [
        "Alpha begins the left column",
        "and runs on for a while in",
        "the left column of the page.",
    ];
    let right = [
        "Bravo begins the right column",
        "and runs on for a while in",
        "the right column of the page.",
    ];
    for i in 0..3 {
        let y = 120.0 + 13.0 * i as f32;
        w.extend(line(left[i], 72.0, y, 10.0));
        w.extend(line(right[i], 330.0, y, 10.0));
    }
    let doc = analyse(&[page(1, w, Vec::new())]);
    let text = doc.text();
    let alpha = text.find("Alpha").unwrap();
    let bravo = text.find("Bravo").unwrap();
    assert!(
        alpha < bravo && text.contains("in the left column of the page."),
        "{text}"
    );
    assert_eq!(doc.pages[0].blocks.len(), 3, "{:?}", kinds(&doc));
}

#[test]
fn a_ruled_table_is_one_block_with_its_cells() {
    let rows = [
        ["Country", "Capital"],
        ["Indonesia", "Jakarta"],
        ["Germany", "Berlin"],
    ];
    let mut words = line("Before the table.", 72.0, 80.0, 11.0);
    for c in 0..2 {
        for (r, row) in rows.iter().enumerate() {
            words.extend(line(
                row[c],
                80.0 + 150.0 * c as f32,
                105.0 + 20.0 * r as f32,
                10.0,
            ));
        }
    }
    words.extend(line("After the table.", 72.0, 180.0, 11.0));
    let mut rules = Vec::new();
    for r in 0..=3 {
        let y = 100.0 + 20.0 * r as f32;
        rules.push([72.0, y - 0.3, 372.0, y + 0.3]);
    }
    for x in [72.0, 222.0, 372.0] {
        rules.push([x - 0.3, 100.0, x + 0.3, 160.0]);
    }
    let doc = analyse(&[page(1, words, rules)]);
    let k = kinds(&doc);
    assert_eq!(k[0].1, "Before the table.");
    assert_eq!(
        k[1],
        (
            Kind::Table,
            "Country\tCapital\nIndonesia\tJakarta\nGermany\tBerlin".to_string()
        )
    );
    assert_eq!(k[2].1, "After the table.");
    let md = markdown::document(&doc);
    assert!(
        md.contains("| Country | Capital |\n| --- | --- |\n| Indonesia | Jakarta |"),
        "{md}"
    );
}

#[test]
fn a_line_end_hyphen_joins_the_word() {
    let mut w = line("We learn from experi-", 72.0, 100.0, 11.0);
    w.extend(line("ence every day.", 72.0, 114.0, 11.0));
    let doc = analyse(&[page(1, w, Vec::new())]);
    assert_eq!(
        doc.pages[0].blocks[0].text,
        "We learn from experience every day."
    );
}

/// Pages of a statement whose table starts at the top of each: a running header, then the
/// table's column heads set close above its rows.
fn statement_page(n: u32) -> PageInput {
    let mut w = Vec::new();
    w.extend(line("Contoso Ltd. Quarterly Report", 72.0, 20.0, 8.0));
    w.extend(line("Three Months Ended", 300.0, 52.0, 8.0));
    w.extend(line("Total", 72.0, 62.0, 8.0));
    w.extend(line("2026", 300.0, 62.0, 8.0));
    for r in 0..20 {
        let y = 72.0 + 10.0 * r as f32;
        w.extend(line(&format!("Item number {n}.{r}"), 72.0, y, 8.0));
        w.extend(line(&format!("{},{:03}", n + r, 7 * r), 300.0, y, 8.0));
    }
    page(n, w, Vec::new())
}

#[test]
fn column_heads_at_the_top_of_every_page_are_the_table_s_not_a_running_header() {
    let pages: Vec<PageInput> = (1..=6).map(statement_page).collect();
    let doc = analyse(&pages);
    let k = kinds(&Document {
        pages: vec![doc.pages[2].clone()],
    });
    assert_eq!(
        k[0],
        (Kind::Header, "Contoso Ltd. Quarterly Report".to_string())
    );
    let heads = k
        .iter()
        .find(|(_, t)| t.contains("Three Months Ended"))
        .expect("the column heads are kept");
    assert!(!heads.0.is_furniture(), "{k:?}");
}

#[test]
fn a_line_atop_two_pages_of_six_is_no_running_header() {
    let mut pages: Vec<PageInput> = (1..=6)
        .map(|n| {
            let mut w = Vec::new();
            if n >= 5 {
                // Two certificates alike, each headed the same.
                w.extend(line("CERTIFICATION OF THE OFFICER", 200.0, 40.0, 10.0));
            }
            w.extend(line("Body text of this page goes here.", 72.0, 300.0, 10.0));
            page(n, w, Vec::new())
        })
        .collect();
    pages[0].words.extend(line("Title", 72.0, 100.0, 20.0));
    let doc = analyse(&pages);
    let k = kinds(&Document {
        pages: vec![doc.pages[4].clone()],
    });
    assert!(
        k.iter()
            .any(|(kind, t)| t == "CERTIFICATION OF THE OFFICER" && !kind.is_furniture()),
        "{k:?}"
    );
}

#[test]
fn a_table_with_a_long_last_column_is_read_row_by_row() {
    let mut w = Vec::new();
    for (r, note) in [
        "1.000% Notes due 2022",
        "1.375% Notes due 2024",
        "0.875% Notes due 2025",
    ]
    .iter()
    .enumerate()
    {
        let y = 100.0 + 12.0 * r as f32;
        w.extend(line(note, 60.0, y, 9.0));
        w.extend(line("—", 280.0, y, 9.0));
        w.extend(line("The Nasdaq Stock Market LLC", 400.0, y, 9.0));
    }
    let doc = analyse(&[page(1, w, Vec::new())]);
    let text = doc.text();
    assert!(
        text.contains("1.000% Notes due 2022\t—\tThe Nasdaq Stock Market LLC")
            || text.contains("1.000% Notes due 2022 — The Nasdaq Stock Market LLC"),
        "{text}"
    );
}

#[test]
fn a_first_column_whose_cells_span_rows_is_a_column_of_its_table() {
    // No rules; columns a little more than a font size apart. Each label spans three rows, set
    // in its middle one, and comes first in the source (as HTML printed to PDF writes it).
    let cols = [48.0, 94.0, 147.0, 189.0];
    let mut w = Vec::new();
    let mut row = |cells: &[(usize, &str)], y: f32| {
        for &(c, text) in cells {
            w.extend(line(text, cols[c], y, 12.0));
        }
    };
    row(
        &[(0, "Mean"), (1, "Sample"), (2, "Beta"), (3, "Delta north")],
        43.0,
    );
    for (k, label) in ["Assets", "Net"].iter().enumerate() {
        let top = 64.0 + 63.0 * k as f32;
        row(&[(0, label)], top + 21.0);
        for r in 0..3 {
            row(
                &[(1, "0.084"), (2, "(144)"), (3, "$768")],
                top + 21.0 * r as f32,
            );
        }
    }
    // The head's cells run together: set a little more than a font size apart, and spaced as
    // a justified line could be.
    for (word, x) in w.iter_mut().take(5).zip([48.0, 88.0, 140.0, 180.0, 213.0]) {
        let width = geom::width(&word.bbox);
        word.bbox[0] = x;
        word.bbox[2] = x + width;
    }
    let doc = analyse(&[page(1, w, Vec::new())]);
    let tables: Vec<&Table> = doc.pages[0]
        .blocks
        .iter()
        .filter_map(|b| b.table.as_ref())
        .collect();
    assert_eq!(tables.len(), 1, "{:?}", kinds(&doc));
    let grid = tables[0].grid();
    assert_eq!(grid.len(), 7, "{grid:?}");
    assert_eq!(grid[0], ["Mean", "Sample", "Beta", "Delta north"]);
    assert_eq!(grid[2], ["Assets", "0.084", "(144)", "$768"]);
    assert_eq!(grid[5], ["Net", "0.084", "(144)", "$768"]);
    assert_eq!(grid[6], ["", "0.084", "(144)", "$768"]);
}

#[test]
fn a_statements_column_heads_over_its_table_are_its_header_rows() {
    // An income statement without rules: a paragraph, then heads over pairs of columns and
    // their dates, then rows of a label and four figures.
    let mut w = Vec::new();
    w.extend(line(
        "The following table summarises the results of the quarter and the year.",
        72.0,
        60.0,
        10.0,
    ));
    let cols = [300.0, 360.0, 420.0, 480.0];
    w.extend(line("Three Months Ended", 305.0, 90.0, 10.0));
    w.extend(line("Nine Months Ended", 428.0, 90.0, 10.0));
    // Each date set on two lines, written cell by cell.
    for (c, (day, year)) in [("June 25,", "2022"), ("June 26,", "2021")]
        .iter()
        .cycle()
        .take(4)
        .enumerate()
    {
        w.extend(line(day, cols[c], 104.0, 10.0));
        w.extend(line(year, cols[c] + 10.0, 116.0, 10.0));
    }
    let rows = [
        ("Products", ["63,355", "63,948", "245,241", "232,309"]),
        ("Services", ["19,604", "17,486", "58,941", "50,148"]),
        (
            "Total net sales",
            ["82,959", "81,434", "304,182", "282,457"],
        ),
    ];
    for (r, (label, figures)) in rows.iter().enumerate() {
        let y = 132.0 + 14.0 * r as f32;
        w.extend(line(label, 72.0, y, 10.0));
        for (c, f) in figures.iter().enumerate() {
            w.extend(line(f, cols[c], y, 10.0));
        }
    }
    let doc = analyse(&[page(1, w, Vec::new())]);
    let blocks = &doc.pages[0].blocks;
    assert_eq!(blocks.len(), 2, "{:?}", kinds(&doc));
    assert_eq!(blocks[0].kind, Kind::Paragraph);
    let table = blocks[1].table.as_ref().expect("a table");
    // Each date's two lines make one cell.
    assert_eq!((table.rows, table.cols, table.header_rows), (5, 5, 2));
    let heads: Vec<(&str, u32, u32)> = table
        .cells
        .iter()
        .filter(|c| c.row == 0 && !c.text.is_empty())
        .map(|c| (c.text.as_str(), c.col, c.col_span))
        .collect();
    assert_eq!(
        heads,
        [("Three Months Ended", 1, 2), ("Nine Months Ended", 3, 2)]
    );
    assert_eq!(
        table.grid()[1],
        [
            "",
            "June 25, 2022",
            "June 26, 2021",
            "June 25, 2022",
            "June 26, 2021"
        ]
    );
    assert_eq!(table.grid()[2][0], "Products");
}

#[test]
fn a_centred_heading_in_small_capitals_starts_its_section() {
    let mut w = Vec::new();
    // Set in capitals a little smaller than the text, centred over the column, numbered.
    w.extend(line("1. INTRODUCTION", 130.0, 100.0, 9.0));
    let body = [
        "Semantic segmentation is the task of clustering parts",
        "of images together which belong to the same object",
        "class, and it is a form of pixel-level prediction.",
    ];
    for (i, text) in body.iter().enumerate() {
        let x = if i == 0 { 82.0 } else { 72.0 };
        w.extend(line(text, x, 113.0 + 12.0 * i as f32, 10.0));
    }
    let doc = analyse(&[page(1, w, Vec::new())]);
    let k = kinds(&doc);
    assert_eq!(
        k[0],
        (Kind::Heading, "1. INTRODUCTION".to_string()),
        "{k:?}"
    );
    assert!(k[1].1.starts_with("Semantic segmentation"), "{k:?}");
}

#[test]
fn a_running_section_title_beside_the_page_number_is_a_header() {
    let pages: Vec<PageInput> = (1..=6)
        .map(|n| {
            let mut w = Vec::new();
            w.extend(line(&n.to_string(), 90.0, 26.0, 9.0));
            // Each section spans a page or two: no title recurs three times.
            w.extend(line(&format!("{}.1. SECTION {n}", n / 2), 460.0, 26.0, 9.0));
            w.extend(line(
                "The text of the page, long enough to be body.",
                90.0,
                300.0,
                10.0,
            ));
            page(n, w, Vec::new())
        })
        .collect();
    let doc = analyse(&pages);
    let k = kinds(&Document {
        pages: vec![doc.pages[3].clone()],
    });
    assert_eq!(k[0].0, Kind::PageNumber, "{k:?}");
    assert_eq!(k[1], (Kind::Header, "2.1. SECTION 4".to_string()), "{k:?}");
}

#[test]
fn a_figure_in_a_table_at_the_top_of_a_page_is_its_cell_not_the_page_number() {
    // A table set at the page's top: its first row's last cell "(927)", over a column of
    // figures with an empty cell between, stands in the margin where page numbers are.
    let mut w = Vec::new();
    for (y, cells) in [
        (42.0, ["Item", "Revenue", "Change"]),
        (60.0, ["Region north", "1,250", "(927)"]),
        (78.0, ["Region south", "1,310", ""]),
        (96.0, ["Gamma", "980", "(73)"]),
        (114.0, ["Margin", "1,004", "0.266"]),
    ] {
        for (x, text) in [72.0, 250.0, 400.0].into_iter().zip(cells) {
            w.extend(line(text, x, y, 10.0));
        }
    }
    w.extend(line(
        "The text of the page, long enough to be body, set below the table.",
        72.0,
        300.0,
        10.0,
    ));
    let doc = analyse(&[page(1, w, Vec::new())]);
    let k = kinds(&doc);
    assert!(k.iter().all(|(kind, _)| *kind != Kind::PageNumber), "{k:?}");
    let table = doc.pages[0].blocks[0]
        .table
        .as_ref()
        .expect("a table first");
    assert_eq!(table.grid()[1], ["Region north", "1,250", "(927)"]);

    // Alone in the margin, over running text, it is the page number.
    let mut w = line("(927)", 400.0, 30.0, 10.0);
    w.extend(line(
        "The text of the page, long enough to be body.",
        72.0,
        60.0,
        10.0,
    ));
    let k = kinds(&analyse(&[page(1, w, Vec::new())]));
    assert_eq!(k[0], (Kind::PageNumber, "(927)".to_string()), "{k:?}");
}

/// Six pages of a journal: a running header, body text, and on each a preprint stamp set
/// sideways down the left margin, as tall as the page.
fn journal_page(n: u32) -> PageInput {
    let mut w = line(
        "Journal of Tests: proofs of the manuscript",
        200.0,
        30.0,
        8.0,
    );
    w.push(Word {
        bbox: [14.0, 20.0, 36.0, 700.0],
        size: 20.0,
        ..crate::lines::tests::word("arXiv:2601.00001v1 [cs.DL] 1 Jan 2026", 14.0, 20.0, 20.0)
    });
    for i in 0..10 {
        let y = 100.0 + 13.0 * i as f32;
        w.extend(line(
            &format!("Line {i} of the body text on page {n} runs on for a while."),
            72.0,
            y,
            10.0,
        ));
    }
    page(n, w, Vec::new())
}

#[test]
fn a_running_header_stays_one_beside_text_set_sideways() {
    let pages: Vec<PageInput> = (1..=6).map(journal_page).collect();
    let doc = analyse(&pages);
    let k = kinds(&Document {
        pages: vec![doc.pages[2].clone()],
    });
    assert!(
        k.contains(&(
            Kind::Header,
            "Journal of Tests: proofs of the manuscript".to_string()
        )),
        "{k:?}"
    );
    // The running text leaves page furniture out.
    let text = doc.text();
    assert!(!text.contains("Journal of Tests"), "{text}");
    assert!(text.contains("Line 3 of the body text on page 3"), "{text}");
}

/// A chart drawn at [100, 100, 300, 250]: numbers along its axes, the axes' titles beyond
/// them (the vertical one set sideways), a caption, then the body.
fn chart_page(words: &mut Vec<Word>) -> PageInput {
    words.extend(line(
        "Figure 1. The obliquity as the radius grows.",
        72.0,
        290.0,
        10.0,
    ));
    chart(words)
}

fn chart(words: &mut Vec<Word>) -> PageInput {
    for (i, tick) in ["0", "10", "20", "30"].iter().enumerate() {
        words.extend(line(tick, 100.0 + 60.0 * i as f32, 253.0, 8.0));
        words.extend(line(tick, 86.0, 240.0 - 45.0 * i as f32, 8.0));
    }
    words.extend(line("Radius (km)", 170.0, 265.0, 8.0));
    words.push(Word {
        bbox: [68.0, 140.0, 78.0, 210.0],
        size: 10.0,
        ..crate::lines::tests::word("Obliquity", 68.0, 140.0, 10.0)
    });
    let mut p = page(1, std::mem::take(words), Vec::new());
    p.figures = vec![[100.0, 100.0, 300.0, 250.0]];
    p
}

#[test]
fn a_chart_s_numbers_and_axis_titles_are_the_figure_s_not_running_text() {
    let mut w = Vec::new();
    for i in 0..4 {
        w.extend(line(
            &format!("Body line {i} says what the chart above it shows us."),
            72.0,
            330.0 + 13.0 * i as f32,
            10.0,
        ));
    }
    let doc = analyse(&[chart_page(&mut w)]);
    let figure = doc.pages[0]
        .blocks
        .iter()
        .find(|b| b.kind == Kind::Figure)
        .unwrap_or_else(|| panic!("{:?}", kinds(&doc)));
    assert!(
        figure.text.contains("Radius (km)") && figure.text.contains("Obliquity"),
        "{:?}",
        kinds(&doc)
    );
    let text = doc.text();
    for label in ["Radius", "Obliquity", "30"] {
        assert!(!text.contains(label), "{label} in {text}");
    }
    assert!(text.contains("Figure 1. The obliquity as the radius grows."));
    assert!(text.contains("Body line 3 says what the chart above it shows us."));
}

#[test]
fn a_word_broken_at_a_page_s_end_goes_on_before_the_floats_atop_the_next() {
    let mut first = Vec::new();
    for (i, l) in [
        "When the core is small and the period long,",
        "the inner core can eas-",
    ]
    .iter()
    .enumerate()
    {
        first.extend(line(l, 72.0, 100.0 + 13.0 * i as f32, 10.0));
    }
    let mut second = Vec::new();
    second.extend(line(
        "ily follow the mantle and stays locked to it.",
        72.0,
        330.0,
        10.0,
    ));
    let mut p2 = chart_page(&mut second);
    p2.number = 2;
    let doc = analyse(&[page(1, first, Vec::new()), p2]);
    let k = kinds(&Document {
        pages: vec![doc.pages[1].clone()],
    });
    assert!(k[0].1.starts_with("ily follow the mantle"), "{k:?}");
    assert!(
        k.iter().any(|(kind, _)| *kind == Kind::Figure) && k[1].0 != Kind::Paragraph,
        "{k:?}"
    );
}

#[test]
fn a_heading_set_close_below_a_chart_stays_a_heading() {
    let mut w = Vec::new();
    // No caption: the heading comes right under the axis's title.
    w.extend(bold(line("2 Results", 72.0, 276.0, 12.0)));
    for i in 0..4 {
        w.extend(line(
            &format!("Body line {i} tells what the results were in full."),
            72.0,
            300.0 + 13.0 * i as f32,
            10.0,
        ));
    }
    let doc = analyse(&[chart(&mut w)]);
    assert!(
        kinds(&doc).contains(&(Kind::Heading, "2 Results".to_string())),
        "{:?}",
        kinds(&doc)
    );
}

/// A ruled table of `rows` (the header first), its top rule at `top`, cells 20 high, columns
/// 150 wide from x 72: its words and rules.
fn ruled_table(rows: &[[&str; 2]], top: f32) -> (Vec<Word>, Vec<BBox>) {
    let mut words = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        for (c, text) in row.iter().enumerate() {
            words.extend(line(
                text,
                80.0 + 150.0 * c as f32,
                top + 5.0 + 20.0 * r as f32,
                10.0,
            ));
        }
    }
    let bottom = top + 20.0 * rows.len() as f32;
    let mut rules: Vec<BBox> = (0..=rows.len())
        .map(|r| {
            let y = top + 20.0 * r as f32;
            [72.0, y - 0.3, 372.0, y + 0.3]
        })
        .collect();
    for x in [72.0, 222.0, 372.0] {
        rules.push([x - 0.3, top, x + 0.3, bottom]);
    }
    (words, rules)
}

#[test]
fn a_table_broken_by_the_page_is_one_table_chunk_over_both_pages() {
    let (mut first, rules1) = ruled_table(
        &[
            ["Country", "Capital"],
            ["Indonesia", "Jakarta"],
            ["Germany", "Berlin"],
        ],
        660.0,
    );
    first.splice(0..0, line("The countries we serve:", 72.0, 640.0, 11.0));
    // The next page repeats the column heads, then goes on.
    let (mut second, rules2) = ruled_table(
        &[
            ["Country", "Capital"],
            ["Kenya", "Nairobi"],
            ["Peru", "Lima"],
        ],
        72.0,
    );
    second.extend(line("That is all of them.", 72.0, 160.0, 11.0));
    let doc = analyse(&[page(1, first, rules1), page(2, second, rules2)]);
    let tables: Vec<&Block> = doc
        .pages
        .iter()
        .flat_map(|p| &p.blocks)
        .filter(|b| b.kind == Kind::Table)
        .collect();
    assert_eq!(tables.len(), 1, "{:?}", kinds(&doc));
    assert_eq!(tables[0].pages, vec![1, 2]);
    assert_eq!(
        tables[0].text,
        "Country\tCapital\nIndonesia\tJakarta\nGermany\tBerlin\nKenya\tNairobi\nPeru\tLima"
    );
    let chunks = chunk::chunks(&doc, 1500);
    let table = chunks
        .iter()
        .find(|c| c.kind == Kind::Table)
        .expect("a table chunk");
    assert_eq!((table.page, table.pages.clone()), (1, vec![1, 2]));
    assert_eq!(
        kinds(&Document {
            pages: vec![doc.pages[1].clone()]
        }),
        vec![(Kind::Paragraph, "That is all of them.".to_string())]
    );
}

/// A form's check boxes, found apart from its text, read in their places, show as a task
/// list's boxes in Markdown, and each chunk lists its own with their state and box.
#[test]
fn check_boxes_read_in_place_and_reach_their_chunks() {
    let mut words = Vec::new();
    for (text, x) in [("Do you agree?", 72.0), ("Yes", 156.0), ("No", 189.0)] {
        words.extend(line(text, x, 100.0, 11.0));
        if let Some(w) = words.last_mut() {
            w.line_end = x == 189.0;
        }
    }
    words.extend(line("Documents enclosed:", 72.0, 140.0, 11.0));
    words.extend(line("Passport", 90.0, 160.0, 11.0));
    words.extend(line("Visa", 90.0, 180.0, 11.0));
    let yes = words.iter().find(|w| w.text == "Yes").unwrap().bbox;
    let no = words.iter().find(|w| w.text == "No").unwrap().bbox;
    let boxed = |b: BBox| [b[0] - 11.5, b[1] + 1.0, b[0] - 3.0, b[3] - 1.0];
    marks::insert(&mut words, true, boxed(yes));
    marks::insert(&mut words, false, boxed(no));
    marks::insert(&mut words, false, [74.0, 161.0, 83.0, 170.0]);
    marks::insert(&mut words, true, [74.0, 181.0, 83.0, 190.0]);
    let doc = analyse(&[page(1, words, vec![])]);
    let text = doc.text();
    assert!(text.contains("Do you agree? ☒ Yes ☐ No"), "{text}");
    assert!(
        text.contains("☐ Passport") && text.contains("☒ Visa"),
        "{text}"
    );
    let md = markdown::document(&doc);
    assert!(md.contains("Do you agree? [x] Yes [ ] No"), "{md}");
    let chunks = chunk::chunks(&doc, 2000);
    let marks: Vec<(bool, f32)> = chunks
        .iter()
        .flat_map(|c| {
            c.selection_marks
                .iter()
                .map(|m| (m.state == chunk::SelectionState::Selected, m.bbox[1] as f32))
        })
        .collect();
    assert_eq!(
        marks,
        [(true, 101.0), (false, 101.0), (false, 161.0), (true, 181.0)]
    );
    for c in &chunks {
        assert_eq!(c.selection_marks.len(), marks::count(&c.text), "{c:?}");
    }
}

/// An italic numbered line over a paragraph, at the body's size, is a subsection heading (the
/// style of IEEE's papers), below the section heading set in capitals; an italic line without a
/// number stays a paragraph.
#[test]
fn italic_numbered_lines_are_subsection_headings() {
    let italic = |mut ws: Vec<Word>| {
        for w in &mut ws {
            w.italic = true;
        }
        ws
    };
    let body = |y: f32, w: &mut Vec<Word>| {
        for k in 0..3 {
            w.extend(line(
                "the text of the section goes on here with ordinary words in it",
                72.0,
                y + 12.0 * k as f32,
                10.0,
            ));
        }
    };
    let mut w = Vec::new();
    w.extend(line("II. TAXONOMY OF ALGORITHMS", 72.0, 80.0, 10.0));
    body(100.0, &mut w);
    w.extend(italic(line("A. Allowed classes", 72.0, 150.0, 10.0)));
    body(170.0, &mut w);
    w.extend(italic(line("Some words set in italics", 72.0, 220.0, 10.0)));
    body(240.0, &mut w);
    let doc = analyse(&[page(1, w, vec![])]);
    let headings: Vec<(String, Option<u8>)> = doc.pages[0]
        .blocks
        .iter()
        .filter(|b| b.kind == Kind::Heading)
        .map(|b| (b.text.clone(), b.level))
        .collect();
    assert_eq!(headings.len(), 2, "{headings:?}");
    assert_eq!(headings[0].0, "II. TAXONOMY OF ALGORITHMS");
    assert_eq!(headings[1].0, "A. Allowed classes");
    assert!(headings[1].1 > headings[0].1, "{headings:?}");
}

/// A table that reaches into the bottom margin takes the running foot in as its last row (the
/// chapter's name and the page number, as a book sets them): the row goes, the table stays.
#[test]
fn a_running_foot_taken_in_by_a_table_is_no_row_of_it() {
    let cell = |row: u32, col: u32, text: &str, y: f32| model::Cell {
        row,
        col,
        row_span: 1,
        col_span: 1,
        text: text.into(),
        header: false,
        bbox: Some([
            72.0 + 200.0 * col as f32,
            y,
            250.0 + 200.0 * col as f32,
            y + 10.0,
        ]),
    };
    let table = |last: (&str, &str)| tables::Found {
        bbox: [72.0, 600.0, 450.0, 770.0],
        drawn: false,
        table: Table {
            rows: 4,
            cols: 2,
            header_rows: 0,
            cells: vec![
                cell(0, 0, "Call", 600.0),
                cell(0, 1, "Description", 600.0),
                cell(1, 0, "fork()", 620.0),
                cell(1, 1, "Create a process", 620.0),
                cell(2, 0, "exit()", 640.0),
                cell(2, 1, "End this process", 640.0),
                cell(3, 0, last.0, 760.0),
                cell(3, 1, last.1, 760.0),
            ],
        },
    };
    let repeated = std::collections::HashSet::from([(false, signature("Chapter Zero Interfaces"))]);
    let input = page(7, Vec::new(), Vec::new());
    let mut foot = table(("Chapter Zero Interfaces", "7"));
    drop_running_rows(&input, &mut foot, &repeated);
    assert_eq!(foot.table.rows, 3);
    assert!(foot.table.cells.iter().all(|c| c.row < 3));
    assert_eq!(foot.bbox[3], 650.0, "the table ends at its last row");
    // A last row of the table's own stays, even in the margin.
    let mut own = table(("wait()", "Wait for a child"));
    drop_running_rows(&input, &mut own, &repeated);
    assert_eq!(own.table.rows, 4);
}

/// Right-to-left paragraphs: lines flush right, each paragraph's last line shorter at its left
/// end. The short last line ends its paragraph (a letter without case may start the next); it
/// is not a first-line indent that starts a block of its own.
#[test]
fn right_to_left_paragraphs_end_at_their_short_last_line() {
    // Words drawn from the right edge leftwards, in reading order.
    let rtl_line = |text: &str, y: f32| {
        let drawn: Vec<&str> = text.split(' ').rev().collect();
        let mut words = line(&drawn.join(" "), 0.0, y, 10.0);
        let shift = 540.0 - words.iter().map(|w| w.bbox[2]).fold(0.0, f32::max);
        for w in &mut words {
            w.bbox[0] += shift;
            w.bbox[2] += shift;
        }
        words
    };
    let full = "אחד שתים שלוש ארבע חמש שש שבע שמונה תשע עשר";
    let last = "אחד שתים שלוש ארבע חמש שש שבע שמונה.";
    let mut w = Vec::new();
    for (i, text) in [full, full, last, full, full, last].iter().enumerate() {
        w.extend(rtl_line(text, 100.0 + 13.0 * i as f32));
    }
    let doc = analyse(&[page(1, w, Vec::new())]);
    let blocks = kinds(&doc);
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    for (kind, text) in &blocks {
        assert_eq!(*kind, Kind::Paragraph, "{blocks:?}");
        assert!(
            text.starts_with("אחד") && text.ends_with("שמונה."),
            "{text}"
        );
    }
}

/// Two columns' lines, and each as it reads down.
const LEFT: [&str; 3] = [
    "Alpha opens the left",
    "column and then goes",
    "down to its end here.",
];
const RIGHT: [&str; 3] = [
    "Bravo opens the right",
    "column and goes on",
    "down to its end too.",
];
const LEFT_READ: &str = "Alpha opens the left column and then goes down to its end here.";
const RIGHT_READ: &str = "Bravo opens the right column and goes on down to its end too.";

fn region(kind: RegionKind, bbox: BBox) -> Region {
    Region {
        kind,
        bbox,
        score: 0.9,
        table: None,
    }
}

#[test]
fn a_scan_s_columns_read_across_a_narrow_gutter_are_read_down_where_the_model_sees_them() {
    // OCR read each pair of the two columns' lines as one line: the gutter is about a font size
    // wide, and a caption across the page just above hides it from the white around.
    let ocr = |mut words: Vec<Word>| {
        for w in &mut words {
            w.confidence = Some(0.95);
        }
        words
    };
    let mut w = ocr(line(
        "Fig. 1. A caption set across the whole width of the page, over both of the columns.",
        72.0,
        100.0,
        10.0,
    ));
    let mut bottom = 0.0f32;
    for i in 0..3 {
        let y = 125.0 + 13.0 * i as f32;
        let mut l = line(LEFT[i], 72.0, y, 10.0);
        if let Some(last) = l.last_mut() {
            last.line_end = false;
        }
        w.extend(ocr(l));
        w.extend(ocr(line(RIGHT[i], 178.0, y, 10.0)));
        bottom = y + 10.0;
    }
    let scan = PageInput {
        source: Source::Ocr,
        regions: vec![
            region(RegionKind::FigureCaption, [72.0, 100.0, 540.0, 110.0]),
            region(RegionKind::Text, [72.0, 125.0, 170.0, bottom]),
            region(RegionKind::Text, [178.0, 125.0, 300.0, bottom]),
        ],
        ..page(1, w, Vec::new())
    };
    let text = analyse(&[scan]).text();
    assert!(
        text.contains(LEFT_READ) && text.contains(RIGHT_READ),
        "{text}"
    );
}

#[test]
fn a_scan_s_columns_whose_lines_overhang_into_a_narrow_gutter_are_read_down() {
    // OCR's boxes of the left column's lines overhang it, leaving less white between the
    // columns than a gutter needs; the model's regions draw them back.
    let mut w = Vec::new();
    for i in 0..3 {
        let y = 125.0 + 13.0 * i as f32;
        w.extend(line(LEFT[i], 72.0, y, 10.0));
        w.extend(line(RIGHT[i], 173.0, y, 10.0));
    }
    for word in &mut w {
        word.confidence = Some(0.95);
    }
    let columns = vec![
        region(RegionKind::Text, [72.0, 125.0, 165.0, 161.0]),
        region(RegionKind::Text, [173.0, 125.0, 300.0, 161.0]),
    ];
    let scan = |regions: Vec<Region>| PageInput {
        source: Source::Ocr,
        regions,
        ..page(1, w.clone(), Vec::new())
    };
    let text = analyse(&[scan(Vec::new())]).text();
    assert!(
        !text.contains(LEFT_READ),
        "read down without the model: {text}"
    );
    let text = analyse(&[scan(columns)]).text();
    assert!(text.contains(LEFT_READ), "{text}");
}
