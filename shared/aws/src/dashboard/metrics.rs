//! The counts of each job write, applied once (`MetricsStore`), and the metrics' counters and
//! snapshots (`MetricHistory`).

use super::*;

#[async_trait]
impl MetricsStore for DynamoStore {
    async fn applied(&self, job: &JobId, version: u64) -> StoreResult<bool> {
        Ok(self
            .get_item(format!("JOB#{job}"), &applied_key(version))
            .await?
            .is_some())
    }

    async fn active_jobs(&self, account: &AccountId) -> StoreResult<i64> {
        self.account_count(account, "jobs").await
    }

    async fn processing_jobs(&self, account: &AccountId) -> StoreResult<i64> {
        self.account_count(account, "processing").await
    }

    async fn census(&self) -> StoreResult<horizon_app::ports::Census> {
        self.census_of_jobs().await
    }

    async fn kept_counts(&self) -> StoreResult<Vec<horizon_app::ports::KeptCount>> {
        self.kept().await
    }

    async fn repair(&self, seen: &horizon_app::ports::KeptCount, to: i64) -> StoreResult<bool> {
        self.repair_count(seen, to).await
    }

    /// Per transaction, up to [`MARKS_PER_TRANSACTION`] writes: their marks (each on the
    /// condition that it is new), then what they add together to the time buckets, the pending
    /// gauge and the counters, one update per item. A mark found to exist is a write applied
    /// already: it is left out and the transaction tried again without it.
    async fn apply(&self, writes: &[Counts]) -> StoreResult<usize> {
        let mut applied = 0;
        let mut unique: Vec<&Counts> = Vec::new();
        for w in writes {
            if !unique
                .iter()
                .any(|u| u.job == w.job && u.version == w.version)
            {
                unique.push(w);
            }
        }
        for chunk in unique.chunks(MARKS_PER_TRANSACTION) {
            let mut pending: Vec<&Counts> = chunk.to_vec();
            while !pending.is_empty() {
                match self.transact(self.count_items(&pending)?).await? {
                    None => {
                        applied += pending.len();
                        break;
                    }
                    Some(i) if i < pending.len() => {
                        pending.remove(i);
                    }
                    Some(_) => {
                        return Err(StoreError::Internal(
                            "a counter's update was refused".into(),
                        ))
                    }
                }
            }
        }
        Ok(applied)
    }
}

/// Writes whose counts go in one transaction (DynamoDB takes 100 items: the marks, and the
/// buckets, counters and accounts they add to).
const MARKS_PER_TRANSACTION: usize = 30;

