//! The application: the ports (traits every adapter implements), the use cases built on them
//! (the job write path and its event table, uploads, webhook emission, the dashboard's reads),
//! configuration, and in-memory adapters behind every port for fast tests (`memory`, feature
//! `test-support`). It knows no AWS: `horizon-aws` implements the ports, `horizon-runtime` serves
//! them.

pub mod config;
pub mod dashboard;
pub mod events;
pub mod fair;
pub mod faults;
pub mod jobs;
pub mod limits;
pub mod media;
/// In-memory adapters: the unit tests', and the benchmarks' (feature `test-support`; never in a
/// Lambda artefact).
#[cfg(any(test, feature = "test-support"))]
pub mod memory;
pub mod outbox;
pub mod pages;
pub mod ports;
pub mod reconcile;
pub mod retry;
pub mod services;
pub mod spool;
pub mod uploads;

pub use config::Config;
pub use services::Services;
