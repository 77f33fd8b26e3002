-- Migration 4: policy profiles and renewal lineage.
-- Placeholder: replaced by the change that adds these tables.
SELECT 1;
