//! Every usable intermediate of the daemon, and which one signs new
//! certificates.
//!
//! The active CA sits behind a `RwLock<Arc<..>>`: a request clones the `Arc`
//! once and signs with that CA to the end, and an activation swaps the `Arc`
//! under a write lock held only for the assignment. Inactive intermediates
//! stay loaded so their CRLs and OCSP responses can still be signed.

use std::sync::{Arc, RwLock};

use rusqlite::Connection;
use time::OffsetDateTime;

use super::ActiveCa;
use crate::config::Config;
use crate::datadir::DataDir;
use crate::error::Error;
use crate::storage::queries;

/// Hash algorithm of an OCSP CertID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertIdHash {
    /// SHA-1, the default of most OCSP clients.
    Sha1,
    /// SHA-256.
    Sha256,
}

/// The loaded intermediates.
pub struct Intermediates {
    loaded: RwLock<Vec<Arc<ActiveCa>>>,
    active: RwLock<Arc<ActiveCa>>,
}

impl Intermediates {
    /// Loads the active intermediate (an error if it is unusable) and every
    /// other imported intermediate that is valid at `now`. Others that fail to
    /// load are logged and skipped, because the daemon can sign without them.
    pub fn load(
        data_dir: &DataDir,
        connection: &Connection,
        config: &Config,
        now: OffsetDateTime,
    ) -> Result<Self, Error> {
        let mut active = ActiveCa::load(data_dir, connection, now)?;
        configure(&mut active, config);
        let active = Arc::new(active);
        let mut loaded = vec![active.clone()];
        for record in queries::list_cas(connection)? {
            if record.id == active.id {
                continue;
            }
            if record.not_after <= now.unix_timestamp() {
                tracing::info!(ca.sha256 = %record.sha256, ca.subject = %record.subject, "skipping an expired intermediate; its certificates have expired too");
                continue;
            }
            let sha256 = record.sha256.clone();
            match ActiveCa::load_record(data_dir, record, now) {
                Ok(mut ca) => {
                    configure(&mut ca, config);
                    loaded.push(Arc::new(ca));
                }
                Err(error) => {
                    tracing::warn!(ca.sha256 = %sha256, %error, "cannot load an inactive intermediate; its CRL and OCSP responses are not served");
                }
            }
        }
        Ok(Self {
            loaded: RwLock::new(loaded),
            active: RwLock::new(active),
        })
    }

    /// Returns the CA that signs new certificates.
    pub fn active(&self) -> Arc<ActiveCa> {
        // A poisoned lock only means a writer panicked during the assignment
        // of an `Arc`, which cannot leave it half-written.
        self.active
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// Returns every loaded CA, the active one included.
    pub fn all(&self) -> Vec<Arc<ActiveCa>> {
        self.loaded
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// Finds a loaded CA by the SHA-256 of its certificate.
    pub fn by_sha256(&self, sha256: &str) -> Option<Arc<ActiveCa>> {
        self.all().into_iter().find(|ca| ca.sha256 == sha256)
    }

    /// Finds a loaded CA by its `cas.id`.
    pub fn by_id(&self, id: i64) -> Option<Arc<ActiveCa>> {
        self.all().into_iter().find(|ca| ca.id == id)
    }

    /// Finds the CA an OCSP CertID names by its name and key hashes.
    pub fn by_cert_id(
        &self,
        hash: CertIdHash,
        name_hash: &[u8],
        key_hash: &[u8],
    ) -> Option<Arc<ActiveCa>> {
        self.all().into_iter().find(|ca| match hash {
            CertIdHash::Sha1 => ca.ocsp.name_sha1 == name_hash && ca.ocsp.key_sha1 == key_hash,
            CertIdHash::Sha256 => {
                ca.ocsp.name_sha256 == name_hash && ca.ocsp.key_sha256 == key_hash
            }
        })
    }

    /// Adds a CA loaded after start-up (imported while the daemon ran).
    pub fn insert(&self, ca: Arc<ActiveCa>) {
        let mut loaded = self
            .loaded
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        if !loaded.iter().any(|existing| existing.id == ca.id) {
            loaded.push(ca);
        }
    }

    /// Makes `ca` the CA that signs new certificates. The caller has
    /// recorded the change in the database first.
    pub fn set_active(&self, ca: Arc<ActiveCa>) {
        self.insert(ca.clone());
        *self
            .active
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = ca;
    }
}

/// Applies the configuration's leaf URLs to a freshly loaded CA.
pub fn configure(ca: &mut ActiveCa, config: &Config) {
    ca.set_leaf_urls(config.crl_url.as_deref(), config.ocsp_url.as_deref());
}

impl std::fmt::Debug for Intermediates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Intermediates({} loaded)", self.all().len())
    }
}
