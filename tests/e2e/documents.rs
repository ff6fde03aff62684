//! Document understanding through the real worker (its child process, PDFium, ONNX Runtime and
//! the OCR models that scripts/install-ocr installs): scans and images read with OCR, layout
//! (headings, lists, tables, captions, page furniture, reading order across columns), chunks
//! that carry it, and the Markdown route. The fixtures, and what each holds, are described in
//! tests/fixtures/DOCUMENTS.md.

use serde_json::Value;

use crate::support::*;

/// A job's result with every chunk, once the job is terminal.
async fn run(api: &Api, fixture_name: &str, route: &str, options: &str) -> Value {
    let content_type = match fixture_name.rsplit('.').next() {
        Some("png") => "image/png",
        Some("jpg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("tiff") => "image/tiff",
        _ => "application/pdf",
    };
    run_bytes(
        api,
        fixture_name,
        fixture(fixture_name),
        content_type,
        route,
        options,
    )
    .await
}

/// A job's result on `bytes` (named `name` in messages), once the job is terminal.
async fn run_bytes(
    api: &Api,
    fixture_name: &str,
    bytes: Vec<u8>,
    content_type: &str,
    route: &str,
    options: &str,
) -> Value {
    let resp = api.upload_raw(bytes, content_type).await;
    assert_eq!(resp.status(), 201, "{fixture_name}");
    let upload: Value = resp.json().await.unwrap();
    let body = format!(
        r#"{{"uploadId":"{}","options":{{{options}}}}}"#,
        upload["id"].as_str().unwrap()
    );
    let resp = api.post_json(&format!("/v1/extract/{route}"), &body).await;
    assert_eq!(
        resp.status(),
        202,
        "{fixture_name}: {}",
        resp.text().await.unwrap_or_default()
    );
    let job: Value = resp.json().await.unwrap();
    assert_eq!(job["jobType"], format!("extract/{route}"));
    let v = api.wait_terminal(job["jobId"].as_str().unwrap()).await;
    assert_eq!(v["status"], "completed", "{fixture_name}: {v}");
    v
}

fn chunks(v: &Value) -> Vec<Value> {
    v["result"]["chunks"].as_array().unwrap().clone()
}

/// The chunks' text in order, one chunk a line.
fn text(v: &Value) -> String {
    chunks(v)
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn of_type<'a>(chunks: &'a [Value], kind: &str) -> Vec<&'a Value> {
    chunks.iter().filter(|c| c["type"] == kind).collect()
}

/// The table cells of a chunk as rows of text.
fn grid(chunk: &Value) -> Vec<Vec<String>> {
    let cells = chunk["cells"].as_array().unwrap();
    let rows = cells
        .iter()
        .map(|c| c["row"].as_u64().unwrap())
        .max()
        .unwrap()
        + 1;
    let cols = cells
        .iter()
        .map(|c| c["col"].as_u64().unwrap())
        .max()
        .unwrap()
        + 1;
    let mut g = vec![vec![String::new(); cols as usize]; rows as usize];
    for c in cells {
        g[c["row"].as_u64().unwrap() as usize][c["col"].as_u64().unwrap() as usize] =
            c["text"].as_str().unwrap().to_owned();
    }
    g
}

