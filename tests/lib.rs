//! Helpers live in the e2e test binary; this crate exists to hold the end-to-end tests.
