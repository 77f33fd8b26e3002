//! The IronRoot online issuer daemon: it holds one active intermediate CA,
//! checks single-use bootstrap tokens and signs workload CSRs over HTTPS,
//! storing every certificate durably before returning it.
//!
//! `docs/issuer.md` is the operator guide and `docs/api.md` the API reference.

#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod authority;
pub mod backup;
pub mod cli;
pub mod commands;
pub mod config;
pub mod datadir;
pub mod error;
pub mod revocation;
pub mod server;
pub mod storage;
pub mod tls;

pub use error::Error;
