//! A long job read in parts: its wanted pages divided into page ranges by what they are expected
//! to cost, each part read by any worker under its own lease and tries, and the whole assembled
//! once every part is read. The parts live in the job's own record, so that every change of a
//! part is a version-checked write of the job, and its effects (the next part queued, the
//! assembly) follow from the table's stream like every other effect.

use serde::{Deserialize, Serialize};

use crate::selection::PageSelection;

/// What a page is expected to cost to read, in units of a scanned page read with OCR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageCost {
    /// Rendered and read with OCR (a scan, an image, `ocr: always`).
    Ocr,
    /// Its text layer, with the layout model run on the rendered page (accurate mode).
    Layout,
    /// Its text layer alone (fast mode).
    Text,
}

impl PageCost {
    /// Measured by `scripts/bench-extract` on one core: a scanned page takes about 3 s, a
    /// born-digital one with the layout model 0.16 s, from its text alone 3 ms.
    pub fn units(self) -> f64 {
        match self {
            PageCost::Ocr => 1.0,
            PageCost::Layout => 0.06,
            PageCost::Text => 0.002,
        }
    }
}

/// How a job is divided: at most `units` of [`PageCost`] and at most `pages` pages a part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartSize {
    pub units: f64,
    pub pages: usize,
}

/// The wanted pages, in order, divided into parts of at most `size` each; one part when the
/// whole fits in one.
pub fn divide(pages: &[(u32, PageCost)], size: PartSize) -> Vec<Vec<u32>> {
    let mut parts: Vec<Vec<u32>> = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let mut spent = 0.0;
    for &(n, cost) in pages {
        let units = cost.units();
        if !current.is_empty() && (spent + units > size.units || current.len() >= size.pages) {
            parts.push(std::mem::take(&mut current));
            spent = 0.0;
        }
        current.push(n);
        spent += units;
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// Page numbers in order as a selection of ranges: `[1, 2, 3, 7]` is `"1-3,7"`.
pub fn ranges(pages: &[u32]) -> PageSelection {
    let mut text: Vec<String> = Vec::new();
    let mut i = 0;
    while i < pages.len() {
        let first = pages[i];
        let mut last = first;
        while i + 1 < pages.len() && pages[i + 1] == last + 1 {
            i += 1;
            last = pages[i];
        }
        text.push(if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        });
        i += 1;
    }
    PageSelection::of_ranges(text.join(","), pages)
}

/// Where a part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartState {
    /// Waiting for a worker (its message may not be queued yet: see [`Job::parts_released`]).
    Queued,
    /// A worker reads it, under its lease.
    Running,
    /// Read; its pages are stored for the assembly.
    Done,
}

/// One part of a job: a page range with its own state, lease and tries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// Its pages (1-based), e.g. `"41-60"`.
    pub pages: PageSelection,
    /// How many pages that is.
    pub count: u32,
    pub state: PartState,
    /// How many times a worker has claimed it.
    pub attempts: u32,
    /// While running: the claim holds until then (Unix milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
    /// When a worker last claimed it, and when it was read (Unix milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// The worker that last claimed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn pages_are_divided_by_their_expected_cost() {
        let size = PartSize {
            units: 20.0,
            pages: 500,
        };
        let scans: Vec<(u32, PageCost)> = (1..=45).map(|n| (n, PageCost::Ocr)).collect();
        let parts = divide(&scans, size);
        assert_eq!(
            parts.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![20, 20, 5]
        );
        assert_eq!(ranges(&parts[1]).as_str(), "21-40");
        // Born-digital pages are cheap: 3,000 of them go 500 a part.
        let text: Vec<(u32, PageCost)> = (1..=3000).map(|n| (n, PageCost::Text)).collect();
        assert_eq!(divide(&text, size).len(), 6);
        // A short document is one part.
        assert_eq!(divide(&scans[..20], size).len(), 1);
        assert!(divide(&[], size).is_empty());
        // A mixed document: the scanned pages weigh.
        let mixed: Vec<(u32, PageCost)> = (1..=100)
            .map(|n| {
                (
                    n,
                    if n % 2 == 0 {
                        PageCost::Ocr
                    } else {
                        PageCost::Text
                    },
                )
            })
            .collect();
        let parts = divide(&mixed, size);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().flatten().copied().eq(1..=100));
    }

    #[test]
    fn page_lists_become_ranges() {
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]).as_str(), "1-3,7,9-10");
        let sel = ranges(&[4, 5, 6, 20]);
        assert!(sel.contains(5) && sel.contains(20) && !sel.contains(7) && !sel.contains(3));
    }
}
