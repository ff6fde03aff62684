//! PDFium on untrusted bytes runs in a child process, never in a service's own: a crash (PDFium
//! is C++), a hang or runaway memory ends the child, not the worker or the API instance (whose
//! other requests would otherwise wait behind PDFium's global lock). The child is the service's
//! own executable started again with a marker (each binary calls the `serve_if_…` functions
//! first thing in `main`); it gets no environment but its settings (no credentials), a cap on
//! its data memory, on its processes and (a short-lived child) on its CPU time, no core dumps,
//! and no new privileges; its parent is not dumpable, so a child that a document took over
//! cannot read the parent's memory or environment through `/proc` or `ptrace`. Once started,
//! the child confines itself to the system calls reading needs ([`confine`]): no sockets, no
//! new processes, no file opened for writing.
//!
//! Here: [`command`], the child's process set up that way (the extraction worker's child uses it),
//! the page count of an upload's check ([`page_count`]) and page previews ([`preview`]), both
//! served by [`serve_if_child`].

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::preview::Preview;
use crate::Failure;

/// The child's first argument: a flag no other program takes (a test harness started by
/// mistake refuses it and exits, instead of running its tests).
const COUNT_FLAG: &str = "--horizon-count-pdf-pages";
/// A page preview: the flag, then the page number and the width.
const PREVIEW_FLAG: &str = "--horizon-preview-page";

/// Processes (and threads) the child's user may have once it runs: room for ONNX Runtime's
/// and PDFium's threads, none for a fork bomb. (Lambda's own limit is 1,024.)
const CHILD_PROCESSES: u64 = 512;

