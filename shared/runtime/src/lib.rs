//! How a function runs: the axum service every HTTP function is wrapped in (problem+json, `404`,
//! `405`, one log line per request), the API-key extractor, logging and spans, and the Lambda
//! entry points that build the AWS adapters once and hand them to a function's routes or handler.

pub mod auth;
pub mod documents;
pub mod http;
pub mod lambda;
pub mod telemetry;
