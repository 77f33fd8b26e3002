//! CRLs signed by each intermediate.
//!
//! Each CA's newest CRL is kept in memory and in the `crls` table. The CRL
//! number is the stored number plus one, and the writer refuses to store a
//! number that is not higher, so numbers only grow, across restarts too. A
//! CRL is regenerated after every revocation and once two thirds of its
//! validity have passed, so a fresh one is always served before nextUpdate.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use time::{Duration, OffsetDateTime};

use super::reason;
use crate::authority::ActiveCa;
use crate::storage::ReadPool;
use crate::storage::queries::{self, CrlRecord};
use crate::storage::writer::{Job, Writer};

/// A signed CRL as served.
#[derive(Clone, Debug)]
pub struct Crl {
    /// CRL number.
    pub number: i64,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    pub next_update: OffsetDateTime,
    /// Number of revoked certificates listed.
    pub entries: usize,
    /// The DER encoding.
    pub der: Vec<u8>,
}

impl Crl {
    /// Returns whether two thirds of the validity have passed at `now`.
    pub fn is_due(&self, now: OffsetDateTime) -> bool {
        let lifetime = self.next_update - self.this_update;
        now >= self.this_update + lifetime * 2 / 3
    }
}

/// The newest CRL of every loaded CA.
pub struct CrlStore {
    validity: Duration,
    current: RwLock<HashMap<i64, Arc<Crl>>>,
    /// Serialises generation, so two CRLs never take the same number.
    generating: tokio::sync::Mutex<()>,
}

impl CrlStore {
    /// Creates an empty store for CRLs valid for `validity`.
    pub fn new(validity: Duration) -> Self {
        Self {
            validity,
            current: RwLock::new(HashMap::new()),
            generating: tokio::sync::Mutex::new(()),
        }
    }

    /// Returns the lifetime of new CRLs.
    pub fn validity(&self) -> Duration {
        self.validity
    }

    /// Returns the newest CRL of CA `ca_id`, if one was generated.
    pub fn current(&self, ca_id: i64) -> Option<Arc<Crl>> {
        // A poisoned lock only means a panic during a map insert of an `Arc`.
        self.current
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(&ca_id)
            .cloned()
    }

    /// Signs, stores and caches a new CRL for `ca` listing every revoked,
    /// unexpired certificate it issued. Expired certificates are left out:
    /// RFC 5280 section 3.3 allows removing an entry after the certificate's
    /// notAfter.
    pub async fn regenerate(
        &self,
        ca: &ActiveCa,
        readers: &ReadPool,
        writer: &Writer,
    ) -> Result<Arc<Crl>, String> {
        let _guard = self.generating.lock().await;
        let now = OffsetDateTime::now_utc();
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let (last, revoked) = readers
            .with(|connection| {
                let last = queries::last_crl_number(connection, ca.id)?;
                let revoked =
                    queries::unexpired_revocations(connection, ca.id, now.unix_timestamp())?;
                Ok((last, revoked))
            })
            .map_err(|error| format!("reading the revocations failed: {error}"))?;
        let number = last + 1;
        let mut revoked_certs = Vec::with_capacity(revoked.len());
        for revocation in &revoked {
            let (_, serial) = super::parse_serial(&revocation.serial)?;
            let revocation_time = OffsetDateTime::from_unix_timestamp(revocation.revoked_at)
                .map_err(|error| format!("stored revocation time is invalid: {error}"))?;
            revoked_certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial),
                revocation_time,
                reason_code: Some(reason::to_rcgen(revocation.reason)),
                invalidity_date: None,
            });
        }
        let key_identifier = ca
            .certificate()
            .subject_key_id
            .clone()
            .map_or(KeyIdMethod::Sha256, KeyIdMethod::PreSpecified);
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + self.validity,
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: key_identifier,
        };
        let der = params
            .signed_by(&ca.crl_issuer)
            .map_err(|error| format!("signing the CRL failed: {error}"))?
            .der()
            .to_vec();
        let record = CrlRecord {
            ca_id: ca.id,
            crl_number: number,
            this_update: now.unix_timestamp(),
            next_update: (now + self.validity).unix_timestamp(),
            der: der.clone(),
        };
        writer
            .submit(Job::StoreCrl(record))
            .await
            .map_err(|error| format!("storing CRL number {number} failed: {error}"))?;
        let crl = Arc::new(Crl {
            number,
            this_update: now,
            next_update: now + self.validity,
            entries: revoked.len(),
            der,
        });
        self.current
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(ca.id, crl.clone());
        let sha256 = &ca.sha256;
        tracing::info!(
            ca.sha256 = %sha256,
            crl.number = number,
            crl.entries = crl.entries,
            crl.next_update = %crl.next_update,
            "CRL published"
        );
        Ok(crl)
    }

    /// Regenerates every CRL in `cas` that is missing or due at `now`.
    pub async fn refresh_due(
        &self,
        cas: &[Arc<ActiveCa>],
        readers: &ReadPool,
        writer: &Writer,
        now: OffsetDateTime,
    ) {
        for ca in cas {
            let due = self.current(ca.id).is_none_or(|crl| crl.is_due(now));
            if !due || ca.certificate().validity.not_after < now {
                continue;
            }
            if let Err(error) = self.regenerate(ca, readers, writer).await {
                let sha256 = &ca.sha256;
                tracing::error!(ca.sha256 = %sha256, %error, "failed to regenerate a CRL; retrying at the next check");
            }
        }
    }

    /// Returns how often the refresh task checks: a sixth of the validity,
    /// between 200 ms and 60 s, so a CRL is replaced well before nextUpdate.
    pub fn check_interval(&self) -> std::time::Duration {
        let sixth = self.validity / 6_i32;
        let millis = sixth.whole_milliseconds().clamp(200, 60_000);
        std::time::Duration::from_millis(u64::try_from(millis).unwrap_or(60_000))
    }
}

impl std::fmt::Debug for CrlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CrlStore(validity {})", self.validity)
    }
}
