//! A function's wiring: the AWS adapters behind every port of [`Services`], built once at
//! start-up (a Lambda's init, or the local runner's).

use std::sync::Arc;

use horizon_app::config::Config;
use horizon_app::limits::RateLimits;
use horizon_app::ports::{Clock, Fleet, StoreError, StoreResult, SystemClock};
use horizon_app::services::{Services, UploadCache};
use horizon_domain::keys::KeyCache;
use horizon_domain::Result;

use crate::{DynamoStore, S3Blobs, SqsDeliveryQueue, SqsWorkQueue};

/// Configuration from the environment (and the admin key from SSM, when it is kept there), AWS
/// adapters behind every port.
pub async fn from_env() -> Result<Services> {
    let config = Config::from_env()?;
    let sdk = crate::sdk_config_with(config.faults).await;
    let config = with_secrets(config, &sdk).await?;
    Ok(with_sdk(config, &sdk))
}

/// `config` with the admin key read from SSM Parameter Store when `admin_key_parameter` names
/// it (a `SecureString`, decrypted); the function fails to start if it cannot be read.
pub async fn with_secrets(config: Config, sdk: &aws_config::SdkConfig) -> Result<Config> {
    let Some(name) = config.dashboard.admin_key_parameter.clone() else {
        return Ok(config);
    };
    #[cfg(feature = "ssm")]
    {
        let mut config = config;
        let ssm = crate::ssm_client(sdk);
        let out = ssm
            .get_parameter()
            .name(&name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                horizon_domain::Error::Internal(format!(
                    "configuration: the admin key's parameter {name} cannot be read: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ))
            })?;
        let value = out.parameter.and_then(|p| p.value).unwrap_or_default();
        config.dashboard.admin_key = Some(horizon_app::config::Secret(value));
        config.check_admin_key()?;
        Ok(config)
    }
    #[cfg(not(feature = "ssm"))]
    {
        let _ = sdk;
        Err(horizon_domain::Error::Internal(format!(
            "configuration: HORIZON_ADMIN_KEY_PARAMETER ({name}) is set, but this function \
             cannot read SSM (built without the `ssm` feature)"
        )))
    }
}

/// AWS adapters for `config`. No network call happens here: clients connect on first use.
pub async fn from_config(config: Config) -> Services {
    let sdk = crate::sdk_config_with(config.faults).await;
    with_sdk(config, &sdk)
}

/// AWS adapters for `config` on the SDK configuration `sdk` (its endpoint, credentials and
/// HTTP client).
pub fn with_sdk(config: Config, sdk: &aws_config::SdkConfig) -> Services {
    let sdk = sdk.clone();
    let s3 = Arc::new(S3Blobs::new(
        crate::s3_client(&sdk, &config),
        &config.stack.bucket,
    ));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(
        DynamoStore::new(
            crate::dynamodb_client(&sdk),
            &config.stack.table,
            clock.clone(),
        )
        .with_shards(config.stack.key_shards),
    );
    let queue = Arc::new(SqsWorkQueue::new(
        crate::sqs_client(&sdk),
        &config.stack.extract_queue_url,
    ));
    let config = Arc::new(config);
    let fleet = fleet(&config, &store, &sdk);
    Services {
        fleet,
        queues: Arc::new(crate::SqsQueues::new(crate::sqs_client(&sdk))),
        dashboard: store.clone(),
        jobs: store.clone(),
        uploads: store.clone(),
        accounts: store.clone(),
        metrics: store.clone(),
        parked: store.clone(),
        waiting: store.clone(),
        delivery_log: store,
        deliveries: Arc::new(SqsDeliveryQueue::new(
            crate::sqs_client(&sdk),
            &config.stack.webhook_queue_url,
            config.stack.webhook_dlq_url.clone(),
        )),
        results: s3.clone(),
        queue,
        blobs: s3,
        clock,
        upload_cache: Arc::new(UploadCache::new(10_000)),
        key_cache: Arc::new(KeyCache::new(config.api.key_cache_ttl)),
        rate_limits: Arc::new(RateLimits::new(
            config.api.rate_per_second,
            config.api.rate_burst,
        )),
        bad_keys: Arc::new(horizon_app::limits::Strikes::new(
            "keys",
            config.api.bad_keys_per_minute,
        )),
        config,
    }
}

/// The worker fleet the dashboard shows: Lambda's event source mappings when the worker
/// functions are named (in AWS; feature `lambda-fleet`, the dashboard's). The local runner puts
/// its own pollers there (`horizon_local::LocalFleet`); other functions never read it.
fn fleet(
    config: &Arc<Config>,
    store: &Arc<DynamoStore>,
    sdk: &aws_config::SdkConfig,
) -> Arc<dyn Fleet> {
    #[cfg(feature = "lambda-fleet")]
    if config.stack.extract_function.is_some() || config.stack.webhook_function.is_some() {
        return Arc::new(crate::lambda::LambdaFleet {
            config: config.clone(),
            store: store.clone(),
            lambda: crate::lambda::lambda_client(sdk),
        });
    }
    let _ = (config, sdk);
    Arc::new(Unnamed(store.clone()))
}

/// The fleet of a function that does not know its workers (none of the Lambda functions but the
/// dashboard asks): pausing still records the flag the workers read; listing them is an error
/// that says what to configure.
struct Unnamed(Arc<DynamoStore>);

#[async_trait::async_trait]
impl Fleet for Unnamed {
    async fn supervisors(&self) -> StoreResult<Vec<horizon_domain::monitoring::Supervisor>> {
        Err(StoreError::Internal(
            "the worker functions are not named: set HORIZON_EXTRACT_FUNCTION and HORIZON_WEBHOOK_FUNCTION (in a build with the feature lambda-fleet)".into(),
        ))
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> StoreResult<()> {
        horizon_app::ports::Workers::set_paused(&*self.0, queue, paused).await
    }
}
