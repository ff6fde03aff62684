//! Each format read from a small file built here, as its writers lay it out; and the files a
//! reader must refuse.

use std::io::Write as _;

use horizon_layout::{markdown, Kind};

use super::*;

/// A zip package of `entries`, the first stored (ODF's and EPUB's `mimetype`) when `stored`.
pub(crate) fn package(entries: &[(&str, &[u8])], stored_first: bool) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (i, (name, bytes)) in entries.iter().enumerate() {
        let method = if i == 0 && stored_first {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        zip.start_file(
            *name,
            zip::write::SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn read_all(bytes: &[u8]) -> (Read, String) {
    let mut see = |b: &[u8]| (b == b"PIXELS").then(|| "TEXT IN PICTURE".to_owned());
    let read = read(bytes, &mut see).unwrap();
    let md = markdown::document(&read.document);
    (read, md)
}

fn kinds(read: &Read) -> Vec<Kind> {
    read.document
        .pages
        .iter()
        .flat_map(|p| p.blocks.iter().map(|b| b.kind))
        .collect()
}

const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main""#;

fn content_types(part: &str, kind: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/{part}" ContentType="{kind}"/></Types>"#
    )
}

fn rels(list: &[(&str, &str, &str)]) -> String {
    let items: String = list
        .iter()
        .map(|(id, kind, target)| {
            format!(r#"<Relationship Id="{id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}" Target="{target}"/>"#)
        })
        .collect();
    format!(
        r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{items}</Relationships>"#
    )
}

pub(crate) fn docx() -> Vec<u8> {
    let styles = format!(
        r#"<w:styles {W}>
        <w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>
        <w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/><w:basedOn w:val="Normal"/></w:style>
        <w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>
        <w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/><w:basedOn w:val="Normal"/></w:style>
        <w:style w:type="paragraph" w:styleId="MyChapter"><w:name w:val="Chapter"/><w:pPr><w:outlineLvl w:val="2"/></w:pPr></w:style>
        <w:style w:type="paragraph" w:styleId="Caption"><w:name w:val="caption"/></w:style>
        <w:style w:type="paragraph" w:styleId="ListBullet"><w:name w:val="List Bullet"/></w:style>
        </w:styles>"#
    );
    let numbering = format!(
        r#"<w:numbering {W}><w:abstractNum w:abstractNumId="0"><w:lvl w:ilvl="0"><w:numFmt w:val="decimal"/></w:lvl><w:lvl w:ilvl="1"><w:numFmt w:val="bullet"/></w:lvl></w:abstractNum><w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num></w:numbering>"#
    );
    let p = |style: &str, text: &str| {
        format!(
            r#"<w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>"#
        )
    };
    let item = |level: u8, text: &str| {
        format!(
            r#"<w:p><w:pPr><w:numPr><w:ilvl w:val="{level}"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>"#
        )
    };
    let tc = |props: &str, text: &str| {
        format!(r#"<w:tc><w:tcPr>{props}</w:tcPr><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"#)
    };
    let body = [
        p("Title", "Annual Report"),
        p("Heading1", "Results"),
        r#"<w:p><w:r><w:t xml:space="preserve">Sales grew </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>12%</w:t></w:r><w:r><w:footnoteReference w:id="2"/></w:r><w:del><w:r><w:delText>deleted words</w:delText></w:r></w:del><w:r><w:t>.</w:t></w:r></w:p>"#.to_owned(),
        item(0, "First step"),
        item(1, "A detail"),
        item(0, "Second step"),
        p("ListBullet", "Styled bullet"),
        p("MyChapter", "Outlined heading"),
        p("Heading2", "Table"),
        format!(
            "<w:tbl><w:tr><w:trPr><w:tblHeader/></w:trPr>{}{}</w:tr><w:tr>{}{}{}</w:tr><w:tr>{}{}{}</w:tr></w:tbl>",
            tc("", "Region"),
            tc(r#"<w:gridSpan w:val="2"/>"#, "Sales"),
            tc(r#"<w:vMerge w:val="restart"/>"#, "North"),
            tc("", "10"),
            tc("", "12"),
            tc("<w:vMerge/>", ""),
            tc("", "11"),
            tc("", "13"),
        ),
        p("Caption", "Table 1: Sales by region"),
        r#"<w:p><w:r><w:drawing><wp:inline><wp:docPr id="1" name="Picture 1" descr="A bar chart"/><a:graphic><a:graphicData><a:blip r:embed="rId9"/></a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>"#.to_owned(),
        r#"<w:sectPr><w:footerReference w:type="default" r:id="rId5"/></w:sectPr>"#.to_owned(),
    ]
    .join("");
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {W}><w:body>{body}</w:body></w:document>"#
    );
    let footnotes = format!(
        r#"<w:footnotes {W}><w:footnote w:type="separator" w:id="-1"><w:p/></w:footnote><w:footnote w:id="2"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t>Audited figures.</w:t></w:r></w:p></w:footnote></w:footnotes>"#
    );
    let footer = format!(r#"<w:ftr {W}><w:p><w:r><w:t>Confidential</w:t></w:r></w:p></w:ftr>"#);
    package(
        &[
            ("[Content_Types].xml", content_types("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml").as_bytes()),
            ("_rels/.rels", rels(&[("rId1", "officeDocument", "word/document.xml")]).as_bytes()),
            ("word/document.xml", document.as_bytes()),
            ("word/_rels/document.xml.rels", rels(&[("rId1", "styles", "styles.xml"), ("rId2", "numbering", "numbering.xml"), ("rId3", "footnotes", "footnotes.xml"), ("rId5", "footer", "footer1.xml"), ("rId9", "image", "media/image1.png")]).as_bytes()),
            ("word/styles.xml", styles.as_bytes()),
            ("word/numbering.xml", numbering.as_bytes()),
            ("word/footnotes.xml", footnotes.as_bytes()),
            ("word/footer1.xml", footer.as_bytes()),
            ("word/media/image1.png", b"PIXELS"),
        ],
        false,
    )
}

#[test]
fn a_docx_keeps_its_headings_lists_tables_notes_and_pictures() {
    let bytes = docx();
    assert_eq!(detect(&bytes), Some(Format::Docx));
    let (read, md) = read_all(&bytes);
    assert_eq!(read.format, Format::Docx);
    let expected = [
        "# Annual Report",
        "## Results",
        "Sales grew 12%[1].",
        "1. First step\n    - A detail\n2. Second step\n\n- Styled bullet\n\n####",
        "#### Outlined heading",
        "### Table",
        "<tr><th>Region</th><th colspan=\"2\">Sales</th></tr>\n</thead>\n<tbody>\n<tr><td rowspan=\"2\">North</td><td>10</td><td>12</td></tr>\n<tr><td>11</td><td>13</td></tr>",
        "Table 1: Sales by region",
        "<!-- figure: A bar chart\nTEXT IN PICTURE -->",
        "[1] Audited figures.",
    ];
    for e in expected {
        assert!(md.contains(e), "{e:?} is not in\n{md}");
    }
    // The footer is page furniture: in the document, not in its running text.
    assert!(
        !md.contains("deleted") && !md.contains("Confidential"),
        "{md}"
    );
    assert!(kinds(&read).contains(&Kind::Footer));
    let table = read.document.pages[0]
        .blocks
        .iter()
        .find_map(|b| b.table.as_ref())
        .unwrap();
    assert_eq!(table.header_rows, 1);
    let north = table.cells.iter().find(|c| c.text == "North").unwrap();
    assert_eq!((north.row, north.col, north.row_span), (1, 0, 2));
    let sales = table.cells.iter().find(|c| c.text == "Sales").unwrap();
    assert_eq!(sales.col_span, 2);
    let k = kinds(&read);
    assert!(k.contains(&Kind::Caption) && k.contains(&Kind::Footnote) && k.contains(&Kind::Figure));
}

fn pptx() -> Vec<u8> {
    let ns = r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main""#;
    let pres = format!(
        r#"<p:presentation {ns}><p:sldIdLst><p:sldId id="256" r:id="rId2"/><p:sldId id="257" r:id="rId3"/></p:sldIdLst><p:sldSz cx="9144000" cy="6858000"/></p:presentation>"#
    );
    let xfrm = |x: u32, y: u32| {
        format!(
            r#"<p:spPr><a:xfrm><a:off x="{x}" y="{y}"/><a:ext cx="2540000" cy="1270000"/></a:xfrm></p:spPr>"#
        )
    };
    let slide1 = format!(
        r#"<p:sld {ns}><p:cSld><p:spTree><p:nvGrpSpPr/><p:grpSpPr/>
        <p:sp><p:nvSpPr><p:cNvPr id="3" name="Body"/><p:cNvSpPr/><p:nvPr><p:ph type="body" idx="1"/></p:nvPr></p:nvSpPr>{}<p:txBody><a:p><a:r><a:t>Revenue up</a:t></a:r></a:p><a:p><a:pPr lvl="1"/><a:r><a:t>in every region</a:t></a:r></a:p><a:p><a:pPr><a:buNone/></a:pPr><a:r><a:t>Plain words</a:t></a:r></a:p></p:txBody></p:sp>
        <p:sp><p:nvSpPr><p:cNvPr id="2" name="Title"/><p:cNvSpPr/><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr>{}<p:txBody><a:p><a:r><a:t>Quarterly review</a:t></a:r></a:p></p:txBody></p:sp>
        <p:pic><p:nvPicPr><p:cNvPr id="4" name="Picture" descr="Company logo"/></p:nvPicPr><p:blipFill><a:blip r:embed="rId7"/></p:blipFill>{}</p:pic>
        <p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="5" name="Table"/></p:nvGraphicFramePr><p:xfrm><a:off x="0" y="3810000"/><a:ext cx="5080000" cy="1270000"/></p:xfrm><a:graphic><a:graphicData><a:tbl><a:tblPr firstRow="1"/><a:tr><a:tc gridSpan="2"><a:txBody><a:p><a:r><a:t>Totals</a:t></a:r></a:p></a:txBody></a:tc><a:tc hMerge="1"><a:txBody><a:p/></a:txBody></a:tc></a:tr><a:tr><a:tc><a:txBody><a:p><a:r><a:t>A</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>1</a:t></a:r></a:p></a:txBody></a:tc></a:tr></a:tbl></a:graphicData></a:graphic></p:graphicFrame>
        </p:spTree></p:cSld></p:sld>"#,
        xfrm(0, 1270000),
        xfrm(0, 0),
        xfrm(2540000, 1270000),
    );
    let slide2 = format!(
        r#"<p:sld {ns} show="0"><p:cSld><p:spTree><p:sp><p:nvSpPr><p:cNvPr id="2" name="Title"/><p:cNvSpPr/><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:p><a:r><a:t>Backup</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#
    );
    let layout = format!(
        r#"<p:sldLayout {ns}><p:cSld><p:spTree><p:sp><p:nvSpPr><p:cNvPr id="2" name="T"/><p:cNvSpPr/><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr>{}</p:sp></p:spTree></p:cSld></p:sldLayout>"#,
        xfrm(127000, 127000)
    );
    let notes = format!(
        r#"<p:notes {ns}><p:cSld><p:spTree><p:sp><p:nvSpPr><p:cNvPr id="2" name="N"/><p:cNvSpPr/><p:nvPr><p:ph type="body" idx="1"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Mention the new office.</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:notes>"#
    );
    package(
        &[
            ("[Content_Types].xml", content_types("ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml").as_bytes()),
            ("ppt/presentation.xml", pres.as_bytes()),
            ("ppt/_rels/presentation.xml.rels", rels(&[("rId2", "slide", "slides/slide1.xml"), ("rId3", "slide", "slides/slide2.xml")]).as_bytes()),
            ("ppt/slides/slide1.xml", slide1.as_bytes()),
            ("ppt/slides/_rels/slide1.xml.rels", rels(&[("rId7", "image", "../media/image1.png"), ("rId8", "notesSlide", "../notesSlides/notesSlide1.xml")]).as_bytes()),
            ("ppt/slides/slide2.xml", slide2.as_bytes()),
            ("ppt/slides/_rels/slide2.xml.rels", rels(&[("rId1", "slideLayout", "../slideLayouts/slideLayout1.xml")]).as_bytes()),
            ("ppt/slideLayouts/slideLayout1.xml", layout.as_bytes()),
            ("ppt/notesSlides/notesSlide1.xml", notes.as_bytes()),
            ("ppt/media/image1.png", b"PIXELS"),
        ],
        false,
    )
}

#[test]
fn a_pptx_gives_a_page_per_slide_with_its_title_bullets_table_and_notes() {
    let bytes = pptx();
    assert_eq!(detect(&bytes), Some(Format::Pptx));
    let (read, md) = read_all(&bytes);
    let pages = &read.document.pages;
    assert_eq!(pages.len(), 2);
    assert_eq!((pages[0].width, pages[0].height), (720.0, 540.0));
    let first: Vec<(Kind, &str)> = pages[0]
        .blocks
        .iter()
        .map(|b| (b.kind, b.text.as_str()))
        .collect();
    assert_eq!(
        first,
        [
            (Kind::Heading, "Quarterly review"),
            (Kind::List, "Revenue up\n  in every region"),
            (Kind::Paragraph, "Plain words"),
            (Kind::Figure, "Company logo\nTEXT IN PICTURE"),
            (Kind::Table, "Totals\t\nA\t1"),
            (Kind::Note, "Mention the new office."),
        ]
    );
    assert_eq!(pages[0].blocks[0].bbox, [0.0, 0.0, 200.0, 100.0]);
    assert_eq!(pages[0].blocks[3].bbox, [200.0, 100.0, 400.0, 200.0]);
    assert!(md.contains("- Revenue up\n    - in every region"), "{md}");
    assert!(md.contains("> **Notes:** Mention the new office."), "{md}");
    // The hidden slide says so; its title's box is its layout's.
    assert_eq!(pages[1].blocks[0].text, "(hidden slide)");
    assert_eq!(pages[1].blocks[1].bbox, [10.0, 10.0, 210.0, 110.0]);
}

fn xlsx() -> Vec<u8> {
    let ns = r#"xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;
    let book = format!(
        r#"<workbook {ns}><sheets><sheet name="Budget" sheetId="1" r:id="rId1"/><sheet name="Workings" sheetId="2" state="hidden" r:id="rId2"/></sheets></workbook>"#
    );
    let shared = format!(
        r#"<sst {ns}><si><t>Item</t></si><si><t>Cost</t></si><si><r><t>Pa</t></r><r><t>per</t></r></si><si><t>Due</t></si><si><t>Summary &amp; notes</t></si></sst>"#
    );
    let styles = format!(
        r#"<styleSheet {ns}><numFmts><numFmt numFmtId="164" formatCode="yyyy\-mm\-dd"/></numFmts><cellXfs><xf numFmtId="0"/><xf numFmtId="164"/></cellXfs></styleSheet>"#
    );
    let sheet1 = format!(
        r#"<worksheet {ns}><sheetData>
        <row r="2"><c r="B2" t="s"><v>4</v></c></row>
        <row r="3"><c r="B3" t="s"><v>0</v></c><c r="C3" t="s"><v>1</v></c><c r="D3" t="s"><v>3</v></c></row>
        <row r="4"><c r="B4" t="s"><v>2</v></c><c r="C4"><v>12.5</v></c><c r="D4" s="1"><v>45292</v></c></row>
        <row r="5"><c r="B5" t="inlineStr"><is><t>Ink</t></is></c><c r="C5" t="b"><v>1</v></c><c r="D5" t="e"><v>#N/A</v></c></row>
        </sheetData><mergeCells count="1"><mergeCell ref="B2:D2"/></mergeCells></worksheet>"#
    );
    let sheet2 = format!(
        r#"<worksheet {ns}><sheetData><row r="1"><c r="A1"><v>7</v></c></row></sheetData></worksheet>"#
    );
    package(
        &[
            (
                "[Content_Types].xml",
                content_types(
                    "xl/workbook.xml",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                )
                .as_bytes(),
            ),
            ("xl/workbook.xml", book.as_bytes()),
            (
                "xl/_rels/workbook.xml.rels",
                rels(&[
                    ("rId1", "worksheet", "worksheets/sheet1.xml"),
                    ("rId2", "worksheet", "worksheets/sheet2.xml"),
                    ("rId3", "sharedStrings", "sharedStrings.xml"),
                    ("rId4", "styles", "styles.xml"),
                ])
                .as_bytes(),
            ),
            ("xl/sharedStrings.xml", shared.as_bytes()),
            ("xl/styles.xml", styles.as_bytes()),
            ("xl/worksheets/sheet1.xml", sheet1.as_bytes()),
            ("xl/worksheets/sheet2.xml", sheet2.as_bytes()),
        ],
        false,
    )
}

#[test]
fn an_xlsx_gives_a_page_per_sheet_with_its_used_range_as_a_table() {
    let bytes = xlsx();
    assert_eq!(detect(&bytes), Some(Format::Xlsx));
    let (read, md) = read_all(&bytes);
    let pages = &read.document.pages;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].blocks[0].text, "Budget");
    assert_eq!(pages[1].blocks[0].text, "Workings (hidden sheet)");
    let t = pages[0].blocks[1].table.as_ref().unwrap();
    assert_eq!((t.rows, t.cols), (4, 3));
    assert_eq!(
        t.grid(),
        [
            ["Summary & notes", "", ""],
            ["Item", "Cost", "Due"],
            ["Paper", "12.5", "2024-01-01"],
            ["Ink", "TRUE", "#N/A"],
        ]
    );
    assert_eq!(t.cells[0].col_span, 3);
    assert!(md.contains("# Budget"), "{md}");
}

fn odt() -> Vec<u8> {
    let ns = r#"xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0""#;
    let content = format!(
        r#"<office:document-content {ns}><office:automatic-styles><text:list-style style:name="L1"><text:list-level-style-number text:level="1"/><text:list-level-style-bullet text:level="2"/></text:list-style><style:style style:name="P1" style:parent-style-name="Caption"/></office:automatic-styles>
        <office:body><office:text>
        <text:h text:outline-level="1">Plan</text:h>
        <text:p>Two<text:s text:c="2"/>spaces and a note<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation><text:note-body><text:p>From the board.</text:p></text:note-body></text:note>.</text:p>
        <text:list text:style-name="L1"><text:list-item><text:p>Hire</text:p><text:list><text:list-item><text:p>two engineers</text:p></text:list-item></text:list></text:list-item><text:list-item><text:p>Build</text:p></text:list-item></text:list>
        <table:table><table:table-header-rows><table:table-row><table:table-cell table:number-columns-spanned="2"><text:p>Cost</text:p></table:table-cell><table:covered-table-cell/></table:table-row></table:table-header-rows><table:table-row><table:table-cell><text:p>Rent</text:p></table:table-cell><table:table-cell><text:p>9</text:p></table:table-cell></table:table-row></table:table>
        <text:p text:style-name="P1">Table 1: Costs</text:p>
        <text:p><draw:frame><draw:image xlink:href="Pictures/a.png"/><svg:desc>A map</svg:desc></draw:frame></text:p>
        </office:text></office:body></office:document-content>"#
    );
    package(
        &[
            ("mimetype", b"application/vnd.oasis.opendocument.text"),
            ("content.xml", content.as_bytes()),
            ("Pictures/a.png", b"PIXELS"),
        ],
        true,
    )
}

#[test]
fn an_odt_keeps_its_outline_lists_tables_and_notes() {
    let bytes = odt();
    assert_eq!(detect(&bytes), Some(Format::Odt));
    let (_, md) = read_all(&bytes);
    for e in [
        "# Plan",
        "Two spaces and a note[1].",
        "1. Hire\n    - two engineers\n2. Build",
        "<tr><th colspan=\"2\">Cost</th></tr>\n</thead>\n<tbody>\n<tr><td>Rent</td><td>9</td></tr>",
        "Table 1: Costs",
        "<!-- figure: A map\nTEXT IN PICTURE -->",
        "[1] From the board.",
    ] {
        assert!(md.contains(e), "{e:?} is not in\n{md}");
    }
}

const HTML: &str = r#"<!DOCTYPE html><html><head><title>T</title><style>p{}</style><script>var x = "<p>no</p>";</script></head>
<body><nav><a href="/">Home</a></nav><h1>Guide &amp; notes</h1><p>Intro <b>bold</b><br>next line</p>
<ul><li>One<ul><li>One A</li></ul></li><li>Two</li></ul><ol><li>First</li></ol>
<table><caption>Prices</caption><thead><tr><th rowspan="2">Item</th><th colspan="2">Price</th></tr><tr><th>Old</th><th>New</th></tr></thead>
<tbody><tr><td>Tea</td><td>1</td><td>2</td></tr></tbody></table>
<figure><img src="data:image/png;base64,UElYRUxT" alt="Logo"><figcaption>Our logo</figcaption></figure>
<pre>fn main() {
    go();
}</pre><h3>End</h3><div>Loose text<p>in a div</p></div><aside role="doc-footnote">1. A note.</aside></body></html>"#;

#[test]
fn html_keeps_its_headings_nested_lists_tables_and_figures() {
    assert_eq!(detect(HTML.as_bytes()), Some(Format::Html));
    let (read, md) = read_all(HTML.as_bytes());
    for e in [
        "# Guide & notes",
        "Intro bold next line",
        "- One\n    - One A\n- Two",
        "1. First",
        "Prices",
        "<thead>\n<tr><th rowspan=\"2\">Item</th><th colspan=\"2\">Price</th></tr>\n<tr><th>Old</th><th>New</th></tr>\n</thead>\n<tbody>\n<tr><td>Tea</td><td>1</td><td>2</td></tr>",
        "<!-- figure: Logo\nTEXT IN PICTURE -->",
        "Our logo",
        "```\nfn main() {\n    go();\n}\n```",
        "### End",
        "Loose text\n\nin a div",
        "1\\. A note.",
    ] {
        assert!(md.contains(e), "{e:?} is not in\n{md}");
    }
    assert!(
        !md.contains("Home") && !md.contains("var x") && !md.contains("p{}"),
        "{md}"
    );
    let t = read.document.pages[0]
        .blocks
        .iter()
        .find_map(|b| b.table.as_ref())
        .unwrap();
    assert_eq!(t.header_rows, 2);
}

#[test]
fn markdown_is_read_with_its_structure() {
    let text = "# Title\n\nSome *text* with a note[^n].\n\n- a\n  1. a1\n  2. a2\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n```rust\nlet a = 1;\n```\n\n![diagram](data:image/png;base64,UElYRUxT)\n\n- [x] done\n\n[^n]: The note.\n";
    assert_eq!(detect(text.as_bytes()), Some(Format::Markdown));
    let (read, md) = read_all(text.as_bytes());
    for e in [
        "# Title",
        "Some text with a note[1].",
        "- a\n    1. a1\n    2. a2\n- b",
        "| x | y |\n| --- | --- |\n| 1 | 2 |",
        "```\nlet a = 1;\n```",
        "<!-- figure: diagram\nTEXT IN PICTURE -->",
        "- [x] done",
        "[1] The note.",
    ] {
        assert!(md.contains(e), "{e:?} is not in\n{md}");
    }
    assert_eq!(kinds(&read).last(), Some(&Kind::Footnote));
}

#[test]
fn an_epub_is_read_in_its_spine_order() {
    let opf = r#"<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"><manifest><item id="c2" href="text/ch%202.xhtml" media-type="application/xhtml+xml"/><item id="c1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/><item id="img" href="img/p.png" media-type="image/png"/></manifest><spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>"#;
    let ch1 = r#"<?xml version="1.0" encoding="utf-8"?><!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml"><body><h1>Chapter One</h1><p>It begins.</p><img src="../img/p.png" alt="Map"/></body></html>"#;
    let ch2 = r#"<html xmlns="http://www.w3.org/1999/xhtml"><body><h1>Chapter Two</h1><p>It ends.</p></body></html>"#;
    let bytes = package(
        &[
            ("mimetype", b"application/epub+zip"),
            ("META-INF/container.xml", br#"<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" version="1.0"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"#),
            ("OEBPS/content.opf", opf.as_bytes()),
            ("OEBPS/text/ch1.xhtml", ch1.as_bytes()),
            ("OEBPS/text/ch 2.xhtml", ch2.as_bytes()),
            ("OEBPS/img/p.png", b"PIXELS"),
        ],
        true,
    );
    assert_eq!(detect(&bytes), Some(Format::Epub));
    let (_, md) = read_all(&bytes);
    let one = md.find("# Chapter One").unwrap();
    let two = md.find("# Chapter Two").unwrap();
    assert!(one < two, "{md}");
    assert!(md.contains("<!-- figure: Map\nTEXT IN PICTURE -->"), "{md}");
}

#[test]
fn other_bytes_are_not_taken_for_documents() {
    for bytes in [
        &b""[..],
        b"#!/bin/sh\necho hi\n",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>",
        b"{\"a\": 1}",
        b"\x7FELF\x02\x01",
        b"text with a \x01 control character",
        b"%PDF-1.7",
    ] {
        assert_eq!(detect(bytes), None, "{:?}", String::from_utf8_lossy(bytes));
    }
    let zip = package(&[("a.txt", b"hello")], false);
    assert_eq!(detect(&zip), None);
    assert_eq!(
        detect(b"Just a line of plain text.\n"),
        Some(Format::Markdown)
    );
    assert_eq!(
        detect(b"\xEF\xBB\xBF<!doctype html><p>x"),
        Some(Format::Html)
    );
}

#[test]
fn hostile_packages_are_refused_with_a_reason() {
    // A bomb: 12 MiB of zeros in a few kilobytes.
    let zeros = vec![0u8; 12 << 20];
    let bomb = package(
        &[
            ("[Content_Types].xml", content_types("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml").as_bytes()),
            ("word/document.xml", &zeros),
        ],
        false,
    );
    assert!(bomb.len() < 200_000);
    let mut none = |_: &[u8]| None;
    let err = read(&bomb, &mut none).unwrap_err();
    assert_eq!(err.code(), "unsafe_document", "{err}");
    // Entities declared in a part.
    let lol = package(
        &[
            ("[Content_Types].xml", content_types("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml").as_bytes()),
            ("word/document.xml", br#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><w:document xmlns:w="x"><w:body><w:p><w:r><w:t>&b;</w:t></w:r></w:p></w:body></w:document>"#),
        ],
        false,
    );
    let err = read(&lol, &mut none).unwrap_err();
    assert_eq!(err.code(), "unsafe_document", "{err}");
    assert!(err.to_string().contains("document type"), "{err}");
    // HTML nested deeper than a parser can take in time is refused; deep but parseable HTML is
    // read without overflowing the stack.
    let deep = |n: usize| {
        format!(
            "<!doctype html><body>{}deep text{}",
            "<div><span>".repeat(n),
            "</span></div>".repeat(n)
        )
    };
    let err = read(deep(50_000).as_bytes(), &mut none).unwrap_err();
    assert_eq!(err.code(), "unsafe_document", "{err}");
    let read_deep = read(deep(1_500).as_bytes(), &mut none).unwrap();
    assert!(read_deep.document.text().contains("deep text"));
    // A DOCX without its document, a truncated package.
    let empty = package(
        &[(
            "[Content_Types].xml",
            content_types(
                "word/document.xml",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
            )
            .as_bytes(),
        )],
        false,
    );
    assert_eq!(read_err(&empty), "invalid_document");
    let whole = docx();
    assert_eq!(detect(&whole[..whole.len() / 2]), None);
}

fn read_err(bytes: &[u8]) -> &'static str {
    let mut none = |_: &[u8]| None;
    read(bytes, &mut none).unwrap_err().code()
}
