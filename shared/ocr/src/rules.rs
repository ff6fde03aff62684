//! Ruling lines in pixels: long straight runs of dark pixels, horizontal or vertical, such as a
//! scanned table's grid. Letters make only short runs.

use image::GrayImage;

/// Runs at least this share of the image's width (horizontal) or height (vertical) are rules.
const MIN_H: f32 = 0.04;
const MIN_V: f32 = 0.015;
/// ... and at least this many pixels.
const MIN_PIXELS: usize = 30;
/// A rule is at most this thick, as a share of the shorter side.
const MAX_THICK: f32 = 0.006;

/// The rules of a (straightened) page image, as thin boxes in its pixels.
pub fn find(image: &GrayImage) -> Vec<[f32; 4]> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w < 8 || h < 8 {
        return Vec::new();
    }
    let threshold = otsu(image);
    let raw = image.as_raw();
    let dark = |x: usize, y: usize| raw[y * w + x] < threshold;
    let max_thick = ((w.min(h) as f32 * MAX_THICK).ceil() as usize).max(3);
    let mut out = Vec::new();
    // Horizontal: runs along each row, a pixel counting as dark when it or a neighbour above or
    // below is (so that a rule a hair off level stays whole).
    let min_h = ((w as f32 * MIN_H) as usize).max(MIN_PIXELS);
    let mut runs: Vec<(usize, usize, usize)> = Vec::new(); // y, x0, x1
    for y in 1..h - 1 {
        let mut x = 0;
        while x < w {
            if dark(x, y) || dark(x, y - 1) || dark(x, y + 1) {
                let start = x;
                while x < w && (dark(x, y) || dark(x, y - 1) || dark(x, y + 1)) {
                    x += 1;
                }
                if x - start >= min_h
                    && (start..x).filter(|&i| dark(i, y)).count() * 10 >= (x - start) * 8
                {
                    runs.push((y, start, x));
                }
            } else {
                x += 1;
            }
        }
    }
    out.extend(
        merge(runs, max_thick)
            .into_iter()
            .map(|(a, b, from, to)| [from as f32, a as f32, to as f32, b as f32 + 1.0]),
    );
    // Vertical: the same down each column.
    let min_v = ((h as f32 * MIN_V) as usize).max(MIN_PIXELS);
    let mut runs: Vec<(usize, usize, usize)> = Vec::new(); // x, y0, y1
    for x in 1..w - 1 {
        let mut y = 0;
        while y < h {
            if dark(x, y) || dark(x - 1, y) || dark(x + 1, y) {
                let start = y;
                while y < h && (dark(x, y) || dark(x - 1, y) || dark(x + 1, y)) {
                    y += 1;
                }
                if y - start >= min_v
                    && (start..y).filter(|&i| dark(x, i)).count() * 10 >= (y - start) * 8
                {
                    runs.push((x, start, y));
                }
            } else {
                y += 1;
            }
        }
    }
    out.extend(
        merge(runs, max_thick)
            .into_iter()
            .map(|(a, b, from, to)| [a as f32, from as f32, b as f32 + 1.0, to as f32]),
    );
    out
}

/// Runs on neighbouring rows (or columns) that overlap are one rule; thicker than `max_thick`
/// it is a filled area, not a rule. Gives (first row, last row, from, to).
fn merge(runs: Vec<(usize, usize, usize)>, max_thick: usize) -> Vec<(usize, usize, usize, usize)> {
    let mut open: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut done = Vec::new();
    for (at, from, to) in runs {
        let mut joined = false;
        for r in open.iter_mut() {
            if r.1 + 1 >= at && from < r.3 && to > r.2 {
                r.1 = at;
                r.2 = r.2.min(from);
                r.3 = r.3.max(to);
                joined = true;
                break;
            }
        }
        if !joined {
            open.push((at, at, from, to));
        }
        // Close the rules that this row has passed.
        let (still, closed): (Vec<_>, Vec<_>) = open.into_iter().partition(|r| r.1 + 1 >= at);
        open = still;
        done.extend(closed);
    }
    done.extend(open);
    done.into_iter().filter(|r| r.1 - r.0 < max_thick).collect()
}

/// Otsu's threshold: the grey level that best splits ink from paper.
pub(crate) fn otsu(image: &GrayImage) -> u8 {
    let mut hist = [0u64; 256];
    for p in image.as_raw() {
        hist[*p as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    let sum: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &n)| i as f64 * n as f64)
        .sum();
    let (mut sum_b, mut w_b, mut best, mut best_t) = (0f64, 0u64, 0f64, 128u8);
    for (t, &n) in hist.iter().enumerate() {
        w_b += n;
        if w_b == 0 {
            continue;
        }
        let w_f = total - w_b;
        if w_f == 0 {
            break;
        }
        sum_b += t as f64 * n as f64;
        let (m_b, m_f) = (sum_b / w_b as f64, (sum - sum_b) / w_f as f64);
        let between = w_b as f64 * w_f as f64 * (m_b - m_f).powi(2);
        if between > best {
            best = between;
            best_t = t as u8;
        }
    }
    best_t.saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn a_drawn_grid_gives_its_rules_letters_do_not() {
        let mut img = GrayImage::from_pixel(600, 400, Luma([250]));
        for y in [100u32, 150, 200] {
            for x in 50..550 {
                img.put_pixel(x, y, Luma([20]));
                img.put_pixel(x, y + 1, Luma([20]));
            }
        }
        for x in [50u32, 300, 549] {
            for y in 100..202 {
                img.put_pixel(x, y, Luma([20]));
            }
        }
        // A few letter-like strokes.
        for k in 0..20u32 {
            for y in 300..318 {
                img.put_pixel(60 + 12 * k, y, Luma([10]));
            }
        }
        let rules = find(&img);
        let h = rules.iter().filter(|r| r[2] - r[0] > 400.0).count();
        let v = rules.iter().filter(|r| r[3] - r[1] > 90.0).count();
        assert_eq!((h, v), (3, 3), "{rules:?}");
        assert!(
            rules.iter().all(|r| r[1] < 250.0),
            "no rule among the letters: {rules:?}"
        );
    }
}
