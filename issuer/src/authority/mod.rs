//! Who may ask for what, and signing with the active intermediate.
//!
//! [`ActiveCa`] is loaded once at start-up; every request signs with the same
//! parsed key and caches no per-request state.

pub mod issue;
pub mod tokens;

use ironroot_core::cert::{Authority, CertificateInfo};
use ironroot_core::keys::PrivateKey;
use ironroot_core::{files, pemfile};
use rusqlite::Connection;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::datadir::DataDir;
use crate::error::Error;
use crate::storage::queries;

/// The active intermediate CA with its key, plus the PEM texts the API serves.
pub struct ActiveCa {
    /// Row id in the `cas` table.
    pub id: i64,
    /// The intermediate certificate and key, ready to sign.
    pub authority: Authority,
    /// The root certificate the intermediate chains to.
    pub root: CertificateInfo,
    /// The intermediate certificate, PEM.
    pub intermediate_pem: String,
    /// The root certificate, PEM.
    pub root_pem: String,
}

impl ActiveCa {
    /// Loads the active CA recorded in the database and its key file, checking
    /// that the key file is private and that the CA is valid at `now`.
    pub fn load(
        data_dir: &DataDir,
        connection: &Connection,
        now: OffsetDateTime,
    ) -> Result<Self, Error> {
        let record = queries::active_ca(connection)?.ok_or_else(|| Error::NoIntermediate {
            path: data_dir.root().to_owned(),
        })?;
        let key_path = data_dir.intermediate_key_path(&record.sha256);
        data_dir.check_private_files(&key_path)?;
        let pem_bytes = Zeroizing::new(files::read(&key_path)?);
        let pem_text = std::str::from_utf8(&pem_bytes).map_err(|_| Error::Io {
            what: "reading the intermediate key",
            path: key_path.clone(),
            reason: "the file is not UTF-8 PEM".to_owned(),
        })?;
        let what = format!("in {}", key_path.display());
        let key = PrivateKey::from_pkcs8_pem(pem_text, &what)?;
        let authority = Authority::new(&record.cert_der, key, "active intermediate")?;
        let root = CertificateInfo::parse(&record.root_der, "root certificate")?;
        let info = authority.certificate();
        if !info.is_valid_at(now) {
            return Err(Error::IntermediateUnusable {
                subject: info.subject.clone(),
                reason: format!(
                    "it is valid from {} to {}, which does not include now ({now}); import a new intermediate",
                    info.validity.not_before, info.validity.not_after
                ),
            });
        }
        Ok(Self {
            id: record.id,
            intermediate_pem: pemfile::encode(pemfile::CERTIFICATE, &record.cert_der),
            root_pem: pemfile::encode(pemfile::CERTIFICATE, &record.root_der),
            authority,
            root,
        })
    }

    /// Returns the intermediate certificate's facts.
    pub fn certificate(&self) -> &CertificateInfo {
        self.authority.certificate()
    }

    /// Returns the intermediate PEM followed by the root PEM.
    pub fn chain_pem(&self) -> String {
        format!("{}{}", self.intermediate_pem, self.root_pem)
    }
}

impl std::fmt::Debug for ActiveCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActiveCa({}, {:?})", self.id, self.authority)
    }
}
