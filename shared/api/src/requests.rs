//! What clients send: request bodies and query parameters, each with its rules in one
//! `validate`, which turns it into the typed values the application works with (or a `400` that
//! names the field at fault).

use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use horizon_domain::error::{Error, Result};
use horizon_domain::net::Cidr;
use horizon_domain::{
    JobId, JobOptions, JobStatus, JobType, OcrMode, PageSelection, Subscription, UploadId,
};

use crate::views::{decode_cursor, Tag};
use crate::webhooks::{self, WebhookInput};

/// `POST /v1/extract/pdf` and `POST /v1/extract/image`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtractRequest {
    /// An upload id from `POST /api/upload` or `POST /api/uploads`.
    #[schema(
        example = "upl_01KAZ7ZQ6B7M8Q3W8V6X2N4PRD",
        pattern = r"^upl_[0-7][0-9A-HJKMNP-TV-Z]{25}$"
    )]
    pub upload_id: String,
    /// Up to 20 tags, each 1–64 characters of letters, digits and `_ - . : /`.
    #[serde(default)]
    #[schema(max_items = 20, inline, value_type = Vec<Tag>)]
    pub tags: Vec<String>,
    /// Any JSON object up to 4 KB, returned with the job.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// A webhook for this job's events.
    pub webhook: Option<WebhookInput>,
    pub options: Option<ExtractOptions>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtractOptions {
    /// Upper bound of a chunk's length in characters (100–20000; default 1500).
    #[schema(minimum = 100, maximum = 20000)]
    pub max_chunk_chars: Option<u32>,
    /// Pages to extract, e.g. `"1-3,7,10-"`; all when absent.
    #[schema(
        example = "1-3,7",
        pattern = r"^[1-9][0-9]{0,5}(-([1-9][0-9]{0,5})?)?(,[1-9][0-9]{0,5}(-([1-9][0-9]{0,5})?)?)*$"
    )]
    pub pages: Option<String>,
    /// PDFs: when pages are read with OCR: `auto` (default) the pages without a usable text
    /// layer, `always`, `never`. Images are always read with OCR.
    #[schema(value_type = Option<crate::schemas::OcrMode>)]
    pub ocr: Option<horizon_domain::OcrMode>,
    /// `accurate` (default) runs the learned layout and table-structure models; `fast` reads
    /// without them, at the highest speed (born-digital text).
    #[schema(value_type = Option<crate::schemas::ExtractMode>)]
    pub mode: Option<horizon_domain::ExtractMode>,
    /// The document's languages as ISO 639-1 codes (`["en", "fr"]`, at most 10). OCR then reads
    /// only their scripts' characters: English text is read without accents the page does not
    /// have. Without it, a page whose words are English is read so; other pages with every
    /// character the recognizer knows.
    #[schema(example = json!(["en"]))]
    pub languages: Option<Vec<String>>,
    /// How the chunks are cut for retrieval: `block` (the default: one per heading, list,
    /// table, or paragraphs of a section on a page), `by_title` (a section's blocks gathered,
    /// over pages), `by_page` (a page's blocks gathered), each chunk at most `maxChars`
    /// (default `maxChunkChars`), starting with the last `overlapChars` of the chunk before it
    /// when cut for size. Tables are chunks of their own, split between rows with their header
    /// repeated. The Markdown is the same whatever the chunking.
    #[schema(value_type = Option<crate::schemas::Chunking>)]
    pub chunking: Option<horizon_layout::retrieval::Chunking>,
}

/// An extraction request that passed its rules.
#[derive(Debug)]
pub struct JobRequest {
    pub upload_id: UploadId,
    pub tags: Vec<String>,
    pub metadata: Option<serde_json::Value>,
    pub options: JobOptions,
    /// The job's own subscription, with the secret when the server generated it (shown once).
    pub webhook: Option<(Subscription, Option<String>)>,
}

