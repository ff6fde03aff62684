//! Extraction in a child process, so that nothing a PDF does to the engine can take the worker
//! down: a crash (PDFium is C++), a hang or runaway memory ends the child, and the job fails with
//! a clear `error.code`, while the worker goes on with the next message.
//!
//! The child is the worker's own executable started again with `HORIZON_EXTRACT_CHILD=1` (every
//! binary that hosts the worker calls [`serve_if_child`] first thing in `main`): it reads the
//! document from stdin and writes JSON lines to stdout: progress as it goes, then the result.
//! The parent caps its data memory (`RLIMIT_DATA`), kills it at the deadline, and gives it no
//! environment but its settings (no credentials).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use horizon_domain::Error;
use horizon_domain::{JobError, PageSelection, Progress};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::engine::{self, Extraction, Input, Mode, Ocr};

const CHILD_ENV: &str = "HORIZON_EXTRACT_CHILD";

/// One line of the child's output.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
enum Line {
    Progress {
        done: u32,
        total: u32,
    },
    Done {
        extraction: Extraction,
        peak_rss_kb: u64,
    },
    Failed {
        error: horizon_pdf::Failure,
    },
}

/// What the parent asks of one extraction.
#[derive(Debug, Clone)]
pub struct Request {
    /// The executable to start (the worker's own, by default).
    pub program: PathBuf,
    pub input: Input,
    pub ocr: Ocr,
    pub mode: Mode,
    pub pdfium: Option<String>,
    /// Where ONNX Runtime and the OCR models are.
    pub ocr_dir: PathBuf,
    pub ocr_threads: usize,
    pub max_pages: u32,
    pub pages: Option<PageSelection>,
    /// The job's languages (ISO 639-1).
    pub languages: Vec<String>,
    /// How long the child may go without finishing a page.
    pub deadline: Duration,
    /// How long it may take in all.
    pub max_total: Duration,
    pub memory_mb: u64,
}

/// What came back, with the child's peak memory.
#[derive(Debug)]
pub struct Outcome {
    pub extraction: Result<Extraction, JobError>,
    pub peak_rss_kb: u64,
}

/// When this process was started as an extraction child, runs the child and exits.
pub fn serve_if_child() {
    if std::env::var_os(CHILD_ENV).is_some() {
        std::process::exit(child_main());
    }
}

