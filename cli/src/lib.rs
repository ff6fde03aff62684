//! `horizon`: the command-line client of the job API. It speaks only HTTP (`/api` and `/v1`),
//! so it works the same against the local runner and a deployment.
//!
//! Output is text for people, or the API's own JSON with `--json`. Errors go to standard error
//! with the problem+json details the API gave, and the exit code says what kind of error it
//! was (see [`EXIT_CODES`]).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

mod client;
mod output;

pub use client::Client;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  the API refused the request (the problem it gave is shown), or a local file cannot be read
  2  the command line is wrong
  3  the job ended failed or canceled (extract --wait)
  4  the service could not be reached, failed (5xx), or the wait timed out";

#[derive(Debug, Parser)]
#[command(
    name = "horizon",
    version,
    about = "Upload documents, run extraction jobs and manage webhooks and keys of a Horizon service",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// The service's base URL.
    #[arg(
        long,
        env = "HORIZON_ENDPOINT",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    pub endpoint: String,
    /// An API key (hzn_...).
    #[arg(long, env = "HORIZON_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// Print the API's JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload a PDF or an image; prints its upload id.
    Upload { file: PathBuf },
    /// Upload a PDF or an image and start an extraction job; with --wait, print what was read
    /// when it is done (text, Markdown or JSON).
    Extract(ExtractArgs),
    /// Look at, list, cancel and delete jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Delete uploads.
    #[command(subcommand)]
    Uploads(UploadsCommand),
    /// The account's webhooks (every job's events).
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// The account's API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    pub file: PathBuf,
    /// Wait for the job to end, showing its progress, and print its chunks.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    pub timeout: u64,
    /// Pages to extract, e.g. "1-3,7,10-".
    #[arg(long)]
    pub pages: Option<String>,
    /// Upper bound of a chunk's length in characters (100-20000).
    #[arg(long)]
    pub max_chunk_chars: Option<u32>,
    /// A tag for the job (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// A webhook URL for this job's completed and failed events.
    #[arg(long)]
    pub webhook: Option<String>,
    /// What --wait prints: the chunks' text, the whole document as Markdown, or the job with
    /// every chunk as JSON (as --json does).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// PDFs: which pages are read with OCR: auto (those without a usable text layer), always,
    /// never. Images always are.
    #[arg(long, value_parser = ["auto", "always", "never"])]
    pub ocr: Option<String>,
    /// accurate (the default) runs the learned layout and table models; fast reads without
    /// them, at the highest speed.
    #[arg(long, value_parser = ["accurate", "fast"])]
    pub mode: Option<String>,
}

/// What `extract --wait` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// One job: status, progress, result counts or error.
    Get { job_id: String },
    /// The account's jobs, newest first.
    List {
        /// queued, processing, completed, failed or canceled.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        tag: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Continue after an earlier page (its "next" cursor).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Cancel a queued or processing job.
    Cancel { job_id: String },
    /// Delete a finished job now: its record, chunks, Markdown and delivery log.
    Rm { job_id: String },
}

#[derive(Debug, Subcommand)]
pub enum UploadsCommand {
    /// Delete an upload now: its bytes, thumbnails and record (its jobs keep their results).
    Rm { upload_id: String },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Subscribe a URL to every job's events; prints the signing secret once.
    Add {
        url: String,
        /// job.completed, job.failed or job.processing (repeatable).
        #[arg(long = "event", value_name = "EVENT", default_values_t = ["job.completed".to_owned(), "job.failed".to_owned()])]
        events: Vec<String>,
        /// Your own secret (whsec_...); generated when absent.
        #[arg(long)]
        secret: Option<String>,
    },
    List,
    /// Delete a subscription.
    Rm {
        webhook_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Another key of this account (shown once).
    Create,
    /// Revoke one of this account's keys.
    Revoke { key_id: String },
}

/// Why a command failed; each kind has its exit code.
#[derive(Debug)]
pub enum Failure {
    /// The API answered 4xx: its status and problem+json (or whatever body it sent).
    Refused { status: u16, problem: Value },
    /// A local file could not be read.
    File(String),
    /// The job ended without a result.
    JobEnded(Value),
    /// Unreachable, 5xx, or the wait ran out.
    Unavailable(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Refused { .. } | Failure::File(_) => 1,
            Failure::JobEnded(_) => 3,
            Failure::Unavailable(_) => 4,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused { status, problem } => f.write_str(&output::problem(*status, problem)),
            Failure::File(why) | Failure::Unavailable(why) => f.write_str(why),
            Failure::JobEnded(job) => {
                let id = job["jobId"].as_str().unwrap_or("the job");
                let status = job["status"].as_str().unwrap_or("ended");
                write!(f, "{id} {status}")?;
                if let Some(error) = job.get("error").filter(|e| !e.is_null()) {
                    write!(
                        f,
                        ": {} ({})",
                        error["message"].as_str().unwrap_or(""),
                        error["code"].as_str().unwrap_or("no code")
                    )?;
                }
                Ok(())
            }
        }
    }
}

