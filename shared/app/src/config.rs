//! Configuration: read once from the environment, with the reason when a value is missing or
//! malformed, into one struct grouped by concern (the stack's resources, the API, a job's life,
//! extraction, webhooks, the dashboard, the local runner). Every function and the local runner use
//! this, and nothing else reads the environment for settings.

use std::time::Duration;

use horizon_domain::error::Error;

/// A setting that must not show in logs: `{:?}` prints `Secret(..)`; the text is `&*secret`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl std::ops::Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Secret {
        Secret(text.to_owned())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub stack: Stack,
    pub api: Api,
    pub jobs: Jobs,
    pub extraction: Extraction,
    pub webhooks: Webhooks,
    pub dashboard: Dashboard,
    pub local: Local,
    /// Faults to inject (tests and the load run's fault mode only). Never read from the
    /// environment.
    pub faults: crate::faults::Faults,
}

/// The stack's resources: where state, bytes and work live, and the functions that read the queues.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    /// DynamoDB table holding jobs, uploads and (later) accounts and metrics. `HORIZON_TABLE`.
    pub table: String,
    /// S3 bucket for uploads and large results. `HORIZON_BUCKET`.
    pub bucket: String,
    /// SQS queue the extraction workers consume. `HORIZON_EXTRACT_QUEUE_URL`.
    pub extract_queue_url: String,
    /// SQS queue the webhook dispatcher consumes. `HORIZON_WEBHOOK_QUEUE_URL`.
    pub webhook_queue_url: String,
    /// Where dead-lettered deliveries go (the webhook queue's DLQ). `HORIZON_WEBHOOK_DLQ_URL`.
    pub webhook_dlq_url: Option<String>,
    /// Use path-style S3 addresses (needed offline, where bucket host names do not resolve); on
    /// whenever an endpoint override (`AWS_ENDPOINT_URL[_S3]`) is set.
    pub s3_path_style: bool,
    /// In AWS: the worker functions' names (`HORIZON_EXTRACT_FUNCTION`,
    /// `HORIZON_WEBHOOK_FUNCTION`), whose event source mappings the dashboard reads and pauses.
    /// Unset: the local runner's pollers are the workers.
    pub extract_function: Option<String>,
    pub webhook_function: Option<String>,
    /// Partition keys every key that every job writes is spread over (the dashboard's lists,
    /// time buckets, gauge and counters, the active-job index): [`KEY_SHARDS`] in AWS, 4
    /// against a local endpoint (LocalStack answers each shard's read in turn, and no local
    /// run comes near one key's limit). `HORIZON_KEY_SHARDS`, 1 to 256. Fixed for a table's
    /// life: it may grow (readers still find what was written under fewer), never shrink.
    pub key_shards: u32,
}

/// The shards of the keys every job writes, in AWS (see [`Stack::key_shards`]).
pub const KEY_SHARDS: u32 = 32;

