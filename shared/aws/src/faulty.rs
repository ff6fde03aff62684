//! The HTTP client behind the AWS SDK when faults are switched on ([`horizon_app::faults`]): it answers
//! some DynamoDB and S3 requests itself, with the error responses those services send when they
//! throttle or when a conditional write loses, so that the SDK's own retries and our handling of
//! what gets through are what a test exercises.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use horizon_app::faults::{Fault, Faults};

#[derive(Debug, Clone)]
pub struct FaultyClient {
    pub inner: SharedHttpClient,
    pub faults: Faults,
}

impl HttpClient for FaultyClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            faults: self.faults,
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    faults: Faults,
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        match injected(&request, &self.faults) {
            Some(response) => HttpConnectorFuture::ready(Ok(response)),
            None => self.inner.call(request),
        }
    }
}

/// The service a request is for, from its `X-Amz-Target` (the JSON protocols) or its absence.
fn injected(request: &HttpRequest, faults: &Faults) -> Option<HttpResponse> {
    let target = request.headers().get("x-amz-target").unwrap_or("");
    if target.starts_with("DynamoDB") && horizon_app::faults::in_outage(faults) {
        return Some(dynamodb_error_status(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Internal server error (an injected outage)",
        ));
    }
    if let Some(op) = target.strip_prefix("DynamoDB_20120810.") {
        // Only writes of a job under its version, which the worker and the API must re-read and
        // redo: a lost race, as another writer would cause it.
        let versioned = op == "PutItem"
            && request
                .body()
                .bytes()
                .is_some_and(|b| contains(b, b"version = :v"));
        if versioned && faults.strikes(Fault::Conflict) {
            return Some(dynamodb_error(
                "ConditionalCheckFailedException",
                "The conditional request failed",
            ));
        }
        if faults.strikes(Fault::Throttle) {
            return Some(dynamodb_error(
                "ThrottlingException",
                "Rate of requests exceeds the allowed throughput.",
            ));
        }
    } else if target.is_empty() && faults.strikes(Fault::Throttle) {
        // No target: S3 (SQS speaks JSON with a target; it is left alone).
        let mut response = HttpResponse::new(
            StatusCode::from(http::StatusCode::SERVICE_UNAVAILABLE),
            SdkBody::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>injected</RequestId></Error>",
            ),
        );
        response
            .headers_mut()
            .insert("content-type", "application/xml");
        return Some(response);
    }
    None
}

fn dynamodb_error(code: &str, message: &str) -> HttpResponse {
    dynamodb_error_status(http::StatusCode::BAD_REQUEST, code, message)
}

fn dynamodb_error_status(status: http::StatusCode, code: &str, message: &str) -> HttpResponse {
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
        "message": message,
    });
    let mut response = HttpResponse::new(StatusCode::from(status), SdkBody::from(body.to_string()));
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
        .headers_mut()
        .insert("x-amzn-errortype", code.to_owned());
    response
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
