//! Small PDFs made in code, for tests and benchmarks: text pages, or any objects.

/// A PDF with one Helvetica text block per page (as tests/fixtures/make_fixtures.py makes).
pub fn make_pdf(pages: &[Vec<String>]) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    ];
    let pages_id = 2 + 2 * pages.len();
    let mut kids = Vec::new();
    for lines in pages {
        let mut ops = String::from("BT /F1 12 Tf 72 720 Td 16 TL\n");
        for line in lines {
            let escaped = line
                .replace('\\', "\\\\")
                .replace('(', "\\(")
                .replace(')', "\\)");
            ops.push_str(&format!("({escaped}) Tj T*\n"));
        }
        ops.push_str("ET");
        objects.push(format!("<< /Length {} >>\nstream\n{ops}\nendstream", ops.len()).into_bytes());
        let content = objects.len();
        objects.push(
            format!("<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 612 792] /Contents {content} 0 R /Resources << /Font << /F1 1 0 R >> >> >>")
                .into_bytes(),
        );
        kids.push(objects.len());
    }
    let kids: Vec<String> = kids.iter().map(|k| format!("{k} 0 R")).collect();
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .into_bytes(),
    );
    objects.push(format!("<< /Type /Catalog /Pages {pages_id} 0 R >>").into_bytes());
    write_pdf(&objects)
}

/// A PDF file of `objects` (numbered from 1, the last one the catalog), with its xref table.
pub fn write_pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root {} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1,
            objects.len()
        )
        .as_bytes(),
    );
    out
}
