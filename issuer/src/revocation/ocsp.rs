//! DER of the OCSP responder (RFC 6960): parsing requests and building
//! signed responses, with yasna.
//!
//! Only what a responder needs is modelled. The request's optional signature
//! and requestor name are read and ignored; every extension except the nonce
//! is ignored. A response echoes each request's CertID byte for byte.

use time::OffsetDateTime;
use yasna::models::{GeneralizedTime, ObjectIdentifier};
use yasna::{DERWriter, Tag};

use crate::authority::ActiveCa;
use crate::authority::registry::CertIdHash;

/// id-sha1 (1.3.14.3.2.26).
const OID_SHA1: &[u64] = &[1, 3, 14, 3, 2, 26];
/// id-sha256 (2.16.840.1.101.3.4.2.1).
const OID_SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
/// id-pkix-ocsp-nonce (1.3.6.1.5.5.7.48.1.2).
const OID_NONCE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 2];
/// id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1).
const OID_BASIC: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 1];
/// Maximum number of CertIDs accepted in one request.
const MAX_REQUESTS: usize = 32;

/// OCSPResponseStatus values that carry no signed response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorStatus {
    /// malformedRequest (1): the request is not valid DER for an OCSPRequest.
    MalformedRequest = 1,
    /// internalError (2).
    InternalError = 2,
    /// unauthorized (6): this responder does not serve the named issuer.
    Unauthorized = 6,
}

/// One CertID of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertId {
    /// The CertID's DER, echoed in the response.
    pub der: Vec<u8>,
    /// Hash algorithm of the name and key hashes.
    pub hash: CertIdHash,
    /// Hash of the issuer's subject name DER.
    pub issuer_name_hash: Vec<u8>,
    /// Hash of the issuer's subjectPublicKey.
    pub issuer_key_hash: Vec<u8>,
    /// Serial number, lower-case hex without a sign byte.
    pub serial: String,
}

/// A parsed OCSPRequest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The CertIDs asked about, at least one.
    pub cert_ids: Vec<CertId>,
    /// The whole nonce Extension DER, echoed in the response.
    pub nonce: Option<Vec<u8>>,
}

/// The status of one certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertStatus {
    /// Issued by this CA and not revoked.
    Good,
    /// Revoked at `at` for the RFC 5280 reason code `reason`.
    Revoked {
        /// Revocation time.
        at: OffsetDateTime,
        /// CRLReason code.
        reason: u8,
    },
    /// Not issued by this CA according to the database.
    Unknown,
}

/// Times of a signed response.
#[derive(Clone, Copy, Debug)]
pub struct ResponseTimes {
    /// producedAt and thisUpdate.
    pub now: OffsetDateTime,
    /// nextUpdate: when a newer response is available at the latest.
    pub next_update: OffsetDateTime,
}

/// Parses a DER OCSPRequest. The error text names the invalid part.
pub fn parse_request(der: &[u8]) -> Result<Request, String> {
    let (cert_id_ders, extensions) = yasna::parse_der(der, |reader| {
        reader.read_sequence(|reader| {
            let tbs = reader.next().read_sequence(|reader| {
                reader.read_optional(|reader| {
                    reader.read_tagged(Tag::context(0), |reader| reader.read_u8())
                })?;
                reader.read_optional(|reader| {
                    reader.read_tagged(Tag::context(1), |reader| reader.read_der())
                })?;
                let mut cert_ids = Vec::new();
                reader.next().read_sequence_of(|reader| {
                    let cert_id = reader.read_sequence(|reader| {
                        let cert_id = reader.next().read_der()?;
                        reader.read_optional(|reader| {
                            reader.read_tagged(Tag::context(0), |reader| reader.read_der())
                        })?;
                        Ok(cert_id)
                    })?;
                    cert_ids.push(cert_id);
                    Ok(())
                })?;
                let extensions = reader.read_optional(|reader| {
                    reader.read_tagged(Tag::context(2), |reader| reader.read_der())
                })?;
                Ok((cert_ids, extensions))
            })?;
            reader.read_optional(|reader| {
                reader.read_tagged(Tag::context(0), |reader| reader.read_der())
            })?;
            Ok(tbs)
        })
    })
    .map_err(|error| format!("not a DER OCSPRequest ({error})"))?;
    if cert_id_ders.is_empty() {
        return Err("the request lists no certificate".to_owned());
    }
    if cert_id_ders.len() > MAX_REQUESTS {
        return Err(format!(
            "the request lists {} certificates; the limit is {MAX_REQUESTS}",
            cert_id_ders.len()
        ));
    }
    let cert_ids = cert_id_ders
        .into_iter()
        .map(parse_cert_id)
        .collect::<Result<Vec<_>, _>>()?;
    let nonce = match extensions {
        Some(der) => find_nonce(&der)?,
        None => None,
    };
    Ok(Request { cert_ids, nonce })
}