impl ExtractRequest {
    /// The request's rules, for a job of `job_type`: a well-formed upload id, at most 20 client
    /// tags, metadata a JSON object of at most 4 KB, options in range, a webhook whose URL is
    /// allowed (`allow`: the private ranges let through).
    pub fn validate(
        self,
        job_type: JobType,
        allow: &[Cidr],
        now: time::OffsetDateTime,
    ) -> Result<JobRequest> {
        let upload_id = UploadId::from_str(&self.upload_id)
            .map_err(|_| Error::field("uploadId", "is not a well-formed upload id (upl_...)"))?;
        check_tags(&self.tags)?;
        if let Some(m) = &self.metadata {
            if !m.is_object() {
                return Err(Error::field("metadata", "must be a JSON object"));
            }
            if m.to_string().len() > 4096 {
                return Err(Error::field("metadata", "must be at most 4 KB of JSON"));
            }
        }
        let options = self.options.unwrap_or_default().validate(job_type)?;
        let webhook = self
            .webhook
            .map(|w| webhooks::subscribe(w, allow, now, "webhook."))
            .transpose()?;
        Ok(JobRequest {
            upload_id,
            tags: self.tags,
            metadata: self.metadata,
            options,
            webhook,
        })
    }

    /// What makes two requests the same for `Idempotency-Key`: the route and the body's
    /// values (its JSON with keys sorted, whitespace and key order ignored).
    pub fn fingerprint(&self, job_type: JobType) -> Result<String> {
        use sha2::{Digest, Sha256};
        let value = serde_json::to_value(self)
            .map_err(|e| Error::Internal(format!("serialising a request: {e}")))?;
        let text = format!("{}\n{value}", job_type.as_str());
        Ok(hex::encode(Sha256::digest(text.as_bytes())))
    }
}

impl ExtractOptions {
    fn validate(self, job_type: JobType) -> Result<JobOptions> {
        Ok(JobOptions {
            max_chunk_chars: match self.max_chunk_chars {
                Some(n) if !(100..=20_000).contains(&n) => {
                    return Err(Error::field(
                        "options.maxChunkChars",
                        "must be from 100 to 20000",
                    ))
                }
                other => other,
            },
            pages: self
                .pages
                .map(|p| PageSelection::from_str(&p))
                .transpose()
                .map_err(|m| Error::field("options.pages", m))?,
            ocr: match (self.ocr, job_type) {
                (Some(mode), JobType::ExtractImage) if mode != OcrMode::Always => {
                    return Err(Error::field(
                        "options.ocr",
                        "images are always read with OCR; leave it out or say \"always\"",
                    ))
                }
                (mode, _) => mode,
            },
            mode: self.mode,
            languages: horizon_layout::languages::parse(&self.languages.unwrap_or_default())
                .map_err(|m| Error::field("options.languages", m))?,
            chunking: self.chunking.map(check_chunking).transpose()?,
        })
    }
}

/// A chunk of 100 to 20,000 characters, an overlap of at most half of it (the worker also holds
/// it to half the size it uses when `maxChars` is left out).
fn check_chunking(
    c: horizon_layout::retrieval::Chunking,
) -> Result<horizon_layout::retrieval::Chunking> {
    if let Some(n) = c.max_chars.filter(|n| !(100..=20_000).contains(n)) {
        return Err(Error::field(
            "options.chunking.maxChars",
            format!("must be from 100 to 20000, not {n}"),
        ));
    }
    if let Some(n) = c
        .overlap_chars
        .filter(|n| *n > c.max_chars.unwrap_or(20_000) / 2)
    {
        return Err(Error::field(
            "options.chunking.overlapChars",
            format!("must be at most half of maxChars ({n} is more)"),
        ));
    }
    Ok(c)
}

