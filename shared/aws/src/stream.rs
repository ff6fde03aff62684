//! The job table's stream (new and old images), the outbox of every job's side effects: its
//! records as Lambda hands them to the job-events function (`DynamoDbEvent` batches), and, for
//! the local runner, a reader of the stream through the DynamoDB Streams API that hands over
//! the same batches (see `local`), with its place in each shard kept in the table. Two kinds of
//! record have effects: a job's writes, and a webhook delivery attempt's record that says what
//! follows it.

use aws_lambda_events::dynamodb::EventRecord;
use serde_dynamo::AttributeValue as Image;

use crate::dynamo::{DynamoStore, Item};
use horizon_app::ports::{ParkedRecord, StoreResult};
use horizon_domain::deliveries::Then;
use horizon_domain::Job;

/// What one record of the table's stream stands for, as far as the outbox is concerned.
#[allow(clippy::large_enum_variant)] // short-lived, one at a time: boxing buys nothing
pub enum Change {
    /// A write of a job: the job before and after it (`None` before a creation and after a
    /// deletion).
    Job(Option<Job>, Option<Job>),
    /// A delivery attempt's record, with what follows it.
    Attempt(Then),
    /// A parked record that an operator asked to replay.
    Replay(ParkedRecord),
    /// Any other item (counters, marks, checkpoints), or an attempt with no sequel.
    Other,
}

/// The change a stream record stands for.
pub fn change(record: &EventRecord) -> StoreResult<Change> {
    let image = |image: &serde_dynamo::Item| -> Option<Item> {
        (!image.is_empty()).then(|| image.clone().into())
    };
    if is_job(&record.change.keys) {
        let job = |i: &serde_dynamo::Item| image(i).map(|i| DynamoStore::job_from_item(&i));
        return Ok(Change::Job(
            job(&record.change.old_image).transpose()?,
            job(&record.change.new_image).transpose()?,
        ));
    }
    if let Some(item) = image(&record.change.new_image) {
        if crate::outbox::is_replay(&item) {
            return Ok(Change::Replay(crate::outbox::parked_of(&item)?));
        }
    }
    if record.event_name == "INSERT" {
        if let Some(then) = image(&record.change.new_image)
            .map(|i| crate::deliveries::then_of(&i))
            .transpose()?
            .flatten()
        {
            return Ok(Change::Attempt(then));
        }
    }
    Ok(Change::Other)
}

/// Whether the keys are a job's record (`sk` = `JOB`); the job's partition also holds its
/// delivery log and its applied marks.
fn is_job(keys: &serde_dynamo::Item) -> bool {
    matches!(keys.get("sk"), Some(Image::S(sk)) if sk == "JOB")
}

/// The event source mapping's filter in AWS (`infra/template.yaml`), as the local reader
/// applies it: records of jobs, new delivery attempts that have a sequel (`then`), and parked
/// records asked to be replayed (`replayAt`).
pub fn passes_filter(record: &EventRecord) -> bool {
    let parked =
        matches!(record.change.keys.get("pk"), Some(Image::S(pk)) if pk == crate::written::PARKED);
    is_job(&record.change.keys)
        || (record.event_name == "INSERT" && record.change.new_image.contains_key("then"))
        || (parked
            && record
                .change
                .new_image
                .contains_key(crate::written::REPLAY_AT))
}

/// When the stream took the record in (unix seconds), as its `ApproximateCreationDateTime`
/// says; `None` when the record does not say.
pub fn written_at(record: &EventRecord) -> Option<i64> {
    Some(record.change.approximate_creation_date_time.timestamp()).filter(|at| *at > 0)
}

/// A record as JSON, as a parked record keeps it; [`from_content`] reads it back.
pub fn content(record: &EventRecord) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

/// The record a parked record's content holds.
pub fn from_content(content: &str) -> StoreResult<EventRecord> {
    serde_json::from_str(content).map_err(|e| {
        horizon_app::ports::StoreError::Internal(format!("a parked record's content: {e}"))
    })
}

/// The job a record is a write of, when its keys name one.
pub fn job_of(record: &EventRecord) -> Option<String> {
    match record.change.keys.get("pk") {
        Some(Image::S(pk)) => pk.strip_prefix("JOB#").map(str::to_owned),
        _ => None,
    }
}

#[cfg(feature = "stream-reader")]
pub use reader::{Batch, StreamReader};

#[cfg(feature = "stream-reader")]
mod reader {
    use std::collections::HashMap;

    use aws_lambda_events::dynamodb::{EventRecord, StreamRecord};
    use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
    use aws_sdk_dynamodbstreams::Client;

    use crate::clients::unavailable;
    use crate::dynamo::{n, opt_str, s, DynamoStore, Item};
    use horizon_app::ports::{StoreError, StoreResult};

    /// Reads the table's stream shard by shard, as Lambda's event source mapping does, and keeps
    /// where it got to in each shard (`STREAM` / `<shard id>`), so that a reader started again
    /// (after a crash, a SIGKILL) goes on after the last batch its handler finished.
    pub struct StreamReader {
        streams: Client,
        store: DynamoStore,
        arn: String,
        table: String,
    }

    /// One batch read from a shard: the records, and how to read on.
    pub struct Batch {
        pub records: Vec<EventRecord>,
        /// The iterator for the next read; `None` when the shard is closed and read to its end.
        pub next: Option<String>,
    }

