//! The worker fleet.

use super::*;

/// Stands in for the local runner's `LocalFleet` and `horizon_aws`'s `LambdaFleet`: the supervisors are
/// whatever a test set (none at first), each enabled unless the dashboard store has its queue
/// paused; pausing writes that flag in the store, as both real fleets do.
pub struct MemoryFleet {
    store: Arc<dyn DashboardStore>,
    supervisors: Mutex<Vec<Supervisor>>,
}

impl MemoryFleet {
    pub fn new(store: Arc<dyn DashboardStore>) -> Self {
        MemoryFleet {
            store,
            supervisors: Mutex::new(Vec::new()),
        }
    }

    pub fn set_supervisors(&self, supervisors: Vec<Supervisor>) -> StoreResult<()> {
        *lock(&self.supervisors, "fleet")? = supervisors;
        Ok(())
    }
}

#[async_trait]
impl Fleet for MemoryFleet {
    async fn supervisors(&self) -> StoreResult<Vec<Supervisor>> {
        let paused = self.store.paused().await?;
        let mut supervisors = lock(&self.supervisors, "fleet")?.clone();
        for s in &mut supervisors {
            s.enabled = !paused.contains(&s.queue);
        }
        Ok(supervisors)
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> StoreResult<()> {
        self.store.set_paused(queue, paused).await
    }
}

//
