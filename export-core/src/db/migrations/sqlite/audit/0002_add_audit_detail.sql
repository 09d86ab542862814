ALTER TABLE audit_events ADD COLUMN detail TEXT;
