//! The SDK's configuration and clients: region, credentials and endpoint from the environment,
//! rustls over ring, fault injection in a `test-support` build; SDK failures as `StoreError`.

use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_s3::Client as S3Client;
use aws_sdk_sqs::Client as SqsClient;

use horizon_app::config::Config;
use horizon_app::ports::StoreError;

/// The shared SDK configuration: region, credentials and endpoint (`AWS_ENDPOINT_URL` points it at
/// LocalStack) from the environment. Loading it makes no network call.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The SDK's HTTP client: hyper with rustls over ring (the SDK's default would link aws-lc, a
/// megabyte more in every function and a C library to build).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// [`sdk_config`], with `faults` injected into its HTTP client when any are switched on (only in
/// a build with `test-support`). Faults are for the local stack, so that client speaks plain HTTP.
pub async fn sdk_config_with(faults: horizon_app::faults::Faults) -> aws_config::SdkConfig {
    let sdk = sdk_config().await;
    #[cfg(not(feature = "test-support"))]
    let _ = faults;
    #[cfg(feature = "test-support")]
    if faults.any() {
        let inner = sdk
            .http_client()
            .unwrap_or_else(|| aws_smithy_http_client::Builder::new().build_http());
        return sdk
            .into_builder()
            .http_client(crate::faulty::FaultyClient { inner, faults })
            .build();
    }
    sdk
}

pub fn dynamodb_client(sdk: &aws_config::SdkConfig) -> DynamoClient {
    let conf = aws_sdk_dynamodb::config::Builder::from(sdk);
    #[cfg(feature = "test-support")]
    let conf = conf.interceptor(crate::meter::RequestMeter);
    DynamoClient::from_conf(conf.build())
}

#[cfg(feature = "ssm")]
pub fn ssm_client(sdk: &aws_config::SdkConfig) -> aws_sdk_ssm::Client {
    let conf = aws_sdk_ssm::config::Builder::from(sdk);
    #[cfg(feature = "test-support")]
    let conf = conf.interceptor(crate::meter::RequestMeter);
    aws_sdk_ssm::Client::from_conf(conf.build())
}

pub fn sqs_client(sdk: &aws_config::SdkConfig) -> SqsClient {
    let conf = aws_sdk_sqs::config::Builder::from(sdk);
    #[cfg(feature = "test-support")]
    let conf = conf.interceptor(crate::meter::RequestMeter);
    SqsClient::from_conf(conf.build())
}

pub fn s3_client(sdk: &aws_config::SdkConfig, config: &Config) -> S3Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk);
    #[cfg(feature = "test-support")]
    let conf = conf.interceptor(crate::meter::RequestMeter);
    let conf = conf
        .force_path_style(config.stack.s3_path_style)
        // Checksums only where S3 requires them: a presigned PUT must not expect a checksum
        // header that a plain HTTP client will not send.
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .build();
    S3Client::from_conf(conf)
}

/// An SDK failure as our error: a dependency problem, with its whole cause chain for the log.
pub(crate) fn unavailable<E>(what: &str, err: E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::Unavailable(format!(
        "{what}: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(err)
    ))
}