pub type Outcome = Result<(), Failure>;

/// Runs one command, writing its output to `out` and progress to standard error.
pub async fn run(cli: Cli, out: &mut dyn Write) -> Outcome {
    let client = Client::new(&cli.endpoint, cli.api_key.as_deref())?;
    let json = cli.json;
    // Each command gives the API's JSON and the text a person reads.
    let (value, text) = match cli.command {
        Command::Upload { file } => {
            let upload = upload(&client, &file).await?;
            let text = output::upload(&upload);
            (upload, text)
        }
        Command::Extract(args) => return extract(&client, &args, json, out).await,
        Command::Jobs(JobsCommand::Get { job_id }) => {
            let job = client
                .get(&format!("/v1/jobs/{}", segment(&job_id)))
                .await?;
            let text = output::job(&job);
            (job, text)
        }
        Command::Jobs(JobsCommand::List {
            status,
            tag,
            limit,
            cursor,
        }) => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(status.map(|s| ("status", s)));
            query.extend(tag.map(|t| ("tag", t)));
            query.extend(cursor.map(|c| ("cursor", c)));
            let list = client.get_query("/v1/jobs", &query).await?;
            let text = output::job_list(&list);
            (list, text)
        }
        Command::Jobs(JobsCommand::Cancel { job_id }) => {
            let path = format!("/v1/jobs/{}/cancel", segment(&job_id));
            let job = client.post_json(&path, &json!({})).await?;
            let text = output::job(&job);
            (job, text)
        }
        Command::Webhooks(WebhooksCommand::Add {
            url,
            events,
            secret,
        }) => {
            let mut body = json!({ "url": url, "events": events });
            if let Some(secret) = secret {
                body["secret"] = Value::String(secret);
            }
            let sub = client.post_json("/v1/webhooks", &body).await?;
            let text = output::webhook(&sub);
            (sub, text)
        }
        Command::Webhooks(WebhooksCommand::List) => {
            let list = client.get("/v1/webhooks").await?;
            let text = output::webhook_list(&list);
            (list, text)
        }
        Command::Jobs(JobsCommand::Rm { job_id }) => {
            client
                .delete(&format!("/v1/jobs/{}", segment(&job_id)))
                .await?;
            let text = format!("deleted {job_id}\n");
            (json!({ "deleted": job_id }), text)
        }
        Command::Uploads(UploadsCommand::Rm { upload_id }) => {
            client
                .delete(&format!("/api/uploads/{}", segment(&upload_id)))
                .await?;
            let text = format!("deleted {upload_id}\n");
            (json!({ "deleted": upload_id }), text)
        }
        Command::Webhooks(WebhooksCommand::Rm { webhook_id }) => {
            client
                .delete(&format!("/v1/webhooks/{}", segment(&webhook_id)))
                .await?;
            let text = format!("deleted {webhook_id}\n");
            (json!({ "deleted": webhook_id }), text)
        }
        Command::Keys(KeysCommand::Create) => {
            let key = client.post_json("/v1/keys", &json!({})).await?;
            let text = output::key(&key);
            (key, text)
        }
        Command::Keys(KeysCommand::Revoke { key_id }) => {
            client
                .delete(&format!("/v1/keys/{}", segment(&key_id)))
                .await?;
            let text = format!("revoked {key_id}\n");
            (json!({ "revoked": key_id }), text)
        }
    };
    if json {
        emit(out, &format!("{value:#}\n"))
    } else {
        emit(out, &text)
    }
}

fn emit(out: &mut dyn Write, text: &str) -> Outcome {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::File(format!("cannot write the output: {e}")))
}

/// An id as one path segment: anything that is not a plain id character is escaped, so a typo
/// cannot reach another route.
fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Files up to this size go in one request (`POST /api/upload`); larger ones to a presigned URL.
const DIRECT_UPLOAD_MAX: u64 = 4 * 1024 * 1024;