#[tokio::test(flavor = "multi_thread")]
async fn scans_and_images_are_read_with_ocr() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);

    // A scanned letter: an image-only PDF.
    let v = run(&api, "scan.pdf", "pdf", "").await;
    assert_eq!(v["result"]["ocrPages"], serde_json::json!([1]), "{v}");
    let c = chunks(&v);
    assert!(
        c.iter()
            .all(|c| c["source"] == "ocr" && c["confidence"].as_f64().unwrap() > 0.6),
        "{v}"
    );
    let heading = of_type(&c, "heading");
    assert_eq!(heading[0]["text"], "Scanned Letter", "{v}");
    let t = text(&v);
    for phrase in [
        "thank you for your letter",
        "checked the delivery records",
        "will bring the parcel on Friday morning",
    ] {
        assert!(t.contains(phrase), "{phrase:?} in {t}");
    }
    let list = of_type(&c, "list");
    assert_eq!(list.len(), 1, "{t}");
    assert!(
        list[0]["markdown"]
            .as_str()
            .unwrap()
            .contains("- One blue garden chair"),
        "{}",
        list[0]
    );
    let b = c[0]["bbox"].as_array().unwrap();
    assert!(
        b[2].as_f64().unwrap() <= 612.5 && b[0].as_f64().unwrap() >= 0.0,
        "page points: {b:?}"
    );

    // A photograph of a page, as a PNG: an image job, boxes in pixels.
    let v = run(&api, "photo.png", "image", "").await;
    assert_eq!(v["result"]["ocrPages"], serde_json::json!([1]));
    let t = text(&v);
    assert!(
        t.contains("Field Notes")
            && t.contains("Total: 42 units")
            && t.contains("counted the birds on both banks"),
        "{t}"
    );
    let c = chunks(&v);
    assert_eq!(of_type(&c, "heading")[0]["text"], "Field Notes");
    assert!(
        c.iter().any(|c| c["bbox"][2].as_f64().unwrap() > 700.0),
        "pixel boxes: {v}"
    );

    // JPEG, WebP, and a TIFF of two pages.
    for (name, word) in [("scan.jpg", "JPEG"), ("scan.webp", "WebP")] {
        let v = run(&api, name, "image", "").await;
        let t = text(&v);
        assert!(
            t.contains("Image Formats") && t.contains(word),
            "{name}: {t}"
        );
    }
    let v = run(&api, "scan-2pages.tiff", "image", "").await;
    assert_eq!(v["result"]["pages"], 2);
    assert_eq!(v["result"]["ocrPages"], serde_json::json!([1, 2]));
    let c = chunks(&v);
    assert!(
        c.iter().any(|c| c["page"] == 1
            && c["text"]
                .as_str()
                .unwrap()
                .contains("first page of a TIFF file")),
        "{v}"
    );
    assert!(
        c.iter().any(|c| c["page"] == 2
            && c["text"]
                .as_str()
                .unwrap()
                .contains("sits on the second page")),
        "{v}"
    );

    // A text layer made of glyphs that map to no letters is read with OCR (auto) ...
    let v = run(&api, "garbled-text-layer.pdf", "pdf", "").await;
    assert_eq!(v["result"]["ocrPages"], serde_json::json!([1]));
    assert!(text(&v).contains("Glyphs without Unicode"), "{v}");
    // ... and not when OCR is turned off.
    let v = run(&api, "garbled-text-layer.pdf", "pdf", r#""ocr":"never""#).await;
    assert!(
        v["result"]
            .get("ocrPages")
            .is_none_or(|p| p.as_array().is_some_and(Vec::is_empty)),
        "{v}"
    );
    assert!(!text(&v).contains("Glyphs without Unicode"));

    // A PDF that mixes text pages with a scanned one: only the scan is read with OCR, and its
    // ruled table keeps its cells.
    let v = run(&api, "mixed.pdf", "pdf", "").await;
    assert_eq!(v["result"]["ocrPages"], serde_json::json!([2]), "{v}");
    let c = chunks(&v);
    assert!(c
        .iter()
        .filter(|c| c["page"] != 2)
        .all(|c| c["source"] == "text"));
    assert!(c
        .iter()
        .filter(|c| c["page"] == 2)
        .all(|c| c["source"] == "ocr"));
    let table = of_type(&c, "table");
    assert_eq!(table.len(), 1, "{v}");
    assert_eq!(
        grid(table[0]),
        vec![
            vec!["Item", "Amount"],
            vec!["Paper", "12"],
            vec!["Ink", "7"]
        ]
    );
    let headings: Vec<&str> = of_type(&c, "heading")
        .iter()
        .map(|h| h["text"].as_str().unwrap())
        .collect();
    assert_eq!(headings, ["Part One", "Part Two", "Part Three"]);

    // Every page always read with OCR, on request: a born-digital page reads the same.
    let v = run(&api, "two-pages.pdf", "pdf", r#""ocr":"always""#).await;
    assert_eq!(v["result"]["ocrPages"], serde_json::json!([1, 2]));
    assert!(
        text(&v).contains("The second page has its own text."),
        "{v}"
    );
    running.shutdown().await;
}

/// Words in common, as an F1 score over the two texts' words (with repeats).
fn word_f1(a: &str, b: &str) -> f64 {
    let count = |s: &str| {
        let mut m = std::collections::HashMap::new();
        for w in s.split_whitespace() {
            *m.entry(w.to_lowercase()).or_insert(0i64) += 1;
        }
        m
    };
    let (ca, cb) = (count(a), count(b));
    let common: i64 = ca
        .iter()
        .map(|(w, n)| (*n).min(*cb.get(w).unwrap_or(&0)))
        .sum();
    let (na, nb) = (ca.values().sum::<i64>(), cb.values().sum::<i64>());
    if na + nb == 0 {
        return 1.0;
    }
    2.0 * common as f64 / (na + nb) as f64
}

/// A page fed into the scanner sideways or upside down reads as the upright page does.
#[tokio::test(flavor = "multi_thread")]
async fn turned_scans_read_like_upright_ones() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    // The scanned letter's page: the JPEG inside scan.pdf (1700 x 2200 px, 200 dpi).
    let pdf = fixture("scan.pdf");
    let start = pdf
        .windows(3)
        .position(|w| w == [0xFF, 0xD8, 0xFF])
        .expect("a JPEG in scan.pdf");
    let end = start
        + pdf[start..]
            .windows(9)
            .position(|w| w == b"endstream")
            .expect("its end");
    let page = image::load_from_memory(&pdf[start..end]).expect("the scan decodes");
    let png = |img: &image::DynamicImage| {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let read = async |what: &str, img: image::DynamicImage| {
        text(&run_bytes(&api, what, png(&img), "image/png", "image", "").await)
    };
    let upright = read("upright", page.clone()).await;
    for phrase in ["Scanned Letter", "checked the delivery records"] {
        assert!(upright.contains(phrase), "{phrase:?} in {upright}");
    }
    for (what, img) in [
        ("turned 90 degrees", page.rotate90()),
        ("upside down", page.rotate180()),
        ("turned 270 degrees", page.rotate270()),
    ] {
        let t = read(what, img).await;
        let f1 = word_f1(&t, &upright);
        assert!(
            f1 >= 0.95,
            "{what}: word F1 {f1:.3} against the upright page\n{t}"
        );
        assert!(t.contains("checked the delivery records"), "{what}: {t}");
    }
    running.shutdown().await;
}

/// A scanned table without rules keeps its rows, columns and header row, and each cell its place
/// on the page: in the accurate mode (the default) from the table-structure model, in the fast
/// mode (the same grid without the models) from the cell's words.
#[tokio::test(flavor = "multi_thread")]
async fn a_scanned_table_keeps_its_cells_and_their_places() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let expected = [
        ["Region", "Q1 2026", "Q2 2026", "Change"],
        ["North America", "1,200", "1,450", "20.8%"],
        ["Europe", "980", "1,010", "3.1%"],
        ["Asia Pacific", "640", "720", "12.5%"],
        ["Latin America", "210", "260", "23.8%"],
    ];
    // OCR may drop a space between a letter and a digit ("Q12026"): cells compare without them.
    let squeeze = |t: &str| t.split_whitespace().collect::<String>();
    let want: Vec<Vec<String>> = expected
        .iter()
        .map(|r| r.iter().map(|t| squeeze(t)).collect())
        .collect();
    for (mode, options) in [("accurate", ""), ("fast", r#""mode":"fast""#)] {
        let v = run(&api, "scan-table.jpg", "image", options).await;
        let c = chunks(&v);
        let headings = of_type(&c, "heading");
        assert_eq!(headings.len(), 1, "{mode}: {v}");
        assert_eq!(headings[0]["text"], "Quarterly Revenue", "{mode}: {v}");
        let tables = of_type(&c, "table");
        assert_eq!(tables.len(), 1, "{mode}: {v}");
        let got: Vec<Vec<String>> = grid(tables[0])
            .iter()
            .map(|r| r.iter().map(|t| squeeze(t)).collect())
            .collect();
        assert_eq!(got, want, "{mode}");
        let cells = tables[0]["cells"].as_array().unwrap();
        assert!(
            cells
                .iter()
                .all(|c| (c["row"] == 0) == (c["header"] == true)),
            "{mode}: the first row is the header: {cells:?}"
        );
        let placed: Vec<[f64; 4]> = cells
            .iter()
            .filter_map(|c| serde_json::from_value(c["bbox"].clone()).ok())
            .collect();
        assert_eq!(
            placed.len(),
            cells.len(),
            "{mode}: every cell has its box: {cells:?}"
        );
        let table: [f64; 4] = serde_json::from_value(tables[0]["bbox"].clone()).unwrap();
        for (cell, b) in cells.iter().zip(&placed) {
            assert!(
                b[0] >= table[0] - 20.0
                    && b[1] >= table[1] - 20.0
                    && b[2] <= table[2] + 20.0
                    && b[3] <= table[3] + 20.0
                    && b[0] < b[2]
                    && b[1] < b[3],
                "{cell} lies in the table {table:?}"
            );
        }
        // Rows run down the page and columns across it.
        let at = |r: u64, c: u64| {
            let i = cells
                .iter()
                .position(|x| x["row"] == r && x["col"] == c)
                .expect("a cell");
            placed[i]
        };
        for r in 0..4 {
            assert!(at(r, 0)[1] < at(r + 1, 0)[1], "row {r} above row {}", r + 1);
        }
        for col in 0..3 {
            assert!(
                at(1, col)[0] < at(1, col + 1)[0],
                "column {col} left of {}",
                col + 1
            );
        }
    }
    running.shutdown().await;
}

/// A job that names its languages is read with their scripts' characters only; naming a script
/// the recognizer has no letter of (Arabic, read with Tesseract) keeps an English page English.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_s_languages_decide_the_characters_ocr_reads() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let v = run(&api, "scan.jpg", "image", r#""languages":["en"]"#).await;
    let read = text(&v);
    assert!(read.contains("saved as a JPEG picture"), "{read}");
    // No accented letter, nothing of another script.
    let foreign: String = read
        .chars()
        .filter(|&c| (c.is_alphabetic() && !c.is_ascii() && c < '\u{0370}') || c >= '\u{2E80}')
        .collect();
    assert!(foreign.is_empty(), "read as English: {foreign:?} in {read}");
    assert!(
        v["result"]["warnings"]
            .as_array()
            .is_none_or(|w| w.is_empty()),
        "{v}"
    );
    let v = run(&api, "scan.jpg", "image", r#""languages":["en","ar"]"#).await;
    let read = text(&v);
    assert!(read.contains("saved as a JPEG picture"), "{read}");
    assert!(
        !read.chars().any(|c| ('\u{0590}'..='\u{08FF}').contains(&c)),
        "read as English: {read}"
    );
    assert!(
        v["result"]["warnings"]
            .as_array()
            .is_none_or(|w| w.is_empty()),
        "{v}"
    );
    running.shutdown().await;
}

/// Scans in the scripts the PP-OCR recognizer has no letter of are read with Tesseract's models:
/// the job's languages name the script, or (none named) Tesseract's detector finds it on a page
/// the recognizer reads poorly; a second script on the page is found among the lines still read
/// poorly. Korean keeps its word spaces; Arabic and Hebrew come out in reading order, in their
/// paragraphs; Bengali is read with a model that has no word list; Armenian, which the
/// detector takes for Latin, is found by reading the lines still read poorly with the models of
/// the scripts it does not tell.
#[tokio::test(flavor = "multi_thread")]
async fn scans_in_other_scripts_read_with_their_models() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let cases = [
        (
            "korean-scan.jpg",
            "image",
            "",
            &[
                "올해 회사의 매출은 작년보다 12퍼센트 증가했습니다.",
                "직원 수는 모두 340명이며, 서울과 부산에 사무실이 있습니다.",
            ][..],
        ),
        (
            "russian-scan.jpg",
            "image",
            r#""languages":["ru"]"#,
            &[
                "В этом году выручка компании выросла на 12 процентов",
                "В компании работают 340 сотрудников в Москве и Казани.",
            ][..],
        ),
        (
            "russian-scan.jpg",
            "image",
            "",
            &["В компании работают 340 сотрудников в Москве и Казани."][..],
        ),
        (
            "bengali-scan.jpg",
            "image",
            "",
            &["এই বছর কোম্পানির আয় বারো শতাংশ বেড়েছে।"][..],
        ),
        (
            // A script Tesseract's detector does not tell (it says Latin): found by reading.
            "armenian-scan.jpg",
            "image",
            "",
            &[
                "Այստեղ ապրում է մոտ երեք միլիոն մարդ",
                "Ընկերության եկամուտը աճել է տասը տոկոսով անցյալ տարվա",
            ][..],
        ),
        (
            "arabic.pdf",
            "pdf",
            r#""ocr":"always""#,
            &[
                // Its short last line stays in its paragraph.
                "تعمل الشركة على توسيع شبكة التوزيع في المنطقة العربية خلال السنوات الخمس القادمة.",
                "بلغ عدد الموظفين 2500 موظف في نهاية شهر سبتمبر 2023.",
            ][..],
        ),
        (
            "hebrew.pdf",
            "pdf",
            r#""ocr":"always""#,
            &[
                "נבחרו שלושה מועמדים (מתוך עשרה) לשלב הבא.",
                "تأسست الشركة (في دبي) عام 2010",
                // A figure in brackets inside a right-to-left line.
                "המחקר פורסם (2019) ועודכן",
            ][..],
        ),
    ];
    for (fixture_name, route, options, phrases) in cases {
        let v = run(&api, fixture_name, route, options).await;
        let read = text(&v);
        for phrase in phrases {
            assert!(
                read.contains(phrase),
                "{fixture_name} ({options}): {phrase:?} in\n{read}"
            );
        }
        let warnings = v["result"]["warnings"].to_string();
        assert!(!warnings.contains("no model"), "{fixture_name}: {warnings}");
    }
    running.shutdown().await;
}

