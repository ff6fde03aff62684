//! The `/v1` contract against the local stack: keys and accounts on every route, idempotency,
//! listing, chunk pages, cancel, retention, webhook subscriptions.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{self, *};

/// Every route of the job API and the uploads API that takes a key (the OpenAPI document is
/// public), with a body where it takes one, and the exact status each answers another
/// account and the owner. `{job}` is the owner's queued job, `{done}` a job of theirs that
/// ended (cancelled), `{upload}` their PDF upload, `{image}` their image upload, `{webhook}` and
/// `{key}` their subscription and second key; `{pdf}` as a body is a real two-page PDF.
const ROUTES: &[(&str, &str, &str, u16, u16)] = &[
    // (method, path, body, another account, the owner)
    (
        "POST",
        "/v1/extract/pdf",
        r#"{"uploadId":"{upload}"}"#,
        422,
        202,
    ),
    (
        "POST",
        "/v1/extract/image",
        r#"{"uploadId":"{image}"}"#,
        422,
        202,
    ),
    (
        "POST",
        "/v1/extract/document",
        r#"{"uploadId":"{upload}"}"#,
        422,
        202,
    ),
    ("GET", "/v1/jobs", "", 200, 200),
    ("GET", "/v1/jobs/{job}", "", 404, 200),
    ("DELETE", "/v1/jobs/{done}", "", 404, 204),
    ("DELETE", "/v1/jobs/{job}", "", 404, 409), // still queued: cancel it first
    ("GET", "/v1/jobs/{job}/chunks", "", 404, 409), // not completed (no workers here)
    ("GET", "/v1/jobs/{job}/markdown", "", 404, 409),
    ("GET", "/v1/jobs/{job}/pages/1", "", 404, 200),
    ("POST", "/v1/jobs/{job}/cancel", "", 404, 200),
    (
        "POST",
        "/v1/jobs/{job}/webhooks",
        r#"{"url":"https://example.com/h","events":["job.completed"]}"#,
        404,
        202,
    ),
    ("GET", "/v1/jobs/{job}/webhooks", "", 404, 200),
    (
        "POST",
        "/v1/jobs/{job}/webhooks/deliveries/msg_01JQZZZZZZZZZZZZZZZZZZZZZZ/replay",
        "",
        404,
        404, // the job has no such delivery: the owner is told so (see below)
    ),
    (
        "POST",
        "/v1/webhooks",
        r#"{"url":"https://example.com/h","events":["job.failed"]}"#,
        201,
        201,
    ),
    ("GET", "/v1/webhooks", "", 200, 200),
    ("POST", "/v1/webhooks/{webhook}/rotate", "", 404, 200),
    ("DELETE", "/v1/webhooks/{webhook}", "", 404, 204),
    ("POST", "/v1/keys", "", 201, 201),
    ("DELETE", "/v1/keys/{key}", "", 404, 204),
    ("POST", "/api/upload", "{pdf}", 201, 201),
    ("POST", "/api/uploads", r#"{"size":10}"#, 201, 201),
    ("GET", "/api/images/{image}", "", 404, 200),
    ("DELETE", "/api/uploads/{upload}", "", 404, 204),
];

/// Whether ROUTES has `method` on `template`, a path of the OpenAPI document (a `{name}`
/// segment there stands for any one segment).
fn in_routes(method: &str, template: &str) -> bool {
    let want: Vec<&str> = template.split('/').collect();
    ROUTES.iter().any(|(m, path, ..)| {
        let have: Vec<&str> = path.split('/').collect();
        m.eq_ignore_ascii_case(method)
            && have.len() == want.len()
            && want
                .iter()
                .zip(&have)
                .all(|(w, h)| w == h || w.starts_with('{'))
    })
}

struct Owned {
    job: String,
    done: String,
    upload: String,
    image: String,
    webhook: String,
    key: String,
}

async fn make_resources(api: &Api) -> Owned {
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let image = api.upload_raw(fixture("photo.png"), "image/png").await;
    assert_eq!(image.status(), 201);
    let image: Value = image.json().await.unwrap();
    let image = image["id"].as_str().unwrap().to_owned();
    let job = api.start_job(&upload).await;
    let done = api.start_job(&upload).await;
    let cancelled = api.post_json(&format!("/v1/jobs/{done}/cancel"), "").await;
    assert_eq!(cancelled.status(), 200);
    let wh: Value = api
        .post_json(
            "/v1/webhooks",
            r#"{"url":"https://example.com/a","events":["job.failed"]}"#,
        )
        .await
        .json()
        .await
        .unwrap();
    let key: Value = api.post_json("/v1/keys", "").await.json().await.unwrap();
    Owned {
        job,
        done,
        upload,
        image,
        webhook: wh["id"].as_str().unwrap().to_owned(),
        key: key["id"].as_str().unwrap().to_owned(),
    }
}

async fn call(
    base: &str,
    key: Option<&str>,
    method: &str,
    path: &str,
    body: &str,
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut req = client.request(method.parse().unwrap(), format!("{base}{path}"));
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    if body == "{pdf}" {
        req = req
            .header("content-type", "application/pdf")
            .body(fixture("two-pages.pdf"));
    } else if !body.is_empty() {
        req = req
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_needs_a_valid_key_and_hides_other_accounts() {
    let mut services = services().await;
    // Three wrong keys on every route from one address: more than a guesser is let make (that
    // limit has its own test in horizon-runtime).
    let mut config = (*services.config).clone();
    config.api.bad_keys_per_minute = 0;
    services.config = std::sync::Arc::new(config);
    services.bad_keys = std::sync::Arc::new(horizon_app::limits::Strikes::new("keys", 0));
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let owner = Api::new(running.addr, &new_account(&services).await);
    let other_key = new_account(&services).await;
    let base = owner.base.clone();

    // A revoked key.
    let (revoked, record) = horizon_runtime::auth::new_key(
        horizon_domain::AccountId("acct_revoked".into()),
        services.clock.now(),
    )
    .unwrap();
    services.accounts.put_key(&record).await.unwrap();
    assert!(services
        .accounts
        .revoke_key(&record.id, None)
        .await
        .unwrap());

    // Every operation of the OpenAPI document that takes a key is in ROUTES: a new route
    // cannot go untested here.
    let spec: Value = owner.get("/v1/openapi.json").await.json().await.unwrap();
    let mut missing = Vec::new();
    let mut checked = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let public = operation["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            if public || !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            checked += 1;
            if !in_routes(method, path) {
                missing.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(
        checked >= 15,
        "the OpenAPI document lists {checked} keyed operations"
    );
    assert!(
        missing.is_empty(),
        "keyed routes missing from ROUTES: {missing:?}"
    );

    for (method, template, body, by_other, by_owner) in ROUTES {
        // Fresh resources per route, since cancel and delete use theirs up.
        let own = make_resources(&owner).await;
        let fill = |s: &str| {
            s.replace("{job}", &own.job)
                .replace("{done}", &own.done)
                .replace("{upload}", &own.upload)
                .replace("{image}", &own.image)
                .replace("{webhook}", &own.webhook)
                .replace("{key}", &own.key)
        };
        let (path, body) = (fill(template), fill(body));
        let what = format!("{method} {template}");

        for (key, why) in [
            (None, "no key"),
            (Some("hzn_not-a-real-key"), "a wrong key"),
            (Some(revoked.as_str()), "a revoked key"),
        ] {
            let resp = call(&base, key, method, &path, &body).await;
            assert_eq!(resp.status(), 401, "{what} with {why}");
            assert!(resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"));
            assert_eq!(resp.headers()["content-type"], "application/problem+json");
        }

        // Another account sees nothing of the owner's, and changes nothing of it.
        let resp = call(&base, Some(&other_key), method, &path, &body).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(status, *by_other, "{what} by another account: {text}");
        for (name, id) in [
            ("job", &own.job),
            ("upload", &own.upload),
            ("webhook", &own.webhook),
            ("key", &own.key),
        ] {
            assert!(
                !text.contains(id.as_str())
                    || path.contains(id.as_str())
                    || body.contains(id.as_str()),
                "{what} by another account shows the owner's {name}: {text}"
            );
        }
        if *by_other == 422 {
            assert!(text.contains("no upload"), "{text}");
        }

        // The owner's key works.
        let resp = call(&base, Some(&owner.key), method, &path, &body).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(status, *by_owner, "{what} by its owner: {text}");
        if template.contains("/deliveries/") {
            assert!(text.contains("no delivery"), "{what}: {text}");
        }
    }
    // What the other account tried left the owner's things as they were.
    let own = make_resources(&owner).await;
    for path in [
        format!("/v1/jobs/{}", own.job),
        format!("/api/uploads/{}", own.upload),
        format!("/v1/webhooks/{}", own.webhook),
        format!("/v1/keys/{}", own.key),
    ] {
        let resp = call(&base, Some(&other_key), "DELETE", &path, "").await;
        assert_eq!(resp.status(), 404, "DELETE {path} by another account");
    }
    assert_eq!(
        owner.get(&format!("/v1/jobs/{}", own.job)).await.status(),
        200
    );
    let body = format!(r#"{{"uploadId":"{}"}}"#, own.upload);
    let again = owner.post_json("/v1/extract/pdf", &body).await;
    assert_eq!(again.status(), 202);
    let hooks = owner.get("/v1/webhooks").await.text().await.unwrap();
    assert!(hooks.contains(&own.webhook), "{hooks}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_is_public_and_3_1() {
    let services = services().await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let resp = call(
        &format!("http://{}", running.addr),
        None,
        "GET",
        "/v1/openapi.json",
        "",
    )
    .await;
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/v1/jobs/{jobId}"]["get"].is_object());
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idempotency_keys_replay_and_refuse_changed_bodies() {
    let services = services().await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let key = format!("idem-{}", services.clock.now().unix_timestamp_nanos());
    let post = |body: String| {
        api.http
            .post(format!("{}/v1/extract/pdf", api.base))
            .header("content-type", "application/json")
            .header("idempotency-key", key.clone())
            .body(body)
            .send()
    };
    let body = format!(r#"{{"uploadId":"{upload}","tags":["a"]}}"#);
    let first = post(body.clone()).await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    // The same body, differently spaced and ordered: the same job.
    let again = post(format!(r#"{{ "tags": ["a"], "uploadId": "{upload}" }}"#))
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.headers()["location"],
        format!("/v1/jobs/{}", first["jobId"].as_str().unwrap()).as_str()
    );
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["jobId"], first["jobId"]);
    // A different body with the same key.
    let other = post(format!(r#"{{"uploadId":"{upload}","tags":["b"]}}"#))
        .await
        .unwrap();
    assert_eq!(other.status(), 422);
    let p: Value = other.json().await.unwrap();
    assert_eq!(p["errors"][0]["field"], "Idempotency-Key");
    // Only one job was made.
    let list: Value = api.get("/v1/jobs").await.json().await.unwrap();
    assert_eq!(list["jobs"].as_array().unwrap().len(), 1);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn job_lists_are_newest_first_paginated_and_filtered() {
    let services = services().await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let mut made = Vec::new();
    for i in 0..5 {
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        let resp = api
            .post_json(
                "/v1/extract/pdf",
                &format!(r#"{{"uploadId":"{upload}","tags":["{tag}"],"metadata":{{"i":{i}}}}}"#),
            )
            .await;
        assert_eq!(resp.status(), 202);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["tags"], json!([tag]));
        assert_eq!(v["metadata"]["i"], i);
        made.push(v["jobId"].as_str().unwrap().to_owned());
    }
    // Pages of 2, newest first, every job once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/jobs?limit=2&cursor={c}"),
            None => "/v1/jobs?limit=2".to_owned(),
        };
        let page: Value = api.get(&path).await.json().await.unwrap();
        let jobs = page["jobs"].as_array().unwrap();
        assert!(jobs.len() <= 2);
        seen.extend(jobs.iter().map(|j| j["jobId"].as_str().unwrap().to_owned()));
        pages += 1;
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    made.reverse();
    assert_eq!(seen, made, "newest first, each once");
    assert!(pages >= 3);

    let odd: Value = api.get("/v1/jobs?tag=odd").await.json().await.unwrap();
    assert_eq!(odd["jobs"].as_array().unwrap().len(), 2);
    let queued: Value = api
        .get("/v1/jobs?status=queued&jobType=extract%2Fpdf")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queued["jobs"].as_array().unwrap().len(), 5);
    let done: Value = api
        .get("/v1/jobs?status=completed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["jobs"].as_array().unwrap().len(), 0);
    for bad in [
        "status=nope",
        "limit=0",
        "limit=101",
        "cursor=%21%21",
        "jobType=x",
    ] {
        assert_eq!(
            api.get(&format!("/v1/jobs?{bad}")).await.status(),
            400,
            "{bad}"
        );
    }
    running.shutdown().await;
}

/// A 3,000-page PDF is retrievable whole: the first page of chunks in the job, the rest through
/// the cursor, every chunk exactly once, in order.
#[tokio::test(flavor = "multi_thread")]
async fn a_3000_page_result_pages_through_every_chunk() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let pages: Vec<Vec<String>> = (1..=3000)
        .map(|n| vec![format!("This is page {n} of the long document.")])
        .collect();
    let upload = api.upload_id(make_pdf(&pages)).await;
    // In the fast mode: this is about paging through a long result, and the layout model
    // would spend minutes on 3,000 pages.
    let job = api.start_job_with(&upload, r#""mode":"fast""#).await;
    let done = api.wait_terminal(&job).await;
    running.shutdown().await;
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    let result = &done["result"];
    assert_eq!(result["pages"], 3000);
    assert_eq!(result["chunkCount"], 3000);
    let mut chunks: Vec<Value> = result["chunks"].as_array().unwrap().clone();
    assert_eq!(chunks.len(), 100, "the job carries the first page");
    let mut cursor = result["nextCursor"].as_str().map(str::to_owned);
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &api.key);
    while let Some(c) = cursor {
        let page: Value = api
            .get(&format!("/v1/jobs/{job}/chunks?limit=1000&cursor={c}"))
            .await
            .json()
            .await
            .unwrap();
        chunks.extend(page["chunks"].as_array().unwrap().iter().cloned());
        cursor = page["nextCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(chunks.len(), 3000);
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c["id"], format!("chunk_{:03}", i + 1));
        assert_eq!(c["page"], i + 1);
        assert_eq!(c["segmentIndex"], 0);
        assert_eq!(
            c["text"],
            format!("This is page {} of the long document.", i + 1)
        );
    }
    let page: Value = api
        .get(&format!("/v1/jobs/{job}/chunks?limit=5"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["chunks"][0]["id"], "chunk_001");
    assert_eq!(
        api.get(&format!("/v1/jobs/{job}/chunks?cursor=bogus"))
            .await
            .status(),
        400
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_ends_queued_and_processing_jobs_and_refuses_finished_ones() {
    let services = services().await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;

    // Queued.
    let job = api.start_job(&upload).await;
    let resp = api.post_json(&format!("/v1/jobs/{job}/cancel"), "").await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"]["code"], "cancelled");
    assert_eq!(
        api.post_json(&format!("/v1/jobs/{job}/cancel"), "")
            .await
            .status(),
        409
    );

    // Processing: a worker holds it (claimed through the real store), then the owner cancels;
    // the worker's own write then fails its version check, so the cancel stands.
    let job = api.start_job(&upload).await;
    let id: horizon_domain::JobId = job.parse().unwrap();
    let stored = services.jobs.get(&id).await.unwrap().unwrap();
    let claimed = stored
        .claimed(services.clock.now(), time::Duration::minutes(1))
        .unwrap();
    services.jobs.replace(&claimed).await.unwrap();
    let v: Value = api
        .get(&format!("/v1/jobs/{job}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "processing");
    let resp = api.post_json(&format!("/v1/jobs/{job}/cancel"), "").await;
    assert_eq!(resp.status(), 200);
    let finished = claimed
        .completed(horizon_domain::JobResult::default(), services.clock.now())
        .unwrap();
    assert!(
        services.jobs.replace(&finished).await.is_err(),
        "the worker overwrote a cancel"
    );
    let v: Value = api
        .get(&format!("/v1/jobs/{job}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"]["code"], "cancelled");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_jobs_are_404_and_swept_by_ttl() {
    let mut services = services().await;
    let mut config = (*services.config).clone();
    // Ten seconds: the first read is in time even on a loaded machine.
    config.jobs.retention = Duration::from_secs(10);
    services.config = std::sync::Arc::new(config);
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let started = std::time::Instant::now();
    let job = api.start_job(&upload).await;
    let first = api.get(&format!("/v1/jobs/{job}")).await.status();
    if started.elapsed() < Duration::from_secs(8) {
        assert_eq!(first, 200, "a job read within its time");
    }
    // Past its TTL the job is gone for clients at once, before DynamoDB's sweep...
    let mut resp = None;
    eventually("the job is gone once its time has passed", async || {
        let r = api.get(&format!("/v1/jobs/{job}")).await;
        let gone = r.status() == 404;
        resp = Some(r);
        gone
    })
    .await;
    let resp = resp.unwrap();
    let p: Value = resp.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains("may have expired"));
    // ...and the sweep removes the record itself once its time (the real one: DynamoDB's) has
    // passed. LocalStack's sweep walks every table; it can fail (500) while a test beside this
    // one is creating its own stack, so it is tried until it has swept the job.
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk().await);
    let table = services.config.stack.table.clone();
    eventually("the TTL sweep removes the job record", async || {
        let swept = reqwest::Client::new()
            .delete(format!("{endpoint}/_aws/dynamodb/expired"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        let item = dynamo
            .get_item()
            .table_name(&table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("JOB#{job}")),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("JOB".into()),
            )
            .send()
            .await
            .unwrap();
        swept && item.item.is_none()
    })
    .await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_subscriptions_are_checked_and_secrets_shown_once() {
    let services = services().await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;

    // With the job.
    let resp = api
        .post_json(
            "/v1/extract/pdf",
            &format!(r#"{{"uploadId":"{upload}","webhook":{{"url":"https://example.com/a","events":["job.completed","job.failed"]}}}}"#),
        )
        .await;
    assert_eq!(resp.status(), 202);
    let job: Value = resp.json().await.unwrap();
    assert_eq!(job["webhookUrl"], "https://example.com/a");
    assert_eq!(job["events"], json!(["job.completed", "job.failed"]));
    assert!(job["webhookSecret"].as_str().unwrap().starts_with("whsec_"));
    let id = job["jobId"].as_str().unwrap();
    let again: Value = api
        .get(&format!("/v1/jobs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(again.get("webhookSecret").is_none(), "a secret shown twice");

    // Added later, with the client's own secret.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let resp = api
        .post_json(
            &format!("/v1/jobs/{id}/webhooks"),
            &format!(r#"{{"url":"https://hooks.example.org/b","events":["job.processing"],"secret":"{secret}"}}"#),
        )
        .await;
    assert_eq!(resp.status(), 202);
    let sub: Value = resp.json().await.unwrap();
    assert!(
        sub.get("secret").is_none(),
        "the client's own secret echoed"
    );
    let again: Value = api
        .get(&format!("/v1/jobs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["webhookUrl"], "https://hooks.example.org/b");
    assert_eq!(
        again["events"],
        json!(["job.processing", "job.completed", "job.failed"])
    );

    // Refused: internal addresses, other schemes, unknown events, malformed secrets.
    for (body, field) in [
        (
            r#"{"url":"http://127.0.0.1:9000/h","events":["job.failed"]}"#,
            "url",
        ),
        (
            r#"{"url":"http://169.254.169.254/latest","events":["job.failed"]}"#,
            "url",
        ),
        (
            r#"{"url":"http://[::ffff:10.0.0.1]/","events":["job.failed"]}"#,
            "url",
        ),
        (
            r#"{"url":"ftp://example.com/","events":["job.failed"]}"#,
            "url",
        ),
        (r#"{"url":"https://example.com/","events":[]}"#, "events"),
        (
            r#"{"url":"https://example.com/","events":["job.exploded"]}"#,
            "events[0]",
        ),
        (
            r#"{"url":"https://example.com/","events":["job.failed"],"secret":"hunter2"}"#,
            "secret",
        ),
    ] {
        let resp = api
            .post_json(&format!("/v1/jobs/{id}/webhooks"), body)
            .await;
        assert_eq!(resp.status(), 400, "{body}");
        let p: Value = resp.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
    }

    // Account-level: create, list (no secrets), delete, delete again.
    let resp = api
        .post_json(
            "/v1/webhooks",
            r#"{"url":"https://example.com/all","events":["job.completed"]}"#,
        )
        .await;
    assert_eq!(resp.status(), 201);
    let wh: Value = resp.json().await.unwrap();
    assert!(wh["secret"].as_str().unwrap().starts_with("whsec_"));
    let wid = wh["id"].as_str().unwrap().to_owned();
    let list: Value = api.get("/v1/webhooks").await.json().await.unwrap();
    let listed = &list["webhooks"].as_array().unwrap()[0];
    assert_eq!(listed["id"], wid.as_str());
    assert!(listed.get("secret").is_none());
    let del = api
        .http
        .delete(format!("{}/v1/webhooks/{wid}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let del = api
        .http
        .delete(format!("{}/v1/webhooks/{wid}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 404);
    let list: Value = api.get("/v1/webhooks").await.json().await.unwrap();
    assert!(list["webhooks"].as_array().unwrap().is_empty());
    running.shutdown().await;

    // Loopback is allowed only when HORIZON_WEBHOOK_ALLOW_CIDRS says so.
    let mut services = support::services().await;
    let mut config = (*services.config).clone();
    config.webhooks.allow_cidrs = horizon_domain::net::parse_cidrs("127.0.0.1/32").unwrap();
    services.config = std::sync::Arc::new(config);
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let resp = api
        .post_json(
            "/v1/webhooks",
            r#"{"url":"http://127.0.0.1:9000/h","events":["job.failed"]}"#,
        )
        .await;
    assert_eq!(resp.status(), 201);
    running.shutdown().await;
}

/// The API reference at /docs and its Postman collection, open without a key, cover every
/// operation of the OpenAPI document and point at this service.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_reference_and_postman_collection_are_served() {
    let services = services().await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let doc: Value = http
        .get(format!("{base}/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = http.get(format!("{base}/docs")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = resp.text().await.unwrap();
    let resp = http
        .get(format!("{base}/docs/collection.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let collection: Value = resp.json().await.unwrap();
    assert_eq!(collection["variable"][0]["value"], base);
    let raws: Vec<String> = collection["item"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["item"].as_array().unwrap().iter())
        .map(|r| {
            format!(
                "{} {}",
                r["request"]["method"].as_str().unwrap(),
                r["request"]["url"]["raw"].as_str().unwrap()
            )
        })
        .collect();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            assert!(
                page.contains(&format!("<code>{path}</code>")),
                "{path} not on the page"
            );
            let raw = format!(
                "{} {{{{baseUrl}}}}{}",
                method.to_uppercase(),
                path.replace('{', ":").replace('}', "")
            );
            assert!(raws.contains(&raw), "{raw} not in the collection: {raws:?}");
        }
    }
    // A link from the page to the collection, as the seed's "Get Postman Collection".
    assert!(page.contains("href=\"/docs/collection.json\""));
    let resp = http.post(format!("{base}/docs")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    running.shutdown().await;
}

/// A tenant deletes a finished job and an upload: each is gone at once, with everything stored
/// for it; a job still running must be cancelled first; another account cannot delete them.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_job_or_an_upload_removes_it_and_what_it_left_at_once() {
    let services = services().await;
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let stranger = Api::new(running.addr, &new_account(&services).await);

    // A completed job with a webhook: chunks, Markdown, an event body and a delivery log.
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let resp = api
        .post_json(
            "/v1/extract/pdf",
            &format!(
                r#"{{"uploadId":"{upload}","webhook":{{"url":"https://hooks.example.com/x","events":["job.completed"]}}}}"#
            ),
        )
        .await;
    assert_eq!(resp.status(), 202);
    let job: String = resp.json::<Value>().await.unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.wait_terminal(&job).await["status"], "completed");
    let id: horizon_domain::JobId = job.parse().unwrap();
    let results = horizon_app::ports::results_prefix(&id);
    let bodies = horizon_app::events::bodies_prefix(&id);
    assert!(
        objects_under(&services, &results).await >= 2,
        "chunks and Markdown stored"
    );
    // The event follows the job's write through the table's stream; its first delivery attempt
    // (to a host that cannot be reached) is logged before the job is deleted, so that no
    // attempt still in flight writes its log after the delete.
    eventually("an event body stored", async || {
        objects_under(&services, &bodies).await > 0
    })
    .await;
    eventually("the first delivery attempt logged", async || {
        !services
            .delivery_log
            .attempts(&id)
            .await
            .unwrap()
            .is_empty()
    })
    .await;

    assert_eq!(
        stranger.delete(&format!("/v1/jobs/{job}")).await.status(),
        404,
        "another account's job is not found"
    );
    let resp = api.delete(&format!("/v1/jobs/{job}")).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(api.get(&format!("/v1/jobs/{job}")).await.status(), 404);
    assert_eq!(
        api.get(&format!("/v1/jobs/{job}/chunks")).await.status(),
        404
    );
    assert_eq!(objects_under(&services, &results).await, 0, "results left");
    assert_eq!(
        objects_under(&services, &bodies).await,
        0,
        "event bodies left"
    );
    assert!(services
        .delivery_log
        .attempts(&id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(api.delete(&format!("/v1/jobs/{job}")).await.status(), 404);
    // The upload it was made from is still there, and serves another job.
    let again = api.start_job(&upload).await;
    assert_eq!(api.wait_terminal(&again).await["status"], "completed");
    running.shutdown().await;

    // A job still queued (no workers run now) is refused until it is cancelled.
    let http = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(http.addr, &api.key);
    let stranger = Api::new(http.addr, &stranger.key);
    let queued = api.start_job(&upload).await;
    let resp = api.delete(&format!("/v1/jobs/{queued}")).await;
    assert_eq!(resp.status(), 409);
    let problem: Value = resp.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("cancel it first"),
        "{problem}"
    );
    assert_eq!(
        api.post_json(&format!("/v1/jobs/{queued}/cancel"), "")
            .await
            .status(),
        200
    );
    assert_eq!(
        api.delete(&format!("/v1/jobs/{queued}")).await.status(),
        204
    );

    // An image upload with a thumbnail: bytes, thumbnail and record go.
    let resp = api.upload_raw(fixture("scan.jpg"), "image/jpeg").await;
    assert_eq!(resp.status(), 201);
    let image: String = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        api.get(&format!("/api/images/{image}?w=64")).await.status(),
        200
    );
    let image_id: horizon_domain::UploadId = image.parse().unwrap();
    let thumbs = horizon_domain::thumbnails_prefix(&image_id);
    assert_eq!(
        objects_under(&services, &thumbs).await,
        1,
        "a thumbnail stored"
    );
    assert_eq!(
        stranger
            .delete(&format!("/api/uploads/{image}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        api.delete(&format!("/api/uploads/{image}")).await.status(),
        204
    );
    assert_eq!(api.get(&format!("/api/images/{image}")).await.status(), 404);
    let resp = api
        .post_json("/v1/extract/image", &format!(r#"{{"uploadId":"{image}"}}"#))
        .await;
    assert_eq!(
        resp.status(),
        422,
        "a deleted upload starts no job (as an unknown one)"
    );
    assert_eq!(
        objects_under(&services, &thumbs).await,
        0,
        "thumbnails left"
    );
    assert_eq!(
        objects_under(&services, &format!("uploads/{image}")).await,
        0
    );
    http.shutdown().await;
}

/// A burst from one account meets `429` with `Retry-After` once its allowance is spent, on
/// every instance (the bucket is in the table); other accounts go on; after the wait it is
/// served again.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_from_one_account_is_limited_and_told_when_to_come_back() {
    let mut services = services().await;
    // Two a second, bursts of five (HORIZON_RATE_PER_SECOND, HORIZON_RATE_BURST), on a clock
    // that stands still until the test moves it: however slow the requests, the burst is one.
    services.rate_limits = std::sync::Arc::new(horizon_app::limits::RateLimits::new(2, 5));
    let clock = std::sync::Arc::new(horizon_app::memory::FixedClock::new(
        time::OffsetDateTime::now_utc(),
    ));
    services.clock = clock.clone();
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    // A second instance: its own buckets in memory, the same table.
    let mut second = services.clone();
    second.rate_limits = std::sync::Arc::new(horizon_app::limits::RateLimits::new(2, 5));
    let second = horizon_local::start_http(second).await.unwrap();
    let key = new_account(&services).await;
    let api = Api::new(running.addr, &key);
    let other = Api::new(running.addr, &new_account(&services).await);
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..12 {
        let resp = api.get("/v1/jobs").await;
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 && limited.is_none() {
            let wait: u64 = resp.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(resp.headers()["content-type"], "application/problem+json");
            let problem: Value = resp.json().await.unwrap();
            assert_eq!(problem["status"], 429);
            limited = Some(wait);
        }
    }
    assert_eq!(&statuses[..5], &[200; 5], "the burst passes: {statuses:?}");
    assert_eq!(
        Api::new(second.addr, &key).get("/v1/jobs").await.status(),
        429,
        "the other instance holds the same limit"
    );
    let wait = limited.unwrap_or_else(|| panic!("never limited: {statuses:?}"));
    assert!((1..=5).contains(&wait), "Retry-After {wait}");
    assert_eq!(
        other.get("/v1/jobs").await.status(),
        200,
        "another account goes on"
    );
    clock.advance(time::Duration::seconds(wait as i64));
    assert_eq!(
        api.get("/v1/jobs").await.status(),
        200,
        "served again after the wait"
    );
    running.shutdown().await;
    second.shutdown().await;
}

/// An account with its limit of jobs queued or processing gets `429` problem+json with
/// `Retry-After` for the next one (no job is made), however fast the requests come: a burst of
/// ten at once lets exactly the limit in. Once one of its jobs ends, it is let in.
#[tokio::test(flavor = "multi_thread")]
async fn an_account_at_its_active_job_limit_waits_for_one_to_finish() {
    let mut services = services().await;
    let mut config = (*services.config).clone();
    config.jobs.max_active = 2;
    config.local.workers = 0; // nothing takes the jobs up: they stay queued
    services.config = std::sync::Arc::new(config);
    let running = horizon_local::start(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let upload = api.upload_id(fixture("two-pages.pdf")).await;
    let body = format!(r#"{{"uploadId":"{upload}"}}"#);
    // Ten at once, before any is read from the stream: the limit holds in the job's write.
    let burst =
        futures_util::future::join_all((0..10).map(|_| api.post_json("/v1/extract/pdf", &body)))
            .await;
    let mut made = Vec::new();
    for resp in burst {
        match resp.status().as_u16() {
            202 => {
                let job: Value = resp.json().await.unwrap();
                made.push(job["jobId"].as_str().unwrap().to_owned());
            }
            429 => {}
            other => panic!("{other}: {}", resp.text().await.unwrap()),
        }
    }
    assert_eq!(
        made.len(),
        2,
        "a burst of ten at a limit of two: no overshoot"
    );
    let refused = api.post_json("/v1/extract/pdf", &body).await;
    assert_eq!(refused.status(), 429, "a third job at a limit of two");
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    let problem: Value = refused.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("limit is 2"),
        "{problem}"
    );
    let listed: Value = api.get("/v1/jobs").await.json().await.unwrap();
    assert_eq!(
        listed["jobs"].as_array().unwrap().len(),
        made.len(),
        "a refused job was made"
    );

    // Cancelling every job but one makes room.
    for id in &made[1..] {
        let resp = api.post_json(&format!("/v1/jobs/{id}/cancel"), "").await;
        assert_eq!(resp.status(), 200);
    }
    eventually("a job is let in after the cancels", async || {
        let resp = api.post_json("/v1/extract/pdf", &body).await;
        assert!([202, 429].contains(&resp.status().as_u16()));
        resp.status() == 202
    })
    .await;
    running.shutdown().await;
}