async fn upload(client: &Client, file: &Path) -> Result<Value, Failure> {
    let bytes = std::fs::read(file)
        .map_err(|e| Failure::File(format!("cannot read {}: {e}", file.display())))?;
    let filename = file
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
        })
        .unwrap_or_default();
    let content_type = content_type(&bytes);
    let bytes_len = bytes.len() as u64;
    if bytes_len <= DIRECT_UPLOAD_MAX {
        return client
            .post_file("/api/upload", content_type, &filename, bytes)
            .await;
    }
    let presigned = client
        .post_json(
            "/api/uploads",
            &json!({ "filename": filename, "size": bytes_len, "contentType": content_type }),
        )
        .await?;
    let url = presigned["uploadUrl"]
        .as_str()
        .ok_or_else(|| Failure::Unavailable("the presigned upload has no uploadUrl".into()))?;
    // The URL takes exactly these bytes, with the headers it was signed with.
    let headers: Vec<(String, String)> = presigned["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    client.put_presigned(url, &headers, bytes).await?;
    Ok(json!({
        "id": presigned["id"],
        "contentType": content_type,
        "size": bytes_len,
        "filename": filename,
        "url": presigned["url"],
    }))
}

/// The type the bytes say they are (the server checks it too).
pub fn content_type(bytes: &[u8]) -> &'static str {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"II*\0", "image/tiff"),
        (b"MM\0*", "image/tiff"),
    ];
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return "image/webp";
    }
    SIGNATURES
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, ct)| *ct)
        .unwrap_or("application/octet-stream")
}

async fn extract(client: &Client, args: &ExtractArgs, json: bool, out: &mut dyn Write) -> Outcome {
    let format = if json { Format::Json } else { args.format };
    let upload = upload(client, &args.file).await?;
    let upload_id = upload["id"].as_str().unwrap_or_default();
    // The document route reads every type the service reads, by its bytes.
    let route = "/v1/extract/document";
    let mut body = json!({ "uploadId": upload_id });
    if !args.tags.is_empty() {
        body["tags"] = json!(args.tags);
    }
    let mut options = serde_json::Map::new();
    if let Some(pages) = &args.pages {
        options.insert("pages".into(), json!(pages));
    }
    if let Some(max) = args.max_chunk_chars {
        options.insert("maxChunkChars".into(), json!(max));
    }
    if let Some(ocr) = &args.ocr {
        options.insert("ocr".into(), json!(ocr));
    }
    if let Some(mode) = &args.mode {
        options.insert("mode".into(), json!(mode));
    }
    if !options.is_empty() {
        body["options"] = Value::Object(options);
    }
    if let Some(url) = &args.webhook {
        body["webhook"] = json!({ "url": url, "events": ["job.completed", "job.failed"] });
    }
    let job = client.post_json(route, &body).await?;
    if !args.wait {
        return emit(
            out,
            &if format == Format::Json {
                format!("{job:#}\n")
            } else {
                output::job(&job)
            },
        );
    }
    let job_id = job["jobId"].as_str().unwrap_or_default().to_owned();
    let job = wait(client, &job_id, Duration::from_secs(args.timeout)).await?;
    if job["status"] != "completed" {
        if format == Format::Json {
            emit(out, &format!("{job:#}\n"))?;
        }
        return Err(Failure::JobEnded(job));
    }
    match format {
        Format::Markdown => {
            let markdown = client
                .get_text(&format!("/v1/jobs/{}/markdown", segment(&job_id)))
                .await?;
            emit(out, &markdown)
        }
        Format::Json => {
            let chunks = all_chunks(client, &job).await?;
            let mut job = job;
            job["result"]["chunks"] = Value::Array(chunks);
            job["result"]["nextCursor"] = Value::Null;
            emit(out, &format!("{job:#}\n"))
        }
        Format::Text => emit(out, &output::chunks_text(&all_chunks(client, &job).await?)),
    }
}

