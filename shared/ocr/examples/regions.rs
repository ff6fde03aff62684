//! Prints the layout model's regions of an image, and the structure the table model reads in
//! each table region: `cargo run -p horizon-ocr --example regions -- PAGE.png` (the models
//! from `HORIZON_OCR_DIR`, as `scripts/install-ocr` prints it).

fn main() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: regions IMAGE")?;
    let dir = std::env::var_os("HORIZON_OCR_DIR").ok_or("set HORIZON_OCR_DIR")?;
    let setup = horizon_ocr::Setup::in_dir(std::path::Path::new(&dir), 2);
    let mut models = horizon_ocr::Regions::load(&setup)
        .map_err(|e| e.0)?
        .ok_or("no layout model in HORIZON_OCR_DIR")?;
    let image = image::open(&path).map_err(|e| e.to_string())?.to_luma8();
    let started = std::time::Instant::now();
    let regions = models.find(&image, 1.0).map_err(|e| e.0)?;
    println!("{} ms", started.elapsed().as_millis());
    for r in regions {
        let b = r.bbox.map(|v| v.round());
        println!("{:?} {:.3} {:?}", r.kind, r.score, b);
        if let Some(t) = r.table {
            println!(
                "  {} rows × {} columns, {} header rows",
                t.rows, t.cols, t.header_rows
            );
            for c in t.cells.iter().take(12) {
                let b = c.bbox.unwrap_or_default().map(|v| v.round());
                println!(
                    "  ({}, {}) span {}×{} {:?}",
                    c.row, c.col, c.row_span, c.col_span, b
                );
            }
        }
    }
    Ok(())
}
