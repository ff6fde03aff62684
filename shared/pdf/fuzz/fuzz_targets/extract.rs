//! Fuzzes the extraction entry point: arbitrary bytes as a PDF (open, repair, extract, clean up,
//! chunk), and the same bytes as text through the clean-up and the chunker, whose invariants are
//! checked: no chunk over the limit, no word lost or cut.
#![no_main]

use horizon_pdf::chunk::{chunk_pages, PageText};
use horizon_pdf::{extract, pdfium, repair, Limits, Plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lib = std::env::var("PDFIUM_LIB_PATH").ok();
    let pdfium = pdfium(lib.as_deref()).expect("PDFium: set PDFIUM_LIB_PATH");
    if let Ok(x) = extract(pdfium, data, Limits { max_pages: 50 }, &Plan::default()) {
        let _ = chunk_pages(&x.pages, 200);
    }
    let _ = repair::repair(data);

    if let Ok(text) = std::str::from_utf8(data) {
        let max = 40;
        let pages = [PageText {
            number: 1,
            text: text.to_owned(),
        }];
        let chunks = chunk_pages(&pages, max);
        for c in &chunks {
            assert!(c.text.chars().count() <= max, "chunk over the limit: {:?}", c.text);
            assert!(!c.text.is_empty());
        }
        // Every word of the cleaned text is in the chunks, in order (only over-long words may
        // be cut, and then their pieces concatenate back).
        let clean = horizon_pdf::chunk::clean_pages(&pages).concat();
        let words: String = clean.split_whitespace().collect();
        let got: String = chunks.iter().flat_map(|c| c.text.split_whitespace()).collect();
        assert_eq!(got, words, "words lost or reordered");
    }
});