/// `program` as a sandboxed child: an empty environment but `RUST_LOG=off` (callers add their
/// settings), `RLIMIT_DATA` at `memory_mb`, `RLIMIT_CPU` at `cpu_seconds` when given (a child
/// that reads one document; one that serves many has its deadlines instead), `RLIMIT_NPROC`,
/// no core dumps, no new privileges, stdin and stdout piped, stderr dropped, killed when
/// dropped. This process becomes not dumpable.
pub fn command(
    program: &Path,
    memory_mb: u64,
    cpu_seconds: Option<u64>,
) -> tokio::process::Command {
    not_dumpable();
    let mut cmd = tokio::process::Command::new(program);
    cmd.env_clear()
        .env("RUST_LOG", "off")
        // ONNX Runtime keeps and sends usage telemetry unless this is set.
        .env("ORT_DISABLE_TELEMETRY", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(setting) = std::env::var_os(SECCOMP_SETTING) {
        cmd.env(SECCOMP_SETTING, setting);
    }
    let memory = memory_mb.saturating_mul(1024 * 1024);
    // SAFETY: between fork and exec only async-signal-safe calls: setrlimit and prctl.
    unsafe {
        cmd.pre_exec(move || {
            let limit = |resource, value: u64| {
                let limit = libc::rlimit {
                    rlim_cur: value as libc::rlim_t,
                    rlim_max: value as libc::rlim_t,
                };
                libc::setrlimit(resource, &limit)
            };
            limit(libc::RLIMIT_DATA, memory);
            limit(libc::RLIMIT_CORE, 0);
            limit(libc::RLIMIT_NPROC, CHILD_PROCESSES);
            if let Some(seconds) = cpu_seconds {
                limit(libc::RLIMIT_CPU, seconds);
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Makes this process not dumpable (once): no core dump of it, and no process of its user
/// (a child that a hostile document took over) may `ptrace` it or read its `/proc` memory and
/// environment, where its credentials are.
fn not_dumpable() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with these arguments only sets a flag of this process.
        let failed = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0;
        if failed {
            tracing::warn!("this process could not be made not dumpable");
        }
    });
}

/// The setting that turns [`confine`] off (`off`), passed to children from the parent's
/// environment: for a platform whose kernel refuses seccomp filters. Nothing else turns it off.
const SECCOMP_SETTING: &str = "HORIZON_SECCOMP";

/// Confines this process (a child, once started) to the system calls that reading documents
/// needs, with a seccomp filter on all its threads: reading files, never writing or creating
/// them (every `open` is read-only; what it writes goes to the pipes and descriptors it already
/// has); memory; threads, never new processes (`clone` only with `CLONE_THREAD`); signals to
/// itself only; the clock; and nothing else: no sockets, no `execve`, no `ptrace`, no `kill`.
/// Any other call fails with `EPERM` (a library that tries one sees an error, not a crash).
/// The list was measured with `strace -f` on the extraction child (PDFium, the image decoders,
/// ONNX Runtime with every model, PDFs, scans and TIFFs) and the page-count, preview and
/// thumbnail children; names are the kernel's generic ones, plus the older x86-64 calls
/// that glibc still makes there (`open`, `stat`, …).
///
/// `Err` says why it could not be installed; the caller then stops (fail closed), unless the
/// parent was started with `HORIZON_SECCOMP=off`.
pub fn confine() -> Result<(), String> {
    if std::env::var(SECCOMP_SETTING).is_ok_and(|v| v == "off") {
        return Ok(());
    }
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| format!("seccomp on {}: {e}", std::env::consts::ARCH))?;
    for filter in filters(arch)? {
        seccompiler::apply_filter_all_threads(&filter)
            .map_err(|e| format!("the system-call filter could not be installed: {e}"))?;
    }
    Ok(())
}

/// The filters [`confine`] installs, in order: the allow-list, then `clone3` answered `ENOSYS`
/// (its flags are behind a pointer that a filter cannot read: glibc then makes threads with
/// `clone`, whose flags the list checks).
fn filters(arch: seccompiler::TargetArch) -> Result<Vec<seccompiler::BpfProgram>, String> {
    use seccompiler::SeccompCmpArgLen::{Dword, Qword};
    use seccompiler::SeccompCmpOp::{Eq, MaskedEq};
    use seccompiler::{SeccompAction, SeccompCondition, SeccompFilter, SeccompRule};
    use std::collections::BTreeMap;

    let e = |e: seccompiler::BackendError| e.to_string();
    let when = |arg: u8, len, op, value: u64| -> Result<SeccompRule, String> {
        SeccompRule::new(vec![SeccompCondition::new(arg, len, op, value).map_err(e)?]).map_err(e)
    };
    let mut allowed: BTreeMap<i64, Vec<SeccompRule>> = [
        // Files, read (and written only through descriptors already open).
        libc::SYS_read,
        libc::SYS_pread64,
        libc::SYS_readv,
        libc::SYS_write,
        libc::SYS_writev,
        libc::SYS_close,
        libc::SYS_lseek,
        libc::SYS_fstat,
        libc::SYS_newfstatat,
        libc::SYS_statx,
        libc::SYS_readlinkat,
        libc::SYS_faccessat,
        libc::SYS_faccessat2,
        libc::SYS_getdents64,
        libc::SYS_fcntl,
        libc::SYS_dup,
        libc::SYS_dup3,
        libc::SYS_getcwd,
        // Memory.
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mprotect,
        libc::SYS_mremap,
        libc::SYS_madvise,
        libc::SYS_brk,
        // Threads and their waits.
        libc::SYS_futex,
        libc::SYS_set_robust_list,
        libc::SYS_rseq,
        libc::SYS_set_tid_address,
        libc::SYS_gettid,
        libc::SYS_getpid,
        libc::SYS_sched_getaffinity,
        libc::SYS_sched_yield,
        libc::SYS_getcpu,
        libc::SYS_epoll_pwait,
        libc::SYS_ppoll,
        libc::SYS_exit,
        libc::SYS_exit_group,
        // Signals (to itself: `tgkill` is checked below).
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_sigaltstack,
        // The clock, and what the runtimes ask of the system.
        libc::SYS_clock_gettime,
        libc::SYS_clock_getres,
        libc::SYS_clock_nanosleep,
        libc::SYS_nanosleep,
        libc::SYS_gettimeofday,
        libc::SYS_getrandom,
        libc::SYS_sysinfo,
        libc::SYS_uname,
        libc::SYS_getuid,
        libc::SYS_geteuid,
        libc::SYS_getgid,
        libc::SYS_getegid,
        libc::SYS_getrlimit,
    ]
    .into_iter()
    .map(|call| (call, Vec::new()))
    .collect();
    #[cfg(target_arch = "x86_64")]
    for call in [
        libc::SYS_stat,
        libc::SYS_lstat,
        libc::SYS_access,
        libc::SYS_readlink,
        libc::SYS_epoll_wait,
        libc::SYS_poll,
    ] {
        allowed.insert(call, Vec::new());
    }
    // Opening files: read-only, never creating, truncating or appending.
    let writes = (libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND) as u64;
    allowed.insert(libc::SYS_openat, vec![when(2, Dword, MaskedEq(writes), 0)?]);
    #[cfg(target_arch = "x86_64")]
    allowed.insert(libc::SYS_open, vec![when(1, Dword, MaskedEq(writes), 0)?]);
    // Threads, never processes.
    let thread = libc::CLONE_THREAD as u64;
    allowed.insert(
        libc::SYS_clone,
        vec![when(0, Qword, MaskedEq(thread), thread)?],
    );
    // Signals to its own threads only (abort, a runtime's wake-ups).
    allowed.insert(
        libc::SYS_tgkill,
        vec![when(0, Dword, Eq, std::process::id() as u64)?],
    );
    // Naming threads; the stack limit read (never set) when a thread starts; adding filters
    // (which can only take more away: the second filter below is installed under the first).
    allowed.insert(
        libc::SYS_prctl,
        vec![
            when(0, Dword, Eq, libc::PR_SET_NAME as u64)?,
            when(0, Dword, Eq, libc::PR_GET_NAME as u64)?,
            when(0, Dword, Eq, libc::PR_SET_NO_NEW_PRIVS as u64)?,
        ],
    );
    allowed.insert(
        libc::SYS_seccomp,
        vec![when(0, Dword, Eq, libc::SECCOMP_SET_MODE_FILTER as u64)?],
    );
    allowed.insert(libc::SYS_prlimit64, vec![when(2, Qword, Eq, 0)?]);

    let list = SeccompFilter::new(
        allowed,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )
    .map_err(e)?;
    let clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, Vec::new())].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(e)?;
    Ok(vec![
        list.try_into().map_err(e)?,
        clone3.try_into().map_err(e)?,
    ])
}

