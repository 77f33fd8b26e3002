//! One module per subcommand.

pub mod activate;
pub mod admin_credential;
pub mod backup;
pub mod csr;
pub mod import;
pub mod init;
pub mod serve;
