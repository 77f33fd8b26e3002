//! One module per subcommand.

mod init_root;
mod run;
mod sign_intermediate;
mod transcript;
mod verify_shares;

use crate::cli::Command;
use crate::error::CeremonyError;

/// Runs the chosen subcommand.
pub(crate) fn run(command: &Command) -> Result<(), CeremonyError> {
    match command {
        Command::InitRoot(args) => init_root::run(args),
        Command::SignIntermediate(args) => sign_intermediate::run(args),
        Command::Run(args) => run::run(args),
        Command::VerifyTranscript(args) => transcript::verify(args),
        Command::RenderTranscript(args) => transcript::render(args),
        Command::VerifyShares(args) => verify_shares::run(args),
    }
}
