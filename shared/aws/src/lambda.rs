//! The worker fleet in AWS: each worker function's event source mapping and configuration, read
//! from Lambda; pausing a queue disables its mapping. Only the dashboard reads the fleet, so only
//! it links the Lambda client (feature `lambda-fleet`); elsewhere the fleet is the local one.

use std::sync::Arc;

use async_trait::async_trait;

use crate::clients::unavailable;
use horizon_app::config::Config;
use horizon_app::dashboard::worker_queues;
use horizon_app::ports::{DashboardStore, Fleet};
use horizon_app::ports::{StoreError, StoreResult};
use horizon_domain::monitoring;
use horizon_domain::monitoring::Supervisor;

/// The fleet of worker functions, from Lambda.
pub struct LambdaFleet {
    pub config: Arc<Config>,
    pub store: Arc<dyn DashboardStore>,
    pub lambda: aws_sdk_lambda::Client,
}

impl LambdaFleet {
    /// The mapping of `function` that reads `queue`.
    async fn mapping(
        &self,
        function: &str,
        queue: &str,
    ) -> StoreResult<Option<aws_sdk_lambda::types::EventSourceMappingConfiguration>> {
        let out = self
            .lambda
            .list_event_source_mappings()
            .function_name(function)
            .send()
            .await
            .map_err(|e| unavailable("Lambda ListEventSourceMappings", e))?;
        Ok(out
            .event_source_mappings
            .unwrap_or_default()
            .into_iter()
            .find(|m| {
                m.event_source_arn
                    .as_deref()
                    .is_some_and(|arn| arn.rsplit(':').next() == Some(queue))
            }))
    }
}

#[async_trait]
impl Fleet for LambdaFleet {
    async fn supervisors(&self) -> StoreResult<Vec<Supervisor>> {
        let mut out = Vec::new();
        for (name, url, function) in worker_queues(&self.config) {
            let Some(function) = function else { continue };
            let queue = monitoring::queue_name(&url).to_owned();
            let mapping = self.mapping(&function, &queue).await?;
            let conf = self
                .lambda
                .get_function_configuration()
                .function_name(&function)
                .send()
                .await
                .map_err(|e| unavailable("Lambda GetFunctionConfiguration", e))?;
            let m = mapping.as_ref();
            out.push(Supervisor {
                name: name.to_owned(),
                queue,
                queue_url: url,
                max_processes: m
                    .and_then(|m| m.scaling_config.as_ref())
                    .and_then(|s| s.maximum_concurrency)
                    .map(|c| c as u64)
                    .unwrap_or(1000),
                min_processes: 0,
                batch_size: m.and_then(|m| m.batch_size).unwrap_or(10) as u64,
                timeout: conf.timeout.unwrap_or(3) as u64,
                memory: conf.memory_size.unwrap_or(128) as u64,
                sleep: 20, // the mapping long-polls
                enabled: m
                    .and_then(|m| m.state.as_deref())
                    .is_some_and(|st| st == "Enabled" || st == "Enabling"),
            });
        }
        Ok(out)
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> StoreResult<()> {
        for (_, url, function) in worker_queues(&self.config) {
            let Some(function) = function else { continue };
            if monitoring::queue_name(&url) != queue {
                continue;
            }
            let mapping = self.mapping(&function, queue).await?.ok_or_else(|| {
                StoreError::NotFound(format!("no event source mapping reads {queue}"))
            })?;
            self.lambda
                .update_event_source_mapping()
                .set_uuid(mapping.uuid)
                .enabled(!paused)
                .send()
                .await
                .map_err(|e| unavailable("Lambda UpdateEventSourceMapping", e))?;
        }
        self.store.set_paused(queue, paused).await
    }
}

/// The Lambda client, metered like the others.
pub fn lambda_client(sdk: &aws_config::SdkConfig) -> aws_sdk_lambda::Client {
    let conf = aws_sdk_lambda::config::Builder::from(sdk);
    #[cfg(feature = "test-support")]
    let conf = conf.interceptor(super::meter::RequestMeter);
    aws_sdk_lambda::Client::from_conf(conf.build())
}
