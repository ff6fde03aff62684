//! The queues.

use super::*;

/// Stands in for `horizon_aws::SqsWorkQueue` and `horizon_aws::SqsDeliveryQueue`: records what
/// is sent, for a test to read. Nothing consumes the messages; delays and visibility changes
/// are recorded, not waited for; dead-lettering needs no dead-letter queue configured.
#[derive(Default)]
pub struct MemoryQueue {
    sent: Mutex<Sent>,
}

#[derive(Default)]
struct Sent {
    work: Vec<WorkMessage>,
    /// Work messages queued with a delay, and the delay.
    delayed: Vec<(WorkMessage, Duration)>,
    retried: Vec<(String, Duration)>,
    deliveries: Vec<(DeliveryMessage, Duration)>,
    dead_letters: Vec<DeliveryMessage>,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// The work messages enqueued, oldest first.
    pub fn work(&self) -> StoreResult<Vec<WorkMessage>> {
        Ok(self.sent()?.work.clone())
    }

    /// The work messages queued with a delay, with their delays.
    pub fn delayed(&self) -> StoreResult<Vec<(WorkMessage, Duration)>> {
        Ok(self.sent()?.delayed.clone())
    }

    /// The receipt handles made visible again, with their delays.
    pub fn retried(&self) -> StoreResult<Vec<(String, Duration)>> {
        Ok(self.sent()?.retried.clone())
    }

    /// The webhook deliveries queued, with their delays, oldest first.
    pub fn deliveries(&self) -> StoreResult<Vec<(DeliveryMessage, Duration)>> {
        Ok(self.sent()?.deliveries.clone())
    }

    /// The deliveries dead-lettered, oldest first.
    pub fn dead_letters(&self) -> StoreResult<Vec<DeliveryMessage>> {
        Ok(self.sent()?.dead_letters.clone())
    }

    fn sent(&self) -> StoreResult<MutexGuard<'_, Sent>> {
        lock(&self.sent, "queue")
    }
}

#[async_trait]
impl WorkQueue for MemoryQueue {
    /// Queued at once, whatever the delay (the delays of requeued messages are in `delayed`).
    async fn enqueue_after(&self, message: &WorkMessage, delay: Duration) -> StoreResult<()> {
        let mut sent = self.sent()?;
        sent.work.push(message.clone());
        if !delay.is_zero() {
            sent.delayed.push((message.clone(), delay));
        }
        Ok(())
    }

    async fn retry_later(&self, receipt_handle: &str, delay: Duration) -> StoreResult<()> {
        self.sent()?
            .retried
            .push((receipt_handle.to_owned(), delay));
        Ok(())
    }
}

#[async_trait]
impl DeliveryQueue for MemoryQueue {
    async fn send(&self, message: &DeliveryMessage, delay: Duration) -> StoreResult<()> {
        self.sent()?.deliveries.push((message.clone(), delay));
        Ok(())
    }

    async fn dead_letter(&self, message: &DeliveryMessage) -> StoreResult<()> {
        self.sent()?.dead_letters.push(message.clone());
        Ok(())
    }

    async fn retry_later(&self, receipt_handle: &str, delay: Duration) -> StoreResult<()> {
        WorkQueue::retry_later(self, receipt_handle, delay).await
    }
}

/// Stands in for `horizon_aws::dashboard::SqsQueues`: each queue's depth and redrive limit are
/// whatever a test set (a queue never set is empty and has no redrive policy); they do not
/// follow the messages a [`MemoryQueue`] records.
#[derive(Default)]
pub struct MemoryQueues {
    queues: Mutex<HashMap<String, (QueueDepth, Option<u32>)>>,
}

impl MemoryQueues {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_depth(&self, queue_url: &str, depth: QueueDepth) -> StoreResult<()> {
        lock(&self.queues, "queue attributes")?
            .entry(queue_url.to_owned())
            .or_default()
            .0 = depth;
        Ok(())
    }

    pub fn set_max_receive_count(&self, queue_url: &str, count: Option<u32>) -> StoreResult<()> {
        lock(&self.queues, "queue attributes")?
            .entry(queue_url.to_owned())
            .or_default()
            .1 = count;
        Ok(())
    }
}

#[async_trait]
impl QueueInfo for MemoryQueues {
    async fn depth(&self, queue_url: &str) -> StoreResult<QueueDepth> {
        Ok(lock(&self.queues, "queue attributes")?
            .get(queue_url)
            .map(|q| q.0)
            .unwrap_or_default())
    }

    async fn max_receive_count(&self, queue_url: &str) -> StoreResult<Option<u32>> {
        Ok(lock(&self.queues, "queue attributes")?
            .get(queue_url)
            .and_then(|q| q.1))
    }

    async fn purge(&self, queue_url: &str) -> StoreResult<()> {
        if let Some(q) = lock(&self.queues, "queue attributes")?.get_mut(queue_url) {
            q.0 = QueueDepth::default();
        }
        Ok(())
    }
}
