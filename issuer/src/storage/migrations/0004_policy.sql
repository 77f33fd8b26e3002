-- Migration 4: policy profiles and renewal lineage.

-- The policy profile a certificate was issued under (NULL: the built-in
-- `default` profile, as for rows written before profiles existed).
ALTER TABLE certificates ADD COLUMN profile TEXT;
-- Serial of the certificate that renewed this one. A superseded certificate
-- cannot renew again.
ALTER TABLE certificates ADD COLUMN superseded_by TEXT;
-- The policy profile a bootstrap token is bound to (NULL: `default`).
ALTER TABLE tokens ADD COLUMN profile TEXT;