/// Polls the job until it ends, drawing its progress on standard error: a bar on a terminal,
/// a line per change otherwise (logs, pipes).
async fn wait(client: &Client, job_id: &str, timeout: Duration) -> Result<Value, Failure> {
    let path = format!("/v1/jobs/{}", segment(job_id));
    let started = Instant::now();
    let mut progress = Progress::new(job_id);
    let mut pause = Duration::from_millis(200);
    loop {
        let job = client.get(&path).await?;
        let status = job["status"].as_str().unwrap_or_default();
        let pages = (
            job["progress"]["pagesDone"].as_u64(),
            job["progress"]["pagesTotal"].as_u64(),
        );
        progress.show(status, pages);
        if matches!(status, "completed" | "failed" | "canceled") {
            progress.finish(&job);
            return Ok(job);
        }
        if started.elapsed() >= timeout {
            progress.abandon();
            return Err(Failure::Unavailable(format!(
                "{job_id} is still {status} after {} s (raise --timeout, or look later: horizon jobs get {job_id})",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(Duration::from_secs(2));
    }
}

/// Every chunk of a completed job: the first page from the job, the rest by cursor.
async fn all_chunks(client: &Client, job: &Value) -> Result<Vec<Value>, Failure> {
    let result = &job["result"];
    let mut chunks = result["chunks"].as_array().cloned().unwrap_or_default();
    let mut cursor = result["nextCursor"].as_str().map(str::to_owned);
    let path = format!(
        "/v1/jobs/{}/chunks",
        segment(job["jobId"].as_str().unwrap_or_default())
    );
    while let Some(c) = cursor {
        let page = client
            .get_query(&path, &[("cursor", c), ("limit", "1000".to_owned())])
            .await?;
        chunks.extend(page["chunks"].as_array().cloned().unwrap_or_default());
        cursor = page["nextCursor"].as_str().map(str::to_owned);
    }
    Ok(chunks)
}

/// What `extract --wait` shows while it waits.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    job_id: String,
    last: (String, Option<u64>),
}

impl Progress {
    fn new(job_id: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {prefix} {msg:10} [{bar:30}] {pos}/{len} pages  {elapsed}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(job_id.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            job_id: job_id.to_owned(),
            last: (String::new(), None),
        }
    }

    fn show(&mut self, status: &str, (done, total): (Option<u64>, Option<u64>)) {
        match &self.bar {
            Some(bar) => {
                bar.set_message(status.to_owned());
                if let (Some(done), Some(total)) = (done, total) {
                    bar.set_length(total);
                    bar.set_position(done);
                }
            }
            None => {
                if self.last != (status.to_owned(), done) {
                    let pages = match (done, total) {
                        (Some(d), Some(t)) => format!(" {d}/{t} pages"),
                        _ => String::new(),
                    };
                    eprintln!("{} {status}{pages}", self.job_id);
                }
            }
        }
        self.last = (status.to_owned(), done);
    }

    fn finish(&self, job: &Value) {
        if let Some(bar) = &self.bar {
            if let Some(pages) = job["result"]["pages"].as_u64() {
                bar.set_length(pages);
                bar.set_position(pages);
            }
            bar.finish();
        }
    }

    fn abandon(&self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn arguments_parse_into_commands() {
        let cli = Cli::try_parse_from([
            "horizon",
            "--endpoint",
            "http://h:1",
            "extract",
            "a.pdf",
            "--wait",
            "--tag",
            "x",
            "--tag",
            "y",
            "--pages",
            "1-2",
            "--json",
        ])
        .unwrap();
        assert_eq!(cli.endpoint, "http://h:1");
        assert!(cli.json);
        let Command::Extract(args) = cli.command else {
            panic!("not extract")
        };
        assert!(args.wait);
        assert_eq!(args.tags, ["x", "y"]);
        assert_eq!(args.pages.as_deref(), Some("1-2"));

        let cli = Cli::try_parse_from(["horizon", "webhooks", "add", "https://e.com/h"]).unwrap();
        let Command::Webhooks(WebhooksCommand::Add { events, .. }) = cli.command else {
            panic!("not webhooks add")
        };
        assert_eq!(events, ["job.completed", "job.failed"]);

        let err = Cli::try_parse_from(["horizon", "jobs", "frobnicate"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn failures_have_their_exit_codes_and_show_the_problem() {
        let refused = Failure::Refused {
            status: 422,
            problem: json!({"title": "Unprocessable", "detail": "no upload upl_x",
                "errors": [{"field": "uploadId", "message": "unknown"}]}),
        };
        assert_eq!(refused.exit_code(), 1);
        let text = refused.to_string();
        assert!(
            text.contains("422") && text.contains("no upload upl_x"),
            "{text}"
        );
        assert!(text.contains("uploadId: unknown"), "{text}");
        let ended = Failure::JobEnded(json!({"jobId": "job_1", "status": "failed",
            "error": {"code": "encrypted", "message": "the PDF is encrypted"}}));
        assert_eq!(ended.exit_code(), 3);
        assert_eq!(
            ended.to_string(),
            "job_1 failed: the PDF is encrypted (encrypted)"
        );
        assert_eq!(Failure::Unavailable("x".into()).exit_code(), 4);
    }

    #[test]
    fn content_types_come_from_the_bytes() {
        assert_eq!(content_type(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(content_type(b"\x89PNG\r\n\x1a\n...."), "image/png");
        assert_eq!(content_type(b"RIFF\0\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(content_type(b"hello"), "application/octet-stream");
    }

    #[test]
    fn ids_stay_one_path_segment() {
        assert_eq!(segment("job_01ABC"), "job_01ABC");
        assert_eq!(segment("../keys"), "%2E%2E%2Fkeys");
    }
}
