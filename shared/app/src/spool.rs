//! Documents on local disk: what a worker or an upload's check reads is downloaded to a file of
//! its own (Lambda's `/tmp`, sized in the template) as it arrives, and mapped from there, never
//! held in memory whole.

use std::path::{Path, PathBuf};

use bytes::Bytes;

/// A file in the work directory, removed when dropped.
#[derive(Debug)]
pub struct Spooled(PathBuf);

impl Spooled {
    /// A new name in `dir` for `what` (a job's or an upload's id). The first in a process
    /// removes what an earlier one left (a Lambda stopped mid-download keeps its `/tmp`).
    pub fn new(dir: &Path, what: &str) -> Spooled {
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(|| {
            sweep(dir, LEFT_OVER);
        });
        Spooled(dir.join(format!("horizon-{what}-{}.doc", fastrand::u64(..))))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The file's bytes, mapped read-only: pages are read in as they are touched.
    pub fn map(&self) -> std::io::Result<Bytes> {
        let file = std::fs::File::open(&self.0)?;
        if file.metadata()?.len() == 0 {
            return Ok(Bytes::new());
        }
        // SAFETY: the file is this process's own (a unique name in the work directory) and
        // nothing writes it once downloaded; the mapping is read-only.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Bytes::from_owner(map))
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A spooled file untouched this long was left by a process that stopped.
const LEFT_OVER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the spooled files in `dir` older than `age`; how many.
pub fn sweep(dir: &Path, age: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("horizon-") && name.ends_with(".doc")
        })
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|elapsed| elapsed >= age)
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spooled_file_is_removed_with_it_and_left_overs_are_swept() {
        let dir = std::env::temp_dir().join(format!("horizon-spool-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = Spooled::new(&dir, "job_1");
        std::fs::write(file.path(), b"%PDF-1.7").unwrap();
        assert_eq!(&file.map().unwrap()[..], b"%PDF-1.7");
        let path = file.path().to_owned();
        drop(file);
        assert!(!path.exists());
        let left = dir.join("horizon-job_2-1.doc");
        let other = dir.join("notes.txt");
        std::fs::write(&left, b"x").unwrap();
        std::fs::write(&other, b"x").unwrap();
        assert_eq!(sweep(&dir, std::time::Duration::ZERO), 1);
        assert!(!left.exists() && other.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