/// What the HTTP API promises its clients: links, upload and response sizes, URL lifetimes, key caching.
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    /// Public base URL for links in responses (`statusUrl`, `Location`); when unset, taken from the
    /// request's `Host` and `X-Forwarded-Proto`. `HORIZON_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// How long uploads are kept (DynamoDB TTL on the record; the bucket's lifecycle rule,
    /// `RetentionDays` in infra/resources.yaml, removes the bytes). `HORIZON_UPLOAD_RETENTION_HOURS`,
    /// default 48: longer than jobs, so a job started late in an upload's life can still read it.
    pub upload_retention: Duration,
    /// Lifetime of a presigned upload (PUT) URL. `HORIZON_PRESIGN_SECONDS`, default 900.
    pub presign_ttl: Duration,
    /// Largest body `GET /api/images/{id}` returns itself; larger ones are redirected to a presigned
    /// S3 URL (Lambda responses stop at 6 MB, and binary bodies grow by a third in base64).
    /// `HORIZON_MAX_RESPONSE_BYTES`, default 4,500,000.
    pub max_response_bytes: u64,
    /// Lifetime of the presigned GET URL such a redirect points to. `HORIZON_REDIRECT_SECONDS`,
    /// default 300.
    pub redirect_ttl: Duration,
    /// Largest body `POST /api/upload` takes. `HORIZON_MAX_UPLOAD_BYTES`, default 4.5 MiB (API
    /// Gateway's 6 MB Lambda payload limit, less base64's growth).
    pub max_upload_bytes: u64,
    /// How long a key found valid is trusted without asking DynamoDB again (a revoked key stops
    /// working within this time). `HORIZON_KEY_CACHE_SECONDS`, default 30; 0 turns it off.
    pub key_cache_ttl: Duration,
    /// Requests an account may send, per second and in a burst, to the API functions, all
    /// instances together (`429` with `Retry-After` above; `limits::RateLimits`). `HORIZON_RATE_PER_SECOND`, default 50 (0 turns
    /// the limit off), and `HORIZON_RATE_BURST`, default 200.
    pub rate_per_second: u32,
    pub rate_burst: u32,
    /// Requests with a key that is not valid one client address may make to an instance per
    /// minute; then `429` until the minute ends (0 turns it off).
    /// `HORIZON_BAD_KEYS_PER_MINUTE`, default 30.
    pub bad_keys_per_minute: u32,
}

/// A job's life: how long it is kept, leased, given, retried and reaped.
#[derive(Debug, Clone, PartialEq)]
pub struct Jobs {
    /// How long jobs and their results are kept (DynamoDB TTL). `HORIZON_RETENTION_HOURS`, default 24.
    pub retention: Duration,
    /// How long a worker's claim on a job holds before another worker may take over.
    /// `HORIZON_LEASE_SECONDS`, default 90; keep it above the job deadline.
    pub lease: Duration,
    /// How long extraction may go without finishing a page (a hang, a runaway file) before the
    /// job fails with `timeout`. `HORIZON_JOB_DEADLINE_SECONDS`, default 60.
    pub deadline: Duration,
    /// How long one job's extraction may take in all, safely shorter than the worker's (Lambda)
    /// timeout. `HORIZON_JOB_MAX_SECONDS`, default 600.
    pub max_run: Duration,
    /// A queued job whose message may have been lost is put on the queue again after this long.
    /// `HORIZON_QUEUED_GRACE_SECONDS`, default 900.
    pub queued_grace: Duration,
    /// Local runner only: how often the reaper runs. `HORIZON_REAPER_SECONDS`, default 60.
    pub reaper_interval: Duration,
    /// Least time between two progress writes of a running job (bounded writes).
    /// `HORIZON_PROGRESS_SECONDS`, default 2.
    pub progress_interval: Duration,
    /// First delay before a transiently failed message is tried again; it doubles with every
    /// receive. `HORIZON_RETRY_BASE_SECONDS`, default 10.
    pub retry_base: Duration,
    /// Receives of one message before it goes to the DLQ (the queue's redrive `maxReceiveCount`).
    /// `HORIZON_MAX_TRIES`, default 3.
    pub max_tries: u32,
    /// Jobs an account may have queued or processing at once; a new one above it is a `429`
    /// with `Retry-After`. `HORIZON_MAX_ACTIVE_JOBS`, default 1000; 0 turns the limit off.
    pub max_active: u32,
    /// Jobs of one account that may be processing at once (0: no cap): with its cap reached, an
    /// account's next job waits in the queue, and other accounts' jobs are taken up meanwhile.
    /// `HORIZON_MAX_PROCESSING_PER_ACCOUNT`, default 10.
    pub max_processing: u32,
    /// A job read in parts has at most this many of them queued or running at once (0: all):
    /// the workers are shared between jobs and accounts as they are without parts.
    /// `HORIZON_PARTS_AT_ONCE`, default 10.
    pub parts_at_once: usize,
}

