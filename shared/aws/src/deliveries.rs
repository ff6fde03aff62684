//! The webhook delivery log in the table, one item per attempt under its job.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::dynamo::{from_json, n, opt_str, s, str_attr, to_json, DynamoStore, Item};
use horizon_app::ports::DeliveryLog;
use horizon_app::ports::StoreResult;
use horizon_domain::deliveries::Attempt;
use horizon_domain::JobId;

#[async_trait]
impl DeliveryLog for DynamoStore {
    async fn record(&self, job: &JobId, attempt: &Attempt) -> StoreResult<()> {
        let sk = format!(
            "DELIVERY#{}#{}#{:03}",
            attempt.at, attempt.delivery_id, attempt.attempt
        );
        let mut item: Item = HashMap::from([
            ("pk".to_owned(), s(format!("JOB#{job}"))),
            ("sk".to_owned(), s(sk)),
            ("attempt".to_owned(), s(to_json(attempt)?)),
            (
                "expiresAt".to_owned(),
                n((self.clock.now() + time::Duration::days(3)).unix_timestamp()),
            ),
        ]);
        if let Some(message) = &attempt.message {
            item.insert("message".into(), s(to_json(message)?));
        }
        self.put_item(item, None, vec![]).await.map(|_| ())
    }

    async fn attempts(&self, job: &JobId) -> StoreResult<Vec<Attempt>> {
        self.items_under(format!("JOB#{job}"), "DELIVERY#")
            .await?
            .iter()
            .map(|item| {
                let mut attempt: Attempt = from_json(str_attr(item, "attempt")?)?;
                attempt.message = opt_str(item, "message").map(from_json).transpose()?;
                Ok(attempt)
            })
            .collect()
    }
}
