//! The dashboard's use cases that workers and the scheduler run: heartbeats and metric
//! snapshots. Its model lives in `monitoring` (re-exported here).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::services::Services;

pub use horizon_domain::monitoring::*;

/// Sends this worker's heartbeat, at most every [`BEAT_EVERY`] per instance; best effort.
pub async fn beat(services: &Services, supervisor: &str, queue: &str, instance: &str) {
    static LAST: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);
    let key = format!("{supervisor}#{queue}#{instance}");
    {
        let Ok(mut last) = LAST.lock() else { return };
        let map = last.get_or_insert_with(HashMap::new);
        if map.get(&key).is_some_and(|t| t.elapsed() < BEAT_EVERY) {
            return;
        }
        map.insert(key, Instant::now());
    }
    let now = services.clock.now();
    let heartbeat = Heartbeat {
        master: services.config.dashboard.master.clone(),
        supervisor: supervisor.to_owned(),
        queue: queue.to_owned(),
        instance: instance.to_owned(),
        pid: std::process::id(),
        seen_at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
    };
    if let Err(e) = services.dashboard.beat(&heartbeat).await {
        tracing::warn!(error = %e, supervisor, queue, "heartbeat not recorded");
    }
}

/// Takes this interval's metric snapshot unless another instance already has (EventBridge in
/// AWS, a timer in the local runner). `true` when this call took it.
pub async fn snapshot(services: &Services) -> horizon_domain::Result<bool> {
    let now = services.clock.now();
    let interval = services.config.dashboard.snapshot_interval.as_secs().max(1) as i64;
    let slot = now.unix_timestamp().div_euclid(interval);
    Ok(services
        .dashboard
        .take_snapshot(slot, now, services.config.dashboard.snapshots_kept)
        .await?)
}

/// Sends the heartbeat of a Lambda invocation for each queue its batch came from, given by the
/// queues' ARNs.
pub async fn beat_for_queues(services: &Services, supervisor: &str, queue_arns: &[&str]) {
    let mut queues: Vec<&str> = queue_arns
        .iter()
        .map(|arn| arn.rsplit(':').next().unwrap_or(arn))
        .collect();
    queues.sort_unstable();
    queues.dedup();
    let instance = instance_id();
    for queue in queues {
        beat(services, supervisor, queue, &instance).await;
    }
}

/// The worker functions and their queues, by supervisor name.
pub fn worker_queues(config: &crate::Config) -> [(&'static str, String, Option<String>); 2] {
    [
        (
            "extract-worker",
            config.stack.extract_queue_url.clone(),
            config.stack.extract_function.clone(),
        ),
        (
            "webhook-dispatch",
            config.stack.webhook_queue_url.clone(),
            config.stack.webhook_function.clone(),
        ),
    ]
}
