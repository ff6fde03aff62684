//! API keys and account webhooks.

use super::*;

#[async_trait]
impl AccountStore for MemoryStore {
    async fn put_key(&self, key: &ApiKey) -> StoreResult<()> {
        self.state()?.keys.insert(key.hash.clone(), key.clone());
        Ok(())
    }

    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>> {
        Ok(self.state()?.keys.get(hash).cloned())
    }

    async fn revoke_key(&self, key_id: &KeyId, owner: Option<&AccountId>) -> StoreResult<bool> {
        let mut state = self.state()?;
        let Some(key) = state.keys.values_mut().find(|k| k.id == *key_id) else {
            return Ok(false);
        };
        if owner.is_some_and(|owner| key.account != *owner) {
            return Ok(false);
        }
        key.revoked = true;
        Ok(true)
    }

    async fn put_webhook(&self, account: &AccountId, sub: &Subscription) -> StoreResult<()> {
        let mut state = self.state()?;
        let subs = state.webhooks.entry(account.clone()).or_default();
        if subs.contains_key(&sub.id) {
            return Err(StoreError::Conflict(format!(
                "webhook {} exists already",
                sub.id
            )));
        }
        subs.insert(sub.id.clone(), sub.clone());
        Ok(())
    }

    async fn update_webhook(&self, account: &AccountId, sub: &Subscription) -> StoreResult<()> {
        let mut state = self.state()?;
        match state
            .webhooks
            .get_mut(account)
            .and_then(|subs| subs.get_mut(&sub.id))
        {
            Some(stored) => {
                *stored = sub.clone();
                Ok(())
            }
            None => Err(StoreError::Conflict(format!(
                "no webhook {} to update",
                sub.id
            ))),
        }
    }

    /// By subscription id, as DynamoDB returns them.
    async fn webhooks(&self, account: &AccountId) -> StoreResult<Vec<Subscription>> {
        Ok(self
            .state()?
            .webhooks
            .get(account)
            .map(|subs| subs.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn webhook(
        &self,
        account: &AccountId,
        id: &WebhookId,
    ) -> StoreResult<Option<Subscription>> {
        Ok(self
            .state()?
            .webhooks
            .get(account)
            .and_then(|subs| subs.get(id).cloned()))
    }

    async fn delete_webhook(&self, account: &AccountId, id: &WebhookId) -> StoreResult<bool> {
        Ok(self
            .state()?
            .webhooks
            .get_mut(account)
            .is_some_and(|subs| subs.remove(id).is_some()))
    }

    async fn rate_bucket(&self, account: &AccountId) -> StoreResult<Option<StoredBucket>> {
        let state = self.state()?;
        if state.rate_buckets_down {
            return Err(StoreError::Unavailable(
                "the request buckets are down".into(),
            ));
        }
        Ok(state.rate_buckets.get(account).cloned())
    }

    async fn put_rate_bucket(
        &self,
        account: &AccountId,
        bucket: &StoredBucket,
        seen: Option<u64>,
    ) -> StoreResult<()> {
        let mut state = self.state()?;
        if state.rate_buckets.get(account).map(|b| b.version) != seen {
            return Err(StoreError::Conflict("the bucket changed".into()));
        }
        state.rate_buckets.insert(account.clone(), bucket.clone());
        Ok(())
    }

    async fn strike(&self, scope: &str, client: &str, minute: i64) -> StoreResult<u32> {
        let mut state = self.state()?;
        if state.rate_buckets_down {
            return Err(StoreError::Unavailable("the strike counts are down".into()));
        }
        let count = state
            .strikes
            .entry((scope.to_owned(), client.to_owned(), minute))
            .or_default();
        *count += 1;
        Ok(*count)
    }
}

impl MemoryStore {
    /// Makes the shared request buckets answer as if the table could not be reached (or not).
    pub fn set_rate_buckets_down(&self, down: bool) {
        if let Ok(mut state) = self.state() {
            state.rate_buckets_down = down;
        }
    }
}
