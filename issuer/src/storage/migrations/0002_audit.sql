-- Migration 2: audit log (hash chain of important actions).
-- Placeholder: replaced by the change that adds these tables.
SELECT 1;
