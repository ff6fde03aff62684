//! Documents on local disk: what a worker or an upload's check reads is downloaded to a file of
//! its own (Lambda's `/tmp`, sized in the template) as it arrives, and mapped from there, never
//! held in memory whole.

use std::path::{Path, PathBuf};

use bytes::Bytes;

/// A file in the work directory, removed when dropped.
#[derive(Debug)]
pub struct Spooled(PathBuf);

impl Spooled {
    /// A new name in `dir` for `what` (a job's or an upload's id).
    pub fn new(dir: &Path, what: &str) -> Spooled {
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
