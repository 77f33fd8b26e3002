//! One module per subcommand.

pub mod admin_credential;
pub mod csr;
pub mod import;
pub mod init;
pub mod serve;