/// The extraction engine: its limits, its child process, PDFium and OCR.
#[derive(Debug, Clone, PartialEq)]
pub struct Extraction {
    /// Largest document accepted (a presigned upload's limit) and opened by the worker. Both the
    /// upload's check and the worker download it to a file in `work_dir` and map it, never
    /// holding it in memory whole. `HORIZON_MAX_PDF_BYTES`, default 500 MiB.
    pub max_pdf_bytes: u64,
    /// Most pages the worker extracts. `HORIZON_MAX_PAGES`, default 10000.
    pub max_pages: u32,
    /// A job is read in parts when its pages are expected to cost more than this many scanned
    /// pages read with OCR (see `horizon_domain::parts::PageCost`): each part at most that much,
    /// and at most `part_pages` pages. `HORIZON_PART_UNITS`, default 20;
    /// `HORIZON_PART_PAGES`, default 500.
    pub part_size: horizon_domain::parts::PartSize,
    /// Where a worker keeps the document it reads. `HORIZON_WORK_DIR`, default the system's
    /// temporary directory (Lambda's `/tmp`, sized in the template).
    pub work_dir: std::path::PathBuf,
    /// A job's budget of work: the pixels its pages are read at by OCR and the layout model, in
    /// millions, each such page counted at least at the layout model's 608×800. A document over
    /// it fails with `over_budget` (before its first page when its size says so).
    /// `HORIZON_JOB_MEGAPIXELS`, default 40000 (about 10,000 letter pages scanned at 200 dpi,
    /// read in parts).
    pub max_megapixels: u64,
    /// Default upper bound of a chunk's length in characters. `HORIZON_MAX_CHUNK_CHARS`, default 1500.
    pub max_chunk_chars: usize,
    /// The executable that child processes reading PDFs run (the worker's extraction, an
    /// upload's page count: see `horizon_pdf::sandbox`): `HORIZON_EXTRACTOR`; by default the
    /// running executable itself ([`Extraction::child_program`]).
    pub extractor: Option<std::path::PathBuf>,
    /// How long an upload's check may take to count a PDF's pages (in a child process) before
    /// the upload is taken without a page count. `HORIZON_INSPECT_SECONDS`, default 10.
    pub inspect_timeout: Duration,
    /// Data memory an extraction child may use, in MB. `HORIZON_EXTRACT_MEMORY_MB`, default 1024.
    pub memory_mb: u64,
    /// Path of `libpdfium.so`. `PDFIUM_LIB_PATH`; when unset, the worker looks beside its binary,
    /// in `/opt/lib` (a Lambda layer) and in the local cache that `scripts/install-pdfium` fills.
    pub pdfium_lib_path: Option<String>,
    /// Where ONNX Runtime (`lib/libonnxruntime.so`) and the OCR models (`models/`) are:
    /// `HORIZON_OCR_DIR`, default `/opt` (the Lambda layer); `scripts/install-ocr` prints it.
    pub ocr_dir: std::path::PathBuf,
    /// Threads one OCR model run uses. `HORIZON_OCR_THREADS`, default the CPUs available divided
    /// among the local runner's workers, at least one (one in Lambda at 1,769 MB).
    pub ocr_threads: usize,
}

impl Extraction {
    /// The executable a child process that reads a PDF runs: [`Extraction::extractor`], else
    /// this one.
    pub fn child_program(&self) -> Result<std::path::PathBuf, Error> {
        match &self.extractor {
            Some(p) => Ok(p.clone()),
            None => std::env::current_exe()
                .map_err(|e| Error::Internal(format!("locating this executable: {e}"))),
        }
    }

    /// How a short-lived sandboxed child (an upload's page count, a page's picture) runs
    /// `program`: with PDFium, the check's time limit and the children's memory cap.
    pub fn child<'a>(&'a self, program: &'a std::path::Path) -> horizon_pdf::sandbox::Child<'a> {
        horizon_pdf::sandbox::Child {
            program,
            pdfium: self.pdfium_lib_path.as_deref(),
            timeout: self.inspect_timeout,
            memory_mb: self.memory_mb,
        }
    }
}

