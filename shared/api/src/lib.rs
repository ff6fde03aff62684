//! The job API's request and response types, with their OpenAPI schemas: what a client sends and
//! reads (job views, chunk pages, webhook subscriptions and their payloads). Built on the domain;
//! no I/O.

pub mod horizon;
pub mod refusals;
pub mod requests;
pub mod schemas;
pub mod views;
pub mod webhooks;
