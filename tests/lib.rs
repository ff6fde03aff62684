//! The end-to-end tests live in `e2e/`; this library holds what several test binaries share: the
//! adapters' contract (run against the in-memory and the AWS adapters), the load run (a
//! benchmark and a test) and PDFs made in code.
pub mod contract;
pub mod load;
pub mod pdfs;
