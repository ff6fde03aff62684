//! The adapters' contract (`horizon_tests::contract`) kept by the in-memory adapters the unit tests
//! use; the e2e test `contracts` runs the same checks against DynamoDB and S3.

use horizon_app::{memory, Services};
use horizon_tests::contract;

fn memory() -> Services {
    Services::in_memory(memory::test_config().expect("the test configuration")).services
}

#[tokio::test]
async fn the_memory_adapters_keep_the_contract() {
    contract::all(&memory()).await;
}