impl DynamoStore {
    /// The items of one transaction of [`MetricsStore::apply`]: the marks first, in order.
    fn count_items(&self, writes: &[&Counts]) -> StoreResult<Vec<TransactWriteItem>> {
        let mut items = Vec::new();
        // Per bucket item, the fields it adds to (one update per item: a transaction may not
        // touch an item twice).
        let mut tallies: HashMap<(Width, i64), BTreeMap<&str, i64>> = HashMap::new();
        let mut gauge = 0;
        let mut counters: BTreeMap<MetricId, [u64; 4]> = BTreeMap::new();
        // Per account: the change in its active jobs, and in its jobs processing.
        let mut accounts: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for counts in writes {
            if let Some((account, by)) = &counts.active {
                accounts.entry(account.0.as_str()).or_default().0 += by;
            }
            if let Some((account, by)) = &counts.processing {
                accounts.entry(account.0.as_str()).or_default().1 += by;
            }
            let mark = Put::builder()
                .table_name(&self.table)
                .item("pk", s(format!("JOB#{}", counts.job)))
                .item("sk", s(applied_key(counts.version)))
                .item("expiresAt", n(counts.keep_until.unix_timestamp()))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| StoreError::Internal(format!("the applied mark: {e}")))?;
            items.push(TransactWriteItem::builder().put(mark).build());
            if let Some((name, at, by)) = counts.tally {
                for width in [Width::Minute, Width::Hour] {
                    *tallies
                        .entry((width, width.bucket(at)))
                        .or_default()
                        .entry(name)
                        .or_default() += 1;
                }
                gauge += by;
            }
            if let Some((job_type, queue, m)) = &counts.measure {
                for (kind, name) in [(MetricKind::Job, job_type), (MetricKind::Queue, queue)] {
                    let metric = MetricId {
                        kind,
                        name: name.clone(),
                    };
                    let sums = counters.entry(metric).or_default();
                    sums[0] += 1;
                    sums[1] += u64::from(m.failed);
                    sums[2] += m.runtime_ms;
                    sums[3] += m.wait_ms;
                }
            }
        }
        // The shared counts of this transaction go to one shard, the first write's.
        let shard = writes
            .first()
            .map_or(0, |w| self.shard(&format!("{}#{}", w.job, w.version)));
        for ((width, bucket), fields) in tallies {
            items.push(self.bucket_add(shard, width, bucket, fields)?);
        }
        let now = self.clock.now();
        if gauge != 0 {
            let (expression, names, values) = self.count_change(None, "pending", gauge, now);
            items.push(self.add(&gauge_pk(shard), "gauge".into(), &expression, names, values)?);
        }
        for (account, (by, processing)) in accounts.into_iter().filter(|(_, by)| *by != (0, 0)) {
            let account = AccountId(account.to_owned());
            let (mut expression, mut names, mut values) =
                self.count_change(Some(&account), "jobs", by, now);
            // The jobs processing, on the same item, with when they changed.
            expression = expression.replacen("ADD #f :by", "ADD #f :by, #p :processing", 1);
            names.insert("#p".into(), "processing".into());
            values.insert(":processing".into(), n(processing));
            if processing != 0 {
                expression = expression.replacen(" SET ", " SET #pc = :changed, ", 1);
                names.insert("#pc".into(), changed_at("processing").into());
            }
            items.push(self.add(
                &format!("ACCT#{account}"),
                "ACTIVE".into(),
                &expression,
                names,
                values,
            )?);
        }
        for (metric, [processed, failed, runtime, wait]) in counters {
            items.push(self.add(
                &counters_pk(shard),
                counter_key(&metric),
                "ADD #processed :processed, #failed :failed, #runtime :runtime, #wait :wait \
                 SET #since = if_not_exists(#since, :now), #kind = :kind, #name = :name",
                counter_names(),
                vec![
                    (":processed", n(processed)),
                    (":failed", n(failed)),
                    (":runtime", n(runtime)),
                    (":wait", n(wait)),
                    (":now", n(millis(self.clock.now()))),
                    (":kind", s(metric.kind.as_str())),
                    (":name", s(metric.name.clone())),
                ],
            )?);
        }
        Ok(items)
    }
}

#[async_trait]
impl MetricHistory for DynamoStore {
    async fn counters(&self) -> StoreResult<Vec<Counter>> {
        let reads = (0..self.shards).map(|shard| self.items_under(counters_pk(shard), "counter#"));
        let mut sums: BTreeMap<MetricId, Counter> = BTreeMap::new();
        for item in futures_util::future::try_join_all(reads)
            .await?
            .iter()
            .flatten()
        {
            if let Some(c) = Self::counter_from(item) {
                sums.entry(c.metric.clone())
                    .and_modify(|sum| sum.add(&c))
                    .or_insert(c);
            }
        }
        Ok(sums.into_values().collect())
    }

    async fn snapshots(&self, metric: &MetricId) -> StoreResult<Vec<Snapshot>> {
        match self.get_item("METRICS".into(), &snaps_key(metric)).await? {
            Some(item) => from_json(opt_str(&item, "snapshots").unwrap_or("[]")),
            None => Ok(Vec::new()),
        }
    }