/// Sets the allocator for a child that reads page after page with the models.
/// - Freed memory goes back to the system past a fixed trim threshold. With glibc's dynamic one
///   the large buffers a model run frees after every page were kept, and a long document's peak
///   grew page by page (1.1 GB after 65 pages).
/// - A fixed trim threshold also fixes the mmap threshold, at 128 KiB unless set: every model
///   buffer was then mapped and unmapped, its pages faulted in and zeroed anew each time (42% of
///   a scanned page's time was the kernel's). Buffers under 32 MiB come from the heap.
/// - The heap keeps up to 256 MiB free at its top. At 1 MiB it was given back and faulted in
///   again on every page: 2.5 million page faults on 8 dense scanned pages, a sixth of the time;
///   170,000 now. Free memory kept does not raise the peak, which is the largest page's, and a
///   child gives it all back between documents ([`trim_freed_memory`]).
///
/// (A heap that also grows 64 MiB at a time, `M_TOP_PAD`, does raise the peak: it ran out of the
/// child's data limit on pages read with OCR beside the layout and table models.)
pub fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's parameters.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP_FREE as i32);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

/// The free memory a child's heap may hold between pages before it is given back.
const KEEP_FREE: usize = 256 << 20;

/// Gives freed memory back once the heap holds more than [`KEEP_FREE`] of it. The threshold of
/// [`give_back_freed_memory`] trims only the top of the heap: a long document keeps each page's
/// words while the larger buffers of rendering and the models are freed in holes below them,
/// and the resident memory grew page by page (to 1,042 MB over the 785 pages of SICP read with
/// the layout model). A child calls it after each page.
pub fn trim_when_much_is_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallinfo only reads the allocator's counts; malloc_trim only returns free memory.
    unsafe {
        // Its counts are C ints: read as unsigned they hold up to 4 GiB.
        #[allow(deprecated)]
        let free = libc::mallinfo().fordblks as u32 as usize;
        if free > KEEP_FREE {
            libc::malloc_trim(0);
        }
    }
}

/// Ends a child at once with `code`, without the exit handlers of the libraries it loaded
/// (Tesseract's complain on stderr of the models still loaded, which a child keeps for its
/// life). Everything it answers is written and flushed as it goes.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` ends the process; nothing runs after it.
    unsafe { libc::_exit(code) }
}

