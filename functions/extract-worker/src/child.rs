//! Extraction in a child process, so that nothing a PDF does to the engine can take the worker
//! down: a crash (PDFium is C++), a hang or runaway memory ends the child, and the job fails with
//! a clear `error.code`, while the worker goes on with the next message.
//!
//! The child is the worker's own executable started again with `HORIZON_EXTRACT_CHILD=1` (every
//! binary that hosts the worker calls [`serve_if_child`] first thing in `main`): it reads a job's
//! settings (a JSON line) and its document from stdin and writes JSON lines to stdout: progress
//! as it goes, then the result; then it waits for the next document, its models still loaded.
//! The parent caps its data memory (`RLIMIT_DATA`), kills it at the deadline or when it dies,
//! gives it no environment but its settings (no credentials), and gives a child only one
//! account's documents, at most [`JOBS_PER_CHILD`] of them.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use horizon_domain::Error;
use horizon_domain::{JobError, PageSelection, Progress};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::engine::{self, Extraction, Input, Mode, Ocr};
use horizon_pdf::sandbox::Held;

const CHILD_ENV: &str = "HORIZON_EXTRACT_CHILD";

/// One line of the child's output.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
enum Line {
    Progress { done: u32, total: u32 },
    Done { answer: Answer, peak_rss_kb: u64 },
    Failed { error: horizon_pdf::Failure },
}

/// What a child is asked to do with a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Read the wanted pages and analyse the whole ([`engine::extract`]).
    #[default]
    Extract,
    /// Read the wanted pages only, for a part of a job ([`engine::read`]).
    Read,
    /// Say what each wanted page will cost to read ([`engine::plan`]).
    Plan,
}

/// A child's answer to its [`Task`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Answer {
    Extraction(Extraction),
    Reading(engine::Reading),
    Plan(Vec<(u32, engine::PageCost)>),
}

/// The document a child reads: a file it maps (a worker spools what it downloads), or bytes
/// sent down its stdin.
#[derive(Debug, Clone)]
pub enum Document {
    File(PathBuf),
    Bytes(bytes::Bytes),
}

impl From<&horizon_app::spool::Spooled> for Document {
    fn from(file: &horizon_app::spool::Spooled) -> Document {
        Document::File(file.path().to_owned())
    }
}

impl From<bytes::Bytes> for Document {
    fn from(b: bytes::Bytes) -> Document {
        Document::Bytes(b)
    }
}

impl From<Vec<u8>> for Document {
    fn from(b: Vec<u8>) -> Document {
        Document::Bytes(b.into())
    }
}

/// What the parent asks of one extraction.
#[derive(Debug, Clone)]
pub struct Request {
    /// The executable to start (the worker's own, by default).
    pub program: PathBuf,
    /// The account whose document it is: a child reads only one account's documents.
    pub account: String,
    pub input: Input,
    pub ocr: Ocr,
    pub mode: Mode,
    pub pdfium: Option<String>,
    /// Where ONNX Runtime and the OCR models are.
    pub ocr_dir: PathBuf,
    pub ocr_threads: usize,
    pub max_pages: u32,
    /// The job's budget of pixels read by the models, in millions.
    pub max_megapixels: u64,
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
    /// The child's process id (the same for the jobs one child read).
    pub child: u32,
}

/// One document for a child: the job's settings, then `length` bytes of the document (none when
/// it is the file at `path`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Job {
    #[serde(default)]
    task: Task,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    input: Input,
    ocr: Ocr,
    mode: Mode,
    max_pages: u32,
    max_megapixels: u64,
    pages: Option<String>,
    languages: Vec<String>,
    length: usize,
}

/// A document is at most this large (the uploads' own limit is far below).
const MAX_DOCUMENT: usize = 2 << 30;

/// When this process was started as an extraction child, runs the child and exits.
pub fn serve_if_child() {
    if std::env::var_os(CHILD_ENV).is_some() {
        horizon_pdf::sandbox::exit_now(child_main());
    }
}

