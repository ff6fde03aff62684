//! Accounts in the table: API keys (by hash, revocable) and account webhooks.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::clients::unavailable;
use crate::dynamo::{
    from_json, from_millis, millis, n, num, s, str_attr, to_json, DynamoStore, Item,
};
use horizon_app::ports::{AccountStore, StoreResult, StoredBucket};
use horizon_domain::keys::ApiKey;
use horizon_domain::{AccountId, KeyId, Subscription, WebhookId};

#[async_trait]
impl AccountStore for DynamoStore {
    async fn put_key(&self, key: &ApiKey) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s(format!("APIKEY#{}", key.hash))),
            ("sk".to_owned(), s("APIKEY")),
            ("gsi1pk".to_owned(), s(format!("KEYID#{}", key.id))),
            ("gsi1sk".to_owned(), s("KEY")),
            ("keyId".to_owned(), s(key.id.to_string())),
            ("hash".to_owned(), s(key.hash.clone())),
            ("accountId".to_owned(), s(key.account.to_string())),
            ("createdAt".to_owned(), n(millis(key.created_at))),
            ("revoked".to_owned(), AttributeValue::Bool(key.revoked)),
        ]);
        self.put_item(item, None, vec![]).await.map(|_| ())
    }

    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>> {
        let Some(item) = self.get_item(format!("APIKEY#{hash}"), "APIKEY").await? else {
            return Ok(None);
        };
        Ok(Some(ApiKey {
            id: KeyId::from_str(str_attr(&item, "keyId")?)?,
            account: AccountId(str_attr(&item, "accountId")?.to_owned()),
            hash: str_attr(&item, "hash")?.to_owned(),
            created_at: from_millis(num(&item, "createdAt")?)?,
            revoked: item
                .get("revoked")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
        }))
    }

    async fn revoke_key(&self, key_id: &KeyId, owner: Option<&AccountId>) -> StoreResult<bool> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", s(format!("KEYID#{key_id}")))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB Query", e))?;
        let Some(item) = out.items.unwrap_or_default().into_iter().next() else {
            return Ok(false);
        };
        if owner.is_some_and(|owner| str_attr(&item, "accountId").ok() != Some(owner.0.as_str())) {
            return Ok(false);
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(str_attr(&item, "pk")?))
            .key("sk", s("APIKEY"))
            .update_expression("SET revoked = :t")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB UpdateItem", e))?;
        Ok(true)
    }

    async fn put_webhook(&self, account: &AccountId, sub: &Subscription) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s(format!("ACCT#{account}"))),
            ("sk".to_owned(), s(format!("WEBHOOK#{}", sub.id))),
            ("subscription".to_owned(), s(to_json(sub)?)),
        ]);
        self.put_item(item, Some("attribute_not_exists(pk)"), vec![])
            .await
            .map(|_| ())
    }

    async fn update_webhook(&self, account: &AccountId, sub: &Subscription) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s(format!("ACCT#{account}"))),
            ("sk".to_owned(), s(format!("WEBHOOK#{}", sub.id))),
            ("subscription".to_owned(), s(to_json(sub)?)),
        ]);
        self.put_item(item, Some("attribute_exists(pk)"), vec![])
            .await
            .map(|_| ())
    }

    async fn webhooks(&self, account: &AccountId) -> StoreResult<Vec<Subscription>> {
        self.items_under(format!("ACCT#{account}"), "WEBHOOK#")
            .await?
            .iter()
            .map(|item| from_json(str_attr(item, "subscription")?))
            .collect()
    }

    async fn webhook(
        &self,
        account: &AccountId,
        id: &WebhookId,
    ) -> StoreResult<Option<Subscription>> {
        self.get_item(format!("ACCT#{account}"), &format!("WEBHOOK#{id}"))
            .await?
            .map(|item| from_json(str_attr(&item, "subscription")?))
            .transpose()
    }

    async fn delete_webhook(&self, account: &AccountId, id: &WebhookId) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("ACCT#{account}")))
            .key("sk", s(format!("WEBHOOK#{id}")))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB DeleteItem", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn rate_bucket(&self, account: &AccountId) -> StoreResult<Option<StoredBucket>> {
        let Some(item) = self.get_item(rate_key(account), "RATE").await? else {
            return Ok(None);
        };
        Ok(Some(StoredBucket {
            tokens: num(&item, "tokens")?,
            at: from_millis(num(&item, "at")?)?,
            version: num(&item, "version")?,
        }))
    }

    async fn put_rate_bucket(
        &self,
        account: &AccountId,
        bucket: &StoredBucket,
        seen: Option<u64>,
    ) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s(rate_key(account))),
            ("sk".to_owned(), s("RATE")),
            ("tokens".to_owned(), n(bucket.tokens)),
            ("at".to_owned(), n(millis(bucket.at))),
            ("version".to_owned(), n(bucket.version)),
            // An idle account's bucket is full again long before: it goes.
            (
                "expiresAt".to_owned(),
                n(bucket.at.unix_timestamp() + 24 * 3600),
            ),
        ]);
        // None seen: not there, or expired and not swept yet (reads do not see it).
        let (condition, values) = match seen {
            Some(v) => ("version = :v", vec![(":v", n(v))]),
            None => (
                "attribute_not_exists(pk) OR expiresAt <= :now",
                vec![(":now", n(self.clock.now().unix_timestamp()))],
            ),
        };
        self.put_item(item, Some(condition), values)
            .await
            .map(|_| ())
    }

    async fn strike(&self, scope: &str, client: &str, minute: i64) -> StoreResult<u32> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("STRIKES#{scope}#{client}")))
            .key("sk", s(minute.to_string()))
            .update_expression("ADD failures :one SET expiresAt = :expires")
            .expression_attribute_values(":one", n(1))
            // Kept for the minute after (a clock a little behind still finds it), then swept.
            .expression_attribute_values(":expires", n((minute + 2) * 60))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB UpdateItem", e))?;
        Ok(out
            .attributes()
            .and_then(|a| num::<u32>(a, "failures").ok())
            .unwrap_or(1))
    }
}

/// An account's shared request bucket: a partition of its own, apart from the account's
/// counts (each is written often).
fn rate_key(account: &AccountId) -> String {
    format!("RATE#{account}")
}
