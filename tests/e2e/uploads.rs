//! Uploads and retrieval against the local stack: every accepted type round-trips byte for byte,
//! conditional and ranged GETs, size limits, the presigned flow, redirects and thumbnails.

use std::io::Cursor;
use std::time::Duration;

use image::ImageFormat;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::{self, *};

/// A small real image in `format`, 64×32, with some detail so encoders have work to do.
fn image_bytes(format: ImageFormat, w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 8) as u8, ((x + y) * 2) as u8])
    });
    let mut buf = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut buf, format)
        .unwrap();
    buf.into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_accepted_type_round_trips_byte_for_byte() {
    let services = services().await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let mut cases = vec![(fixture("two-pages.pdf"), "application/pdf")];
    for (format, mime) in [
        (ImageFormat::Png, "image/png"),
        (ImageFormat::Jpeg, "image/jpeg"),
        (ImageFormat::WebP, "image/webp"),
        (ImageFormat::Gif, "image/gif"),
        (ImageFormat::Tiff, "image/tiff"),
    ] {
        cases.push((image_bytes(format, 64, 32), mime));
    }
    for (bytes, mime) in cases {
        // Declared generically: the bytes decide the type.
        let resp = api
            .upload_raw(bytes.clone(), "application/octet-stream")
            .await;
        assert_eq!(resp.status(), 201, "{mime}");
        let up: Value = resp.json().await.unwrap();
        assert_eq!(up["contentType"], mime);
        assert_eq!(up["size"], bytes.len() as u64);
        assert_eq!(up["sha256"], sha256(&bytes));
        assert!(up["createdAt"].is_string() && up["url"].is_string());
        if mime == "application/pdf" {
            assert_eq!(up["pages"], 2, "{up}");
        } else {
            assert_eq!(
                (up["width"].as_u64(), up["height"].as_u64()),
                (Some(64), Some(32)),
                "{up}"
            );
        }
        let id = up["id"].as_str().unwrap();
        let resp = api.get(&format!("/api/images/{id}")).await;
        assert_eq!(resp.status(), 200);
        let h = resp.headers().clone();
        assert_eq!(h["content-type"], mime);
        assert_eq!(h["content-length"], bytes.len().to_string().as_str());
        assert_eq!(h["etag"], format!("\"{}\"", sha256(&bytes)).as_str());
        assert!(h["cache-control"].to_str().unwrap().contains("max-age"));
        assert!(h["last-modified"].to_str().unwrap().ends_with("GMT"));
        let got = resp.bytes().await.unwrap();
        assert_eq!(sha256(&got), sha256(&bytes), "{mime} changed on the way");
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_and_range_requests() {
    let services = services().await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let bytes = image_bytes(ImageFormat::Png, 50, 50);
    let n = bytes.len();
    let up: Value = api
        .upload_raw(bytes.clone(), "image/png")
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/images/{}", up["id"].as_str().unwrap());
    let get = |headers: Vec<(&'static str, String)>| {
        let mut req = api.http.get(format!("{}{path}", api.base));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let etag = get(vec![]).await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();

    let resp = get(vec![("if-none-match", etag.clone())]).await.unwrap();
    assert_eq!(resp.status(), 304);
    assert!(resp.bytes().await.unwrap().is_empty());
    let resp = get(vec![("if-none-match", "\"other\"".into())])
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let resp = get(vec![("range", "bytes=0-9".into())]).await.unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes 0-9/{n}").as_str()
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &bytes[..10]);
    let resp = get(vec![("range", "bytes=-5".into())]).await.unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &bytes[n - 5..]);
    let resp = get(vec![("range", format!("bytes={n}-"))]).await.unwrap();
    assert_eq!(resp.status(), 416);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes */{n}").as_str()
    );
    assert_eq!(resp.headers()["content-type"], "application/problem+json");

    // Identifiers are checked before any storage call; unknown ones are 404s.
    for bad in [
        "..%2F..%2Fetc%2Fpasswd",
        "upl_x",
        &format!("upl_{}", "A".repeat(300)),
    ] {
        assert_eq!(
            api.get(&format!("/api/images/{bad}")).await.status(),
            400,
            "{bad}"
        );
    }
    let resp = api.get("/api/images/upl_01JQZZZZZZZZZZZZZZZZZZZZZZ").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_bodies_are_413_and_large_objects_redirect() {
    let mut services = services().await;
    let mut config = (*services.config).clone();
    config.api.max_upload_bytes = 1_000_000;
    config.api.max_response_bytes = 1_000;
    services.config = std::sync::Arc::new(config);
    let key = new_account(&services).await;
    let running = horizon_local::start_http(services.services.clone())
        .await
        .unwrap();
    let api = Api::new(running.addr, &key);

    let resp = api
        .upload_raw(vec![b'%'; 1_000_001], "application/pdf")
        .await;
    assert_eq!(resp.status(), 413);
    let p: Value = resp.json().await.unwrap();
    assert!(
        p["detail"].as_str().unwrap().contains("/api/uploads"),
        "{p}"
    );

    let bytes = image_bytes(ImageFormat::Png, 100, 100);
    assert!(
        bytes.len() > 1_000,
        "the image must exceed the response limit"
    );
    let up: Value = api
        .upload_raw(bytes.clone(), "image/png")
        .await
        .json()
        .await
        .unwrap();
    let resp = api
        .get(&format!("/api/images/{}", up["id"].as_str().unwrap()))
        .await;
    assert_eq!(resp.status(), 307);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let direct = reqwest::get(&location).await.unwrap();
    assert_eq!(direct.status(), 200);
    assert_eq!(direct.bytes().await.unwrap().as_ref(), bytes.as_slice());
    running.shutdown().await;
}

/// A plain HTTP client's PUT to a presigned upload, with the headers the grant names.
async fn signed_put(api: &Api, grant: &Value, body: Vec<u8>) -> reqwest::Response {
    let mut put = api.http.put(grant["uploadUrl"].as_str().unwrap());
    for (name, value) in grant["headers"].as_object().into_iter().flatten() {
        put = put.header(name, value.as_str().unwrap());
    }
    put.body(body).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn presigned_uploads_work_everywhere_and_expire() {
    let services = services().await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    let pdf = fixture("two-pages.pdf");

    let resp = api
        .post_json(
            "/api/uploads",
            &json!({"filename": "big.pdf", "size": pdf.len()}).to_string(),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let grant: Value = resp.json().await.unwrap();
    let id = grant["id"].as_str().unwrap().to_owned();
    assert!(grant["expiresAt"].is_string());
    // Before the PUT the upload has no content.
    assert_eq!(api.get(&format!("/api/images/{id}")).await.status(), 404);

    // A plain HTTP client PUTs the file.
    let put = api
        .http
        .put(grant["uploadUrl"].as_str().unwrap())
        .body(pdf.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.status(),
        200,
        "{}",
        put.text().await.unwrap_or_default()
    );

    // The id now works everywhere an upload id works.
    let resp = api.get(&format!("/api/images/{id}")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), pdf.as_slice());
    let resp = api
        .post_json("/v1/extract/pdf", &format!(r#"{{"uploadId":"{id}"}}"#))
        .await;
    assert_eq!(resp.status(), 202);

    // A presigned upload whose first use is a job: the job API checks its bytes itself (and
    // its role may read them: the IAM test sees this request).
    let grant: Value = api
        .post_json(
            "/api/uploads",
            &json!({"filename": "direct.pdf", "size": pdf.len(), "contentType": "application/pdf"})
                .to_string(),
        )
        .await
        .json()
        .await
        .unwrap();
    let put = signed_put(&api, &grant, pdf.clone()).await;
    assert_eq!(put.status(), 200);
    let direct = grant["id"].as_str().unwrap();
    let resp = api
        .post_json("/v1/extract/pdf", &format!(r#"{{"uploadId":"{direct}"}}"#))
        .await;
    assert_eq!(
        resp.status(),
        202,
        "{}",
        resp.text().await.unwrap_or_default()
    );

    // The URL takes the declared size and type only (signed headers: S3 refuses the rest).
    let longer = [pdf.as_slice(), b"\n%%junk"].concat();
    assert_eq!(
        signed_put(&api, &grant, longer).await.status(),
        403,
        "more bytes than declared"
    );
    let mut other_type = grant.clone();
    other_type["headers"]["content-type"] = json!("image/png");
    assert_eq!(
        signed_put(&api, &other_type, pdf.clone()).await.status(),
        403,
        "another type than declared"
    );

    // What was checked is what is read: bytes PUT again through the still valid URL, after
    // the check, are never served or extracted.
    let mut tampered = pdf.clone();
    let at = tampered.len() - 10;
    tampered[at] ^= 0x20;
    assert_eq!(signed_put(&api, &grant, tampered).await.status(), 200);
    let served = api.get(&format!("/api/images/{direct}")).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().as_ref(), pdf.as_slice());

    // Refused at the grant: no size, a size over the limit, a type we do not take.
    let resp = api.post_json("/api/uploads", "").await;
    assert_eq!(resp.status(), 400);
    let too_big = services.config.extraction.max_pdf_bytes + 1;
    let resp = api
        .post_json("/api/uploads", &json!({"size": too_big}).to_string())
        .await;
    assert_eq!(resp.status(), 413);
    let resp = api
        .post_json(
            "/api/uploads",
            &json!({"size": 10, "contentType": "application/x-msdownload"}).to_string(),
        )
        .await;
    assert_eq!(resp.status(), 415);

    // Bytes of the wrong kind are refused on first use.
    let elf = b"\x7FELF\x02\x01\x01\0 not a document".to_vec();
    let grant: Value = api
        .post_json("/api/uploads", &json!({"size": elf.len()}).to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(signed_put(&api, &grant, elf).await.status(), 200);
    let resp = api
        .get(&format!("/api/images/{}", grant["id"].as_str().unwrap()))
        .await;
    assert_eq!(resp.status(), 415);
    // And bytes of another type than declared.
    let grant: Value = api
        .post_json(
            "/api/uploads",
            &json!({"size": pdf.len(), "contentType": "image/png"}).to_string(),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(signed_put(&api, &grant, pdf.clone()).await.status(), 200);
    let resp = api
        .get(&format!("/api/images/{}", grant["id"].as_str().unwrap()))
        .await;
    assert_eq!(resp.status(), 415);
    running.shutdown().await;

    // An expired URL is refused by S3.
    let mut services = support::services().await;
    let mut config = (*services.config).clone();
    config.api.presign_ttl = Duration::from_secs(1);
    services.config = std::sync::Arc::new(config);
    let key = new_account(&services).await;
    let running = horizon_local::start_http(services.services.clone())
        .await
        .unwrap();
    let api = Api::new(running.addr, &key);
    let grant: Value = api
        .post_json("/api/uploads", &json!({"size": pdf.len()}).to_string())
        .await
        .json()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let put = signed_put(&api, &grant, pdf).await;
    assert_eq!(put.status(), 403, "an expired presigned URL was accepted");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn thumbnails_have_the_requested_width_and_are_bounded() {
    let services = services().await;
    let running = horizon_local::start_http(services.clone()).await.unwrap();
    let api = Api::new(running.addr, &new_account(&services).await);
    for (format, mime) in [
        (ImageFormat::Png, "image/png"),
        (ImageFormat::Jpeg, "image/jpeg"),
    ] {
        let up: Value = api
            .upload_raw(image_bytes(format, 400, 200), mime)
            .await
            .json()
            .await
            .unwrap();
        let path = format!("/api/images/{}", up["id"].as_str().unwrap());
        for _ in 0..2 {
            // The second time it comes from the cache in S3; the answer is the same.
            let resp = api.get(&format!("{path}?w=128")).await;
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["content-type"], mime);
            let img = image::load_from_memory(&resp.bytes().await.unwrap()).unwrap();
            assert_eq!((img.width(), img.height()), (128, 64));
        }
        let resp = api.get(&format!("{path}?w=256&h=32")).await;
        let img = image::load_from_memory(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!((img.width(), img.height()), (64, 32), "fits inside 256×32");
        // Each size is made once and kept: two sizes asked, two objects stored.
        let id: horizon_domain::UploadId = up["id"].as_str().unwrap().parse().unwrap();
        let thumbs = horizon_domain::thumbnails_prefix(&id);
        assert_eq!(objects_under(&services, &thumbs).await, 2);
        // A handful of sizes only: any other side is refused, so one image cannot be made
        // into millions of stored variants.
        for bad in ["w=0", "w=2049", "h=-1", "w=big", "w=100", "h=300"] {
            assert_eq!(
                api.get(&format!("{path}?{bad}")).await.status(),
                400,
                "{bad}"
            );
        }
    }
    // A decompression bomb: a small file whose pixels would take 147 MB. Its upload is taken
    // (only its header is read), its thumbnail refused at once, and the function goes on.
    let mut bomb = Cursor::new(Vec::new());
    image::RgbImage::new(7000, 7000)
        .write_to(&mut bomb, ImageFormat::Png)
        .unwrap();
    let bomb = bomb.into_inner();
    assert!(bomb.len() < 1_000_000, "{} bytes", bomb.len());
    let up: Value = api
        .upload_raw(bomb, "image/png")
        .await
        .json()
        .await
        .unwrap();
    let resp = api
        .get(&format!("/api/images/{}?w=128", up["id"].as_str().unwrap()))
        .await;
    assert_eq!(resp.status(), 415);
    let problem: Value = resp.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("decode"),
        "{problem}"
    );

    // A TIFF's thumbnail is a compressed PNG, not a raw TIFF.
    let tiff: Value = api
        .upload_raw(image_bytes(ImageFormat::Tiff, 400, 200), "image/tiff")
        .await
        .json()
        .await
        .unwrap();
    let resp = api
        .get(&format!(
            "/api/images/{}?w=128",
            tiff["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    let png = resp.bytes().await.unwrap();
    assert_eq!(image::guess_format(&png).unwrap(), ImageFormat::Png);
    assert_eq!(image::load_from_memory(&png).unwrap().width(), 128);
    let pdf: Value = api
        .upload_raw(fixture("two-pages.pdf"), "application/pdf")
        .await
        .json()
        .await
        .unwrap();
    let resp = api
        .get(&format!(
            "/api/images/{}?w=128",
            pdf["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(resp.status(), 400);
    running.shutdown().await;
}