/// The child: documents one after another from stdin, each answered on stdout, until stdin
/// closes. Its models stay loaded from one document to the next.
fn child_main() -> i32 {
    horizon_pdf::sandbox::give_back_freed_memory();
    let out = std::io::stdout();
    let emit = |line: &Line| {
        let mut out = out.lock();
        let _ = serde_json::to_writer(&mut out, line);
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    };
    let failed = |message: String| Line::Failed {
        error: horizon_pdf::Failure::new("internal", message),
    };
    // Opened before the filter, which allows no file to be opened for writing.
    let clear_refs = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/clear_refs")
        .ok();
    if let Err(e) = horizon_pdf::sandbox::confine() {
        // A worker that cannot confine its children is broken, not the document.
        emit(&Line::Failed {
            error: horizon_pdf::Failure::new("engine_unavailable", e),
        });
        return 1;
    }
    let setting = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let base = engine::Options {
        input: Input::Pdf,
        ocr: Ocr::default(),
        mode: Mode::default(),
        max_pages: 0,
        max_megapixels: 0,
        wanted: None,
        pdfium: setting("PDFIUM_LIB_PATH"),
        ocr_dir: setting("HORIZON_OCR_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/opt")),
        threads: setting("HORIZON_OCR_THREADS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        languages: Vec::new(),
    };
    let mut input = std::io::stdin().lock();
    loop {
        let mut header = String::new();
        match std::io::BufRead::read_line(&mut input, &mut header) {
            Ok(0) | Err(_) => return 0,
            Ok(_) => {}
        }
        let job = match serde_json::from_str::<Job>(&header) {
            Ok(job) if job.length <= MAX_DOCUMENT => job,
            Ok(_) => {
                emit(&failed("the document is too large".into()));
                return 0;
            }
            Err(e) => {
                emit(&failed(format!("the job's settings: {e}")));
                return 0;
            }
        };
        let bytes = match held(&job, &mut input) {
            Ok(bytes) => bytes,
            Err(e) => {
                emit(&failed(format!("reading the document: {e}")));
                return 0;
            }
        };
        let options = engine::Options {
            input: job.input,
            ocr: job.ocr,
            mode: job.mode,
            max_pages: job.max_pages,
            max_megapixels: job.max_megapixels,
            wanted: job.pages,
            languages: job
                .languages
                .iter()
                .filter_map(|c| horizon_layout::languages::script(c))
                .collect(),
            ..base.clone()
        };
        let report = |done, total| {
            horizon_pdf::sandbox::trim_when_much_is_freed();
            emit(&Line::Progress { done, total })
        };
        let answer = match job.task {
            Task::Extract => engine::extract(&bytes, &options, &report).map(Answer::Extraction),
            Task::Read => engine::read(&bytes, &options, &report).map(Answer::Reading),
            Task::Plan => engine::plan(&bytes, &options, &report).map(Answer::Plan),
        };
        match answer {
            Ok(answer) => emit(&Line::Done {
                answer,
                peak_rss_kb: peak_rss_kb(),
            }),
            Err(error) => emit(&Line::Failed { error }),
        }
        drop(bytes);
        horizon_pdf::sandbox::trim_freed_memory();
        // The next document's peak is its own.
        if let Some(mut file) = clear_refs.as_ref() {
            let _ = file.write_all(b"5");
        }
    }
}

/// The document of `job`: its file mapped, or its bytes from `input`.
fn held(job: &Job, input: &mut impl std::io::Read) -> std::io::Result<Held> {
    match &job.path {
        Some(path) => horizon_pdf::sandbox::map_file(path),
        None => {
            let mut bytes = vec![0u8; job.length];
            input.read_exact(&mut bytes)?;
            Ok(Held::Read(bytes))
        }
    }
}

/// This process's peak resident memory since it was last reset, from /proc (0 where there is
/// none).
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

/// A child waiting for its next document, and whose it may read.
struct Kept {
    key: Key,
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    served: u32,
    /// Whether it has read pages (and so loaded its models); a plan loads none.
    warm: bool,
}