/// Webhook delivery: the retry schedule, the receiver's time, the networks allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhooks {
    /// Waits before each webhook retry, in seconds, jittered ±10%; after the last, the delivery is
    /// dead-lettered. `HORIZON_WEBHOOK_SCHEDULE`, default `5,300,1800,7200,18000,36000,36000`
    /// (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts in all).
    pub schedule: Vec<u64>,
    /// How long a receiver has to answer. `HORIZON_WEBHOOK_TIMEOUT_SECONDS`, default 15.
    pub timeout: Duration,
    /// Networks webhooks may reach although they are internal (local development, tests):
    /// `HORIZON_WEBHOOK_ALLOW_CIDRS`, comma-separated, e.g. `127.0.0.1/32`. Empty by default.
    pub allow_cidrs: Vec<horizon_domain::net::Cidr>,
}

/// The dashboard: its name for this deployment, its periods, snapshots and admin key.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    /// The dashboard's name for this deployment (Horizon's master): `HORIZON_MASTER`, else
    /// `<HORIZON_STAGE>:<AWS_REGION>` in Lambda, else `local:<hostname>`.
    pub master: String,
    /// The dashboard's periods, in minutes: recent, pending and completed jobs
    /// (`HORIZON_RECENT_MINUTES`, 60), failed jobs (`HORIZON_FAILED_MINUTES`, 10,080 but at most
    /// the job retention), monitored tags' job lists (`HORIZON_MONITORED_MINUTES`, 10,080).
    pub recent_minutes: i64,
    pub failed_minutes: i64,
    pub monitored_minutes: i64,
    /// How often metric counters are snapshot (`HORIZON_SNAPSHOT_SECONDS`, 300: EventBridge's
    /// `rate(5 minutes)` in AWS, a timer in the local runner) and how many snapshots each metric
    /// keeps (`HORIZON_SNAPSHOTS_KEPT`, 24).
    pub snapshot_interval: Duration,
    pub snapshots_kept: usize,
    /// The dashboard's admin key (`HORIZON_ADMIN_KEY`): as a bearer token, or exchanged for a
    /// signed session cookie at `/horizon/login`. Unset: the dashboard is closed (403), except
    /// when `dashboard_open`.
    pub admin_key: Option<Secret>,
    /// Where the admin key is kept instead, in AWS: the name of an SSM Parameter Store
    /// `SecureString` (`HORIZON_ADMIN_KEY_PARAMETER`), read once when the function starts
    /// (`horizon_aws::services::from_env`), so the key is in no environment and no template.
    pub admin_key_parameter: Option<String>,
    /// Set by the local runner only, when it binds to a loopback address: the dashboard needs no
    /// credentials. Never read from the environment.
    pub open: bool,
}

/// The local runner only: where it serves, its development key, its pollers.
#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    /// Local runner only: the address it serves HTTP on. `HORIZON_BIND` (default 127.0.0.1) and
    /// `PORT` (default 3000; 0 picks a free port).
    pub bind: std::net::IpAddr,
    pub port: u16,
    /// Local runner only: the development account's API key (`HORIZON_DEV_API_KEY`); the runner
    /// generates and prints one when it is unset.
    pub dev_api_key: Option<Secret>,
    /// Local runner only: concurrent pollers (workers) per queue. `HORIZON_LOCAL_WORKERS`, default 2.
    pub workers: usize,
}

