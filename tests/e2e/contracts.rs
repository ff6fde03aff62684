//! The adapters' contract (`horizon_tests::contract`) kept by the AWS adapters: DynamoDB and S3 on
//! the local stack, over real connections. `tests/contracts.rs` holds the in-memory adapters to
//! the same checks.

use crate::support::services;

#[tokio::test(flavor = "multi_thread")]
async fn the_aws_adapters_keep_the_contract() {
    horizon_tests::contract::all(&services().await.services).await;
}
