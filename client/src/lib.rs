//! HTTPS client for the IronRoot issuer API, used by `ironroot-client`,
//! `ironroot-admin` and the load generator.
//!
//! A workload enrolls in three steps:
//!
//! 1. [`tls::fetch_root_unverified`] fetches the root certificate over a
//!    connection that trusts nothing and checks it against a fingerprint the
//!    operator published.
//! 2. [`tls::verified_config`] builds a TLS configuration that trusts only
//!    that root, and [`Client`] talks to the issuer over it.
//! 3. [`Client::sign`] sends a CSR from [`keys::build_csr`] with a bootstrap
//!    token, and [`verify::verify_issued`] checks the answer before it is saved.
//!
//! TLS always uses rustls with the ring provider.

#![forbid(unsafe_code)]

pub mod client;
mod client_error;
pub mod keys;
pub mod server_url;
pub mod tls;
pub mod verify;

pub use client::{Client, MAX_RESPONSE_BODY, Timeouts};
pub use client_error::Error;
pub use server_url::ServerUrl;
