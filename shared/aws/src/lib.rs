//! AWS adapters for the ports, one module per table concern and per service: the DynamoDB table
//! (`dynamo`, and what it holds: `jobs`, `uploads`, `accounts`, `deliveries`, `dashboard`), `sqs`,
//! `s3`, the worker fleet from Lambda (`lambda`), the SDK's clients (`clients`), and a function's
//! wiring (`services`).

pub mod dashboard;
#[cfg(feature = "test-support")]
mod faulty;
#[cfg(feature = "test-support")]
pub mod meter;
pub mod services;
#[cfg(feature = "test-support")]
pub use meter::request_counts;
#[cfg(feature = "lambda-fleet")]
pub mod lambda;
#[cfg(feature = "stream")]
pub mod stream;
#[cfg(feature = "test-support")]
pub mod write_units;
pub mod written;

mod accounts;
mod clients;
mod deliveries;
mod dynamo;
mod jobs;
mod outbox;
mod s3;
mod sqs;
mod uploads;
mod waiting;

#[cfg(feature = "ssm")]
pub use clients::ssm_client;
pub use clients::{
    dynamodb_client, https_client, s3_client, sdk_config, sdk_config_with, sqs_client,
};
pub use dynamo::DynamoStore;
pub use s3::S3Blobs;
pub use sqs::{SqsDeliveryQueue, SqsQueues, SqsWorkQueue};
