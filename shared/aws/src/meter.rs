//! The request meter (feature `test-support`: the load benchmark and the tests, never a deployed
//! function): counts what this process sends to AWS, for the cost model.

/// Counts every request sent to AWS, each attempt as AWS bills it, by service and operation:
/// the cost model's raw material (`request_counts`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestMeter;

static REQUESTS: std::sync::Mutex<std::collections::BTreeMap<(String, String), u64>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

impl aws_smithy_runtime_api::client::interceptors::Intercept for RequestMeter {
    fn name(&self) -> &'static str {
        "horizon-request-meter"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> std::result::Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(m) = cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>() {
            if let Ok(mut counts) = REQUESTS.lock() {
                *counts
                    .entry((m.service().to_owned(), m.name().to_owned()))
                    .or_default() += 1;
            }
        }
        Ok(())
    }
}

/// Requests sent by this process so far, by (service, operation).
pub fn request_counts() -> std::collections::BTreeMap<(String, String), u64> {
    REQUESTS.lock().map(|c| c.clone()).unwrap_or_default()
}
