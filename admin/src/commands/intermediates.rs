//! `ironroot-admin intermediates list` and `intermediates activate SHA256`.

use ironroot_core::api::{ActivateRequest, IntermediatesResponse};
use time::format_description::well_known::Rfc3339;

use super::token::connect;
use crate::cli::{ActivateArgs, ConnectionArgs, JsonArgs};
use crate::error::CliError;

/// Lists the imported intermediates.
pub(crate) async fn list(connection: &ConnectionArgs, args: &JsonArgs) -> Result<(), CliError> {
    let client = connect(connection).await?;
    let response = client.intermediates().await?;
    print(&response, args.json)
}

/// Activates an intermediate in the running daemon.
pub(crate) async fn activate(
    connection: &ConnectionArgs,
    args: &ActivateArgs,
) -> Result<(), CliError> {
    let client = connect(connection).await?;
    let request = ActivateRequest {
        sha256: args.sha256.clone(),
    };
    let response = client.activate_intermediate(&request).await?;
    if !args.json {
        eprintln!("the daemon now signs new certificates with the intermediate marked active");
    }
    print(&response, args.json)
}

fn print(response: &IntermediatesResponse, json: bool) -> Result<(), CliError> {
    if json {
        let text = serde_json::to_string_pretty(response).map_err(|error| {
            CliError::runtime(format!("failed to encode the response as JSON: {error}"))
        })?;
        println!("{text}");
        return Ok(());
    }
    println!(
        "{:<6} {:<64} {:<20} {:>9}  SUBJECT",
        "ACTIVE", "SHA256", "NOT AFTER", "DAYS LEFT"
    );
    for intermediate in &response.intermediates {
        let not_after = intermediate
            .not_after
            .format(&Rfc3339)
            .unwrap_or_else(|_| intermediate.not_after.to_string());
        println!(
            "{:<6} {:<64} {:<20} {:>9}  {}",
            if intermediate.active { "*" } else { "" },
            intermediate.sha256,
            not_after,
            intermediate.days_left,
            intermediate.subject
        );
        if let Some(warning) = &intermediate.expiry_warning {
            println!("       warning: {warning}");
        }
    }
    Ok(())
}