fn child_main() -> i32 {
    horizon_pdf::sandbox::give_back_freed_memory();
    let out = std::io::stdout();
    let emit = |line: &Line| {
        let mut out = out.lock();
        let _ = serde_json::to_writer(&mut out, line);
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    };
    let setting = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let options = engine::Options {
        input: from_setting(setting("HORIZON_EXTRACT_INPUT")).unwrap_or(Input::Pdf),
        ocr: from_setting(setting("HORIZON_OCR")).unwrap_or_default(),
        mode: from_setting(setting("HORIZON_EXTRACT_MODE")).unwrap_or_default(),
        max_pages: setting("HORIZON_MAX_PAGES")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5000),
        wanted: setting("HORIZON_EXTRACT_PAGES"),
        pdfium: setting("PDFIUM_LIB_PATH"),
        ocr_dir: setting("HORIZON_OCR_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/opt")),
        threads: setting("HORIZON_OCR_THREADS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        languages: setting("HORIZON_OCR_LANGUAGES")
            .map(|v| {
                v.split(',')
                    .filter_map(horizon_domain::languages::script)
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut bytes = Vec::new();
    if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes) {
        emit(&Line::Failed {
            error: horizon_pdf::Failure::new("internal", format!("reading the document: {e}")),
        });
        return 0;
    }
    let report = |done, total| emit(&Line::Progress { done, total });
    match engine::extract(&bytes, &options, &report) {
        Ok(extraction) => emit(&Line::Done {
            extraction,
            peak_rss_kb: peak_rss_kb(),
        }),
        Err(error) => emit(&Line::Failed { error }),
    }
    0
}

/// A unit enum from its serialised name.
fn from_setting<T: serde::de::DeserializeOwned>(value: Option<String>) -> Option<T> {
    value.and_then(|v| serde_json::from_value(serde_json::Value::String(v)).ok())
}

/// A unit enum as its serialised name ("pdf", "auto"), to pass it in the environment.
fn as_setting<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// This process's peak resident memory, from /proc (0 where there is none).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Extracts `document` in a child process. `Err` only for trouble of the worker's own (the child
/// cannot be started): the message should be retried. Whatever the file does to the child
/// becomes the job's error.
pub async fn extract(
    req: &Request,
    document: bytes::Bytes,
    progress: impl Fn(Progress),
) -> Result<Outcome, Error> {
    let mut cmd = horizon_pdf::sandbox::command(&req.program, req.memory_mb);
    cmd.env(CHILD_ENV, "1")
        .env("HORIZON_EXTRACT_INPUT", as_setting(&req.input))
        .env("HORIZON_OCR", as_setting(&req.ocr))
        .env("HORIZON_EXTRACT_MODE", as_setting(&req.mode))
        .env("HORIZON_OCR_LANGUAGES", req.languages.join(","))
        .env("HORIZON_OCR_DIR", &req.ocr_dir)
        .env("HORIZON_OCR_THREADS", req.ocr_threads.to_string())
        .env("HORIZON_MAX_PAGES", req.max_pages.to_string())
        .env(
            "HORIZON_EXTRACT_PAGES",
            req.pages.as_ref().map(|p| p.as_str()).unwrap_or(""),
        );
    if let Some(lib) = &req.pdfium {
        cmd.env("PDFIUM_LIB_PATH", lib);
    }
    let mut child = cmd.spawn().map_err(|e| {
        Error::Unavailable(format!(
            "cannot start the extraction process {}: {e}",
            req.program.display()
        ))
    })?;
    let mut stdin = child.stdin.take();
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::Internal("the extraction process has no stdout".into()))?;
    // Feed the PDF while reading, so that neither side waits on a full pipe.
    let feeder = tokio::spawn(async move {
        if let Some(stdin) = stdin.as_mut() {
            let _ = stdin.write_all(&document).await;
            let _ = stdin.shutdown().await;
        }
    });
    let mut lines = BufReader::new(stdout).lines();
    // The deadline starts again with every page done; the whole run has its own limit.
    let started = tokio::time::Instant::now();
    let finished = loop {
        let left = req.max_total.saturating_sub(started.elapsed());
        match tokio::time::timeout(req.deadline.min(left), lines.next_line()).await {
            Err(_) => break Err(left <= req.deadline),
            Ok(Ok(Some(line))) => match serde_json::from_str::<Line>(&line) {
                Ok(Line::Progress { done, total }) => progress(Progress {
                    pages_done: done,
                    pages_total: total,
                }),
                Ok(other) => break Ok(Some(other)),
                Err(_) => {} // not ours: ignore
            },
            Ok(_) => break Ok(None),
        }
    };
    feeder.abort();
    let outcome = match finished {
        Err(overall) => {
            let _ = child.kill().await;
            let message = if overall {
                format!(
                    "extraction did not finish within {} s; the document is too long to read in one job (read it in parts with options.pages)",
                    req.max_total.as_secs()
                )
            } else {
                format!(
                    "a page took more than {} s; the file is too slow to read",
                    req.deadline.as_secs()
                )
            };
            Outcome {
                extraction: Err(JobError::new("timeout", message)),
                peak_rss_kb: 0,
            }
        }
        Ok(Some(Line::Done {
            extraction,
            peak_rss_kb,
        })) => Outcome {
            extraction: Ok(extraction),
            peak_rss_kb,
        },
        Ok(Some(Line::Failed { error })) => Outcome {
            extraction: Err(JobError::new(error.code, error.message)),
            peak_rss_kb: 0,
        },
        Ok(_) => {
            // No answer: the engine died on this file.
            let status = child.wait().await.ok();
            let how = status
                .and_then(|s| {
                    use std::os::unix::process::ExitStatusExt;
                    s.signal()
                        .map(|sig| format!("signal {sig}"))
                        .or(s.code().map(|c| format!("exit code {c}")))
                })
                .unwrap_or_else(|| "unknown".into());
            Outcome {
                extraction: Err(JobError::new(
                    "engine_crashed",
                    format!(
                        "the extraction engine stopped on this file ({how}); it may be malformed or need more than {} MB",
                        req.memory_mb
                    ),
                )),
                peak_rss_kb: 0,
            }
        }
    };
    let _ = child.start_kill();
    let _ = child.wait().await;
    Ok(outcome)
}