    async fn metric_names(&self, kind: MetricKind) -> StoreResult<Vec<String>> {
        let mut names: Vec<String> = self
            .counters()
            .await?
            .into_iter()
            .filter(|c| c.metric.kind == kind)
            .map(|c| c.metric.name)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn take_snapshot(
        &self,
        slot: i64,
        now: OffsetDateTime,
        keep: usize,
    ) -> StoreResult<bool> {
        let lock: Item = HashMap::from([
            ("pk".to_owned(), s("METRICS")),
            ("sk".to_owned(), s(format!("lock#{slot}"))),
            ("takenAt".to_owned(), n(millis(now))),
            (
                "expiresAt".to_owned(),
                n(now.unix_timestamp() + 2 * 24 * 3600),
            ),
        ]);
        match self
            .put_item(lock, Some("attribute_not_exists(pk)"), vec![])
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
        for metric in self.counters().await?.into_iter().map(|c| c.metric) {
            // The counts as read are taken off their shards and kept as a snapshot, in one
            // transaction: a crash loses no count, and a job counted meanwhile stays for the
            // next interval. Its token makes a repeat of the same transaction a no-op.
            let keys = (0..self.shards)
                .map(|shard| {
                    HashMap::from([
                        ("pk".to_owned(), s(counters_pk(shard))),
                        ("sk".to_owned(), s(counter_key(&metric))),
                    ])
                })
                .collect();
            // The shards as read, those with something counted: the snapshot is their sum,
            // and exactly what is taken off them.
            let parts: Vec<(String, Counter)> = self
                .batch_get(keys)
                .await?
                .iter()
                .filter_map(|item| {
                    Some((opt_str(item, "pk")?.to_owned(), Self::counter_from(item)?))
                })
                .filter(|(_, c)| c.processed + c.failed + c.runtime_ms + c.wait_ms > 0)
                .collect();
            let Some(mut sum) = parts.first().map(|(_, c)| c.clone()) else {
                continue;
            };
            for (_, part) in &parts[1..] {
                sum.add(part);
            }
            let kept = self.snapshots(&metric).await?;
            let kept = monitoring::rotate(kept, sum.snapshot(now), keep);
            let mut writes = Vec::new();
            for (pk, part) in &parts {
                let names: HashMap<String, String> = counter_names()
                    .into_iter()
                    .filter(|(k, _)| k != "#kind" && k != "#name")
                    .collect();
                writes.push(self.add(
                    pk,
                    counter_key(&metric),
                    "ADD #processed :p, #failed :f, #runtime :r, #wait :w SET #since = :now",
                    names,
                    vec![
                        (":p", n(-(part.processed as i64))),
                        (":f", n(-(part.failed as i64))),
                        (":r", n(-(part.runtime_ms as i64))),
                        (":w", n(-(part.wait_ms as i64))),
                        (":now", n(millis(now))),
                    ],
                )?);
            }
            let snaps = Put::builder()
                .table_name(&self.table)
                .item("pk", s("METRICS"))
                .item("sk", s(snaps_key(&metric)))
                .item("snapshots", s(to_json(&kept)?))
                .build()
                .map_err(|e| StoreError::Internal(format!("the snapshots: {e}")))?;
            writes.push(TransactWriteItem::builder().put(snaps).build());
            let token = snapshot_token(&self.table, slot, &metric);
            self.transact_once(writes, Some(token)).await?;
        }
        let state: Item = HashMap::from([
            ("pk".to_owned(), s("METRICS")),
            ("sk".to_owned(), s("state")),
            ("lastSnapshotAt".to_owned(), n(millis(now))),
        ]);
        self.put_item(state, None, vec![]).await?;
        Ok(true)
    }

    async fn last_snapshot_at(&self) -> StoreResult<Option<i64>> {
        Ok(self
            .get_item("METRICS".into(), "state")
            .await?
            .and_then(|i| opt_num(&i, "lastSnapshotAt")))
    }
}

impl DynamoStore {
    /// One of the account's counts (`jobs`, `processing`) on its `ACTIVE` item.
    async fn account_count(&self, account: &AccountId, field: &str) -> StoreResult<i64> {
        Ok(self
            .get_item(format!("ACCT#{account}"), "ACTIVE")
            .await?
            .and_then(|item| opt_num(&item, field))
            .unwrap_or(0)
            .max(0))
    }
}

/// The idempotency token of one metric's snapshot in one slot (at most 36 characters): the
/// slot and an FNV-1a hash of the table and the metric (tokens are per AWS account, and every
/// stage's table has the same metrics).
fn snapshot_token(table: &str, slot: i64, metric: &MetricId) -> String {
    let hash = format!("{table}#{}#{}", metric.kind.as_str(), metric.name)
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("snap-{slot}-{hash:016x}")
}
