//! The one DynamoDB table: the store, its item helpers and a job's item (`pk` + `sk`; `gsi1` lists
//! an account's items newest first, `gsi2` the active jobs the reaper reads). The ports it serves
//! are in `jobs`, `deliveries`, `accounts`, `uploads` and `dashboard`.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client as DynamoClient;
use time::OffsetDateTime;

use crate::clients::unavailable;
use horizon_app::ports::Clock;
use horizon_app::ports::{StoreError, StoreResult};
use horizon_app::retry::Backoff;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The shard of `shards` that `key` (a job's or an account's id) falls in (see
/// [`DynamoStore::shards`]).
pub(crate) fn shard_of(key: &str, shards: u32) -> u32 {
    key.bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
        % shards.max(1)
}

#[derive(Clone)]
pub struct DynamoStore {
    pub(crate) client: DynamoClient,
    pub(crate) table: String,
    /// What "now" is for expiry (the service's clock, as everywhere else).
    pub(crate) clock: Arc<dyn Clock>,
    /// Every key that every job writes (the dashboard's lists, the active-job index, the time
    /// buckets, the pending gauge, the metric counters) is spread over this many partition
    /// keys, so that none takes more than a small share of DynamoDB's 1,000 write units a
    /// second per key (`scripts/bench capacity` measures it); readers gather across them.
    /// `HORIZON_KEY_SHARDS`: fixed for a table's life (it may grow, never shrink).
    pub(crate) shards: u32,
}

impl DynamoStore {
    pub fn new(client: DynamoClient, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            clock,
            shards: horizon_app::config::KEY_SHARDS,
        }
    }

    /// The same store with its keys spread over `shards` (see [`DynamoStore::shards`]).
    pub fn with_shards(mut self, shards: u32) -> Self {
        self.shards = shards.max(1);
        self
    }

    /// The shard `key` falls in.
    pub(crate) fn shard(&self, key: &str) -> u32 {
        shard_of(key, self.shards)
    }

    pub(crate) async fn get_item(&self, pk: String, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB GetItem", e))?;
        // Expired items linger until DynamoDB's sweep removes them: treat them as gone already.
        Ok(out.item.filter(|item| {
            num::<i64>(item, "expiresAt")
                .map(|exp| exp > self.clock.now().unix_timestamp())
                .unwrap_or(true)
        }))
    }

    /// Writes `item`, if `condition` (when given) holds with `values` bound in it; `Conflict`
    /// when it does not. Returns the item it replaced, if any (at no extra cost).
    pub(crate) async fn put_item(
        &self,
        item: Item,
        condition: Option<&str>,
        values: Vec<(&str, AttributeValue)>,
    ) -> StoreResult<Option<Item>> {
        let streamed = crate::written::streamed(&item);
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .set_condition_expression(condition.map(str::to_owned));
        for (name, value) in values {
            req = req.expression_attribute_values(name, value);
        }
        match req.send().await {
            Ok(out) => {
                if streamed {
                    crate::written::WRITTEN.notify_one();
                }
                Ok(out.attributes.filter(|a| !a.is_empty()))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict(format!(
                    "the record changed since it was read ({} no longer holds)",
                    condition.unwrap_or_default()
                )))
            }
            Err(e) => Err(unavailable("DynamoDB PutItem", e)),
        }
    }

    /// Writes `items` in one transaction. `Ok(None)` when it landed; `Ok(Some(i))` when it was
    /// refused because the condition of the `i`-th write did not hold (nothing was written).
    pub(crate) async fn transact(
        &self,
        items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> StoreResult<Option<usize>> {
        self.transact_once(items, None).await
    }

    /// [`Self::transact`] under an idempotency token: the same transaction sent again within
    /// ten minutes (a retry whose first answer was lost) is not applied twice. A transaction
    /// cancelled because another one touched the same items at the same moment (a
    /// `TransactionConflict`: the counters every job adds to, an account's count) is sent again
    /// after a short wait, a few times.
    pub(crate) async fn transact_once(
        &self,
        items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
        token: Option<String>,
    ) -> StoreResult<Option<usize>> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        let streamed = items.iter().any(|w| {
            let put = w.put().map(|p| p.item());
            let keys = w.update().map(|u| u.key()).or(w.delete().map(|d| d.key()));
            put.or(keys).is_some_and(crate::written::streamed)
        });
        let mut attempt = 0;
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .set_client_request_token(token.clone())
                .send()
                .await;
            let e = match sent {
                Ok(_) => {
                    if streamed {
                        crate::written::WRITTEN.notify_one();
                    }
                    return Ok(None);
                }
                Err(e) => e,
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(t)) =
                e.as_service_error()
            {
                let reasons = t.cancellation_reasons();
                let refused = reasons
                    .iter()
                    .position(|r| r.code() == Some("ConditionalCheckFailed"));
                if refused.is_some() {
                    return Ok(refused);
                }
                let conflict = reasons
                    .iter()
                    .any(|r| r.code() == Some("TransactionConflict"));
                if conflict && attempt + 1 < Backoff::RACE.tries {
                    Backoff::RACE.wait(attempt).await;
                    attempt += 1;
                    continue;
                }
            }
            return Err(unavailable("DynamoDB TransactWriteItems", e));
        }
    }

    /// Removes one item; an item that is not there is no error.
    pub(crate) async fn delete_item(&self, pk: String, sk: String) -> StoreResult<()> {
        let streamed = crate::written::streamed(&HashMap::from([("sk".to_owned(), s(sk.clone()))]));
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB DeleteItem", e))?;
        if streamed {
            crate::written::WRITTEN.notify_one();
        }
        Ok(())
    }

    /// The items at `keys` (pk and sk) that exist, in no particular order: BatchGetItem, 100
    /// keys a request, strongly consistent, its unprocessed keys asked again.
    pub(crate) async fn batch_get(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        for batch in keys.chunks(100) {
            let items = Backoff::STORE
                .drain("DynamoDB BatchGetItem", batch.to_vec(), |keys| async move {
                    let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                        .set_keys(Some(keys))
                        .consistent_read(true)
                        .build()
                        .map_err(|e| StoreError::Internal(format!("batch get: {e}")))?;
                    let out = self
                        .client
                        .batch_get_item()
                        .request_items(&self.table, request)
                        .send()
                        .await
                        .map_err(|e| unavailable("DynamoDB BatchGetItem", e))?;
                    let items = out
                        .responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default();
                    let left = out
                        .unprocessed_keys
                        .and_then(|mut u| u.remove(&self.table))
                        .map(|k| k.keys)
                        .unwrap_or_default();
                    Ok((items, left))
                })
                .await?;
            found.extend(items);
        }
        Ok(found)
    }

    /// The first `limit` items under partition `pk`, in sort key order (strongly consistent).
    pub(crate) async fn first_under(&self, pk: String, limit: usize) -> StoreResult<Vec<Item>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s(pk))
            .consistent_read(true)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB Query", e))?;
        Ok(out.items.unwrap_or_default())
    }

    /// Every item under partition `pk` whose sort key starts with `prefix`, in order, across
    /// DynamoDB's pages (strongly consistent).
    pub(crate) async fn items_under(&self, pk: String, prefix: &str) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(if prefix.is_empty() {
                    "pk = :p"
                } else {
                    "pk = :p AND begins_with(sk, :prefix)"
                })
                .set_expression_attribute_values(Some(
                    [(":p".to_owned(), s(pk.clone()))]
                        .into_iter()
                        .chain((!prefix.is_empty()).then(|| (":prefix".to_owned(), s(prefix))))
                        .collect(),
                ))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB Query", e))?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn from_millis(ms: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .map_err(|e| StoreError::Internal(format!("timestamp {ms} out of range: {e}")))
}

pub(crate) fn str_attr<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    opt_str(item, name).ok_or_else(|| StoreError::Internal(format!("stored item lacks {name}")))
}

pub(crate) fn opt_str<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(crate) fn opt_num<T: FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

pub(crate) fn num<T: FromStr>(item: &Item, name: &str) -> StoreResult<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Internal(format!("stored item lacks a numeric {name}")))
}

pub(crate) fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(format!("serialising: {e}")))
}

pub(crate) fn from_json<'a, T: serde::Deserialize<'a>>(json: &'a str) -> StoreResult<T> {
    serde_json::from_str(json).map_err(|e| StoreError::Internal(format!("stored JSON: {e}")))
}
