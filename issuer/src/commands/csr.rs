//! `ironroot-issuer csr`: generates an intermediate key on the issuing host
//! and writes a CSR for the ceremony, so the key never leaves this host.
//!
//! The key waits in `intermediates/pending/<public key SHA-256>.key.pem`
//! (mode 0600) until `import` receives a bundle whose certificate carries the
//! same public key.

use ironroot_core::files::{self, PRIVATE_FILE, PUBLIC_FILE};
use ironroot_core::keys::PrivateKey;
use ironroot_core::profile::Subject;
use rcgen::{CertificateParams, DistinguishedName, DnType};

use crate::cli::CsrArgs;
use crate::datadir::DataDir;
use crate::error::Error;

/// Generates the key and writes the CSR.
pub fn run(args: &CsrArgs) -> Result<(), Error> {
    let data_dir = DataDir::new(&args.data.data_dir);
    data_dir.require_initialised()?;
    Subject::common_name(&args.common_name).validate()?;
    if args.out.exists() {
        return Err(ironroot_core::Error::AlreadyExists {
            path: args.out.clone(),
        }
        .into());
    }

    let key = PrivateKey::generate(args.algorithm)?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, args.common_name.as_str());
    params.distinguished_name = name;
    let csr_pem = params
        .serialize_request(key.signer())
        .and_then(|csr| csr.pem())
        .map_err(ironroot_core::Error::from)?;

    files::create_private_dir(&data_dir.intermediates_dir())?;
    files::create_private_dir(&data_dir.pending_dir())?;
    let fingerprint = key.public_key_fingerprint();
    let key_path = data_dir.pending_key_path(&fingerprint.to_hex());
    files::write_new(&key_path, key.to_pkcs8_pem().as_bytes(), PRIVATE_FILE)?;
    if let Err(error) = files::write_new(&args.out, csr_pem.as_bytes(), PUBLIC_FILE) {
        if let Err(remove_error) = std::fs::remove_file(&key_path) {
            tracing::error!(path = %key_path.display(), error = %remove_error, "failed to remove the pending key of a failed csr; delete it by hand");
        }
        return Err(error.into());
    }

    tracing::info!(
        target: "ironroot::audit",
        algorithm = %args.algorithm,
        public_key.sha256 = %fingerprint.to_hex(),
        "intermediate key generated for a CSR"
    );
    println!("wrote the CSR to {}", args.out.display());
    println!("  algorithm:          {}", args.algorithm);
    println!("  public key SHA-256: {fingerprint}");
    println!("  pending key:        {}", key_path.display());
    Ok(())
}