impl Config {
    /// An admin key, wherever it came from, is at least 16 characters.
    pub fn check_admin_key(&self) -> Result<(), Error> {
        match &self.dashboard.admin_key {
            Some(key) if key.len() < 16 => Err(Error::Internal(
                "configuration: the admin key (HORIZON_ADMIN_KEY or HORIZON_ADMIN_KEY_PARAMETER) \
                 must be at least 16 characters"
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Config, Error> {
        Config::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads settings through `get`, so tests can pass their own values.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let required = |k: &str| {
            get(k).ok_or_else(|| {
                Error::Internal(format!(
                    "configuration: {k} is not set (the local runner sets it from the stack; in AWS the template does)"
                ))
            })
        };
        let number = |k: &str, default: u64| -> Result<u64, Error> {
            match get(k) {
                None => Ok(default),
                Some(v) => v.trim().parse::<u64>().map_err(|_| {
                    Error::Internal(format!("configuration: {k}={v:?} is not a whole number"))
                }),
            }
        };
        let local_workers = number("HORIZON_LOCAL_WORKERS", 2)?.max(1) as usize;
        let mut config = Config {
            stack: Stack {
                table: required("HORIZON_TABLE")?,
                bucket: required("HORIZON_BUCKET")?,
                extract_queue_url: required("HORIZON_EXTRACT_QUEUE_URL")?,
                webhook_queue_url: required("HORIZON_WEBHOOK_QUEUE_URL")?,
                webhook_dlq_url: get("HORIZON_WEBHOOK_DLQ_URL"),
                s3_path_style: get("AWS_ENDPOINT_URL").is_some()
                    || get("AWS_ENDPOINT_URL_S3").is_some(),
                extract_function: get("HORIZON_EXTRACT_FUNCTION"),
                webhook_function: get("HORIZON_WEBHOOK_FUNCTION"),
                key_shards: number(
                    "HORIZON_KEY_SHARDS",
                    if get("AWS_ENDPOINT_URL").is_some() {
                        4
                    } else {
                        u64::from(KEY_SHARDS)
                    },
                )?
                .clamp(1, 256) as u32,
            },
            api: Api {
                public_url: get("HORIZON_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned()),
                // In days where the bucket's lifecycle rule (which counts in days) must agree.
                upload_retention: Duration::from_secs(match get("HORIZON_UPLOAD_RETENTION_DAYS") {
                    Some(_) => number("HORIZON_UPLOAD_RETENTION_DAYS", 2)? * 86_400,
                    None => number("HORIZON_UPLOAD_RETENTION_HOURS", 48)? * 3600,
                }),
                presign_ttl: Duration::from_secs(number("HORIZON_PRESIGN_SECONDS", 900)?),
                max_response_bytes: number("HORIZON_MAX_RESPONSE_BYTES", 4_500_000)?,
                redirect_ttl: Duration::from_secs(number("HORIZON_REDIRECT_SECONDS", 300)?),
                max_upload_bytes: number("HORIZON_MAX_UPLOAD_BYTES", 4_718_592)?,
                key_cache_ttl: Duration::from_secs(number("HORIZON_KEY_CACHE_SECONDS", 30)?),
                rate_per_second: number("HORIZON_RATE_PER_SECOND", 50)?.min(1_000_000) as u32,
                rate_burst: number("HORIZON_RATE_BURST", 200)?.clamp(1, 1_000_000) as u32,
                bad_keys_per_minute: number("HORIZON_BAD_KEYS_PER_MINUTE", 30)?.min(u32::MAX.into())
                    as u32,
            },
            jobs: Jobs {
                retention: Duration::from_secs(number("HORIZON_RETENTION_HOURS", 24)? * 3600),
                lease: Duration::from_secs(number("HORIZON_LEASE_SECONDS", 90)?),
                deadline: Duration::from_secs(number("HORIZON_JOB_DEADLINE_SECONDS", 60)?),
                max_run: Duration::from_secs(number("HORIZON_JOB_MAX_SECONDS", 600)?),
                queued_grace: Duration::from_secs(number("HORIZON_QUEUED_GRACE_SECONDS", 900)?),
                reaper_interval: Duration::from_secs(number("HORIZON_REAPER_SECONDS", 60)?.max(1)),
                progress_interval: Duration::from_secs(
                    number("HORIZON_PROGRESS_SECONDS", 2)?.max(1),
                ),
                retry_base: Duration::from_secs(number("HORIZON_RETRY_BASE_SECONDS", 10)?),
                max_tries: number("HORIZON_MAX_TRIES", 3)? as u32,
                max_active: number("HORIZON_MAX_ACTIVE_JOBS", 1000)?.min(u32::MAX.into()) as u32,
                max_processing: number("HORIZON_MAX_PROCESSING_PER_ACCOUNT", 10)?
                    .min(u32::MAX.into()) as u32,
                parts_at_once: number("HORIZON_PARTS_AT_ONCE", 10)?.min(100_000) as usize,
            },
            extraction: Extraction {
                max_pdf_bytes: number("HORIZON_MAX_PDF_BYTES", 500 * 1024 * 1024)?,
                max_pages: number("HORIZON_MAX_PAGES", 10_000)?.min(u32::MAX.into()) as u32,
                part_size: horizon_domain::parts::PartSize {
                    units: number("HORIZON_PART_UNITS", 20)?.max(1) as f64,
                    pages: number("HORIZON_PART_PAGES", 500)?.clamp(1, 100_000) as usize,
                },
                work_dir: get("HORIZON_WORK_DIR")
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(std::env::temp_dir),
                max_megapixels: number("HORIZON_JOB_MEGAPIXELS", 40_000)?,
                max_chunk_chars: number("HORIZON_MAX_CHUNK_CHARS", 1500)? as usize,
                extractor: get("HORIZON_EXTRACTOR").map(std::path::PathBuf::from),
                inspect_timeout: Duration::from_secs(number("HORIZON_INSPECT_SECONDS", 10)?.max(1)),
                memory_mb: number("HORIZON_EXTRACT_MEMORY_MB", 1024)?,
                pdfium_lib_path: get("PDFIUM_LIB_PATH"),
                ocr_dir: get("HORIZON_OCR_DIR")
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(|| "/opt".into()),
                // The workers of one machine share its cores: by default each child takes its
                // share (in Lambda every worker has its own vCPU and the template says 1).
                ocr_threads: match get("HORIZON_OCR_THREADS") {
                    Some(_) => number("HORIZON_OCR_THREADS", 1)?.max(1) as usize,
                    None => (std::thread::available_parallelism()
                        .map(usize::from)
                        .unwrap_or(1)
                        / local_workers)
                        .max(1),
                },
            },
            webhooks: Webhooks {
                schedule: get("HORIZON_WEBHOOK_SCHEDULE")
                    .unwrap_or_else(|| "5,300,1800,7200,18000,36000,36000".into())
                    .split(',')
                    .map(|v| v.trim().parse::<u64>())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|_| {
                        Error::Internal(
                        "configuration: HORIZON_WEBHOOK_SCHEDULE must be seconds, comma-separated"
                            .into(),
                    )
                    })?,
                timeout: Duration::from_secs(number("HORIZON_WEBHOOK_TIMEOUT_SECONDS", 15)?.max(1)),
                allow_cidrs: horizon_domain::net::parse_cidrs(
                    &get("HORIZON_WEBHOOK_ALLOW_CIDRS").unwrap_or_default(),
                )
                .map_err(|e| {
                    Error::Internal(format!("configuration: HORIZON_WEBHOOK_ALLOW_CIDRS: {e}"))
                })?,
            },
            dashboard: Dashboard {
                master: match (get("HORIZON_MASTER"), get("AWS_LAMBDA_FUNCTION_NAME")) {
                    (Some(m), _) => m,
                    (None, Some(_)) => format!(
                        "{}:{}",
                        get("HORIZON_STAGE").unwrap_or_else(|| "prod".into()),
                        get("AWS_REGION").unwrap_or_else(|| "unknown-region".into())
                    ),
                    (None, None) => format!(
                        "local:{}",
                        std::fs::read_to_string("/proc/sys/kernel/hostname")
                            .map(|h| h.trim().to_owned())
                            .unwrap_or_else(|_| "localhost".into())
                    ),
                },
                recent_minutes: number("HORIZON_RECENT_MINUTES", 60)?.clamp(1, 1440) as i64,
                failed_minutes: (number("HORIZON_FAILED_MINUTES", 10_080)?.max(1) as i64)
                    .min((number("HORIZON_RETENTION_HOURS", 24)? as i64 * 60).max(1)),
                monitored_minutes: number("HORIZON_MONITORED_MINUTES", 10_080)?.max(1) as i64,
                snapshot_interval: Duration::from_secs(
                    number("HORIZON_SNAPSHOT_SECONDS", 300)?.max(1),
                ),
                snapshots_kept: number("HORIZON_SNAPSHOTS_KEPT", 24)?.clamp(1, 1000) as usize,
                admin_key: get("HORIZON_ADMIN_KEY").map(Secret),
                admin_key_parameter: get("HORIZON_ADMIN_KEY_PARAMETER"),
                open: false,
            },
            local: Local {
                bind: match get("HORIZON_BIND") {
                    None => std::net::IpAddr::from([127, 0, 0, 1]),
                    Some(v) => v.trim().parse().map_err(|_| {
                        Error::Internal(format!(
                            "configuration: HORIZON_BIND={v:?} is not an IP address"
                        ))
                    })?,
                },
                port: u16::try_from(number("PORT", 3000)?).map_err(|_| {
                    Error::Internal("configuration: PORT must be below 65536".into())
                })?,
                dev_api_key: get("HORIZON_DEV_API_KEY").map(Secret),
                workers: local_workers,
            },
            faults: Default::default(),
        };
        config.check_admin_key()?;
        if config.jobs.lease <= config.jobs.deadline {
            return Err(Error::Internal(format!(
                "configuration: HORIZON_LEASE_SECONDS ({}) must exceed HORIZON_JOB_DEADLINE_SECONDS ({})",
                config.jobs.lease.as_secs(),
                config.jobs.deadline.as_secs()
            )));
        }
        if config.jobs.max_tries == 0 || config.extraction.max_chunk_chars < 100 {
            return Err(Error::Internal(
                "configuration: HORIZON_MAX_TRIES must be at least 1 and HORIZON_MAX_CHUNK_CHARS at least 100".into(),
            ));
        }
        // In Lambda, an extraction child must fit in the function's memory beside its parent:
        // a child allowed more than that is killed by Lambda, not refused by its own limit.
        if let Some(size) =
            get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|v| v.parse::<u64>().ok())
        {
            let room = child_room(size);
            // Unset, it is what the function has room for.
            if get("HORIZON_EXTRACT_MEMORY_MB").is_none() {
                config.extraction.memory_mb = config.extraction.memory_mb.min(room);
            } else if config.extraction.memory_mb > room {
                return Err(Error::Internal(format!(
                    "configuration: HORIZON_EXTRACT_MEMORY_MB ({}) does not fit in this function's {size} MB \
                     beside its parent ({PARENT_MB} MB): at most {room}",
                    config.extraction.memory_mb
                )));
            }
        }
        Ok(config)
    }
}

/// What a function's own process needs beside an extraction child, in MB.
const PARENT_MB: u64 = 256;

/// The memory (MB) a child of a function of `function_mb` may have: what is left beside its
/// parent. `HORIZON_EXTRACT_MEMORY_MB` must fit in it.
pub fn child_room(function_mb: u64) -> u64 {
    function_mb.saturating_sub(PARENT_MB)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A function whose child may use more memory than the function has fails to start,
    /// saying so, instead of being killed by Lambda mid-job.
    #[test]
    fn an_extraction_child_must_fit_in_the_functions_memory() {
        let with = |size: &'static str, child: &'static str| {
            let mut vars = BASE.to_vec();
            vars.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", size));
            vars.push(("HORIZON_EXTRACT_MEMORY_MB", child));
            Config::from_lookup(env(&vars))
        };
        assert!(with("1024", "640").is_ok());
        let mut vars = BASE.to_vec();
        vars.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"));
        let unset = Config::from_lookup(env(&vars)).unwrap();
        assert_eq!(unset.extraction.memory_mb, 0, "no room, and none asked for");
        assert!(with("1769", "1400").is_ok());
        let e = with("512", "1024").unwrap_err().to_string();
        assert!(e.contains("at most 256"), "{e}");
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let mut vars = BASE.to_vec();
        vars.push(("HORIZON_ADMIN_KEY", "admin-key-that-must-not-leak"));
        vars.push(("HORIZON_DEV_API_KEY", "hzn_dev_key_that_must_not_leak"));
        let c = Config::from_lookup(env(&vars)).unwrap();
        assert_eq!(
            c.dashboard.admin_key.as_deref(),
            Some("admin-key-that-must-not-leak")
        );
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("must-not-leak") && !shown.contains("must_not_leak"),
            "{shown}"
        );
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    const BASE: [(&str, &str); 4] = [
        ("HORIZON_TABLE", "t"),
        ("HORIZON_BUCKET", "b"),
        ("HORIZON_EXTRACT_QUEUE_URL", "http://q/extract"),
        ("HORIZON_WEBHOOK_QUEUE_URL", "http://q/webhooks"),
    ];

    #[test]
    fn defaults_apply() {
        let c = Config::from_lookup(env(&BASE)).unwrap();
        assert_eq!(c.jobs.retention, Duration::from_secs(24 * 3600));
        assert_eq!(c.jobs.max_tries, 3);
        assert_eq!(c.extraction.max_chunk_chars, 1500);
        assert!(!c.stack.s3_path_style);
        assert_eq!(
            (c.dashboard.recent_minutes, c.dashboard.failed_minutes),
            (60, 24 * 60)
        );
        assert_eq!(c.dashboard.snapshot_interval, Duration::from_secs(300));
        assert_eq!(c.dashboard.snapshots_kept, 24);
        assert!(
            c.dashboard.master.starts_with("local:"),
            "{}",
            c.dashboard.master
        );
        assert!(!c.dashboard.open && c.dashboard.admin_key.is_none());
    }

    #[test]
    fn the_local_workers_share_the_cores_unless_told_otherwise() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let threads = |extra: &[(&'static str, &'static str)]| {
            let mut vars = BASE.to_vec();
            vars.extend_from_slice(extra);
            Config::from_lookup(env(&vars))
                .unwrap()
                .extraction
                .ocr_threads
        };
        assert_eq!(threads(&[("HORIZON_LOCAL_WORKERS", "1")]), cores);
        assert_eq!(threads(&[]), (cores / 2).max(1));
        assert_eq!(threads(&[("HORIZON_LOCAL_WORKERS", "1000")]), 1);
        assert_eq!(
            threads(&[
                ("HORIZON_LOCAL_WORKERS", "1000"),
                ("HORIZON_OCR_THREADS", "3")
            ]),
            3
        );
    }

    #[test]
    fn lambda_masters_are_named_by_stage_and_region() {
        let mut pairs = BASE.to_vec();
        pairs.push(("AWS_LAMBDA_FUNCTION_NAME", "f"));
        pairs.push(("HORIZON_STAGE", "staging"));
        pairs.push(("AWS_REGION", "eu-west-1"));
        let c = Config::from_lookup(env(&pairs)).unwrap();
        assert_eq!(c.dashboard.master, "staging:eu-west-1");
        pairs.push(("HORIZON_ADMIN_KEY", "short"));
        assert!(Config::from_lookup(env(&pairs)).is_err());
    }

    #[test]
    fn missing_and_malformed_values_are_named() {
        let e = Config::from_lookup(env(&BASE[1..])).unwrap_err();
        assert!(e.to_string().contains("HORIZON_TABLE"), "{e}");
        let mut pairs = BASE.to_vec();
        pairs.push(("HORIZON_MAX_TRIES", "three"));
        let e = Config::from_lookup(env(&pairs)).unwrap_err();
        assert!(e.to_string().contains("HORIZON_MAX_TRIES"), "{e}");
    }

    #[test]
    fn lease_must_outlast_the_deadline() {
        let mut pairs = BASE.to_vec();
        pairs.push(("HORIZON_LEASE_SECONDS", "30"));
        pairs.push(("HORIZON_JOB_DEADLINE_SECONDS", "60"));
        assert!(Config::from_lookup(env(&pairs)).is_err());
    }
}
