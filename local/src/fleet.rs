//! The local runner's worker fleet: the pollers it starts stand in for Lambda's event source
//! mappings, so the dashboard reads their settings from the runner's configuration.

use std::sync::Arc;

use async_trait::async_trait;
use horizon_app::config::Config;
use horizon_app::dashboard::{self as monitoring, worker_queues, Supervisor};
use horizon_app::ports::{DashboardStore, Fleet, StoreResult};
use horizon_app::Services;

/// `services` with the local pollers as their fleet, unless the worker functions are named (then
/// the dashboard reads Lambda's mappings, as in AWS).
pub fn with_local_fleet(mut services: Services) -> Services {
    let c = &services.config;
    if c.stack.extract_function.is_none() && c.stack.webhook_function.is_none() {
        services.fleet = Arc::new(LocalFleet {
            config: c.clone(),
            store: services.dashboard.clone(),
        });
    }
    services
}

/// The local runner's pollers: their settings are the runner's configuration; a paused queue
/// is a flag the pollers read.
pub struct LocalFleet {
    pub config: Arc<Config>,
    pub store: Arc<dyn DashboardStore>,
}

#[async_trait]
impl Fleet for LocalFleet {
    async fn supervisors(&self) -> StoreResult<Vec<Supervisor>> {
        let paused = self.store.paused().await?;
        let c = &self.config;
        Ok(worker_queues(c)
            .into_iter()
            .map(|(name, url, _)| {
                let queue = monitoring::queue_name(&url).to_owned();
                let extract = name == "extract-worker";
                Supervisor {
                    name: name.to_owned(),
                    enabled: !paused.contains(&queue),
                    queue,
                    queue_url: url,
                    max_processes: c.local.workers as u64,
                    min_processes: c.local.workers as u64,
                    // The extract worker takes one message at a time (its handler's
                    // concurrency, as its mapping's `BatchSize: 1` in AWS).
                    batch_size: if extract {
                        1
                    } else {
                        monitoring::LOCAL_BATCH_SIZE as u64
                    },
                    timeout: if extract {
                        c.jobs.deadline.as_secs()
                    } else {
                        c.webhooks.timeout.as_secs()
                    },
                    memory: if extract { c.extraction.memory_mb } else { 0 },
                    sleep: monitoring::LOCAL_POLL_WAIT_SECONDS as u64,
                }
            })
            .collect())
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> StoreResult<()> {
        self.store.set_paused(queue, paused).await
    }
}
