//! Shared building blocks of IronRoot: key generation and loading, certificate
//! profiles, CSR inspection, fingerprints, the age-encrypted intermediate bundle
//! and private-file helpers.
//!
//! This crate links no network code, so the offline ceremony binary can depend on
//! it without pulling a socket into the air-gapped machine.

#![forbid(unsafe_code)]

pub mod admin_api;
pub mod agefile;
pub mod api;
pub mod bundle;
pub mod cert;
pub mod crl;
pub mod csr;
pub mod duration;
mod error;
mod extensions;
pub mod files;
pub mod fingerprint;
pub mod keys;
pub mod lint;
pub mod names;
pub mod pemfile;
pub mod profile;
pub mod serial;
pub mod signing;

pub use error::Error;
pub use fingerprint::Fingerprint;
