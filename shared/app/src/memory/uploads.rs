//! Upload records.

use super::*;

#[async_trait]
impl UploadStore for MemoryStore {
    async fn put(&self, upload: &Upload) -> StoreResult<()> {
        let now = self.now();
        let mut state = self.state()?;
        if state
            .uploads
            .get(&upload.id)
            .is_some_and(|u| u.expires_at > now)
        {
            return Err(StoreError::Conflict(format!(
                "upload {} exists already",
                upload.id
            )));
        }
        state.uploads.insert(upload.id.clone(), upload.clone());
        Ok(())
    }

    async fn get(&self, id: &UploadId) -> StoreResult<Option<Upload>> {
        let now = self.now();
        Ok(self
            .state()?
            .uploads
            .get(id)
            .filter(|u| u.expires_at > now)
            .cloned())
    }

    async fn complete(&self, upload: &Upload) -> StoreResult<()> {
        let now = self.now();
        let mut state = self.state()?;
        match state.uploads.get(&upload.id) {
            Some(stored) if stored.pending && stored.expires_at > now => {
                state.uploads.insert(upload.id.clone(), upload.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict(format!(
                "upload {} is no longer pending",
                upload.id
            ))),
        }
    }

    async fn delete(&self, id: &UploadId) -> StoreResult<()> {
        self.state()?.uploads.remove(id);
        Ok(())
    }
}