/// What a child was started with, the account it reads for and the runtime its pipes belong to
/// (they work in no other): a child is reused only for the same.
#[derive(Debug, Clone, PartialEq)]
struct Key {
    runtime: tokio::runtime::Id,
    program: PathBuf,
    account: String,
    pdfium: Option<String>,
    ocr_dir: PathBuf,
    threads: usize,
    memory_mb: u64,
}

impl Key {
    fn of(req: &Request) -> Key {
        Key {
            runtime: tokio::runtime::Handle::current().id(),
            program: req.program.clone(),
            account: req.account.clone(),
            pdfium: req.pdfium.clone(),
            ocr_dir: req.ocr_dir.clone(),
            threads: req.ocr_threads,
            memory_mb: req.memory_mb,
        }
    }
}

/// Children between documents. A child reads at most [`JOBS_PER_CHILD`] documents, all of one
/// account (a document that took a child over sees no other account's), and at most [`IDLE`]
/// wait at a time (the one waiting longest goes).
static WAITING: std::sync::Mutex<Vec<Kept>> = std::sync::Mutex::new(Vec::new());
const JOBS_PER_CHILD: u32 = 100;
const IDLE: usize = 4;

/// A waiting child started as `key` says and still running.
fn take(key: &Key) -> Option<Kept> {
    let mut waiting = WAITING.lock().ok()?;
    while let Some(i) = waiting.iter().position(|k| &k.key == key) {
        let mut kept = waiting.remove(i);
        if matches!(kept.child.try_wait(), Ok(None)) && running(kept.child.id()) {
            return Some(kept);
        }
    }
    None
}

/// Whether process `pid` is running: not gone, and no zombie. (Tokio learns that a child
/// exited from its reactor, a moment after the fact; a child killed while it waited would be
/// given the next document.)
fn running(pid: Option<u32>) -> bool {
    pid.and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .and_then(|stat| {
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.trim_start().chars().next())
        })
        .is_some_and(|state| state != 'Z' && state != 'X')
}

fn keep(kept: Kept) {
    if kept.served >= JOBS_PER_CHILD {
        return;
    }
    if let Ok(mut waiting) = WAITING.lock() {
        waiting.push(kept);
        if waiting.len() > IDLE {
            waiting.remove(0);
        }
    }
}

/// A new child, with the fixed settings in its environment.
fn spawn(req: &Request) -> Result<Kept, Error> {
    // No CPU limit: it serves many documents in turn, each held to its page and job deadlines.
    let mut cmd = horizon_pdf::sandbox::command(&req.program, req.memory_mb, None);
    cmd.env(CHILD_ENV, "1")
        .env("HORIZON_OCR_DIR", &req.ocr_dir)
        .env("HORIZON_OCR_THREADS", req.ocr_threads.to_string());
    if let Some(lib) = &req.pdfium {
        cmd.env("PDFIUM_LIB_PATH", lib);
    }
    let mut child = cmd.spawn().map_err(|e| {
        Error::Unavailable(format!(
            "cannot start the extraction process {}: {e}",
            req.program.display()
        ))
    })?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(Error::Internal(
            "the extraction process has no stdin or stdout".into(),
        ));
    };
    Ok(Kept {
        key: Key::of(req),
        child,
        stdin,
        lines: BufReader::new(stdout).lines(),
        served: 0,
        warm: false,
    })
}

/// Extracts `document` in a child: one that read this account's last document, or a new one.
/// `progress` is told of each page done. Errors are the worker's own (the child could not be
/// started); whatever happens in the child is the `Outcome`'s.
pub async fn extract(
    req: &Request,
    document: impl Into<Document>,
    progress: impl Fn(Progress),
) -> Result<Outcome, Error> {
    let asked = ask(req, Task::Extract, document.into(), progress).await?;
    Ok(Outcome {
        extraction: asked.answer.and_then(|a| match a {
            Answer::Extraction(x) => Ok(x),
            _ => Err(JobError::new("internal", "the child answered another task")),
        }),
        peak_rss_kb: asked.peak_rss_kb,
        child: asked.child,
    })
}

