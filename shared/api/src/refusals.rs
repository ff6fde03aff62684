//! Answers documented once: those every authenticated operation may give besides its own (each
//! operation lists [`Refusals`] among its responses), and those of the two extraction routes.

use crate::schemas::Problem;
use crate::views::JobView;

#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a document, never built
pub enum Refusals {
    /// No valid API key
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// Too many requests from this account: retry after `Retry-After` seconds
    #[response(status = 429, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait")))]
    TooManyRequests(Problem),
    /// A dependency is unavailable; retry
    #[response(status = 503, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait")))]
    Unavailable(Problem),
}

/// What `POST /v1/extract/pdf` and `POST /v1/extract/image` answer, besides [`Refusals`].
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a document, never built
pub enum ExtractResponses {
    /// Queued
    #[response(status = 202, headers(
        ("Location" = String, description = "The job's status resource"),
        ("Retry-After" = String, description = "Seconds before polling")))]
    Queued(JobView),
    /// Replayed: this Idempotency-Key and body were seen before
    #[response(status = 200)]
    Replayed(JobView),
    /// Malformed request, or an upload the other route reads (a PDF, or an image)
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// The upload is too large
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The upload's bytes are not an accepted type
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedType(Problem),
    /// Unknown upload, or an Idempotency-Key reused with another body
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
}

/// The header that makes a job's creation safe to repeat.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // a document: the handler reads the header itself
pub struct IdempotencyHeader {
    /// Repeat a request safely: the same key and body return the same job for 24 hours
    #[serde(rename = "Idempotency-Key")]
    pub idempotency_key: Option<String>,
}
