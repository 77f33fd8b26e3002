//! One module per subcommand.

pub mod admin_credential;
pub mod import;
pub mod init;
pub mod serve;
