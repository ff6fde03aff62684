//! PDFium on untrusted bytes runs in a child process, never in a service's own: a crash (PDFium
//! is C++), a hang or runaway memory ends the child, not the worker or the API instance (whose
//! other requests would otherwise wait behind PDFium's global lock). The child is the service's
//! own executable started again with a marker (each binary calls the `serve_if_…` functions
//! first thing in `main`); it gets no environment but its settings (no credentials),
//! a cap on its data memory and no core dumps.
//!
//! Here: [`command`], the child's process set up that way (the extraction worker's child uses it),
//! and the page count of an upload's check ([`page_count`], [`serve_if_counting`]).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The child's one argument: a flag no other program takes (a test harness started by mistake
/// refuses it and exits, instead of running its tests).
const COUNT_FLAG: &str = "--horizon-count-pdf-pages";

/// `program` as a sandboxed child: an empty environment but `RUST_LOG=off` (callers add their
/// settings), `RLIMIT_DATA` at `memory_mb`, no core dumps, stdin and stdout piped, stderr
/// dropped, killed when dropped.
pub fn command(program: &Path, memory_mb: u64) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.env_clear()
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let memory = memory_mb.saturating_mul(1024 * 1024);
    // SAFETY: between fork and exec only async-signal-safe calls: setrlimit.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: memory as libc::rlim_t,
                rlim_max: memory as libc::rlim_t,
            };
            libc::setrlimit(libc::RLIMIT_DATA, &limit);
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    cmd
}

/// When this process was started as a page-counting child: reads a PDF from stdin, writes its
/// page count (or nothing, when PDFium cannot open it) to stdout, and exits.
pub fn serve_if_counting() {
    if std::env::args_os().nth(1).as_deref() != Some(std::ffi::OsStr::new(COUNT_FLAG)) {
        return;
    }
    let mut bytes = Vec::new();
    if std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).is_ok() {
        let pdfium = std::env::var("PDFIUM_LIB_PATH").ok();
        if let Some(n) = crate::page_count(&bytes, pdfium.as_deref()) {
            print!("{n}");
        }
    }
    std::process::exit(0);
}

/// Where and how the page count runs.
#[derive(Debug, Clone)]
pub struct Counting<'a> {
    /// The executable to start (one that calls [`serve_if_counting`]).
    pub program: &'a Path,
    pub pdfium: Option<&'a str>,
    pub timeout: Duration,
    pub memory_mb: u64,
}

/// A PDF's page count, read by PDFium in a child process. `Ok(None)` when PDFium cannot open
/// the file or the child died on it; `Err` when it took longer than `timeout` (the child is
/// killed) or could not be started.
pub async fn page_count(how: &Counting<'_>, bytes: &[u8]) -> Result<Option<u32>, String> {
    let mut cmd = command(how.program, how.memory_mb);
    cmd.arg(COUNT_FLAG);
    if let Some(lib) = how.pdfium {
        cmd.env("PDFIUM_LIB_PATH", lib);
    }
    let mut child = cmd.spawn().map_err(|e| {
        format!(
            "cannot start the PDF checking process {}: {e}",
            how.program.display()
        )
    })?;
    let mut stdin = child.stdin.take();
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| "the PDF checking process has no stdout".to_owned())?;
    let run = async {
        // Fed while it runs, so that neither side waits on a full pipe.
        let feed = async {
            if let Some(stdin) = stdin.as_mut() {
                let _ = stdin.write_all(bytes).await;
                let _ = stdin.shutdown().await;
            }
            drop(stdin.take());
        };
        let mut out = String::new();
        let read = stdout.read_to_string(&mut out);
        let (_, read) = tokio::join!(feed, read);
        read.map(|_| out)
    };
    match tokio::time::timeout(how.timeout, run).await {
        Ok(out) => {
            let _ = child.wait().await;
            Ok(out.ok().and_then(|o| o.trim().parse().ok()))
        }
        Err(_) => {
            let _ = child.kill().await;
            Err(format!(
                "the PDF could not be read within {} s",
                how.timeout.as_secs()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A program standing in for a child: a shell script.
    fn script(name: &str, body: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("horizon-{name}-{}", std::process::id()));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn counting(program: &Path) -> Counting<'_> {
        Counting {
            program,
            pdfium: None,
            timeout: Duration::from_secs(1),
            memory_mb: 256,
        }
    }

    #[tokio::test]
    async fn a_child_that_hangs_is_killed_at_the_timeout_and_one_that_dies_counts_nothing() {
        let hangs = script("hangs", "exec sleep 30");
        let started = std::time::Instant::now();
        let err = page_count(&counting(&hangs), b"%PDF-1.7")
            .await
            .unwrap_err();
        assert!(err.contains("within 1 s"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));

        let dies = script("dies", "kill -SEGV $$");
        assert_eq!(page_count(&counting(&dies), b"%PDF-1.7").await, Ok(None));

        // It sees only what it is given: no credentials from the parent's environment.
        let env = script("env", "cat >/dev/null; env | grep -c AWS_ || true");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "not for the child");
        let out = page_count(&counting(&env), b"%PDF-1.7").await.unwrap();
        assert_eq!(out, Some(0), "the child saw AWS variables");
        for p in [hangs, dies, env] {
            let _ = std::fs::remove_file(p);
        }
    }
}
