//! Everything a handler needs, built once at start-up (a Lambda's init, or the local runner's) and
//! shared by every request.

use std::sync::Arc;

use crate::aws::{self, DynamoStore, S3Blobs, SqsDeliveryQueue, SqsWorkQueue};
use crate::config::Config;
use crate::error::Result;
use crate::ports::{
    AccountStore, BlobStore, Clock, DashboardStore, DeliveryLog, DeliveryQueue, Fleet, JobStore,
    MetricsStore, QueueInfo, ResultStore, SystemClock, UploadStore, WorkQueue,
};
use crate::uploads::UploadCache;

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
    /// Records of ready uploads, which never change (see [`crate::uploads::UploadCache`]).
    pub upload_cache: Arc<UploadCache>,
    /// API keys found valid recently (see [`crate::auth::KeyCache`]).
    pub key_cache: Arc<crate::auth::KeyCache>,
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
        let store = Arc::new(DynamoStore::new(aws::dynamodb_client(&sdk), &config.table));
        let queue = Arc::new(SqsWorkQueue::new(
            aws::sqs_client(&sdk),
            &config.extract_queue_url,
        ));
        let config = Arc::new(config);
        let fleet: Arc<dyn Fleet> =
            if config.extract_function.is_some() || config.webhook_function.is_some() {
                Arc::new(aws::dashboard::LambdaFleet {
                    config: config.clone(),
                    store: store.clone(),
                    lambda: aws::dashboard::lambda_client(&sdk),
                })
            } else {
                Arc::new(aws::dashboard::LocalFleet {
                    config: config.clone(),
                    store: store.clone(),
                })
            };
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
            clock: Arc::new(SystemClock),
            upload_cache: Arc::new(UploadCache::new(10_000)),
            key_cache: Arc::new(crate::auth::KeyCache::new(config.key_cache_ttl)),
            config,
        }
    }
}