fn parse_cert_id(der: Vec<u8>) -> Result<CertId, String> {
    let (oid, issuer_name_hash, issuer_key_hash, serial) = yasna::parse_der(&der, |reader| {
        reader.read_sequence(|reader| {
            let oid = reader.next().read_sequence(|reader| {
                let oid = reader.next().read_oid()?;
                reader.read_optional(|reader| reader.read_null())?;
                Ok(oid)
            })?;
            let name_hash = reader.next().read_bytes()?;
            let key_hash = reader.next().read_bytes()?;
            let serial = reader.next().read_bigint_bytes()?;
            Ok((oid, name_hash, key_hash, serial))
        })
    })
    .map_err(|error| format!("invalid CertID ({error})"))?;
    let (hash, length) = if oid.components().as_slice() == OID_SHA1 {
        (CertIdHash::Sha1, 20)
    } else if oid.components().as_slice() == OID_SHA256 {
        (CertIdHash::Sha256, 32)
    } else {
        return Err(format!(
            "the CertID hash algorithm {oid} is not supported; use SHA-1 or SHA-256"
        ));
    };
    if issuer_name_hash.len() != length || issuer_key_hash.len() != length {
        return Err("the CertID hashes do not match the length of their algorithm".to_owned());
    }
    let (magnitude, positive) = serial;
    if !positive {
        return Err("the CertID serial number is negative".to_owned());
    }
    Ok(CertId {
        der,
        hash,
        issuer_name_hash,
        issuer_key_hash,
        serial: ironroot_core::fingerprint::hex(&magnitude),
    })
}

/// Finds the nonce in a DER Extensions sequence and returns its Extension DER.
/// Maximum nonce length, in octets (RFC 8954 section 2.1).
const MAX_NONCE_LEN: usize = 32;

fn find_nonce(extensions: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let all = yasna::parse_der(extensions, |reader| {
        let mut all = Vec::new();
        reader.read_sequence_of(|reader| {
            all.push(reader.read_der()?);
            Ok(())
        })?;
        Ok(all)
    })
    .map_err(|error| format!("invalid request extensions ({error})"))?;
    let mut nonce = None;
    for extension in all {
        let (oid, critical, value) = yasna::parse_der(&extension, |reader| {
            reader.read_sequence(|reader| {
                let oid = reader.next().read_oid()?;
                let critical = reader.read_optional(|reader| reader.read_bool())?;
                let value = reader.next().read_bytes()?;
                Ok((oid, critical.unwrap_or(false), value))
            })
        })
        .map_err(|error| format!("invalid request extension ({error})"))?;
        if oid.components().as_slice() != OID_NONCE {
            // RFC 5280 section 4.2: an unrecognised critical extension must not be ignored.
            if critical {
                return Err(format!("unsupported critical request extension {oid}"));
            }
            continue;
        }
        if nonce.is_some() {
            return Err("the request carries two nonce extensions".to_owned());
        }
        // RFC 8954 section 2.1: the nonce is an OCTET STRING of 1 to 32 octets.
        let length = yasna::parse_der(&value, |reader| reader.read_bytes())
            .map_err(|_| "the nonce is not an OCTET STRING".to_owned())?
            .len();
        if !(1..=MAX_NONCE_LEN).contains(&length) {
            return Err(format!(
                "the nonce has {length} octets; RFC 8954 allows 1 to {MAX_NONCE_LEN}"
            ));
        }
        nonce = Some(extension);
    }
    Ok(nonce)
}

/// Builds an unsigned response with an error status.
pub fn error_response(status: ErrorStatus) -> Vec<u8> {
    yasna::construct_der(|writer| {
        writer.write_sequence(|writer| writer.next().write_enum(status as i64));
    })
}

