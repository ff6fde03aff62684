//! Monitored tags and their jobs.

use super::*;

#[async_trait]
impl TagIndex for DynamoStore {
    async fn monitored(&self) -> StoreResult<Vec<(String, i64)>> {
        let items = self.query_all("MONITOR", None, None).await?;
        Ok(items
            .iter()
            .filter_map(|i| Some((opt_str(i, "sk")?.to_owned(), opt_num(i, "since")?)))
            .collect())
    }

    async fn monitor(&self, tag: &str, now: OffsetDateTime) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s("MONITOR")),
            ("sk".to_owned(), s(tag)),
            ("since".to_owned(), n(millis(now))),
        ]);
        match self
            .put_item(item, Some("attribute_not_exists(pk)"), vec![])
            .await
        {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()), // already monitored: unchanged
            Err(e) => Err(e),
        }
    }

    async fn unmonitor(&self, tag: &str) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s("MONITOR"))
            .key("sk", s(tag))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB DeleteItem", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn tag_job(&self, tag: &str, job: &JobId, expires_at: OffsetDateTime) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s(format!("TAGGED#{tag}"))),
            ("sk".to_owned(), s(job.to_string())),
            ("expiresAt".to_owned(), n(expires_at.unix_timestamp())),
        ]);
        self.put_item(item, None, vec![]).await.map(|_| ())
    }

    async fn tagged(
        &self,
        tag: &str,
        since_ms: i64,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<JobId>, bool)> {
        let pk = format!("TAGGED#{tag}");
        let start = match after {
            Some(cursor) => {
                let id = JobId::from_str(cursor).map_err(|_| {
                    StoreError::invalid("starting_at", "is not a job id from this list")
                })?;
                Some(HashMap::from([
                    ("pk".to_owned(), s(pk.clone())),
                    ("sk".to_owned(), s(id.to_string())),
                ]))
            }
            None => None,
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND sk >= :from")
            .expression_attribute_values(":p", s(pk))
            .expression_attribute_values(":from", s(first_id_at(since_ms)))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB Query", e))?;
        let ids = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|i| opt_str(i, "sk").and_then(|id| JobId::from_str(id).ok()))
            .collect();
        Ok((ids, out.last_evaluated_key.is_some()))
    }

    async fn tagged_count(&self, tag: &str, since_ms: i64) -> StoreResult<u64> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND sk >= :from")
            .expression_attribute_values(":p", s(format!("TAGGED#{tag}")))
            .expression_attribute_values(":from", s(first_id_at(since_ms)));
        self.count_all(query).await
    }
}