/// Gives every arena's free memory back to the system: a child calls it between documents, so
/// that what one document's pages left in the heap (64 MiB of padding, fragments) is not carried
/// into the next one's, under the same data limit.
pub fn trim_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// When this process was started as one of the children here: reads a document from stdin,
/// writes what was asked to stdout (a PDF's page count, or a page's [`Preview`] as
/// [`Preview::to_bytes`]; nothing when the document cannot be read), and exits. Every binary that
/// checks uploads or shows pages calls it first thing in `main`.
pub fn serve_if_child() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(flag) = args
        .first()
        .filter(|f| [COUNT_FLAG, PREVIEW_FLAG].contains(&f.as_str()))
    else {
        return;
    };
    if confine().is_err() {
        std::process::exit(70);
    }
    // A page count may be of a file (`--count --file PATH`), mapped rather than sent.
    let document = match (flag.as_str(), args.get(1).map(String::as_str), args.get(2)) {
        (COUNT_FLAG, Some(FILE_FLAG), Some(path)) => map_file(Path::new(path)),
        _ => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(|_| Held::Read(bytes))
        }
    };
    if let Ok(bytes) = document {
        let pdfium = std::env::var("PDFIUM_LIB_PATH").ok();
        if flag == COUNT_FLAG {
            if let Some(n) = crate::page_count(&bytes, pdfium.as_deref()) {
                print!("{n}");
            }
        } else {
            let number = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(0);
            let width = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0);
            let out = match crate::preview::page(&bytes, number, width, pdfium.as_deref()) {
                Ok(preview) => preview.to_bytes(),
                // A failure as one line of JSON, which no preview starts with.
                Err(f) => serde_json::to_vec(&f).unwrap_or_default(),
            };
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &out);
        }
    }
    std::process::exit(0);
}

/// The flag that gives a child its document as a file's path.
const FILE_FLAG: &str = "--file";

/// A document as a child holds it: mapped from its file (its pages are read in as PDFium asks
/// for them, and count against no data limit), or read whole.
pub enum Held {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for Held {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Held::Mapped(m) => m,
            Held::Read(v) => v,
        }
    }
}

/// The file at `path`, mapped read-only.
pub fn map_file(path: &Path) -> std::io::Result<Held> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(Held::Read(Vec::new()));
    }
    // SAFETY: the parent wrote the file before starting the child and does not change it
    // while the child reads it; the mapping is read-only.
    Ok(Held::Mapped(unsafe { memmap2::Mmap::map(&file)? }))
}

/// [`page_count`] of the PDF in the file at `path`, which the child maps (the document is never
/// held in memory whole, by either process).
pub async fn page_count_of_file(how: &Child<'_>, path: &Path) -> Result<Option<u32>, String> {
    let path = path.to_string_lossy();
    let out = run(how, &[COUNT_FLAG, FILE_FLAG, &path], &[]).await?;
    Ok(std::str::from_utf8(&out)
        .ok()
        .and_then(|o| o.trim().parse().ok()))
}

/// Where and how a child runs.
#[derive(Debug, Clone)]
pub struct Child<'a> {
    /// The executable to start (one that calls [`serve_if_child`]).
    pub program: &'a Path,
    pub pdfium: Option<&'a str>,
    pub timeout: Duration,
    pub memory_mb: u64,
}

/// A PDF's page count, read by PDFium in a child process. `Ok(None)` when PDFium cannot open
/// the file or the child died on it; `Err` when it took longer than `timeout` (the child is
/// killed) or could not be started.
pub async fn page_count(how: &Child<'_>, bytes: &[u8]) -> Result<Option<u32>, String> {
    let out = run(how, &[COUNT_FLAG], bytes).await?;
    Ok(std::str::from_utf8(&out)
        .ok()
        .and_then(|o| o.trim().parse().ok()))
}

/// Page `number` of a PDF or an image as a [`Preview`] `width` pixels wide, made in a child
/// process. `Err` says why not: the document's own failure (`no_such_page`, `invalid_pdf`, …),
/// or the child's (it died, took longer than `timeout`, or could not be started:
/// `preview_failed`).
pub async fn preview(
    how: &Child<'_>,
    bytes: &[u8],
    number: u32,
    width: u32,
) -> Result<Preview, Failure> {
    let out = run(
        how,
        &[PREVIEW_FLAG, &number.to_string(), &width.to_string()],
        bytes,
    )
    .await
    .map_err(|e| Failure::new("preview_failed", e))?;
    if let Some(preview) = Preview::from_bytes(&out) {
        return Ok(preview);
    }
    Err(serde_json::from_slice::<Failure>(&out).unwrap_or_else(|_| {
        Failure::new(
            "preview_failed",
            format!("page {number} could not be drawn (the process reading it stopped)"),
        )
    }))
}