/// Builds a successful response for `answers`, signed by `ca`.
pub fn signed_response(
    ca: &ActiveCa,
    answers: &[(CertId, CertStatus)],
    nonce: Option<&[u8]>,
    times: ResponseTimes,
) -> Result<Vec<u8>, String> {
    use rcgen::SigningKey;

    let tbs = response_data(ca, answers, nonce, times);
    let key = ca.authority.key();
    let signature = key
        .sign(&tbs)
        .map_err(|error| format!("signing the OCSP response failed: {error}"))?;
    let algorithm = signature_algorithm(key.algorithm());
    let basic = yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            writer.next().write_der(&tbs);
            writer.next().write_sequence(|writer| {
                writer
                    .next()
                    .write_oid(&ObjectIdentifier::from_slice(algorithm.0));
                // RSA AlgorithmIdentifiers carry NULL parameters (RFC 4055 section 5).
                if algorithm.1 {
                    writer.next().write_null();
                }
            });
            writer
                .next()
                .write_bitvec_bytes(&signature, signature.len() * 8);
            // The signer's certificate, so clients that were given only the
            // root can build the signer's chain.
            writer.next().write_tagged(Tag::context(0), |writer| {
                writer.write_sequence(|writer| {
                    writer.next().write_der(&ca.certificate().der);
                });
            });
        });
    });
    Ok(yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            writer.next().write_enum(0);
            writer.next().write_tagged(Tag::context(0), |writer| {
                writer.write_sequence(|writer| {
                    writer
                        .next()
                        .write_oid(&ObjectIdentifier::from_slice(OID_BASIC));
                    writer.next().write_bytes(&basic);
                });
            });
        });
    }))
}

/// Encodes ResponseData: responderID byKey, producedAt, one SingleResponse
/// per certificate status, and the nonce when the request had one.
fn response_data(
    ca: &ActiveCa,
    answers: &[(CertId, CertStatus)],
    nonce: Option<&[u8]>,
    times: ResponseTimes,
) -> Vec<u8> {
    let now = generalized_time(times.now);
    let next_update = generalized_time(times.next_update);
    yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            writer.next().write_tagged(Tag::context(2), |writer| {
                writer.write_bytes(&ca.ocsp.key_sha1);
            });
            writer.next().write_generalized_time(&now);
            writer.next().write_sequence(|writer| {
                for (cert_id, status) in answers {
                    single_response(writer.next(), cert_id, *status, &now, &next_update);
                }
            });
            if let Some(nonce) = nonce {
                writer.next().write_tagged(Tag::context(1), |writer| {
                    writer.write_sequence(|writer| writer.next().write_der(nonce));
                });
            }
        });
    })
}

fn single_response(
    writer: DERWriter<'_>,
    cert_id: &CertId,
    status: CertStatus,
    this_update: &GeneralizedTime,
    next_update: &GeneralizedTime,
) {
    writer.write_sequence(|writer| {
        writer.next().write_der(&cert_id.der);
        match status {
            CertStatus::Good => writer
                .next()
                .write_tagged_implicit(Tag::context(0), |writer| writer.write_null()),
            CertStatus::Revoked { at, reason } => {
                writer
                    .next()
                    .write_tagged_implicit(Tag::context(1), |writer| {
                        writer.write_sequence(|writer| {
                            writer.next().write_generalized_time(&generalized_time(at));
                            writer.next().write_tagged(Tag::context(0), |writer| {
                                writer.write_enum(i64::from(reason));
                            });
                        });
                    });
            }
            CertStatus::Unknown => writer
                .next()
                .write_tagged_implicit(Tag::context(2), |writer| writer.write_null()),
        }
        writer.next().write_generalized_time(this_update);
        writer.next().write_tagged(Tag::context(0), |writer| {
            writer.write_generalized_time(next_update);
        });
    });
}

/// Returns the signature AlgorithmIdentifier OID of the CA key and whether it
/// takes NULL parameters. ECDSA signs with the hash its curve pairs with
/// (SHA-256 for P-256, SHA-384 for P-384); RSA keys sign PKCS#1 v1.5 with SHA-256.
fn signature_algorithm(algorithm: ironroot_core::keys::KeyAlgorithm) -> (&'static [u64], bool) {
    use ironroot_core::keys::KeyAlgorithm;
    match algorithm {
        KeyAlgorithm::EcdsaP256 => (&[1, 2, 840, 10045, 4, 3, 2], false),
        KeyAlgorithm::EcdsaP384 => (&[1, 2, 840, 10045, 4, 3, 3], false),
        KeyAlgorithm::Ed25519 => (&[1, 3, 101, 112], false),
        KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => (&[1, 2, 840, 113549, 1, 1, 11], true),
    }
}

