-- Migration 3: revocation, CRL state and intermediate rotation.
-- Placeholder: replaced by the change that adds these tables.
SELECT 1;
