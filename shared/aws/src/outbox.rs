//! The outbox's parked records: one partition (`OUTBOX#PARKED`), an item per record by its
//! sequence number. Records are parked rarely (a poison record, or one that kept failing for a
//! day), so one partition is no hot key. A replay request sets `replayAt` on the item: that
//! write's stream record is what brings the parked record back to the job-events function.

use crate::clients::unavailable;
use crate::dynamo::{n, num, opt_str, s, str_attr, DynamoStore, Item};
use async_trait::async_trait;
use horizon_app::ports::{ParkedRecord, ParkedRecords, StoreResult};

use crate::written::{PARKED, REPLAY_AT};

#[async_trait]
impl ParkedRecords for DynamoStore {
    async fn park(&self, record: &ParkedRecord) -> StoreResult<()> {
        let mut item = Item::from([
            ("pk".to_owned(), s(PARKED)),
            ("sk".to_owned(), s(&record.id)),
            ("error".to_owned(), s(&record.error)),
            ("parkedAt".to_owned(), s(&record.parked_at)),
            ("replays".to_owned(), n(record.replays)),
            ("content".to_owned(), s(&record.content)),
        ]);
        if let Some(job) = &record.job {
            item.insert("job".to_owned(), s(job));
        }
        self.put_item(item, None, vec![]).await?;
        Ok(())
    }

    async fn parked(&self, limit: usize) -> StoreResult<Vec<ParkedRecord>> {
        let mut parked = self
            .items_under(PARKED.to_owned(), "")
            .await?
            .iter()
            .map(parked_of)
            .collect::<StoreResult<Vec<_>>>()?;
        parked.sort_by(|a, b| a.parked_at.cmp(&b.parked_at));
        parked.truncate(limit);
        Ok(parked)
    }

    async fn request_replay(&self, id: &str) -> StoreResult<bool> {
        let now = horizon_domain::rfc3339(self.clock.now());
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(PARKED))
            .key("sk", s(id))
            .update_expression("SET #r = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#r", REPLAY_AT)
            .expression_attribute_values(":now", s(now))
            .send()
            .await;
        match out {
            Ok(_) => {
                crate::written::WRITTEN.notify_one();
                Ok(true)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable("DynamoDB UpdateItem", e)),
        }
    }

    async fn unpark(&self, id: &str) -> StoreResult<()> {
        self.delete_item(PARKED.to_owned(), id.to_owned()).await
    }
}

/// A parked record from its item.
pub(crate) fn parked_of(item: &Item) -> StoreResult<ParkedRecord> {
    Ok(ParkedRecord {
        id: str_attr(item, "sk")?.to_owned(),
        job: opt_str(item, "job").map(str::to_owned),
        error: str_attr(item, "error")?.to_owned(),
        parked_at: str_attr(item, "parkedAt")?.to_owned(),
        replays: num(item, "replays")?,
        content: str_attr(item, "content")?.to_owned(),
    })
}

/// Whether an item (its keys and new image) is a parked record with a replay asked for.
#[cfg(feature = "stream")]
pub(crate) fn is_replay(item: &Item) -> bool {
    matches!(item.get("pk"), Some(aws_sdk_dynamodb::types::AttributeValue::S(pk)) if pk == PARKED)
        && item.contains_key(REPLAY_AT)
}
