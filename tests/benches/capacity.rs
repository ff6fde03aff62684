//! Capacity: which partition key of the table, or of one of its indexes, limits the platform.
//! DynamoDB serves at most 1,000 write units a second on one partition key value; this run
//! sends jobs through the whole local pipeline (API, worker, outbox, webhooks) and adds up,
//! from every write request sent, the write units each key took (`horizon_aws::write_units`).
//!
//!   scripts/bench capacity [JOBS]        default 300
//!
//! Prints the keys by family (shards of one key, one job's keys, one account's keys), and the
//! two figures of the capacity goal:
//! - the highest write units any one key needs per 1,000 jobs/s;
//! - the jobs/s at which the first key reaches 1,000 units a second.
//!
//! Keys shared by every tenant set the platform's ceiling. A sharded key's load is its family's
//! divided by its shards (the hash spreads jobs evenly at any rate worth measuring; the busiest
//! shard of a short run is printed too). One account's keys bound that account alone, far
//! above what its rate limit lets it send; one job's keys are written a few times in its life.
//! The outbox adds a batch of stream records in one transaction: at higher rates its batches
//! are fuller, so its shared counters take fewer units per job than measured here.

use std::collections::BTreeMap;
use std::time::Duration;

use horizon_app::Config;
use horizon_tests::load::{self, Options};

/// What a key is, for the figures: shared by every tenant, one account's, one item's (a job,
/// an upload, a key, a request), or the worker fleet's (written per instance and interval, not
/// per job).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    Shared,
    Fleet,
    Account,
    Item,
}

/// A key's family: its text with ids, hashes and a shard number replaced by placeholders.
fn family(key: &str) -> (String, Scope, bool) {
    let mut scope = Scope::Shared;
    let mut sharded = false;
    let (index, pk) = key.split_once(' ').unwrap_or(("table", key));
    let ulid = |s: &str| s.len() == 26 && s.chars().all(|c| c.is_ascii_alphanumeric());
    let parts: Vec<String> = pk
        .split('#')
        .enumerate()
        .map(|(i, part)| {
            if part.starts_with("acct_") {
                scope = scope.max(Scope::Account);
                "{account}".to_owned()
            } else if ulid(part) || part.split_once('_').is_some_and(|(_, id)| ulid(id)) {
                scope = scope.max(Scope::Item);
                "{id}".to_owned()
            } else if part.len() >= 32 && part.chars().all(|c| c.is_ascii_hexdigit()) {
                scope = scope.max(Scope::Item);
                "{hash}".to_owned()
            } else if i > 0 && !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()) {
                sharded = true;
                "{shard}".to_owned()
            } else {
                part.to_owned()
            }
        })
        .collect();
    if pk == "HEARTBEAT" {
        scope = Scope::Fleet;
    }
    (format!("{index}: {}", parts.join("#")), scope, sharded)
}

#[derive(Default)]
struct Family {
    keys: usize,
    units: u64,
    busiest: u64,
    scope: Option<Scope>,
    sharded: bool,
}

#[tokio::main]
async fn main() {
    horizon_runtime::telemetry::init();
    let jobs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300);
    let mut config = Config::from_env().unwrap_or_else(|e| {
        eprintln!(
            "{e}\nrun it with scripts/bench capacity (it starts and provisions the local stack)"
        );
        std::process::exit(2);
    });
    if std::env::var("HORIZON_LOCAL_WORKERS").is_err() {
        config.local.workers = 4;
    }
    if let Err(e) = horizon_aws::write_units::watch_table(&config.stack.table).await {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let options = Options {
        jobs,
        webhook_refusals: 0,
        patience: Duration::from_secs(60),
        outage: None,
        spread: Duration::ZERO,
    };
    let report = load::run(config, &options).await;
    let units = horizon_aws::write_units::write_units();
    let done = report.completed + report.failed;
    println!(
        "capacity: {jobs} jobs submitted, {} completed, {} failed, {} lost; {} pages",
        report.completed,
        report.failed,
        report.lost.len(),
        report.pages_done
    );
    if done == 0 {
        eprintln!("no job finished: nothing to measure");
        std::process::exit(1);
    }
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for (key, u) in &units {
        let (name, scope, sharded) = family(key);
        let f = families.entry(name).or_default();
        f.keys += 1;
        f.units += u;
        f.busiest = f.busiest.max(*u);
        f.scope = Some(scope);
        f.sharded |= sharded;
    }
    let per_thousand = |u: f64| u * 1000.0 / done as f64;
    println!(
        "\nwrite units per 1,000 jobs/s, per key (a sharded family: its units over its keys; \
         the busiest key of this run beside it)"
    );
    println!(
        "  {:<48} {:>5} {:>12} {:>12}",
        "key family", "keys", "per key", "busiest key"
    );
    let mut rows: Vec<(&String, &Family, f64)> = families
        .iter()
        .map(|(name, f)| {
            let load = if f.sharded {
                f.units as f64 / f.keys as f64
            } else {
                f.busiest as f64
            };
            (name, f, per_thousand(load))
        })
        .collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    for (name, f, load) in &rows {
        let scope = match f.scope {
            Some(Scope::Account) => " (one account)",
            Some(Scope::Fleet) => " (per worker, not per job)",
            // Written for one item only: its units over the item's life, not a rate.
            Some(Scope::Item) => {
                println!(
                    "  {:<48} {:>5} {:>25}",
                    format!("{name} (one item)"),
                    f.keys,
                    format!("at most {} units an item", f.busiest)
                );
                continue;
            }
            _ => "",
        };
        println!(
            "  {:<48} {:>5} {:>12.0} {:>12.0}",
            format!("{name}{scope}"),
            f.keys,
            load,
            per_thousand(f.busiest as f64)
        );
    }
    let worst = |scope: Scope| {
        rows.iter()
            .filter(|(_, f, _)| f.scope == Some(scope))
            .max_by(|a, b| a.2.total_cmp(&b.2))
            .map(|(name, _, load)| ((*name).clone(), *load))
            .unwrap_or_default()
    };
    let (key, load) = worst(Scope::Shared);
    let at = |load: f64| 1000.0 * 1000.0 / load.max(f64::MIN_POSITIVE);
    println!("\nkeys shared by every tenant:");
    println!("  highest write units any one key needs per 1,000 jobs/s: {load:.0} ({key})");
    println!(
        "  jobs/s at which the first key reaches 1,000 units a second: {:.0}",
        at(load)
    );
    // The same from this run's busiest single shard, which a short run's chance overweights.
    let busiest = families
        .iter()
        .filter(|(_, f)| f.scope == Some(Scope::Shared))
        .map(|(name, f)| (per_thousand(f.busiest as f64), name))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((load, name)) = busiest {
        println!(
            "  (this run's busiest single key: {load:.0} per 1,000 jobs/s, {name}: {:.0} jobs/s)",
            at(load)
        );
    }
    let (key, load) = worst(Scope::Account);
    println!("one account's keys (that account's own ceiling):");
    println!(
        "  highest: {load:.0} units per 1,000 of its jobs/s ({key}); first reaches 1,000 at {:.0} jobs/s",
        1000.0 * 1000.0 / load.max(f64::MIN_POSITIVE)
    );
}
