//! The reconciler's reads and repairs: the active jobs as the table holds them (the pending
//! list's shards, `DASH#pending#<shard>`, which hold every queued and processing job), the
//! counts kept for them (each account's `ACTIVE` item, with its `jobs` and `processing`, found
//! through `COUNTED#<shard>` in the active-job index, and the pending gauge's shards), and a
//! repair conditional on the count not having changed. The two counts of an account's item
//! share its `changedAt`: a change to either puts off the repair of both.

use super::*;
use horizon_app::ports::{Census, CountOf, KeptCount};

impl DynamoStore {
    pub(super) async fn census_of_jobs(&self) -> StoreResult<Census> {
        let mut census = Census::default();
        for shard in 0..self.shards {
            let mut start = None;
            loop {
                let page = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name("gsi3")
                    .key_condition_expression("gsi3pk = :p")
                    .expression_attribute_values(":p", s(list_pk("DASH#pending", shard)))
                    .projection_expression("accountId, #st")
                    .expression_attribute_names("#st", "status")
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| unavailable("DynamoDB Query", e))?;
                for item in page.items() {
                    let Some(account) = opt_str(item, "accountId") else {
                        continue;
                    };
                    let account = AccountId(account.to_owned());
                    match opt_str(item, "status") {
                        Some(s) if s == JobStatus::Queued.as_str() => census.queued += 1,
                        Some(s) if s == JobStatus::Processing.as_str() => {
                            *census.processing.entry(account.clone()).or_default() += 1
                        }
                        _ => {}
                    }
                    *census.active.entry(account).or_default() += 1;
                }
                start = page.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(census)
    }

    pub(super) async fn kept(&self) -> StoreResult<Vec<KeptCount>> {
        let mut kept = Vec::new();
        for shard in 0..self.shards {
            let mut start = None;
            loop {
                let page = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name("gsi2")
                    .key_condition_expression("gsi2pk = :p")
                    .expression_attribute_values(":p", s(format!("COUNTED#{shard}")))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| unavailable("DynamoDB Query", e))?;
                for key in page.items() {
                    let Some(account) = opt_str(key, "pk").and_then(|pk| pk.strip_prefix("ACCT#"))
                    else {
                        continue;
                    };
                    let id = AccountId(account.to_owned());
                    let item = self.get_item(format!("ACCT#{account}"), "ACTIVE").await?;
                    kept.push(kept_count(
                        CountOf::Active(id.clone()),
                        item.as_ref(),
                        "jobs",
                    ));
                    kept.push(kept_count(
                        CountOf::Processing(id),
                        item.as_ref(),
                        "processing",
                    ));
                }
                start = page.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        // The gauge: its shards' sum, changed when the last of them changed.
        let gauges = self.gauges().await?;
        kept.push(KeptCount {
            of: CountOf::Pending,
            value: gauges
                .iter()
                .filter_map(|g| opt_num::<i64>(g, "pending"))
                .sum(),
            changed_at: gauges
                .iter()
                .map(|g| kept_count(CountOf::Pending, Some(g), "pending").changed_at)
                .max()
                .flatten(),
        });
        Ok(kept)
    }

    pub(super) async fn repair_count(&self, seen: &KeptCount, to: i64) -> StoreResult<bool> {
        let (account, field) = match &seen.of {
            CountOf::Active(account) => (account, "jobs"),
            CountOf::Processing(account) => (account, "processing"),
            CountOf::Pending => return self.repair_gauge(seen, to).await,
        };
        // The change's own expression, with the count set rather than added to.
        let (expression, names, mut values) =
            self.count_change(Some(account), field, to, self.clock.now());
        let expression = expression.replacen("ADD #f :by SET", "SET #f = :by,", 1);
        let condition = match seen.changed_at {
            Some(at) => {
                values.insert(":seen".into(), n(millis(at)));
                "#c = :seen"
            }
            None => "attribute_not_exists(#c)",
        };
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("ACCT#{account}")))
            .key("sk", s("ACTIVE"))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable("DynamoDB UpdateItem", e)),
        }
    }
}

impl DynamoStore {
    /// Sets the gauge's sum to `to`: shard 0 takes the difference from the others, in one
    /// transaction on the condition that no shard changed since `seen` was read.
    async fn repair_gauge(&self, seen: &KeptCount, to: i64) -> StoreResult<bool> {
        let others: i64 = self
            .gauges()
            .await?
            .iter()
            .filter(|g| opt_str(g, "pk") != Some(gauge_pk(0).as_str()))
            .filter_map(|g| opt_num::<i64>(g, "pending"))
            .sum();
        let (expression, names, mut values) =
            self.count_change(None, "pending", to - others, self.clock.now());
        let expression = expression.replacen("ADD #f :by SET", "SET #f = :by,", 1);
        let condition = match seen.changed_at {
            Some(at) => {
                values.insert(":seen".into(), n(millis(at)));
                "attribute_not_exists(#c) OR #c <= :seen"
            }
            None => "attribute_not_exists(#c)",
        };
        let unchanged = |shard: u32| {
            let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
                .table_name(&self.table)
                .key("pk", s(gauge_pk(shard)))
                .key("sk", s("gauge"))
                .condition_expression(condition)
                .expression_attribute_names("#c", CHANGED_AT)
                .set_expression_attribute_values(
                    values
                        .get(":seen")
                        .map(|v| HashMap::from([(":seen".to_owned(), v.clone())])),
                )
                .build()
                .map_err(|e| StoreError::Internal(format!("a gauge check: {e}")))?;
            Ok::<_, StoreError>(TransactWriteItem::builder().condition_check(check).build())
        };
        let mut writes = (1..self.shards)
            .map(unchanged)
            .collect::<StoreResult<Vec<_>>>()?;
        writes.push(self.add_on_condition(
            &gauge_pk(0),
            "gauge",
            &expression,
            Some(condition),
            names,
            values,
        )?);
        Ok(self.transact(writes).await?.is_none())
    }
}

/// A kept count from its item (none yet: 0, never changed).
fn kept_count(of: CountOf, item: Option<&Item>, field: &str) -> KeptCount {
    KeptCount {
        of,
        value: item.and_then(|i| opt_num(i, field)).unwrap_or(0),
        changed_at: item
            .and_then(|i| opt_num::<i64>(i, changed_at(field)))
            .and_then(|ms| crate::dynamo::from_millis(ms).ok()),
    }
}