/// Encodes a time as GeneralizedTime in whole seconds, as RFC 5280 requires.
fn generalized_time(at: OffsetDateTime) -> GeneralizedTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    GeneralizedTime::from_datetime(at.replace_nanosecond(0).unwrap_or(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes requestExtensions holding one extension per `(oid, critical, value)`.
    fn extensions(entries: &[(&[u64], bool, Vec<u8>)]) -> Vec<u8> {
        yasna::construct_der(|writer| {
            writer.write_sequence(|writer| {
                for (oid, critical, value) in entries {
                    writer.next().write_sequence(|writer| {
                        writer.next().write_oid(&ObjectIdentifier::from_slice(oid));
                        if *critical {
                            writer.next().write_bool(true);
                        }
                        writer.next().write_bytes(value);
                    });
                }
            });
        })
    }

    fn nonce_value(length: usize) -> Vec<u8> {
        yasna::construct_der(|writer| writer.write_bytes(&vec![7u8; length]))
    }

    #[test]
    fn nonce_of_valid_length_is_echoed() {
        let der = extensions(&[(OID_NONCE, false, nonce_value(16))]);
        assert!(find_nonce(&der).unwrap().is_some());
    }

    #[test]
    fn nonce_limits_are_enforced() {
        let too_long = extensions(&[(OID_NONCE, false, nonce_value(33))]);
        assert!(find_nonce(&too_long).unwrap_err().contains("33 octets"));
        let empty = extensions(&[(OID_NONCE, false, nonce_value(0))]);
        assert!(find_nonce(&empty).is_err());
        let twice = extensions(&[
            (OID_NONCE, false, nonce_value(8)),
            (OID_NONCE, false, nonce_value(8)),
        ]);
        assert!(find_nonce(&twice).unwrap_err().contains("two nonce"));
        let not_octets = extensions(&[(OID_NONCE, false, vec![0x05, 0x00])]);
        assert!(find_nonce(&not_octets).is_err());
    }

    #[test]
    fn unknown_critical_extension_is_rejected() {
        let der = extensions(&[(&[1, 2, 3, 4], true, vec![0x05, 0x00])]);
        assert!(find_nonce(&der).unwrap_err().contains("critical"));
        let ignored = extensions(&[(&[1, 2, 3, 4], false, vec![0x05, 0x00])]);
        assert!(find_nonce(&ignored).unwrap().is_none());
    }

    fn cert_id(hash_oid: &[u64], serial: &[u8]) -> Vec<u8> {
        yasna::construct_der(|writer| {
            writer.write_sequence(|writer| {
                writer.next().write_sequence(|writer| {
                    writer
                        .next()
                        .write_oid(&ObjectIdentifier::from_slice(hash_oid));
                    writer.next().write_null();
                });
                writer.next().write_bytes(&[1; 20]);
                writer.next().write_bytes(&[2; 20]);
                writer.next().write_bigint_bytes(serial, true);
            });
        })
    }

    fn request(cert_id: &[u8], nonce: Option<&[u8]>) -> Vec<u8> {
        yasna::construct_der(|writer| {
            writer.write_sequence(|writer| {
                writer.next().write_sequence(|writer| {
                    writer.next().write_sequence(|writer| {
                        writer.next().write_sequence(|writer| {
                            writer.next().write_der(cert_id);
                        });
                    });
                    if let Some(nonce) = nonce {
                        writer.next().write_tagged(Tag::context(2), |writer| {
                            writer.write_sequence(|writer| {
                                writer.next().write_sequence(|writer| {
                                    writer
                                        .next()
                                        .write_oid(&ObjectIdentifier::from_slice(OID_NONCE));
                                    writer.next().write_bytes(nonce);
                                });
                            });
                        });
                    }
                });
            });
        })
    }

    #[test]
    fn ocsp_request_parses_cert_id_and_nonce() {
        let id = cert_id(OID_SHA1, &[0x5b, 0x2c]);
        let parsed = parse_request(&request(&id, Some(b"\x04\x02ab"))).unwrap();
        assert_eq!(parsed.cert_ids.len(), 1);
        assert_eq!(parsed.cert_ids[0].der, id);
        assert_eq!(parsed.cert_ids[0].hash, CertIdHash::Sha1);
        assert_eq!(parsed.cert_ids[0].serial, "5b2c");
        assert!(parsed.nonce.is_some());
        let without = parse_request(&request(&id, None)).unwrap();
        assert!(without.nonce.is_none());
    }

    #[test]
    fn ocsp_request_rejects_garbage_and_unknown_hash() {
        assert!(parse_request(b"not der").is_err());
        let md5 = cert_id(&[1, 2, 840, 113549, 2, 5], &[1]);
        let error = parse_request(&request(&md5, None)).unwrap_err();
        assert!(error.contains("not supported"), "{error}");
    }

    #[test]
    fn ocsp_error_response_is_a_bare_status() {
        let der = error_response(ErrorStatus::MalformedRequest);
        assert_eq!(der, vec![0x30, 0x03, 0x0a, 0x01, 0x01]);
    }
}
