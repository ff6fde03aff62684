//! The delivery log.

use super::*;

#[async_trait]
impl DeliveryLog for MemoryStore {
    async fn record(&self, job: &JobId, attempt: &Attempt) -> StoreResult<bool> {
        let mut state = self.state()?;
        let log = state.attempts.entry(job.clone()).or_default();
        if log.contains_key(&attempt.log_key()) {
            return Ok(false);
        }
        log.insert(attempt.log_key(), attempt.clone());
        if let Some(then) = &attempt.then {
            state.stream.push(Written::Attempt(then.clone()));
        }
        Ok(true)
    }

    async fn recorded(&self, message: &DeliveryMessage) -> StoreResult<bool> {
        Ok(self
            .state()?
            .attempts
            .get(&message.job_id)
            .is_some_and(|log| log.contains_key(&message.log_key())))
    }

    async fn attempts(&self, job: &JobId) -> StoreResult<Vec<Attempt>> {
        let mut attempts: Vec<Attempt> = self
            .state()?
            .attempts
            .get(job)
            .map(|a| a.values().cloned().collect())
            .unwrap_or_default();
        attempts.sort_by(|a, b| a.at.cmp(&b.at));
        Ok(attempts)
    }
}
