//! One module per subcommand.

mod init_root;
mod sign_intermediate;

use crate::cli::Command;
use crate::error::CeremonyError;

/// Runs the chosen subcommand.
pub(crate) fn run(command: &Command) -> Result<(), CeremonyError> {
    match command {
        Command::InitRoot(args) => init_root::run(args),
        Command::SignIntermediate(args) => sign_intermediate::run(args),
    }
}
