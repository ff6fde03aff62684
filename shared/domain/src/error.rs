//! One error type for the whole platform, mapped to HTTP in one place: it renders as RFC 9457
//! `application/problem+json`.

use serde::Serialize;

/// A field-level complaint inside a `400` problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// Well-formed, but refers to something that cannot be used (an unknown upload, a wrong type).
    #[error("{detail}")]
    Unprocessable {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Authenticated or not, this caller may not use this resource (the dashboard's gate).
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The resource exists but not for this method; carries the methods it allows (`GET, POST`).
    #[error("method not allowed; allowed: {0}")]
    MethodNotAllowed(String),
    /// The request conflicts with the resource's state (a client's `409`).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A versioned write lost the race: someone wrote since the read. The writer reads again and
    /// decides again (see `jobs::update`); a client that meets it retries (`503`).
    #[error("stale write: {0}")]
    Stale(String),
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    #[error("range not satisfiable: {0}")]
    RangeNotSatisfiable(String),
    /// The caller sent more requests than its account may: try again after `retry_after` seconds.
    #[error("too many requests: {detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("illegal status transition {from} -> {to}")]
    IllegalTransition {
        from: &'static str,
        to: &'static str,
    },
    /// A dependency (DynamoDB, SQS, S3) failed or is throttled: worth retrying.
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A `400` naming one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Error {
        let field = field.into();
        let message = message.into();
        Error::BadRequest {
            detail: format!("{field}: {message}"),
            errors: vec![FieldError { field, message }],
        }
    }

    /// A `422` naming one field.
    pub fn unprocessable(field: impl Into<String>, message: impl Into<String>) -> Error {
        let field = field.into();
        let message = message.into();
        Error::Unprocessable {
            detail: format!("{field}: {message}"),
            errors: vec![FieldError { field, message }],
        }
    }

    pub fn invalid_id(what: &str, value: &str) -> Error {
        let shown: String = value.chars().take(64).collect();
        Error::field(
            what.replace(' ', "_"),
            format!("{shown:?} is not a well-formed {what}"),
        )
    }

    /// Whether trying again later may succeed (throttling, a dependency down), as opposed to a
    /// fault in the request or the data.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::Stale(_))
    }

    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest { .. } => 400,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed(_) => 405,
            Error::Conflict(_) | Error::IllegalTransition { .. } => 409,
            Error::PayloadTooLarge(_) => 413,
            Error::Unprocessable { .. } => 422,
            Error::UnsupportedMediaType(_) => 415,
            Error::RangeNotSatisfiable(_) => 416,
            Error::TooManyRequests { .. } => 429,
            Error::Unavailable(_) | Error::Stale(_) => 503,
            Error::Internal(_) => 500,
        }
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Error::BadRequest { .. } => ("bad-request", "Bad Request"),
            Error::Unauthorized(_) => ("unauthorized", "Unauthorized"),
            Error::Forbidden(_) => ("forbidden", "Forbidden"),
            Error::NotFound(_) => ("not-found", "Not Found"),
            Error::MethodNotAllowed(_) => ("method-not-allowed", "Method Not Allowed"),
            Error::Conflict(_) | Error::IllegalTransition { .. } => ("conflict", "Conflict"),
            Error::PayloadTooLarge(_) => ("payload-too-large", "Payload Too Large"),
            Error::Unprocessable { .. } => ("unprocessable", "Unprocessable Content"),
            Error::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported Media Type"),
            Error::RangeNotSatisfiable(_) => ("range-not-satisfiable", "Range Not Satisfiable"),
            Error::TooManyRequests { .. } => ("too-many-requests", "Too Many Requests"),
            Error::Unavailable(_) | Error::Stale(_) => ("unavailable", "Service Unavailable"),
            Error::Internal(_) => ("internal", "Internal Server Error"),
        }
    }

    /// The RFC 9457 problem document for this error, about the request path `instance`.
    /// Internal details are not shown to clients; they are logged where the error is handled.
    pub fn problem(&self, instance: &str) -> Problem {
        let (slug, title) = self.slug_and_title();
        let detail = match self {
            Error::Internal(_) => "an internal error occurred; it has been logged".to_owned(),
            Error::Unavailable(_) => {
                "a storage dependency is unavailable; retry in a few seconds".to_owned()
            }
            Error::Stale(_) => "the resource changed meanwhile; retry".to_owned(),
            Error::BadRequest { detail, .. } | Error::Unprocessable { detail, .. } => {
                detail.clone()
            }
            Error::MethodNotAllowed(allowed) => format!("this resource allows {allowed}"),
            Error::NotFound(d)
            | Error::Unauthorized(d)
            | Error::Forbidden(d)
            | Error::Conflict(d)
            | Error::PayloadTooLarge(d)
            | Error::RangeNotSatisfiable(d)
            | Error::UnsupportedMediaType(d)
            | Error::TooManyRequests { detail: d, .. } => d.clone(),
            other => other.to_string(),
        };
        Problem {
            type_: format!("/problems/{slug}"),
            title,
            status: self.status(),
            detail,
            instance: instance.to_owned(),
            errors: match self {
                Error::BadRequest { errors, .. } | Error::Unprocessable { errors, .. }
                    if !errors.is_empty() =>
                {
                    Some(errors.clone())
                }
                _ => None,
            },
        }
    }
}

/// RFC 9457 problem details (`application/problem+json`).
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub instance: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_name_the_field() {
        let p = Error::field("uploadId", "is required").problem("/v1/extract/pdf");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["status"], 400);
        assert_eq!(v["type"], "/problems/bad-request");
        assert_eq!(v["errors"][0]["field"], "uploadId");
        assert_eq!(v["instance"], "/v1/extract/pdf");
        assert!(v["detail"].as_str().unwrap().contains("uploadId"));
    }

    #[test]
    fn internal_details_stay_private() {
        let p = Error::Internal("secret table name".into()).problem("/x");
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("secret"));
        assert!(serde_json::to_value(&p).unwrap().get("errors").is_none());
    }

    #[test]
    fn only_dependency_failures_are_transient() {
        assert!(Error::Unavailable("throttled".into()).is_transient());
        assert!(!Error::NotFound("x".into()).is_transient());
        assert!(!Error::field("a", "b").is_transient());
    }
}
