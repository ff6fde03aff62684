//! The webhook delivery log in the table, one item per attempt under its job
//! (`DELIVERY#<delivery id>#<replay>#<attempt>`). An attempt that did not deliver carries what
//! follows it (`then`); the table's stream hands that record to the job-events function, which
//! queues the next attempt or dead-letters the message.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::dynamo::{from_json, n, opt_str, s, str_attr, to_json, DynamoStore, Item};
use horizon_app::ports::DeliveryLog;
use horizon_app::ports::{StoreError, StoreResult};
use horizon_domain::deliveries::{Attempt, DeliveryMessage};
use horizon_domain::JobId;

#[async_trait]
impl DeliveryLog for DynamoStore {
    async fn record(&self, job: &JobId, attempt: &Attempt) -> StoreResult<bool> {
        let mut item: Item = HashMap::from([
            ("pk".to_owned(), s(format!("JOB#{job}"))),
            (
                "sk".to_owned(),
                s(format!("DELIVERY#{}", attempt.log_key())),
            ),
            ("attempt".to_owned(), s(to_json(attempt)?)),
            (
                "expiresAt".to_owned(),
                n((self.clock.now() + time::Duration::days(3)).unix_timestamp()),
            ),
        ]);
        if let Some(message) = &attempt.message {
            item.insert("message".into(), s(to_json(message)?));
        }
        if let Some(then) = &attempt.then {
            item.insert("then".into(), s(to_json(then)?));
        }
        match self
            .put_item(item, Some("attribute_not_exists(sk)"), vec![])
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn recorded(&self, message: &DeliveryMessage) -> StoreResult<bool> {
        let sk = format!("DELIVERY#{}", message.log_key());
        Ok(self
            .get_item(format!("JOB#{}", message.job_id), &sk)
            .await?
            .is_some())
    }

    async fn attempts(&self, job: &JobId) -> StoreResult<Vec<Attempt>> {
        let mut attempts = self
            .items_under(format!("JOB#{job}"), "DELIVERY#")
            .await?
            .iter()
            .map(|item| {
                let mut attempt: Attempt = from_json(str_attr(item, "attempt")?)?;
                attempt.message = opt_str(item, "message").map(from_json).transpose()?;
                Ok(attempt)
            })
            .collect::<StoreResult<Vec<Attempt>>>()?;
        attempts.sort_by(|a, b| a.at.cmp(&b.at));
        Ok(attempts)
    }
}

/// What follows the attempt a stream record of the table wrote, when it is a delivery attempt's
/// record that has a sequel.
#[cfg(feature = "stream")]
pub(crate) fn then_of(image: &Item) -> StoreResult<Option<horizon_domain::deliveries::Then>> {
    opt_str(image, "then").map(from_json).transpose()
}
