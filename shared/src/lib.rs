//! Horizon's shared library: the domain, the ports and their AWS adapters, configuration, errors
//! and HTTP helpers. Every function crate builds on it.

pub mod auth;
pub mod aws;
pub mod config;
pub mod dashboard;
pub mod deliveries;
pub mod domain;
pub mod error;
pub mod events;
pub mod faults;
pub mod http;
pub mod jobs;
pub mod keys;
pub mod lambda;
pub mod media;
pub mod memory;
pub mod monitoring;
pub mod net;
pub mod ports;
pub mod services;
pub mod telemetry;
pub mod uploads;
pub mod views;
pub mod webhooks;

pub use config::Config;
pub use error::{Error, Result};
pub use services::Services;