    impl StreamReader {
        /// The reader of `store`'s table's stream; an error when the table has none.
        pub async fn open(sdk: &aws_config::SdkConfig, store: DynamoStore) -> StoreResult<Self> {
            let table = store
                .client
                .describe_table()
                .table_name(&store.table)
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB DescribeTable", e))?;
            let arn = table
                .table()
                .and_then(|t| t.latest_stream_arn())
                .map(str::to_owned)
                .ok_or_else(|| {
                    StoreError::NotFound(format!(
                        "table {} has no stream: provision it from infra/resources.yaml (scripts/provision)",
                        store.table
                    ))
                })?;
            Ok(StreamReader {
                streams: Client::new(sdk),
                table: store.table.clone(),
                store,
                arn,
            })
        }

        /// The stream's shards, oldest first.
        pub async fn shards(&self) -> StoreResult<Vec<String>> {
            let mut shards = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let out = self
                    .streams
                    .describe_stream()
                    .stream_arn(&self.arn)
                    .set_exclusive_start_shard_id(after.take())
                    .send()
                    .await
                    .map_err(|e| unavailable("DynamoDB Streams DescribeStream", e))?;
                let Some(description) = out.stream_description else {
                    return Ok(shards);
                };
                shards.extend(
                    description
                        .shards()
                        .iter()
                        .filter_map(|s| s.shard_id().map(str::to_owned)),
                );
                match description.last_evaluated_shard_id {
                    Some(last) => after = Some(last),
                    None => return Ok(shards),
                }
            }
        }

        /// An iterator at the shard's checkpoint (just after the last record handled), or at
        /// its oldest record when it has none or the checkpoint has been trimmed away.
        pub async fn start(&self, shard: &str) -> StoreResult<String> {
            let checkpoint = self
                .store
                .get_item("STREAM".into(), shard)
                .await?
                .and_then(|item| opt_str(&item, "sequenceNumber").map(str::to_owned));
            if let Some(seq) = checkpoint {
                match self
                    .iterator(shard, ShardIteratorType::AfterSequenceNumber, Some(seq))
                    .await
                {
                    Ok(iterator) => return Ok(iterator),
                    Err(e) => {
                        tracing::warn!(shard, error = %e, "checkpoint unusable; reading the shard from its start")
                    }
                }
            }
            self.iterator(shard, ShardIteratorType::TrimHorizon, None)
                .await
        }

        /// An iterator at a record (to read it again after its handler failed).
        pub async fn at(&self, shard: &str, seq: &str) -> StoreResult<String> {
            self.iterator(
                shard,
                ShardIteratorType::AtSequenceNumber,
                Some(seq.to_owned()),
            )
            .await
        }

        async fn iterator(
            &self,
            shard: &str,
            kind: ShardIteratorType,
            seq: Option<String>,
        ) -> StoreResult<String> {
            self.streams
                .get_shard_iterator()
                .stream_arn(&self.arn)
                .shard_id(shard)
                .shard_iterator_type(kind)
                .set_sequence_number(seq)
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB Streams GetShardIterator", e))?
                .shard_iterator
                .ok_or_else(|| StoreError::Unavailable(format!("no iterator for shard {shard}")))
        }

        /// Up to `limit` records from `iterator`, as the records of a Lambda `DynamoDbEvent`.
        pub async fn read(&self, iterator: String, limit: i32) -> StoreResult<Batch> {
            let out = self
                .streams
                .get_records()
                .shard_iterator(iterator)
                .limit(limit)
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB Streams GetRecords", e))?;
            Ok(Batch {
                records: out
                    .records
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| self.event_record(r))
                    .collect(),
                next: out.next_shard_iterator,
            })
        }

        /// Remembers that the shard's records up to `seq` were handled.
        pub async fn checkpoint(&self, shard: &str, seq: &str) -> StoreResult<()> {
            let expires = self.store.clock.now().unix_timestamp() + 2 * 24 * 3600;
            let item: Item = HashMap::from([
                ("pk".to_owned(), s("STREAM")),
                ("sk".to_owned(), s(shard)),
                ("sequenceNumber".to_owned(), s(seq)),
                ("expiresAt".to_owned(), n(expires)),
            ]);
            self.store.put_item(item, None, vec![]).await.map(|_| ())
        }

        /// A Streams API record as Lambda's event record.
        fn event_record(&self, r: Record) -> EventRecord {
            let image = |i: Option<
                HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
            >| { serde_dynamo::Item::from(i.unwrap_or_default()) };
            let mut change = StreamRecord::default();
            if let Some(d) = r.dynamodb {
                change.keys = image(d.keys);
                change.new_image = image(d.new_image);
                change.old_image = image(d.old_image);
                change.sequence_number = d.sequence_number;
                change.size_bytes = d.size_bytes.unwrap_or(0);
                if let Some(at) = d
                    .approximate_creation_date_time
                    .and_then(|at| chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos()))
                {
                    change.approximate_creation_date_time = at;
                }
            }
            let mut record = EventRecord::default();
            record.change = change;
            record.event_id = r.event_id.unwrap_or_default();
            record.event_name = r
                .event_name
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default();
            record.event_source = Some("aws:dynamodb".to_owned());
            record.event_source_arn = Some(self.arn.clone());
            record.aws_region = r.aws_region.unwrap_or_default();
            record.table_name = Some(self.table.clone());
            record
        }
    }
}
