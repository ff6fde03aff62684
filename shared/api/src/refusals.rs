//! The answers every authenticated operation may give besides its own, documented once: each
//! operation lists [`Refusals`] among its responses.

use crate::schemas::Problem;

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
