//! The end-to-end tests live in `e2e/`; this library holds the load run that a benchmark and a test share.
pub mod load;