/// A form's check boxes and radio buttons read in place, with their state in the chunk and as a
/// task list's boxes in Markdown: form fields (their state is the field's value) and ballot-box
/// characters in a text layer; squares drawn on the page, ticked with strokes; and the same
/// squares printed and scanned.
#[tokio::test(flavor = "multi_thread")]
async fn a_form_s_check_boxes_read_with_their_state() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let fields = [
        "Newsletter: ☒ Yes ☐ No",
        "Plan: ☐ Basic ☒ Pro ☐ Team",
        "☒ I accept the terms ☐ Send me a copy",
    ];
    let drawn = [
        "Newsletter: ☒ Yes ☐ No",
        "Contact by: ☐ Email ☒ Phone ☐ Post",
        "☒ I confirm the details above are correct",
    ];
    for (fixture_name, route, lines, side) in [
        ("form.pdf", "pdf", fields, 10.0),
        ("form-drawn.pdf", "pdf", drawn, 10.0),
        // 200 dpi: a 10-point box is 28 pixels wide.
        ("scan-form.jpg", "image", drawn, 28.0),
    ] {
        let v = run(&api, fixture_name, route, "").await;
        let c = chunks(&v);
        for line in lines {
            let chunk = c
                .iter()
                .find(|c| c["text"].as_str().unwrap().lines().any(|l| l == line))
                .unwrap_or_else(|| panic!("{fixture_name}: no chunk reads {line:?}: {}", text(&v)));
            let marks = chunk["selectionMarks"].as_array().unwrap();
            let states: Vec<&str> = marks.iter().map(|m| m["state"].as_str().unwrap()).collect();
            // The chunk may hold other lines before this one: its marks are in text order.
            let is_mark = |c: char| "☐☑☒".contains(c);
            let before = chunk["text"].as_str().unwrap().split(line).next().unwrap();
            let skip = before.chars().filter(|c| is_mark(*c)).count();
            let want: Vec<&str> = line
                .chars()
                .filter(|c| is_mark(*c))
                .map(|c| if c == '☐' { "unselected" } else { "selected" })
                .collect();
            assert_eq!(
                states[skip..skip + want.len()],
                want[..],
                "{fixture_name}: {line}: {chunk}"
            );
            let chunk_box: [f64; 4] = serde_json::from_value(chunk["bbox"].clone()).unwrap();
            for m in marks {
                let b: [f64; 4] = serde_json::from_value(m["bbox"].clone()).unwrap();
                let (w, h) = (b[2] - b[0], b[3] - b[1]);
                assert!(
                    (w - side).abs() < 0.25 * side && (h - side).abs() < 0.25 * side,
                    "{fixture_name}: a box the size of the check box: {b:?}"
                );
                assert!(
                    b[0] >= chunk_box[0] - 1.0 && b[2] <= chunk_box[2] + 1.0,
                    "{fixture_name}: {b:?} in {chunk_box:?}"
                );
            }
            let markdown = line.replace('☒', "[x]").replace('☐', "[ ]");
            assert!(
                chunk["markdown"].as_str().unwrap().contains(&markdown),
                "{fixture_name}: {markdown}: {chunk}"
            );
        }
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn layout_gives_headings_lists_tables_and_reading_order() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);

    // A report: running header, page numbers, headings at three levels, a ruled table whose
    // text the PDF writes column by column, a caption, lists.
    let v = run(&api, "report.pdf", "pdf", "").await;
    assert!(
        v["result"]
            .get("ocrPages")
            .is_none_or(|p| p.as_array().is_some_and(Vec::is_empty)),
        "{v}"
    );
    let c = chunks(&v);
    let kinds: Vec<(String, String)> = c
        .iter()
        .filter(|c| c["page"] == 1)
        .map(|c| {
            (
                c["type"].as_str().unwrap().to_owned(),
                c["text"].as_str().unwrap().chars().take(24).collect(),
            )
        })
        .collect();
    let expected: Vec<(&str, &str)> = vec![
        ("header", "Horizon Quarterly Report"),
        ("heading", "Annual Report 2026"),
        ("heading", "1 Introduction"),
        ("paragraph", "This report describes th"),
        ("heading", "2 Results"),
        ("heading", "2.1 Countries"),
        ("paragraph", "The table below lists fi"),
        ("table", "Country\tContinent\tCapita"),
        ("caption", "Table 1: Countries and t"),
        ("page_number", "Page 1 of 2"),
    ];
    assert_eq!(
        kinds,
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
    let level = |t: &str| c.iter().find(|c| c["text"] == t).unwrap()["level"].clone();
    assert_eq!(
        (
            level("Annual Report 2026"),
            level("1 Introduction"),
            level("2.1 Countries")
        ),
        (1.into(), 2.into(), 3.into())
    );
    let table = of_type(&c, "table")[0];
    assert_eq!(
        grid(table),
        vec![
            vec!["Country", "Continent", "Capital"],
            vec!["Indonesia", "Asia", "Jakarta"],
            vec!["Germany", "Europe", "Berlin"],
            vec!["Austria", "Europe", "Vienna"],
            vec!["France", "Europe", "Paris"],
            vec!["Vatican", "Europe", "Vatican City"],
        ]
    );
    assert!(table["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["row"] == 0)
        .all(|c| c["header"] == true));
    assert!(table["markdown"].as_str().unwrap().starts_with(
        "| Country | Continent | Capital |\n| --- | --- | --- |\n| Indonesia | Asia | Jakarta |"
    ));
    assert_eq!(
        table["headings"],
        serde_json::json!(["Annual Report 2026", "2 Results", "2.1 Countries"])
    );
    let lists = of_type(&c, "list");
    assert_eq!(lists.len(), 2, "{v}");
    assert_eq!(lists[0]["markdown"], "- Expand to three new markets.\n- Hire twelve more engineers for the data team.\n- Open a second office in Lisbon.");
    assert!(lists[1]["markdown"]
        .as_str()
        .unwrap()
        .starts_with("1. First, review the results"));
    assert_eq!(
        lists[1]["headings"],
        serde_json::json!(["Annual Report 2026", "3 Outlook"])
    );
    assert_eq!(
        of_type(&c, "header").len(),
        2,
        "one running header per page"
    );

    // The whole document as Markdown.
    let resp = api
        .get(&format!(
            "/v1/jobs/{}/markdown",
            v["jobId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let md = resp.text().await.unwrap();
    for part in [
        "<!-- page 1 -->",
        "# Annual Report 2026",
        "## 1 Introduction",
        "### 2.1 Countries",
        "| Vatican | Europe | Vatican City |",
        "<!-- page 2 -->",
        "## 3 Outlook",
    ] {
        assert!(md.contains(part), "{part:?} in\n{md}");
    }
    // The running header and the page numbers are chunks of their own, not running text.
    for furniture in ["Horizon Quarterly Report", "Page 1 of 2"] {
        assert!(!md.contains(furniture), "{furniture:?} in\n{md}");
    }
    assert_eq!(
        v["result"]["markdownUrl"].as_str().unwrap(),
        format!(
            "{}/v1/jobs/{}/markdown",
            api.base,
            v["jobId"].as_str().unwrap()
        )
    );

    // Two columns whose lines the PDF writes across the page: read down each column, the
    // paragraph that breaks at the foot of the left column whole.
    let v = run(&api, "article.pdf", "pdf", "").await;
    let t = text(&v);
    let at = |w: &str| t.find(w).unwrap_or_else(|| panic!("{w} in {t}"));
    let order = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"].map(at);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{t}");
    assert!(
        t.contains("Headings are found by their larger and bolder type"),
        "{t}"
    );
    let headings: Vec<String> = of_type(&chunks(&v), "heading")
        .iter()
        .map(|h| format!("{} {}", h["level"], h["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        headings,
        [
            "1 Reading Order in Two Columns",
            "2 1 Introduction",
            "2 2 Method",
            "2 3 Results",
            "2 4 Conclusion"
        ]
    );

    // A table aligned by white space only.
    let v = run(&api, "table-whitespace.pdf", "pdf", "").await;
    let c = chunks(&v);
    let table = of_type(&c, "table");
    assert_eq!(table.len(), 1, "{v}");
    let g = grid(table[0]);
    assert_eq!(g[0], ["Region", "Q1 2026", "Q2 2026", "Change"]);
    assert_eq!(g[4], ["Latin America", "210", "260", "23.8%"]);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_upload_has_its_route_and_markdown_waits_for_the_result() {
    let services = services().await;
    let mut config = (*services.config).clone();
    config.api.max_response_bytes = 200; // so that the report's Markdown is sent through S3
    let small = horizon_app::Services {
        config: std::sync::Arc::new(config),
        ..services.clone()
    };
    let key = new_account(&services).await;
    let http = horizon_local::start_http(small).await.unwrap();
    let api = Api::new(http.addr, &key);
    let upload = |bytes: Vec<u8>, ct: &'static str| {
        let api = &api;
        async move {
            let v: Value = api.upload_raw(bytes, ct).await.json().await.unwrap();
            v["id"].as_str().unwrap().to_owned()
        }
    };
    let pdf = upload(fixture("two-pages.pdf"), "application/pdf").await;
    let png = upload(fixture("photo.png"), "image/png").await;

    // Each route names the other for the wrong kind of upload.
    let resp = api
        .post_json("/v1/extract/image", &format!(r#"{{"uploadId":"{pdf}"}}"#))
        .await;
    assert_eq!(resp.status(), 400);
    let p: Value = resp.json().await.unwrap();
    assert!(p.to_string().contains("/v1/extract/pdf"), "{p}");
    let resp = api
        .post_json("/v1/extract/pdf", &format!(r#"{{"uploadId":"{png}"}}"#))
        .await;
    assert_eq!(resp.status(), 400);
    let p: Value = resp.json().await.unwrap();
    assert!(p.to_string().contains("/v1/extract/image"), "{p}");
    // Options are checked.
    let resp = api
        .post_json(
            "/v1/extract/pdf",
            &format!(r#"{{"uploadId":"{pdf}","options":{{"ocr":"sometimes"}}}}"#),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let resp = api
        .post_json(
            "/v1/extract/image",
            &format!(r#"{{"uploadId":"{png}","options":{{"ocr":"never"}}}}"#),
        )
        .await;
    assert_eq!(resp.status(), 400);
    // Languages are ISO 639-1 codes this service knows; the problem names the field.
    let resp = api
        .post_json(
            "/v1/extract/image",
            &format!(r#"{{"uploadId":"{png}","options":{{"languages":["en","english"]}}}}"#),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let p: Value = resp.json().await.unwrap();
    assert!(p.to_string().contains("options.languages"), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("\"english\""), "{p}");

    // No worker runs here: the job stays queued, and its Markdown is a 404 that says why.
    let resp = api
        .post_json("/v1/extract/image", &format!(r#"{{"uploadId":"{png}"}}"#))
        .await;
    assert_eq!(resp.status(), 202);
    let job: Value = resp.json().await.unwrap();
    assert_eq!(job["jobType"], "extract/image");
    let resp = api
        .get(&format!(
            "/v1/jobs/{}/markdown",
            job["jobId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(resp.status(), 409, "not completed yet");
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let p: Value = resp.json().await.unwrap();
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("once it is completed"),
        "{p}"
    );
    let listed: Value = api
        .get("/v1/jobs?jobType=extract/image")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 1, "{listed}");
    http.shutdown().await;

    // Completed, with Markdown larger than a response may be: a redirect to S3.
    let mut config = (*services.config).clone();
    config.api.max_response_bytes = 200;
    let small = horizon_app::Services {
        config: std::sync::Arc::new(config),
        ..services.clone()
    };
    let running = horizon_local::start(small).await.unwrap();
    let api = Api::new(running.addr, &key);
    let v = run(&api, "report.pdf", "pdf", "").await;
    let resp = api
        .get(&format!(
            "/v1/jobs/{}/markdown",
            v["jobId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(resp.status(), 307);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let direct = reqwest::get(&location).await.unwrap();
    assert_eq!(direct.status(), 200);
    assert!(direct
        .text()
        .await
        .unwrap()
        .contains("# Annual Report 2026"));
    running.shutdown().await;
}
