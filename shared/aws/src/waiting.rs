//! Jobs waiting for their account's cap of jobs processing: one partition per account
//! (`WAIT#<account>`), an item per job by its id (so oldest first), holding the message that
//! queues it again.

use async_trait::async_trait;

use crate::clients::unavailable;
use crate::dynamo::{from_json, s, str_attr, to_json, DynamoStore, Item};
use horizon_app::ports::{StoreResult, WaitingList, WorkMessage};
use horizon_domain::AccountId;

/// A waiting job outlives no job: jobs are kept for days, not weeks.
const KEEP_SECONDS: i64 = 14 * 24 * 3600;

#[async_trait]
impl WaitingList for DynamoStore {
    async fn wait(&self, account: &AccountId, message: &WorkMessage) -> StoreResult<()> {
        let expires = self.clock.now().unix_timestamp() + KEEP_SECONDS;
        let item = Item::from([
            ("pk".to_owned(), s(waiting_key(account))),
            ("sk".to_owned(), s(&message.job_id)),
            ("message".to_owned(), s(to_json(message)?)),
            ("expiresAt".to_owned(), crate::dynamo::n(expires)),
        ]);
        self.put_item(item, None, vec![]).await.map(|_| ())
    }

    async fn waiting(&self, account: &AccountId, limit: usize) -> StoreResult<Vec<WorkMessage>> {
        self.first_under(waiting_key(account), limit)
            .await?
            .iter()
            .map(|item| from_json(str_attr(item, "message")?))
            .collect()
    }

    async fn unwait(&self, account: &AccountId, job: &str) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(waiting_key(account)))
            .key("sk", s(job))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB DeleteItem", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}

fn waiting_key(account: &AccountId) -> String {
    format!("WAIT#{account}")
}
