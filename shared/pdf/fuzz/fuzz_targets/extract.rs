//! Fuzzes the PDF reading and the layout: arbitrary bytes as a PDF (open, repair, each page's
//! text layer, layout analysis, Markdown, chunks), and the same bytes as text through the
//! clean-up and the splitter, whose invariants are checked: no piece over the limit, no word lost
//! or cut.
#![no_main]

use horizon_layout::text::{chunk_text, normalise};
use horizon_pdf::{open, pdfium, repair, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lib = std::env::var("PDFIUM_LIB_PATH").ok();
    let pdfium = pdfium(lib.as_deref()).expect("PDFium: set PDFIUM_LIB_PATH");
    if let Ok(pdf) = open(pdfium, data, Limits { max_pages: 50 }) {
        let pages: Vec<_> = (1..=pdf.page_count())
            .filter_map(|n| pdf.text_layer(n).ok().map(|l| l.page))
            .collect();
        let doc = horizon_layout::analyse(&pages);
        let _ = horizon_layout::markdown::document(&doc);
        let _ = horizon_layout::chunk::chunks(&doc, 200);
    }
    let _ = repair::repair(data);

    if let Ok(text) = std::str::from_utf8(data) {
        let max = 40;
        let clean = normalise(text);
        let pieces = chunk_text(&clean, max);
        for p in &pieces {
            assert!(p.chars().count() <= max, "piece over the limit: {p:?}");
            assert!(!p.is_empty());
        }
        // Every word of the cleaned text is in the pieces, in order (only over-long words may
        // be cut, and then their pieces concatenate back).
        let words: String = clean.split_whitespace().collect();
        let got: String = pieces.iter().flat_map(|p| p.split_whitespace()).collect();
        assert_eq!(got, words, "words lost or reordered");
    }
});
