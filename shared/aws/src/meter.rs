//! The request meter (feature `test-support`: the load benchmark and the tests, never a deployed
//! function): counts what this process sends to AWS, for the cost model; and, where
//! `HORIZON_IAM_LOG` names a directory, writes down each distinct permission a request needs
//! (action and resource), under the function it was made for ([`as_function`]), for the test
//! that holds them against each function's role in the SAM template (`tests/iam.rs`).

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
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> std::result::Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(m) = cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>() {
            if let Ok(mut counts) = REQUESTS.lock() {
                *counts
                    .entry((m.service().to_owned(), m.name().to_owned()))
                    .or_default() += 1;
            }
            if m.service() == "DynamoDB" {
                if let Some(body) = context.request().body().bytes() {
                    crate::write_units::record(m.name(), body);
                }
            }
            if let (Some(dir), Ok(function)) = (
                std::env::var_os("HORIZON_IAM_LOG"),
                FUNCTION.try_with(|f| *f),
            ) {
                let request = context.request();
                let lines: Vec<String> = needs(m.service(), m.name(), request)
                    .into_iter()
                    .map(|(action, resource, prefix)| {
                        format!("{function}\t{action}\t{resource}\t{prefix}\n")
                    })
                    .collect();
                write_down(std::path::Path::new(&dir), lines);
            }
        }
        Ok(())
    }
}

tokio::task_local! {
    /// The function whose code is running (the local runner sets it around each handler).
    static FUNCTION: &'static str;
}

/// Runs `work` as the code of the Lambda function `name`: the permissions its requests need are
/// written down under that name.
pub async fn as_function<F: std::future::Future>(name: &'static str, work: F) -> F::Output {
    FUNCTION.scope(name, work).await
}

static WRITTEN: std::sync::Mutex<Option<std::collections::HashSet<String>>> =
    std::sync::Mutex::new(None);

/// Appends the lines not written before by this process to `<dir>/<pid>.tsv`.
fn write_down(dir: &std::path::Path, lines: Vec<String>) {
    use std::io::Write;
    let Ok(mut written) = WRITTEN.lock() else {
        return;
    };
    let written = written.get_or_insert_with(Default::default);
    let new: String = lines
        .into_iter()
        .filter(|l| written.insert(l.clone()))
        .collect();
    if new.is_empty() {
        return;
    }
    let path = dir.join(format!("{}.tsv", std::process::id()));
    let result = std::fs::create_dir_all(dir).and_then(|_| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?
            .write_all(new.as_bytes())
    });
    if let Err(e) = result {
        tracing::warn!(error = %e, path = %path.display(), "the IAM log could not be written");
    }
}

/// What one request needs from IAM: (action, resource, the `s3:prefix` of a listing). Resources
/// are named as the request names them (`table/<name>[/index/<index>]`, `<bucket>[/<key>]`, a
/// queue's name); `tests/iam.rs` turns them into the stack's ARNs.
fn needs(
    service: &str,
    operation: &str,
    request: &aws_smithy_runtime_api::http::Request,
) -> Vec<(String, String, String)> {
    let body: serde_json::Value = request
        .body()
        .bytes()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    let one = |action: String, resource: String| vec![(action, resource, String::new())];
    match service {
        "DynamoDB" => {
            let table = |v: &serde_json::Value| format!("table/{}", v.as_str().unwrap_or("?"));
            match operation {
                "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|item| item.as_object()?.iter().next())
                    .map(|(kind, write)| {
                        let action = match kind.as_str() {
                            "Put" => "PutItem",
                            "Update" => "UpdateItem",
                            "Delete" => "DeleteItem",
                            "ConditionCheck" => "ConditionCheckItem",
                            other => other, // Get
                        };
                        (
                            format!("dynamodb:{action}"),
                            table(&write["TableName"]),
                            String::new(),
                        )
                    })
                    .collect(),
                "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, _)| {
                        (
                            format!("dynamodb:{operation}"),
                            format!("table/{name}"),
                            String::new(),
                        )
                    })
                    .collect(),
                _ => {
                    let mut resource = table(&body["TableName"]);
                    if let Some(index) = body["IndexName"].as_str() {
                        resource = format!("{resource}/index/{index}");
                    }
                    one(format!("dynamodb:{operation}"), resource)
                }
            }
        }
        "SQS" => {
            let queue = body["QueueUrl"]
                .as_str()
                .and_then(|u| u.rsplit('/').next())
                .unwrap_or("?")
                .to_owned();
            let action = operation.strip_suffix("Batch").unwrap_or(operation);
            one(format!("sqs:{action}"), queue)
        }
        "SSM" => one(
            format!("ssm:{operation}"),
            format!("parameter{}", body["Name"].as_str().unwrap_or("?")),
        ),
        "S3" => {
            // Path-style (locally): /<bucket>/<key>?<query>.
            let uri = request.uri();
            let after_host = uri.splitn(4, '/').nth(3).unwrap_or("");
            let (path, query) = after_host.split_once('?').unwrap_or((after_host, ""));
            let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
            let object = |key: &str| format!("{bucket}/{key}");
            match operation {
                "GetObject" | "HeadObject" => one("s3:GetObject".into(), object(key)),
                "PutObject"
                | "CreateMultipartUpload"
                | "UploadPart"
                | "CompleteMultipartUpload" => one("s3:PutObject".into(), object(key)),
                "CopyObject" => {
                    let source = request
                        .headers()
                        .get("x-amz-copy-source")
                        .unwrap_or("?")
                        .trim_start_matches('/')
                        .to_owned();
                    vec![
                        ("s3:PutObject".into(), object(key), String::new()),
                        ("s3:GetObject".into(), source, String::new()),
                    ]
                }
                "DeleteObject" => one("s3:DeleteObject".into(), object(key)),
                "DeleteObjects" => {
                    let xml = request
                        .body()
                        .bytes()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default();
                    xml.split("<Key>")
                        .skip(1)
                        .filter_map(|rest| rest.split("</Key>").next())
                        .map(|k| ("s3:DeleteObject".into(), object(k), String::new()))
                        .collect()
                }
                "ListObjectsV2" | "ListObjects" => {
                    let prefix = query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("prefix="))
                        .unwrap_or("")
                        .replace("%2F", "/");
                    vec![("s3:ListBucket".into(), bucket.to_owned(), prefix)]
                }
                "HeadBucket" => one("s3:ListBucket".into(), bucket.to_owned()),
                other => one(format!("s3:{other}"), object(key)),
            }
        }
        other => one(
            format!("{}:{operation}", other.to_lowercase()),
            "*".to_owned(),
        ),
    }
}

/// Requests sent by this process so far, by (service, operation).
pub fn request_counts() -> std::collections::BTreeMap<(String, String), u64> {
    REQUESTS.lock().map(|c| c.clone()).unwrap_or_default()
}