/// What a child answered, with its peak memory.
pub struct Asked {
    pub answer: Result<Answer, JobError>,
    pub peak_rss_kb: u64,
    pub child: u32,
}

/// Has a child do `task` with `document` (see [`extract`]).
pub async fn ask(
    req: &Request,
    task: Task,
    document: Document,
    progress: impl Fn(Progress),
) -> Result<Asked, Error> {
    let key = Key::of(req);
    let Kept {
        key,
        mut child,
        mut stdin,
        mut lines,
        served,
        warm,
    } = match take(&key) {
        Some(kept) => kept,
        None => spawn(req)?,
    };
    let pid = child.id().unwrap_or(0);
    let (path, document) = match document {
        Document::File(path) => (Some(path), bytes::Bytes::new()),
        Document::Bytes(bytes) => (None, bytes),
    };
    let job = Job {
        task,
        path,
        input: req.input,
        ocr: req.ocr,
        mode: req.mode,
        max_pages: req.max_pages,
        max_megapixels: req.max_megapixels,
        pages: req.pages.as_ref().map(|p| p.as_str().to_owned()),
        languages: req.languages.clone(),
        length: document.len(),
    };
    let header = serde_json::to_vec(&job).map_err(|e| Error::Internal(e.to_string()))?;
    // Feed the document while reading, so that neither side waits on a full pipe.
    let feeder = tokio::spawn(async move {
        let fed = stdin.write_all(&header).await.is_ok()
            && stdin.write_all(b"\n").await.is_ok()
            && stdin.write_all(&document).await.is_ok()
            && stdin.flush().await.is_ok();
        (stdin, fed)
    });
    // The deadline starts again with every page done; the whole run has its own limit. A new
    // child loads its models before its first page: that page may take the deadline twice.
    let started = tokio::time::Instant::now();
    let mut page_limit = if !warm {
        req.deadline.saturating_mul(2)
    } else {
        req.deadline
    };
    let finished = loop {
        let left = req.max_total.saturating_sub(started.elapsed());
        let wait = page_limit.min(left);
        page_limit = req.deadline;
        match tokio::time::timeout(wait, lines.next_line()).await {
            Err(_) => break Err(left <= wait),
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
    let outcome = |answer, peak_rss_kb| Asked {
        answer,
        peak_rss_kb,
        child: pid,
    };
    let answered = match finished {
        Ok(Some(Line::Done {
            answer,
            peak_rss_kb,
        })) => outcome(Ok(answer), peak_rss_kb),
        Ok(Some(Line::Failed { error })) => {
            outcome(Err(JobError::new(error.code, error.message)), 0)
        }
        Err(overall) => {
            feeder.abort();
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
            let _ = child.kill().await;
            return Ok(outcome(Err(JobError::new("timeout", message)), 0));
        }
        Ok(_) => {
            // No answer: the engine died on this file.
            feeder.abort();
            let _ = child.start_kill();
            let status = child.wait().await.ok();
            let how = status
                .and_then(|s| {
                    use std::os::unix::process::ExitStatusExt;
                    s.signal()
                        .map(|sig| format!("signal {sig}"))
                        .or(s.code().map(|c| format!("exit code {c}")))
                })
                .unwrap_or_else(|| "unknown".into());
            return Ok(outcome(
                Err(JobError::new(
                    "engine_crashed",
                    format!(
                        "the extraction engine stopped on this file ({how}); it may be malformed or need more than {} MB",
                        req.memory_mb
                    ),
                )),
                0,
            ));
        }
    };
    // Answered: the child waits for its next document.
    match feeder.await {
        Ok((stdin, true)) => keep(Kept {
            key,
            child,
            stdin,
            lines,
            served: served + 1,
            warm: warm || task != Task::Plan,
        }),
        _ => {
            let _ = child.kill().await;
        }
    }
    Ok(answered)
}
