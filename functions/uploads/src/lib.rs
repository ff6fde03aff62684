//! Uploads and retrieval under `/api`.
//!
//! - `POST /api/upload`: a raw body with its `Content-Type`, or `multipart/form-data` with a `file`
//!   field (and an optional `filename` field). The type is decided by the bytes; a contradicting
//!   declaration or an unaccepted type is a `415`. → `201` `{id, contentType, size, sha256,
//!   filename, createdAt, url}` plus `width`/`height` (images) or `pages` (PDFs).
//! - `POST /api/uploads`: for files too large for a request body: → `201` `{id, uploadUrl,
//!   expiresAt}`, a presigned S3 PUT. The id then works everywhere; its type is checked on first use.
//! - `GET|HEAD /api/images/{id}[?w=&h=]`: the bytes with `Content-Type`, `Content-Length`, `ETag`,
//!   `Cache-Control`, `Last-Modified`; `304` on `If-None-Match`; `206`/`416` for `Range`; a `307`
//!   to a presigned URL for bodies a Lambda response cannot carry; `w`/`h` give a cached thumbnail.

pub mod range;
pub mod thumbs;

use axum::extract::{RawQuery, State};
use axum::http::header::{
    HeaderMap, HeaderName, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_TYPE, ETAG, IF_NONE_MATCH, LAST_MODIFIED, LOCATION, RANGE,
};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;
use horizon_api::refusals::Refusals;
use horizon_api::requests::{check_filename, PresignRequest};
use horizon_api::schemas::Problem;
use horizon_api::views::{PresignView, UploadView};
use horizon_app::{media, uploads, Services};
use horizon_domain::{rfc3339, Upload, UploadId};
use horizon_domain::{Error, Result};
use horizon_runtime::http::{self, Account, ApiJson, ApiResult, BaseUrl, Id, RawBody};

use range::RangeRequest;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The file part of an upload request.
struct Incoming {
    bytes: Bytes,
    declared_type: Option<String>,
    filename: Option<String>,
}

/// The function's routes, each declared once by its handler's `#[utoipa::path]`.
pub fn routes(services: Services) -> axum::Router {
    let (router, _) = api().split_for_parts();
    router.with_state(services)
}

/// The routes with their OpenAPI operations.
pub fn api() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(presign))
        .routes(routes!(image))
        .routes(routes!(delete_upload))
}

/// The same operations for the job API's document, without linking the handlers into the job
/// API (a test checks they are exactly [`api`]'s).
#[derive(utoipa::OpenApi)]
#[openapi(paths(upload, presign, image, delete_upload))]
pub struct UploadsDoc;

/// A file's bytes.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema, never built
#[schema(value_type = String, format = Binary)]
pub struct Binary(Vec<u8>);