/// Runs the child with `args`, feeding it `bytes`; its output. `Err` when it took longer than
/// `timeout` (it is killed) or could not be started.
pub async fn run(how: &Child<'_>, args: &[&str], bytes: &[u8]) -> Result<Vec<u8>, String> {
    // CPU time: what its time limit allows on one core, with room (it is killed at its time
    // limit anyway; this holds one that got past the timer).
    let cpu = how.timeout.as_secs().saturating_mul(2).max(1) + 1;
    let mut cmd = command(how.program, how.memory_mb, Some(cpu));
    cmd.args(args);
    if let Some(lib) = how.pdfium {
        cmd.env("PDFIUM_LIB_PATH", lib);
    }
    let mut child = cmd.spawn().map_err(|e| {
        format!(
            "cannot start the document-reading process {}: {e}",
            how.program.display()
        )
    })?;
    let mut stdin = child.stdin.take();
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| "the document-reading process has no stdout".to_owned())?;
    let run = async {
        // Fed while it runs, so that neither side waits on a full pipe.
        let feed = async {
            if let Some(stdin) = stdin.as_mut() {
                let _ = stdin.write_all(bytes).await;
                let _ = stdin.shutdown().await;
            }
            drop(stdin.take());
        };
        let mut out = Vec::new();
        let read = stdout.read_to_end(&mut out);
        let (_, read) = tokio::join!(feed, read);
        read.map(|_| out)
    };
    match tokio::time::timeout(how.timeout, run).await {
        Ok(out) => {
            let _ = child.wait().await;
            Ok(out.unwrap_or_default())
        }
        Err(_) => {
            let _ = child.kill().await;
            Err(format!(
                "the document could not be read within {} s",
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

    fn counting(program: &Path) -> Child<'_> {
        Child {
            program,
            pdfium: None,
            timeout: Duration::from_secs(1),
            memory_mb: 256,
        }
    }

    /// The child runs with its limits (processes, CPU time, data memory, no core dumps, no
    /// new privileges, no environment), and the parent is no longer dumpable.
    #[tokio::test]
    async fn a_child_runs_with_its_limits_and_the_parent_is_not_dumpable() {
        let shows = script(
            "limits",
            "grep -E '^Max (processes|cpu time|data size|core file size) ' /proc/self/limits \
             | awk '{print $(NF-2)}' | tr '\\n' ' '; echo; \
             grep NoNewPrivs /proc/self/status; env | grep -c HORIZON_SECRET || true",
        );
        std::env::set_var("HORIZON_SECRET", "parent-only");
        let out = command(&shows, 256, Some(5)).output().await.unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // /proc/self/limits lists cpu time, data size, core file size, then processes.
        assert_eq!(lines[0].trim(), "5 268435456 0 512", "{text}");
        assert!(lines[1].ends_with("\t1"), "{text}");
        assert_eq!(
            lines[2], "0",
            "the child sees none of the parent's environment"
        );
        // SAFETY: reads a flag of this process.
        let dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
        assert_eq!(dumpable, 0);
    }

    /// What a process may still do once confined, each a bit of the result (0: all as expected).
    fn probe_confined() -> i32 {
        if confine().is_err() {
            return 1;
        }
        let mut failed = 0;
        let mut expect = |bit: u32, ok: bool| {
            if !ok {
                failed |= 1 << bit;
            }
        };
        // It reads files (its own status says it is filtered) and starts threads.
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        expect(1, status.contains("Seccomp:\t2"));
        expect(2, std::thread::spawn(|| 7).join().ok() == Some(7));
        // It writes no file, opens no socket, starts no process and signals no other one.
        let path = std::env::temp_dir().join(format!("horizon-confined-{}", std::process::id()));
        expect(3, std::fs::File::create(&path).is_err());
        // SAFETY: plain system calls; a fork that succeeded exits at once.
        unsafe {
            expect(4, libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) == -1);
            let forked = libc::fork();
            if forked == 0 {
                libc::_exit(0);
            }
            expect(5, forked == -1);
            expect(6, libc::kill(libc::getppid(), 0) == -1);
        }
        expect(7, std::process::Command::new("/bin/true").status().is_err());
        failed
    }

    /// The filter the children run under, applied to a forked copy of this test.
    #[test]
    fn a_confined_process_reads_and_starts_threads_but_cannot_write_connect_fork_or_signal() {
        // SAFETY: the copy runs the probe and leaves with _exit; glibc's fork makes the
        // allocator safe to use in it.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = probe_confined();
            // SAFETY: ends the forked copy without running the harness's exit handlers.
            unsafe { libc::_exit(code) };
        }
        assert!(pid > 0);
        let mut status = 0;
        // SAFETY: waits for the copy just forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "the confined copy died: {status}");
        let failed = libc::WEXITSTATUS(status);
        assert_eq!(
            failed, 0,
            "1: no filter; else bits failed (1 not filtered, 2 threads, 3 file written, 4 socket, 5 fork, 6 kill, 7 exec): {failed:b}"
        );
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
