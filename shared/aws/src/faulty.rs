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
            serde_json::json!({}),
        ));
    }
    if let Some(op) = target.strip_prefix("DynamoDB_20120810.") {
        // Only writes of a job under its version, which the worker and the API must re-read and
        // redo: a lost race, as another writer would cause it. Most of them (a claim, a job's
        // end) go in a transaction with its account's count; the others (a heartbeat) alone.
        let body = request.body().bytes().unwrap_or_default();
        if op == "PutItem" && contains(body, VERSIONED) && faults.strikes(Fault::Conflict) {
            return Some(dynamodb_error(
                "ConditionalCheckFailedException",
                "The conditional request failed",
                serde_json::json!({}),
            ));
        }
        let in_transaction = match op {
            "TransactWriteItems" => versioned_put(body),
            _ => None,
        };
        if let Some(write) = in_transaction.filter(|_| faults.strikes(Fault::Conflict)) {
            return Some(transaction_refused(write));
        }
        if faults.strikes(Fault::Throttle) {
            return Some(dynamodb_error(
                "ThrottlingException",
                "Rate of requests exceeds the allowed throughput.",
                serde_json::json!({}),
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

/// The condition of a job's write under its version.
const VERSIONED: &[u8] = b"version = :v";

/// Where in a `TransactWriteItems` request a job is written under its version, and how many
/// writes the request holds.
fn versioned_put(body: &[u8]) -> Option<(usize, usize)> {
    let request: serde_json::Value = serde_json::from_slice(body).ok()?;
    let items = request["TransactItems"].as_array()?;
    let versioned = items.iter().position(|item| {
        item["Put"]["ConditionExpression"].as_str() == std::str::from_utf8(VERSIONED).ok()
    })?;
    Some((versioned, items.len()))
}

/// DynamoDB's answer to a transaction of `writes` whose `refused`th write's condition failed:
/// the whole transaction cancelled, with a reason for each of its writes.
fn transaction_refused((refused, writes): (usize, usize)) -> HttpResponse {
    let reasons: Vec<serde_json::Value> = (0..writes)
        .map(|i| {
            if i == refused {
                serde_json::json!({
                    "Code": "ConditionalCheckFailed",
                    "Message": "The conditional request failed",
                })
            } else {
                serde_json::json!({"Code": "None"})
            }
        })
        .collect();
    dynamodb_error(
        "TransactionCanceledException",
        "Transaction cancelled, please refer cancellation reasons for specific reasons",
        serde_json::json!({ "CancellationReasons": reasons }),
    )
}

fn dynamodb_error(code: &str, message: &str, more: serde_json::Value) -> HttpResponse {
    dynamodb_error_status(http::StatusCode::BAD_REQUEST, code, message, more)
}

fn dynamodb_error_status(
    status: http::StatusCode,
    code: &str,
    message: &str,
    more: serde_json::Value,
) -> HttpResponse {
    let mut body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
        "message": message,
    });
    if let (Some(body), Some(more)) = (body.as_object_mut(), more.as_object()) {
        body.extend(more.clone());
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

    /// A job's versioned write inside a transaction, refused: the SDK reads the injected answer
    /// as DynamoDB's own, naming the write whose condition failed (which the store turns into
    /// `Stale`, so the job is read and decided again).
    #[tokio::test]
    async fn a_versioned_write_in_a_transaction_is_refused_as_dynamodb_refuses_it() {
        let faults = Faults {
            conflict: 1.0,
            ..Faults::default()
        };
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            // Nothing listens there: every answer is the injector's.
            .endpoint_url("http://127.0.0.1:9")
            .http_client(FaultyClient {
                inner: aws_smithy_http_client::Builder::new().build_http(),
                faults,
            })
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        let key = |pk: &str| AttributeValue::S(pk.to_owned());
        let count = Update::builder()
            .table_name("t")
            .key("pk", key("ACCT#a"))
            .key("sk", key("ACTIVE"))
            .update_expression("ADD processing :one")
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .build()
            .unwrap();
        let job = Put::builder()
            .table_name("t")
            .item("pk", key("JOB#j"))
            .item("sk", key("JOB"))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N("3".to_owned()))
            .build()
            .unwrap();
        let sent = client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(count).build())
            .transact_items(TransactWriteItem::builder().put(job).build())
            .send()
            .await;
        let error = sent.expect_err("the injector refuses every versioned write");
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            error.as_service_error()
        else {
            panic!("not a cancelled transaction: {error:?}");
        };
        let reasons: Vec<Option<&str>> = cancelled
            .cancellation_reasons()
            .iter()
            .map(|r| r.code())
            .collect();
        assert_eq!(reasons, [Some("None"), Some("ConditionalCheckFailed")]);
    }
}
