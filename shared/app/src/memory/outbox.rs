//! The outbox's parked records.

use super::*;

#[async_trait]
impl ParkedRecords for MemoryStore {
    async fn park(&self, record: &ParkedRecord) -> StoreResult<()> {
        self.state()?
            .parked
            .insert(record.id.clone(), (record.clone(), false));
        Ok(())
    }

    async fn parked(&self, limit: usize) -> StoreResult<Vec<ParkedRecord>> {
        let state = self.state()?;
        let mut parked: Vec<ParkedRecord> = state.parked.values().map(|(r, _)| r.clone()).collect();
        parked.sort_by(|a, b| a.parked_at.cmp(&b.parked_at));
        parked.truncate(limit);
        Ok(parked)
    }

    /// Marks the record; the memory stream has no consumer of parked records (the job-events
    /// function's tests replay them from the table's stream records).
    async fn request_replay(&self, id: &str) -> StoreResult<bool> {
        Ok(match self.state()?.parked.get_mut(id) {
            Some((_, asked)) => {
                *asked = true;
                true
            }
            None => false,
        })
    }

    async fn unpark(&self, id: &str) -> StoreResult<()> {
        self.state()?.parked.remove(id);
        Ok(())
    }
}