/// `multipart/form-data` upload: the `file` part, and optionally a `filename` text part that
/// overrides the file part's own name (1–255 printable characters). (The text part is not typed
/// here: every multipart field is text, so a schema type could not be checked.)
#[derive(ToSchema)]
#[allow(dead_code)] // a schema, never built
pub struct UploadForm {
    /// The file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

const PROBLEM: &str = http::PROBLEM_JSON;

#[utoipa::path(post, path = "/api/upload", tag = "uploads",
    request_body(content(
        (Binary = "application/pdf"), (Binary = "image/png"), (Binary = "image/jpeg"),
        (Binary = "image/webp"), (Binary = "image/gif"), (Binary = "image/tiff"),
        (Binary = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (Binary = "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        (Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (Binary = "application/vnd.oasis.opendocument.text"), (Binary = "application/epub+zip"),
        (Binary = "text/html"), (Binary = "text/markdown"),
        (Binary = "application/octet-stream"), (UploadForm = "multipart/form-data"),
    )),
    responses(
        (status = 201, description = "Stored", body = UploadView,
            headers(("Location" = String, description = "Where to read it back"))),
        (status = 400, description = "Malformed multipart body", body = Problem, content_type = PROBLEM),
        (status = 413, description = "Larger than this endpoint takes: use POST /api/uploads", body = Problem, content_type = PROBLEM),
        (status = 415, description = "Not an accepted type, or the declared type contradicts the bytes", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn upload(
    State(services): State<Services>,
    Account(account): Account,
    BaseUrl(base): BaseUrl,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, [(HeaderName, String); 1], ApiJson<UploadView>)> {
    let config = &services.config;
    let limit = config.api.max_upload_bytes;
    if body.len() as u64 > limit {
        return Err(Error::PayloadTooLarge(format!(
            "the body has {} bytes; POST /api/upload takes at most {limit}. \
             For larger files, POST /api/uploads for a presigned URL and PUT the file there",
            body.len()
        ))
        .into());
    }
    let content_type = header(&headers, CONTENT_TYPE);
    let incoming = match &content_type {
        Some(ct) if ct.to_ascii_lowercase().starts_with("multipart/form-data") => {
            read_multipart(ct, body).await?
        }
        _ => Incoming {
            bytes: body,
            declared_type: content_type,
            filename: None,
        },
    };
    let inspection = uploads::inspect(&services, incoming.bytes.clone()).await?;
    if !media::declared_agrees(incoming.declared_type.as_deref(), inspection.content_type) {
        return Err(Error::UnsupportedMediaType(format!(
            "the body was declared {} but its bytes are {}",
            incoming.declared_type.as_deref().unwrap_or(""),
            inspection.content_type
        ))
        .into());
    }
    let now = services.clock.now();
    let upload = uploads::ready(
        UploadId::new(now),
        account,
        &incoming.bytes,
        &inspection,
        incoming.filename,
        now,
        config.api.upload_retention,
    );
    // Bytes first: a record never points at bytes that are not there.
    services
        .blobs
        .put(&upload.blob_key(), incoming.bytes, &upload.content_type)
        .await?;
    services.uploads.put(&upload).await?;
    tracing::info!(upload_id = %upload.id, content_type = %upload.content_type, size = upload.size, "upload stored");
    Ok((
        StatusCode::CREATED,
        [(LOCATION, image_path(&upload.id))],
        ApiJson(view(&upload, &base)),
    ))
}

#[utoipa::path(post, path = "/api/uploads", tag = "uploads",
    request_body(content = PresignRequest, description = "The file's size (and type)", content_type = "application/json"),
    responses(
        (status = 201, description = "A presigned PUT URL for exactly `size` bytes (and `contentType`, when given)", body = PresignView),
        (status = 400, description = "Malformed request, or no size", body = Problem, content_type = PROBLEM),
        (status = 413, description = "The size is over the limit (HORIZON_MAX_PDF_BYTES)", body = Problem, content_type = PROBLEM),
        (status = 415, description = "The declared type is not one accepted", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn presign(
    State(services): State<Services>,
    Account(account): Account,
    BaseUrl(base): BaseUrl,
    ApiJson(body): ApiJson<PresignRequest>,
) -> ApiResult<(StatusCode, [(HeaderName, String); 1], ApiJson<PresignView>)> {
    let config = &services.config;
    body.validate(config.extraction.max_pdf_bytes, media::ACCEPTED_TYPES)?;
    let now = services.clock.now();
    let id = UploadId::new(now);
    let upload = Upload {
        id: id.clone(),
        account,
        pending: true,
        // Declared, until the bytes are checked.
        content_type: body
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".to_owned()),
        size: body.size,
        sha256: String::new(),
        filename: body.filename,
        width: None,
        height: None,
        pages: None,
        created_at: now,
        expires_at: uploads::expiry(now, config.api.upload_retention),
    };
    let put = services
        .blobs
        .presign_put(
            &upload.incoming_key(),
            config.api.presign_ttl,
            body.size,
            body.content_type.as_deref(),
        )
        .await?;
    services.uploads.put(&upload).await?;
    let expires = now + time::Duration::try_from(config.api.presign_ttl).unwrap_or_default();
    let view = PresignView {
        id: id.to_string(),
        upload_url: put.url,
        method: "PUT",
        // The length is the client's own: an HTTP client sets it from the body.
        headers: put
            .headers
            .into_iter()
            .filter(|(name, _)| name != "content-length")
            .collect(),
        expires_at: rfc3339(expires),
        url: format!("{base}{}", image_path(&id)),
    };
    Ok((
        StatusCode::CREATED,
        [(LOCATION, image_path(&id))],
        ApiJson(view),
    ))
}

#[utoipa::path(delete, path = "/api/uploads/{id}", tag = "uploads",
    params(("id" = String, Path, description = "upl_<ULID>", pattern = r"^upl_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 204, description = "Deleted at once: the bytes, the thumbnails and the record. Jobs made from it keep their results"),
        (status = 400, description = "Malformed id", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, expired or deleted", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn delete_upload(
    State(services): State<Services>,
    Account(account): Account,
    Id(id): Id<UploadId>,
) -> ApiResult<StatusCode> {
    uploads::delete(&services, &id, &account).await?;
    tracing::info!(upload_id = %id, account = %account, "upload deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/images/{id}", tag = "uploads",
    params(
        ("id" = String, Path, description = "upl_<ULID>", pattern = r"^upl_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("w" = Option<u32>, Query, description = "Thumbnail width: 32, 64, 128, 256, 512, 1024 or 2048 (an image's thumbnails are JPEG for a JPEG, PNG otherwise)", minimum = 32, maximum = 2048),
        ("h" = Option<u32>, Query, description = "Thumbnail height: 32, 64, 128, 256, 512, 1024 or 2048", minimum = 32, maximum = 2048),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. bytes=0-1023"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag the client holds"),
    ),
    responses(
        (status = 200, description = "The bytes, with the upload's type",
            content((Binary = "application/pdf"), (Binary = "image/png"), (Binary = "image/jpeg"),
                (Binary = "image/webp"), (Binary = "image/gif"), (Binary = "image/tiff"),
                (Binary = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                (Binary = "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
                (Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (Binary = "application/vnd.oasis.opendocument.text"), (Binary = "application/epub+zip"),
                (Binary = "text/html"), (Binary = "text/markdown")),
            headers(("ETag" = String), ("Last-Modified" = String), ("Cache-Control" = String))),
        (status = 206, description = "The requested range",
            content((Binary = "application/pdf"), (Binary = "image/png"), (Binary = "image/jpeg"),
                (Binary = "image/webp"), (Binary = "image/gif"), (Binary = "image/tiff"),
                (Binary = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                (Binary = "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
                (Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (Binary = "application/vnd.oasis.opendocument.text"), (Binary = "application/epub+zip"),
                (Binary = "text/html"), (Binary = "text/markdown")),
            headers(("Content-Range" = String))),
        (status = 304, description = "Not modified"),
        (status = 307, description = "Too large for a function response: a short-lived presigned URL",
            headers(("Location" = String))),
        (status = 400, description = "Malformed id or thumbnail size", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown, another account's, expired, or not yet PUT", body = Problem, content_type = PROBLEM),
        (status = 413, description = "The presigned upload is larger than allowed", body = Problem, content_type = PROBLEM),
        (status = 415, description = "The presigned upload's bytes are not an accepted type", body = Problem, content_type = PROBLEM),
        (status = 416, description = "The range lies beyond the end", body = Problem, content_type = PROBLEM),
        Refusals,
    ))]
async fn image(
    State(services): State<Services>,
    Account(account): Account,
    Id(id): Id<UploadId>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Served> {
    let size = thumbs::Size::from_query(query.as_deref().unwrap_or(""))
        .map_err(|(name, msg)| Error::field(name, msg))?;
    let upload = uploads::resolve(&services, &id, &account).await?;
    let asked = Asked {
        services: &services,
        headers: &headers,
        head: method == Method::HEAD,
    };
    let served = match size {
        None => asked.original(&upload).await?,
        Some(size) => asked.thumbnail(&upload, size).await?,
    };
    Ok(served)
}

/// A request for an upload's bytes: whether it wants only the headers, and the conditions and
/// range its headers give.
struct Asked<'a> {
    services: &'a Services,
    headers: &'a HeaderMap,
    head: bool,
}

impl Asked<'_> {
    async fn original(&self, upload: &Upload) -> Result<Served> {
        let cache = Caching::of(upload, format!("\"{}\"", upload.sha256));
        if self.has(&cache.etag) {
            return Ok(Served::NotModified(upload.content_type.clone(), cache));
        }
        let key = upload.blob_key();
        let size = upload.size;
        let (part, first, last) = match range::parse(header(self.headers, RANGE).as_deref(), size) {
            RangeRequest::Unsatisfiable => {
                return Ok(Served::Unsatisfiable(upload.id.clone(), size))
            }
            RangeRequest::Part { first, last } => (true, first, last),
            RangeRequest::Full => (false, 0, size.saturating_sub(1)),
        };
        let length = if size == 0 { 0 } else { last - first + 1 };
        if length > self.services.config.api.max_response_bytes && !self.head {
            return self.elsewhere(&key, &upload.content_type).await;
        }
        let body = if self.head || length == 0 {
            Vec::new()
        } else {
            let blob = if part {
                self.services.blobs.get_range(&key, first, last).await?
            } else {
                self.services.blobs.get(&key).await?
            };
            let blob = blob.ok_or_else(|| Error::NotFound(format!("no upload {}", upload.id)))?;
            Vec::from(blob.bytes) // no copy: the buffer is ours alone
        };
        Ok(Served::Bytes {
            content_type: upload.content_type.clone(),
            body,
            length,
            range: part.then(|| format!("bytes {first}-{last}/{size}")),
            ranges: true,
            cache,
        })
    }

    /// Whether the client holds this representation already (`If-None-Match`).
    fn has(&self, etag: &str) -> bool {
        header(self.headers, IF_NONE_MATCH).is_some_and(|tags| {
            tags.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        })
    }

    /// Too big for a Lambda response: the client is sent to S3 directly, briefly.
    async fn elsewhere(&self, key: &str, content_type: &str) -> Result<Served> {
        let url = self
            .services
            .blobs
            .presign_get(key, content_type, self.services.config.api.redirect_ttl)
            .await?;
        Ok(Served::Elsewhere(url))
    }

    async fn thumbnail(&self, upload: &Upload, size: thumbs::Size) -> Result<Served> {
        if !upload.content_type.starts_with("image/") {
            return Err(Error::field(
                "w",
                format!(
                    "thumbnails are made of images; this upload is {}",
                    upload.content_type
                ),
            ));
        }
        let cache = Caching::of(upload, format!("\"{}-{}\"", upload.sha256, size.key()));
        if self.has(&cache.etag) {
            return Ok(Served::NotModified(upload.content_type.clone(), cache));
        }
        let key = format!(
            "{}{}",
            horizon_domain::thumbnails_prefix(&upload.id),
            size.key()
        );
        let (bytes, mime) = match self.services.blobs.get(&key).await? {
            Some(cached) => (
                cached.bytes,
                cached
                    .content_type
                    .unwrap_or_else(|| upload.content_type.clone()),
            ),
            None => {
                let original = self
                    .services
                    .blobs
                    .get(&upload.blob_key())
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("no upload {}", upload.id)))?;
                let extraction = &self.services.config.extraction;
                let program = extraction.child_program()?;
                let (made, mime) =
                    thumbs::in_child(&extraction.child(&program), &original.bytes, size)
                        .await
                        .map_err(Error::UnsupportedMediaType)?;
                let made = Bytes::from(made);
                self.services.blobs.put(&key, made.clone(), mime).await?;
                (made, mime.to_owned())
            }
        };
        let length = bytes.len() as u64;
        if length > self.services.config.api.max_response_bytes && !self.head {
            return self.elsewhere(&key, &mime).await;
        }
        Ok(Served::Bytes {
            content_type: mime,
            body: if self.head {
                Vec::new()
            } else {
                Vec::from(bytes)
            },
            length,
            range: None,
            ranges: false,
            cache,
        })
    }
}

/// What `GET|HEAD /api/images/{id}` answers.
enum Served {
    /// The bytes (`200`), a range of them (`206`, with its `Content-Range`), or for `HEAD` only
    /// their headers; `ranges`: whether ranges may be asked for.
    Bytes {
        content_type: String,
        body: Vec<u8>,
        length: u64,
        range: Option<String>,
        ranges: bool,
        cache: Caching,
    },
    /// `304`: the client holds them already.
    NotModified(String, Caching),
    /// `307` to a short-lived presigned URL: too large for a function's response.
    Elsewhere(String),
    /// `416`: the range asked for lies beyond the end of the upload (its id, its size).
    Unsatisfiable(UploadId, u64),
}

/// An upload's caching headers: its bytes never change under its id.
struct Caching {
    etag: String,
    last_modified: String,
}

impl Caching {
    fn of(upload: &Upload, etag: String) -> Caching {
        Caching {
            etag,
            last_modified: http_date(upload.created_at),
        }
    }

    fn headers(self) -> [(HeaderName, String); 3] {
        [
            (ETAG, self.etag),
            (CACHE_CONTROL, "private, max-age=31536000, immutable".into()),
            (LAST_MODIFIED, self.last_modified),
        ]
    }
}

impl IntoResponse for Served {
    fn into_response(self) -> axum::response::Response {
        match self {
            Served::Bytes {
                content_type,
                body,
                length,
                range,
                ranges,
                cache,
            } => {
                let status = if range.is_some() {
                    StatusCode::PARTIAL_CONTENT
                } else {
                    StatusCode::OK
                };
                let mut resp = (status, cache.headers(), body).into_response();
                let h = resp.headers_mut();
                let mut set = |name: HeaderName, value: &str| {
                    if let Ok(v) = value.parse() {
                        h.insert(name, v);
                    }
                };
                set(CONTENT_TYPE, &content_type);
                set(CONTENT_LENGTH, &length.to_string());
                if ranges {
                    set(ACCEPT_RANGES, "bytes");
                }
                if let Some(range) = range {
                    set(CONTENT_RANGE, &range);
                }
                resp
            }
            Served::NotModified(content_type, cache) => (
                StatusCode::NOT_MODIFIED,
                [(CONTENT_TYPE, content_type)],
                cache.headers(),
            )
                .into_response(),
            Served::Elsewhere(url) => (
                StatusCode::TEMPORARY_REDIRECT,
                [(LOCATION, url), (CACHE_CONTROL, "no-store".into())],
            )
                .into_response(),
            Served::Unsatisfiable(id, size) => {
                let error = Error::RangeNotSatisfiable(format!("the upload has {size} bytes"));
                let mut resp = http::problem(&error, &image_path(&id));
                http::set_header(&mut resp, "content-range", &format!("bytes */{size}"));
                resp.into_response()
            }
        }
    }
}

fn view(upload: &Upload, base: &str) -> UploadView {
    UploadView {
        id: upload.id.to_string(),
        content_type: upload.content_type.clone(),
        size: upload.size,
        sha256: upload.sha256.clone(),
        filename: upload.filename.clone(),
        created_at: rfc3339(upload.created_at),
        url: format!("{base}{}", image_path(&upload.id)),
        width: upload.width,
        height: upload.height,
        pages: upload.pages,
    }
}

fn image_path(id: &UploadId) -> String {
    format!("/api/images/{id}")
}

/// An IMF-fixdate (RFC 9110 §5.6.7), e.g. `Mon, 23 Nov 2026 08:00:00 GMT`.
fn http_date(t: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
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
        check_filename(name)?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_are_imf_fixdate() {
        let t = time::macros::datetime!(2026-11-23 08:00:05 UTC);
        assert_eq!(http_date(t), "Mon, 23 Nov 2026 08:00:05 GMT");
    }
}

#[cfg(test)]
mod doc_tests {
    use utoipa::OpenApi;

    /// The job API serves the uploads' operations from [`super::UploadsDoc`]: they must be
    /// exactly the routes this function serves, operation for operation.
    #[test]
    fn the_document_s_upload_operations_are_the_served_routes() {
        let (_, served) = super::api().split_for_parts();
        let documented = super::UploadsDoc::openapi();
        let json = |doc: &utoipa::openapi::OpenApi| serde_json::to_value(&doc.paths).unwrap();
        assert_eq!(json(&documented), json(&served));
        assert_eq!(served.paths.paths.len(), 4);
    }
}

/// A request header as text, when present and readable.
fn header(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