/// A client's tags: at most 20, none of the service's own (`account:`, `type:`, …).
fn check_tags(tags: &[String]) -> Result<()> {
    if tags.len() > 20 {
        return Err(Error::field("tags", "at most 20 tags"));
    }
    for (i, tag) in tags.iter().enumerate() {
        horizon_domain::check_client_tag(tag)
            .map_err(|why| Error::field(format!("tags[{i}]"), why))?;
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
/// `POST /api/uploads`: ask for a presigned upload URL.
pub struct PresignRequest {
    #[schema(pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,255}$")]
    pub filename: Option<String>,
    /// The file's size in bytes: the URL takes exactly this many (`413` above the service's
    /// limit).
    #[schema(minimum = 1, maximum = 1_099_511_627_776_u64)]
    pub size: u64,
    /// The file's type, when the client knows it: the URL then takes only this type (send it as
    /// `Content-Type`), and bytes of another type are refused when the upload is first used.
    #[schema(example = "application/pdf")]
    pub content_type: Option<String>,
}

/// The largest `size` the document allows (1 TiB); above the service's limit is a `413`.
const MAX_DECLARED_SIZE: u64 = 1 << 40;

impl PresignRequest {
    /// The grant's rules: a printable file name, a size from 1 byte to `max_bytes` (a `413`
    /// above it), a type among `accepted` (a `415` otherwise).
    pub fn validate(&self, max_bytes: u64, accepted: &[&str]) -> Result<()> {
        if let Some(name) = &self.filename {
            check_filename(name)?;
        }
        if self.size == 0 || self.size > MAX_DECLARED_SIZE {
            return Err(Error::field(
                "size",
                format!("a size from 1 to {MAX_DECLARED_SIZE} bytes is required"),
            ));
        }
        if self.size > max_bytes {
            return Err(Error::PayloadTooLarge(format!(
                "{} bytes is over the limit of {max_bytes}",
                self.size
            )));
        }
        if let Some(declared) = &self.content_type {
            if !accepted.contains(&declared.as_str()) {
                return Err(Error::UnsupportedMediaType(format!(
                    "contentType {declared} is not accepted: accepted are {}",
                    accepted.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// An upload's file name: 1 to 255 printable characters.
pub fn check_filename(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(Error::field(
            "filename",
            "must be 1 to 255 printable characters",
        ));
    }
    Ok(())
}

/// A job's id in a path, as the OpenAPI document describes it (the handlers read it as a
/// `JobId`, whose parsing is the rule).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct JobPath {
    /// job_<ULID>
    #[serde(rename = "jobId")]
    #[param(pattern = r"^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub job_id: String,
}

/// `GET /v1/jobs`: which of the caller's jobs, and which page of them.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// Only jobs in this status
    #[param(value_type = Option<crate::schemas::JobStatus>)]
    pub status: Option<JobStatus>,
    /// Only jobs of this type
    #[param(value_type = Option<crate::schemas::JobType>)]
    pub job_type: Option<JobType>,
    /// Only jobs with this tag
    pub tag: Option<String>,
    /// nextCursor of the previous page
    #[param(pattern = r"^[A-Za-z0-9_-]{1,200}$")]
    pub cursor: Option<String>,
    /// 1 to 100, default 20
    #[serde(default, deserialize_with = "whole_number")]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A list of jobs as asked for: its filters, the job it starts after, its length.
#[derive(Debug)]
pub struct JobsWanted {
    pub status: Option<JobStatus>,
    pub job_type: Option<JobType>,
    pub tag: Option<String>,
    pub after: Option<JobId>,
    pub limit: u32,
}

impl JobsQuery {
    pub fn validate(self) -> Result<JobsWanted> {
        let after = self
            .cursor
            .map(|c| {
                decode_cursor(&c)?
                    .strip_prefix("jobs:")
                    .and_then(|id| JobId::from_str(id).ok())
                    .ok_or_else(|| Error::field("cursor", "is not a cursor of this list"))
            })
            .transpose()?;
        Ok(JobsWanted {
            status: self.status,
            job_type: self.job_type,
            tag: self.tag,
            after,
            limit: limit(self.limit, 20, 100)?,
        })
    }
}

/// `GET /v1/jobs/{jobId}/chunks`: which page of the job's chunks.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChunksQuery {
    /// nextCursor of the previous page
    #[param(pattern = r"^[A-Za-z0-9_-]{1,200}$")]
    pub cursor: Option<String>,
    /// 1 to 1000, default 100; a page also ends before 4 MB of chunks (follow nextCursor)
    #[serde(default, deserialize_with = "whole_number")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl ChunksQuery {
    pub fn validate(self) -> Result<Window> {
        Window::of(
            self.cursor,
            self.limit,
            100,
            1000,
            "chunks",
            "this job's chunks",
        )
    }
}

/// `GET /v1/jobs/{jobId}/webhooks`: which page of the job's delivery log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// nextCursor of the previous page
    #[param(pattern = r"^[A-Za-z0-9_-]{1,200}$")]
    pub cursor: Option<String>,
    /// 1 to 1000, default 500; a page also ends before 4 MB (follow nextCursor)
    #[serde(default, deserialize_with = "whole_number")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl DeliveriesQuery {
    pub fn validate(self) -> Result<Window> {
        Window::of(
            self.cursor,
            self.limit,
            500,
            1000,
            "deliveries",
            "this delivery log",
        )
    }
}

/// `GET …/pages/{page}`: the picture's width.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Width in pixels: 400, 800, 1200 (default) or 1600
    #[serde(default, deserialize_with = "whole_number")]
    #[param(minimum = 400, maximum = 1600)]
    pub w: Option<u32>,
}

/// A page of a list kept by position: where it starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: u32,
    pub limit: u32,
}

impl Window {
    /// The window a `cursor` of `kind` (`<kind>:<n>`, as `encode_cursor` wrote it) and a
    /// `limit` (`1..=max`, `default` without one) ask for; a cursor of something else is a `400`
    /// naming `what` it should have been.
    pub fn of(
        cursor: Option<String>,
        asked: Option<u32>,
        default: u32,
        max: u32,
        kind: &str,
        what: &str,
    ) -> Result<Window> {
        let offset = match cursor {
            None => 0,
            Some(c) => decode_cursor(&c)?
                .strip_prefix(kind)
                .and_then(|rest| rest.strip_prefix(':'))
                .and_then(|n| n.parse::<u32>().ok())
                .ok_or_else(|| Error::field("cursor", format!("is not a cursor of {what}")))?,
        };
        Ok(Window {
            offset,
            limit: limit(asked, default, max)?,
        })
    }
}

/// A `limit` in `1..=max`, `default` when absent.
pub fn limit(asked: Option<u32>, default: u32, max: u32) -> Result<u32> {
    match asked {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(Error::field(
            "limit",
            format!("must be a whole number from 1 to {max}"),
        )),
    }
}

/// A query parameter that is a whole number, with an error that says so.
pub fn whole_number<'de, D: Deserializer<'de>>(
    de: D,
) -> std::result::Result<Option<u32>, D::Error> {
    let text = String::deserialize(de)?;
    text.parse()
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("must be a whole number, not {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::encode_cursor;

    #[test]
    fn a_window_reads_its_own_cursor_and_refuses_another() {
        let c = encode_cursor("chunks:200");
        let w = Window::of(Some(c), Some(50), 100, 1000, "chunks", "chunks").unwrap();
        assert_eq!(
            w,
            Window {
                offset: 200,
                limit: 50
            }
        );
        let other = encode_cursor("deliveries:3");
        assert!(Window::of(Some(other), None, 100, 1000, "chunks", "chunks").is_err());
        assert!(Window::of(None, Some(0), 100, 1000, "chunks", "chunks").is_err());
        assert_eq!(
            Window::of(None, None, 100, 1000, "c", "c").unwrap().limit,
            100
        );
    }

    #[test]
    fn an_image_job_may_only_say_ocr_always() {
        let opts = |ocr| ExtractOptions {
            ocr: Some(ocr),
            ..Default::default()
        };
        assert!(opts(OcrMode::Never)
            .validate(JobType::ExtractImage)
            .is_err());
        assert!(opts(OcrMode::Always)
            .validate(JobType::ExtractImage)
            .is_ok());
        assert!(opts(OcrMode::Never).validate(JobType::ExtractPdf).is_ok());
    }
}
