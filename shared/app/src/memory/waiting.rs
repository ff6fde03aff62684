//! Jobs waiting for their account's cap of jobs processing.

use super::*;

#[async_trait]
impl WaitingList for MemoryStore {
    async fn wait(&self, account: &AccountId, message: &WorkMessage) -> StoreResult<()> {
        self.state()?
            .waiting
            .insert((account.clone(), message.job_id.clone()), message.clone());
        Ok(())
    }

    async fn waiting(&self, account: &AccountId, limit: usize) -> StoreResult<Vec<WorkMessage>> {
        Ok(self
            .state()?
            .waiting
            .iter()
            .filter(|((a, _), _)| a == account)
            .take(limit)
            .map(|(_, m)| m.clone())
            .collect())
    }

    async fn unwait(&self, account: &AccountId, job: &str) -> StoreResult<bool> {
        Ok(self
            .state()?
            .waiting
            .remove(&(account.clone(), job.to_owned()))
            .is_some())
    }
}
