//! Everything a handler needs, built once at start-up (a Lambda's init, or the local runner's) and
//! shared by every request: an adapter behind every port. `horizon_aws::services` puts the AWS
//! adapters there, [`crate::memory`] the in-memory ones.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::limits::{RateLimits, Strikes};
use horizon_domain::{Upload, UploadId};

use crate::ports::{
    AccountStore, BlobStore, Clock, DashboardStore, DeliveryLog, DeliveryQueue, Fleet, JobStore,
    MetricsStore, ParkedRecords, QueueInfo, ResultStore, UploadStore, WaitingList, WorkQueue,
};
use horizon_domain::keys::KeyCache;

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub jobs: Arc<dyn JobStore>,
    pub uploads: Arc<dyn UploadStore>,
    pub accounts: Arc<dyn AccountStore>,
    pub results: Arc<dyn ResultStore>,
    pub metrics: Arc<dyn MetricsStore>,
    /// The outbox's records that could not be applied.
    pub parked: Arc<dyn ParkedRecords>,
    /// Jobs waiting out of the queue for their account's cap (see `fair`).
    pub waiting: Arc<dyn WaitingList>,
    pub dashboard: Arc<dyn DashboardStore>,
    pub queues: Arc<dyn QueueInfo>,
    pub fleet: Arc<dyn Fleet>,
    pub deliveries: Arc<dyn DeliveryQueue>,
    pub delivery_log: Arc<dyn DeliveryLog>,
    pub queue: Arc<dyn WorkQueue>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
    /// Records of ready uploads, which never change (see [`UploadCache`]).
    pub upload_cache: Arc<UploadCache>,
    /// API keys found valid recently (see [`KeyCache`]).
    pub key_cache: Arc<KeyCache>,
    /// Each account's requests, limited across instances (see [`RateLimits`]).
    pub rate_limits: Arc<RateLimits>,
    /// Each client's requests with a key that is not valid, in this instance (see [`Strikes`]):
    /// a client trying random keys soon waits, instead of costing a read each.
    pub bad_keys: Arc<Strikes>,
}

/// Ready uploads never change under their id, so their records can be kept in memory: a bounded
/// cache that saves a DynamoDB read on repeated use (a warm Lambda instance keeps it between
/// requests). Entries are checked for their owner and expiry on every hit.
pub struct UploadCache {
    capacity: usize,
    inner: Mutex<(HashMap<UploadId, Upload>, VecDeque<UploadId>)>,
}

impl UploadCache {
    pub fn new(capacity: usize) -> Self {
        UploadCache {
            capacity,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub(crate) fn get(&self, id: &UploadId) -> Option<Upload> {
        let inner = self.inner.lock().ok()?;
        inner.0.get(id).cloned()
    }

    pub(crate) fn remove(&self, id: &UploadId) {
        if let Ok(mut inner) = self.inner.lock() {
            let (map, order) = &mut *inner;
            map.remove(id);
            order.retain(|o| o != id);
        }
    }

    pub(crate) fn put(&self, upload: &Upload) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let (map, order) = &mut *inner;
        if map.insert(upload.id.clone(), upload.clone()).is_none() {
            order.push_back(upload.id.clone());
        }
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }
}
