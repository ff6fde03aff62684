//! The reconciler's reads and repairs: the active jobs as the table holds them (the pending
//! list, `DASH#pending`, which holds every queued and processing job), the counts kept for
//! them (each account's `ACTIVE` item, found through `COUNTED#<shard>` in the active-job
//! index, and the pending gauge), and a repair conditional on the count not having changed.

use super::*;
use horizon_app::ports::{Census, CountOf, KeptCount};

impl DynamoStore {
    pub(super) async fn census_of_jobs(&self) -> StoreResult<Census> {
        let mut census = Census::default();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi3")
                .key_condition_expression("gsi3pk = :p")
                .expression_attribute_values(":p", s("DASH#pending"))
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
                if opt_str(item, "status") == Some(JobStatus::Queued.as_str()) {
                    census.queued += 1;
                }
                *census
                    .active
                    .entry(AccountId(account.to_owned()))
                    .or_default() += 1;
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(census);
            }
        }
    }

    pub(super) async fn kept(&self) -> StoreResult<Vec<KeptCount>> {
        let mut kept = Vec::new();
        for shard in 0..crate::dynamo::ACTIVE_SHARDS {
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
                    let of = CountOf::Active(AccountId(account.to_owned()));
                    let item = self.get_item(format!("ACCT#{account}"), "ACTIVE").await?;
                    kept.push(kept_count(of, item.as_ref(), "jobs"));
                }
                start = page.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        let gauge = self.get_item("TALLY".into(), "gauge").await?;
        kept.push(kept_count(CountOf::Pending, gauge.as_ref(), "pending"));
        Ok(kept)
    }

    pub(super) async fn repair_count(&self, seen: &KeptCount, to: i64) -> StoreResult<bool> {
        let (pk, sk, field) = match &seen.of {
            CountOf::Active(account) => (format!("ACCT#{account}"), "ACTIVE", "jobs"),
            CountOf::Pending => ("TALLY".to_owned(), "gauge", "pending"),
        };
        let account = match &seen.of {
            CountOf::Active(account) => Some(account),
            CountOf::Pending => None,
        };
        // The change's own expression, with the count set rather than added to.
        let (expression, names, mut values) = count_change(account, field, to, self.clock.now());
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
            .key("pk", s(pk))
            .key("sk", s(sk))
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

/// A kept count from its item (none yet: 0, never changed).
fn kept_count(of: CountOf, item: Option<&Item>, field: &str) -> KeptCount {
    KeptCount {
        of,
        value: item.and_then(|i| opt_num(i, field)).unwrap_or(0),
        changed_at: item
            .and_then(|i| opt_num::<i64>(i, CHANGED_AT))
            .and_then(|ms| crate::dynamo::from_millis(ms).ok()),
    }
}
