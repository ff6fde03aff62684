//! Everything a handler needs, built once at start-up (a Lambda's init, or the local runner's) and
//! shared by every request.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::aws::{self, DynamoStore, S3Blobs, SqsDeliveryQueue, SqsWorkQueue};
use crate::config::Config;
use crate::domain::{Upload, UploadId};
use crate::error::Result;
use crate::keys::KeyCache;
use crate::ports::{
    AccountStore, BlobStore, Clock, DashboardStore, DeliveryLog, DeliveryQueue, Fleet, JobStore,
    MetricsStore, QueueInfo, ResultStore, SystemClock, UploadStore, WorkQueue,
};

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub jobs: Arc<dyn JobStore>,
    pub uploads: Arc<dyn UploadStore>,
    pub accounts: Arc<dyn AccountStore>,
    pub results: Arc<dyn ResultStore>,
    pub metrics: Arc<dyn MetricsStore>,
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
}

impl Services {
    /// Configuration from the environment, AWS adapters behind every port.
    pub async fn from_env() -> Result<Services> {
        Ok(Services::aws(Config::from_env()?).await)
    }

    /// AWS adapters for `config`. No network call happens here: clients connect on first use.
    pub async fn aws(config: Config) -> Services {
        let sdk = aws::sdk_config_with(config.faults).await;
        Services::with_sdk(config, &sdk)
    }

    /// AWS adapters for `config` on the SDK configuration `sdk` (its endpoint, credentials and
    /// HTTP client).
    pub fn with_sdk(config: Config, sdk: &aws_config::SdkConfig) -> Services {
        let sdk = sdk.clone();
        let s3 = Arc::new(S3Blobs::new(aws::s3_client(&sdk, &config), &config.bucket));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(DynamoStore::new(
            aws::dynamodb_client(&sdk),
            &config.table,
            clock.clone(),
        ));
        let queue = Arc::new(SqsWorkQueue::new(
            aws::sqs_client(&sdk),
            &config.extract_queue_url,
        ));
        let config = Arc::new(config);
        let fleet = fleet(&config, &store, &sdk);
        Services {
            fleet,
            queues: Arc::new(aws::dashboard::SqsQueues::new(aws::sqs_client(&sdk))),
            dashboard: store.clone(),
            jobs: store.clone(),
            uploads: store.clone(),
            accounts: store.clone(),
            metrics: store.clone(),
            delivery_log: store,
            deliveries: Arc::new(SqsDeliveryQueue::new(
                aws::sqs_client(&sdk),
                &config.webhook_queue_url,
                config.webhook_dlq_url.clone(),
            )),
            results: s3.clone(),
            queue,
            blobs: s3,
            clock,
            upload_cache: Arc::new(UploadCache::new(10_000)),
            key_cache: Arc::new(KeyCache::new(config.key_cache_ttl)),
            config,
        }
    }
}

/// The worker fleet the dashboard shows: Lambda's event source mappings when the worker
/// functions are named (in AWS; feature `lambda-fleet`, the dashboard's), else the local runner's
/// pollers, seen through their heartbeats.
fn fleet(
    config: &Arc<Config>,
    store: &Arc<DynamoStore>,
    sdk: &aws_config::SdkConfig,
) -> Arc<dyn Fleet> {
    #[cfg(feature = "lambda-fleet")]
    if config.extract_function.is_some() || config.webhook_function.is_some() {
        return Arc::new(aws::lambda::LambdaFleet {
            config: config.clone(),
            store: store.clone(),
            lambda: aws::lambda::lambda_client(sdk),
        });
    }
    let _ = sdk;
    Arc::new(aws::dashboard::LocalFleet {
        config: config.clone(),
        store: store.clone(),
    })
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
