//! Worker heartbeats and paused queues.

use super::*;

#[async_trait]
impl Workers for DynamoStore {
    async fn beat(&self, hb: &Heartbeat) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s("HEARTBEAT")),
            (
                "sk".to_owned(),
                s(format!(
                    "{}#{}#{}#{}",
                    hb.master, hb.supervisor, hb.queue, hb.instance
                )),
            ),
            ("master".to_owned(), s(hb.master.clone())),
            ("supervisor".to_owned(), s(hb.supervisor.clone())),
            ("queue".to_owned(), s(hb.queue.clone())),
            ("instance".to_owned(), s(hb.instance.clone())),
            ("pid".to_owned(), n(hb.pid)),
            ("seenAt".to_owned(), n(hb.seen_at_ms)),
            ("expiresAt".to_owned(), n(hb.seen_at_ms / 1000 + 300)),
        ]);
        self.put_item(item, None, vec![]).await.map(|_| ())
    }

    async fn heartbeats(&self, since_ms: i64) -> StoreResult<Vec<Heartbeat>> {
        let items = self
            .query_all(
                "HEARTBEAT",
                None,
                Some(("seenAt >= :since", vec![(":since", n(since_ms))])),
            )
            .await?;
        Ok(items
            .iter()
            .filter_map(|i| {
                Some(Heartbeat {
                    master: opt_str(i, "master")?.to_owned(),
                    supervisor: opt_str(i, "supervisor")?.to_owned(),
                    queue: opt_str(i, "queue")?.to_owned(),
                    instance: opt_str(i, "instance")?.to_owned(),
                    pid: opt_num(i, "pid").unwrap_or(0),
                    seen_at_ms: opt_num(i, "seenAt")?,
                })
            })
            .collect())
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s("QUEUE")),
            ("sk".to_owned(), s(queue)),
            ("paused".to_owned(), AttributeValue::Bool(paused)),
        ]);
        self.put_item(item, None, vec![]).await.map(|_| ())
    }

    async fn paused(&self) -> StoreResult<Vec<String>> {
        let items = self.query_all("QUEUE", None, None).await?;
        Ok(items
            .iter()
            .filter(|i| i.get("paused").and_then(|v| v.as_bool().ok()) == Some(&true))
            .filter_map(|i| opt_str(i, "sk").map(str::to_owned))
            .collect())
    }
}
