//! Uploads and image retrieval under `/api`.
//!
//! - `POST /api/upload`: a raw body with its `Content-Type`, or `multipart/form-data` with a `file`
//!   field (and an optional `filename` field) → `201` `{id, contentType, size, sha256, filename,
//!   createdAt, url}`; the bytes go to S3, the record to DynamoDB. The type is decided by the bytes.
//! - `GET /api/images/{id}`: the stored bytes with their type, `ETag` and caching headers.

pub mod sniff;

use std::str::FromStr;

use bytes::Bytes;
use horizon_shared::domain::{rfc3339, AccountId, Upload, UploadId};
use horizon_shared::http::{self, header, segments};
use horizon_shared::lambda::HttpHandler;
use horizon_shared::{Error, Result, Services};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub struct UploadsApi {
    services: Services,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UploadView {
    id: String,
    content_type: String,
    size: u64,
    sha256: String,
    filename: Option<String>,
    created_at: String,
    url: String,
}

/// The file part of an upload request.
struct Incoming {
    bytes: Bytes,
    declared_type: Option<String>,
    filename: Option<String>,
}

impl UploadsApi {
    pub fn new(services: Services) -> Self {
        UploadsApi { services }
    }
}

#[async_trait::async_trait]
impl HttpHandler for UploadsApi {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.route(&req).await {
            Ok(resp) => resp,
            Err(e) => http::problem(&e, req.uri().path()),
        }
    }
}

impl UploadsApi {
    async fn route(&self, req: &Request) -> Result<Response<Body>> {
        let method = req.method().as_str();
        match segments(req).as_slice() {
            ["api", "upload"] => match method {
                "POST" => self.upload(req).await,
                _ => Err(Error::MethodNotAllowed("use POST".into())),
            },
            ["api", "images", id] => match method {
                "GET" | "HEAD" => self.image(req, id).await,
                _ => Err(Error::MethodNotAllowed("use GET".into())),
            },
            _ => Err(Error::NotFound(format!(
                "no route for {method} {}",
                req.uri().path()
            ))),
        }
    }

    async fn upload(&self, req: &Request) -> Result<Response<Body>> {
        let limit = self.services.config.max_upload_bytes;
        let body: &[u8] = req.body().as_ref();
        if body.len() as u64 > limit {
            return Err(Error::PayloadTooLarge(format!(
                "the body has {} bytes; this endpoint takes at most {limit}",
                body.len()
            )));
        }
        let content_type = header(req, "content-type").map(str::to_owned);
        let incoming = match &content_type {
            Some(ct) if ct.to_ascii_lowercase().starts_with("multipart/form-data") => {
                read_multipart(ct, Bytes::copy_from_slice(body)).await?
            }
            _ => Incoming {
                bytes: Bytes::copy_from_slice(body),
                declared_type: content_type,
                filename: None,
            },
        };
        let Some(detected) = sniff::accepted_type(&incoming.bytes) else {
            return Err(Error::UnsupportedMediaType(format!(
                "detected {}; accepted are PDF, PNG, JPEG, WebP, GIF and TIFF",
                sniff::describe(&incoming.bytes)
            )));
        };
        if !sniff::declared_agrees(incoming.declared_type.as_deref(), detected) {
            return Err(Error::UnsupportedMediaType(format!(
                "the body was declared {} but its bytes are {detected}",
                incoming.declared_type.as_deref().unwrap_or("")
            )));
        }
        let now = self.services.clock.now();
        let upload = Upload {
            id: UploadId::new(now),
            account: AccountId::default_account(),
            content_type: detected.to_owned(),
            size: incoming.bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&incoming.bytes)),
            filename: incoming.filename,
            created_at: now,
        };
        // Bytes first: a record never points at bytes that are not there.
        self.services
            .blobs
            .put(&upload.blob_key(), incoming.bytes, detected)
            .await?;
        self.services.uploads.put(&upload).await?;
        tracing::info!(upload_id = %upload.id, content_type = detected, size = upload.size, "upload stored");
        let base = http::base_url(req, &self.services.config);
        let view = UploadView {
            id: upload.id.to_string(),
            content_type: upload.content_type.clone(),
            size: upload.size,
            sha256: upload.sha256.clone(),
            filename: upload.filename.clone(),
            created_at: rfc3339(upload.created_at),
            url: format!("{base}/api/images/{}", upload.id),
        };
        let mut resp = http::json(201, &view);
        http::set_header(&mut resp, "location", &format!("/api/images/{}", upload.id));
        Ok(resp)
    }

    async fn image(&self, req: &Request, id: &str) -> Result<Response<Body>> {
        let id = UploadId::from_str(id)?;
        let not_found = || Error::NotFound(format!("no upload {id}"));
        let upload = self
            .services
            .uploads
            .get(&id)
            .await?
            .filter(|u| u.account == AccountId::default_account())
            .ok_or_else(not_found)?;
        let etag = format!("\"{}\"", upload.sha256);
        if header(req, "if-none-match")
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
        {
            let mut resp = http::with_body(304, &upload.content_type, Body::Empty);
            http::set_header(&mut resp, "etag", &etag);
            return Ok(resp);
        }
        let blob = self
            .services
            .blobs
            .get(&upload.blob_key())
            .await?
            .ok_or_else(not_found)?;
        let len = blob.bytes.len();
        let body = if req.method() == "HEAD" {
            Body::Empty
        } else {
            Body::Binary(blob.bytes.to_vec())
        };
        let mut resp = http::with_body(200, &upload.content_type, body);
        http::set_header(&mut resp, "content-length", &len.to_string());
        http::set_header(&mut resp, "etag", &etag);
        // An upload's bytes never change under its id.
        http::set_header(
            &mut resp,
            "cache-control",
            "private, max-age=31536000, immutable",
        );
        Ok(resp)
    }
}

/// Reads the `file` field (and an optional `filename` field) of a multipart body.
async fn read_multipart(content_type: &str, body: Bytes) -> Result<Incoming> {
    let bad =
        |e: multer::Error| Error::field("body", format!("malformed multipart/form-data: {e}"));
    let boundary = multer::parse_boundary(content_type).map_err(bad)?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut file: Option<Incoming> = None;
    let mut filename_field: Option<String> = None;
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("file") if file.is_none() => {
                let declared_type = field.content_type().map(|m| m.to_string());
                let filename = field.file_name().map(str::to_owned);
                let bytes = field.bytes().await.map_err(bad)?;
                file = Some(Incoming {
                    bytes,
                    declared_type,
                    filename,
                });
            }
            Some("filename") => filename_field = Some(field.text().await.map_err(bad)?),
            _ => {} // other fields are ignored
        }
    }
    let mut file =
        file.ok_or_else(|| Error::field("file", "the multipart body has no `file` field"))?;
    if let Some(name) = filename_field {
        file.filename = Some(name);
    }
    if let Some(name) = &file.filename {
        if name.chars().count() > 255 || name.chars().any(char::is_control) {
            return Err(Error::field(
                "filename",
                "must be at most 255 printable characters",
            ));
        }
    }
    Ok(file)
}
