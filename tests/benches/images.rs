//! Benchmark: `GET /api/images/{id}` of a 1 MB image through the local runner, next to a direct
//! S3 GetObject of the same object from the same LocalStack, and their ratio (target ≤ 1.3).
//!
//!   scripts/bench images
//!
//! Prints medians and p90s over the rounds; the two reads alternate so that drift in the machine's
//! load hits both alike.

use std::time::{Duration, Instant};

use horizon_app::Config;

const ROUNDS: usize = 200;
const WARMUP: usize = 20;

fn noise_png(side: u32) -> Vec<u8> {
    // Incompressible pixels, so the PNG is as large as its pixels.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let b = state.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png)
        .expect("encode");
    buf.into_inner()
}

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[v.len() * 9 / 10]))
}

#[tokio::main]
async fn main() {
    let mut config = Config::from_env().unwrap_or_else(|e| {
        eprintln!(
            "{e}\nrun it with scripts/bench images (it starts and provisions the local stack)"
        );
        std::process::exit(2);
    });
    config.local.port = 0;
    let services = horizon_aws::services::from_config(config).await;
    let bucket = services.config.stack.bucket.clone();
    let running = horizon_local::start_http(services.clone())
        .await
        .expect("start the runner");
    let base = format!("http://{}", running.addr);
    let (key, record) = horizon_runtime::auth::new_key(
        horizon_domain::AccountId("acct_bench".into()),
        services.clock.now(),
    )
    .expect("a key");
    services
        .accounts
        .put_key(&record)
        .await
        .expect("register the key");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {key}").parse().expect("header"),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client");

    let png = noise_png(580);
    let resp = http
        .post(format!("{base}/api/upload"))
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status(), 201, "upload failed");
    let up: serde_json::Value = resp.json().await.expect("json");
    let id = up["id"].as_str().expect("id").to_owned();
    let url = format!("{base}/api/images/{id}");
    let key = format!("uploads/{id}");

    let sdk = horizon_aws::sdk_config().await;
    let s3 = horizon_aws::s3_client(&sdk, &services.config);

    // A second runner whose caches (upload records, API keys) hold nothing: every GET reads
    // DynamoDB twice, as the first request on a cold Lambda instance does.
    let mut uncached_services = services.clone();
    uncached_services.upload_cache = std::sync::Arc::new(horizon_app::uploads::UploadCache::new(0));
    uncached_services.key_cache = std::sync::Arc::new(horizon_runtime::auth::KeyCache::new(
        std::time::Duration::ZERO,
    ));
    let uncached = horizon_local::start_http(uncached_services)
        .await
        .expect("start the runner");
    let uncached_url = format!("http://{}/api/images/{id}", uncached.addr);

    let fetch = |url: String| {
        let http = &http;
        let expected = png.len();
        async move {
            let t = Instant::now();
            let body = http
                .get(&url)
                .send()
                .await
                .expect("GET")
                .bytes()
                .await
                .expect("body");
            assert_eq!(body.len(), expected);
            t.elapsed()
        }
    };
    let via_function = || fetch(url.clone());
    let via_uncached = || fetch(uncached_url.clone());
    let direct = || async {
        let t = Instant::now();
        let out = s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .expect("GetObject");
        let body = out.body.collect().await.expect("body").into_bytes();
        assert_eq!(body.len(), png.len());
        t.elapsed()
    };
    for _ in 0..WARMUP {
        via_function().await;
        via_uncached().await;
        direct().await;
    }
    let (mut f, mut u, mut d) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        f.push(via_function().await);
        u.push(via_uncached().await);
        d.push(direct().await);
    }
    let (fm, f90) = stats(f);
    let (um, u90) = stats(u);
    let (dm, d90) = stats(d);
    println!(
        "GET /api/images/{{id}} of a {:.2} MB PNG, {ROUNDS} rounds each, alternating",
        png.len() as f64 / 1e6
    );
    println!("  through the function (local runner): median {fm:7.2} ms   p90 {f90:7.2} ms");
    println!("  direct S3 GetObject (same LocalStack): median {dm:7.2} ms   p90 {d90:7.2} ms");
    println!("  ratio of medians: {:.2} (target <= 1.30)", fm / dm);
    println!("  without the caches (a cold instance's first GET): median {um:7.2} ms   p90 {u90:7.2} ms   ratio {:.2}", um / dm);
    running.shutdown().await;
    uncached.shutdown().await;
}
