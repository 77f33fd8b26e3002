//! `ironroot-admin revoke SERIAL --reason REASON`.

use ironroot_core::api::RevokeRequest;
use time::format_description::well_known::Rfc3339;

use super::token::connect;
use crate::cli::{ConnectionArgs, RevokeArgs};
use crate::error::CliError;

/// Revokes a certificate and prints what the issuer recorded.
pub(crate) async fn run(connection: &ConnectionArgs, args: &RevokeArgs) -> Result<(), CliError> {
    let client = connect(connection).await?;
    let request = RevokeRequest {
        serial: args.serial.clone(),
        reason: args.reason.clone(),
    };
    let response = client.revoke(&request).await?;
    if args.json {
        let json = serde_json::to_string_pretty(&response).map_err(|error| {
            CliError::runtime(format!("failed to encode the response as JSON: {error}"))
        })?;
        println!("{json}");
        return Ok(());
    }
    let revoked_at = response
        .revoked_at
        .format(&Rfc3339)
        .unwrap_or_else(|_| response.revoked_at.to_string());
    println!(
        "revoked {} ({}) at {revoked_at}, reason {}",
        response.serial, response.subject, response.reason
    );
    if response.crl_number > 0 {
        println!(
            "listed on CRL number {} of intermediate {}",
            response.crl_number, response.intermediate_sha256
        );
    }
    Ok(())
}
