//! `horizon-local`: runs the whole service locally (see the README's Quick start, which also
//! starts and provisions the local stack first), and administers API keys.
//!
//!   horizon-local                              serve every route and run the workers
//!   horizon-local keys create [--account ID]   create an API key (printed once)
//!   horizon-local keys revoke KEY_ID           revoke a key
//!   horizon-local outbox list                  the outbox's parked records (poison records)
//!   horizon-local outbox replay [ID]           replay one parked record, or all of them
//!   horizon-local read FILE [--json] [--ocr auto|always|never] [--mode accurate|fast]
//!                           [--languages en,fr]
//!                                              read a PDF or an image with the extraction engine,
//!                                              no service needed: its Markdown (or, with --json,
//!                                              its pages and blocks)

use std::process::ExitCode;

use horizon_app::Services;
use horizon_domain::AccountId;
use horizon_runtime::auth;

/// The account the local runner's development key belongs to.
const DEV_ACCOUNT: &str = "acct_dev";

#[tokio::main]
async fn main() -> ExitCode {
    // The worker runs each extraction in a child process: this same executable.
    horizon_extract_worker::child::serve_if_child();
    // And an upload's check counts a PDF's pages in one.
    horizon_app::pages::serve_if_child();
    // And an image's thumbnails are made in one.
    horizon_uploads::thumbs::serve_if_child();
    horizon_runtime::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("read") {
        let read = read(&args[1..]);
        horizon_extract_worker::engine::unload();
        return match read {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("horizon-local: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let services = match horizon_aws::services::from_env().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("horizon-local: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => serve(services).await,
        ["keys", "create"] => create_key(&services, DEV_ACCOUNT).await,
        ["keys", "create", "--account", account] => create_key(&services, account).await,
        ["keys", "revoke", key_id] => revoke_key(&services, key_id).await,
        ["outbox", "list"] => list_parked(&services).await,
        ["outbox", "replay"] => replay_parked(&services, None).await,
        ["outbox", "replay", id] => replay_parked(&services, Some(id)).await,
        _ => Err(
            "usage: horizon-local [keys create [--account ID] | keys revoke KEY_ID | \
                  outbox list | outbox replay [ID]]"
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("horizon-local: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `read FILE [--json] [--ocr MODE] [--mode MODE] [--languages CODES]`: the engine on one file,
/// in this process.
fn read(args: &[String]) -> Result<(), String> {
    use horizon_extract_worker::engine;
    let usage = || {
        "usage: horizon-local read FILE [--json] [--ocr auto|always|never] [--mode accurate|fast] \
            [--languages en,fr]"
            .to_owned()
    };
    let path = args.first().ok_or_else(usage)?;
    let json = args.iter().any(|a| a == "--json");
    // The value after `flag`, as the API spells it, or the default.
    fn option<T: serde::de::DeserializeOwned + Default>(args: &[String], flag: &str) -> Option<T> {
        match args.iter().position(|a| a == flag).map(|i| args.get(i + 1)) {
            Some(Some(v)) => serde_json::from_value(serde_json::Value::String(v.clone())).ok(),
            Some(None) => None,
            None => Some(T::default()),
        }
    }
    let ocr = option(args, "--ocr").ok_or_else(usage)?;
    let mode = option(args, "--mode").ok_or_else(usage)?;
    let codes: String = option(args, "--languages").ok_or_else(usage)?;
    let codes: Vec<String> = codes
        .split(',')
        .filter(|c| !c.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let languages = horizon_layout::languages::parse(&codes)?
        .iter()
        .filter_map(|c| horizon_layout::languages::script(c))
        .collect();
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    // The engine's settings (PDFium, the OCR models, limits); no stack is involved, so its
    // resource names are not needed.
    let resources = [
        "HORIZON_TABLE",
        "HORIZON_BUCKET",
        "HORIZON_EXTRACT_QUEUE_URL",
        "HORIZON_WEBHOOK_QUEUE_URL",
    ];
    let config = horizon_app::Config::from_lookup(|k| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| resources.contains(&k).then(|| "none".to_owned()))
    })
    .map_err(|e| e.to_string())?;
    let input = engine::Input::of(
        horizon_domain::JobType::ExtractDocument,
        horizon_app::media::accepted_type(&bytes),
    );
    let options = engine::Options {
        input,
        ocr,
        mode,
        max_pages: config.extraction.max_pages,
        max_megapixels: config.extraction.max_megapixels,
        wanted: None,
        pdfium: config.extraction.pdfium_lib_path.clone(),
        ocr_dir: config.extraction.ocr_dir.clone(),
        threads: config.extraction.ocr_threads,
        languages,
    };
    let x = engine::extract(&bytes, &options, &|_, _| {})
        .map_err(|f| format!("{}: {}", f.code, f.message))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&x).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", horizon_layout::markdown::document(&x.document));
    }
    for w in &x.warnings {
        eprintln!("warning: {w}");
    }
    if !x.ocr_pages.is_empty() {
        eprintln!("read with OCR: pages {:?}", x.ocr_pages);
    }
    Ok(())
}

async fn serve(services: Services) -> Result<(), String> {
    // The development account accepts HORIZON_DEV_API_KEY, or a key made now.
    let now = services.clock.now();
    let (key, made) = match &services.config.local.dev_api_key {
        Some(key) => (key.to_string(), false),
        None => (
            auth::new_key(AccountId(DEV_ACCOUNT.into()), now)
                .map_err(|e| e.to_string())?
                .0,
            true,
        ),
    };
    let record = auth::key_record(&key, AccountId(DEV_ACCOUNT.into()), now);
    services
        .accounts
        .put_key(&record)
        .await
        .map_err(|e| format!("registering the development key: {e}"))?;
    let workers = services.config.local.workers;
    let running = horizon_local::start(services)
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    println!(
        "Horizon is listening on http://{}  (job API /v1, uploads /api; {workers} worker(s) per queue). Ctrl-C stops it.",
        running.addr
    );
    if made {
        println!("Development API key (account {DEV_ACCOUNT}), for this run: {key}");
    } else {
        println!("Development account {DEV_ACCOUNT} accepts the key in HORIZON_DEV_API_KEY.");
    }
    let _ = tokio::signal::ctrl_c().await;
    println!("stopping: finishing in-flight batches");
    running.shutdown().await;
    Ok(())
}

async fn create_key(services: &Services, account: &str) -> Result<(), String> {
    let valid = account.starts_with("acct_")
        && (6..=64).contains(&account.len())
        && account
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(format!(
            "{account:?} is not an account id like acct_example"
        ));
    }
    let (key, record) = auth::new_key(AccountId(account.into()), services.clock.now())
        .map_err(|e| e.to_string())?;
    services
        .accounts
        .put_key(&record)
        .await
        .map_err(|e| e.to_string())?;
    println!("key id:  {}\naccount: {account}\nkey:     {key}\n(the key is shown only now; it is stored as a hash)", record.id);
    Ok(())
}

async fn revoke_key(services: &Services, key_id: &str) -> Result<(), String> {
    let id: horizon_domain::KeyId = key_id
        .parse()
        .map_err(|e: horizon_domain::Error| e.to_string())?;
    match services.accounts.revoke_key(&id, None).await {
        Ok(true) => {
            println!("revoked {key_id}");
            Ok(())
        }
        Ok(false) => Err(format!("no key {key_id}")),
        Err(e) => Err(e.to_string()),
    }
}

/// `outbox list`: the parked records, one line each (id, job, when, replays, error).
async fn list_parked(services: &Services) -> Result<(), String> {
    let parked = services
        .parked
        .parked(horizon_app::outbox::PARKED_PAGE)
        .await
        .map_err(|e| e.to_string())?;
    if parked.is_empty() {
        println!("no parked records");
    }
    for p in parked {
        println!(
            "{}  job {}  parked {}  replays {}  {}",
            p.id,
            p.job.as_deref().unwrap_or("-"),
            p.parked_at,
            p.replays,
            p.error
        );
    }
    Ok(())
}

/// `outbox replay [ID]`: asks for one parked record, or all, to be replayed by the outbox.
async fn replay_parked(services: &Services, id: Option<&str>) -> Result<(), String> {
    let asked = horizon_app::outbox::replay_parked(services, id)
        .await
        .map_err(|e| e.to_string())?;
    println!("asked for {asked} parked record(s) to be replayed: the outbox applies each and unparks it, or keeps it parked with its new error (`horizon-local outbox list`)");
    Ok(())
}
