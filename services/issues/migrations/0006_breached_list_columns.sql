-- GET /v1/issues?breached=true walked issue_breached newest first and read each issue's row by
-- its key, at random (~7 µs a row, ~0.7-1.5 ms of a page of 100 over 1,000,000 issues). The
-- breached issues carry every listed column here too (the projections keep them with the issue
-- row), so such a page is read from this table alone.
ALTER TABLE issue_breached
    ADD COLUMN customer_id text, ADD COLUMN paused boolean, ADD COLUMN owner_id text,
    ADD COLUMN category text, ADD COLUMN severity text, ADD COLUMN source text;
UPDATE issue_breached b
   SET customer_id = i.customer_id, paused = i.paused, owner_id = i.owner_id,
       category = i.category, severity = i.severity, source = i.source
  FROM issue i WHERE i.issue_id = b.issue_id;
ALTER TABLE issue_breached
    ALTER COLUMN customer_id SET NOT NULL, ALTER COLUMN paused SET NOT NULL,
    ALTER COLUMN category SET NOT NULL, ALTER COLUMN severity SET NOT NULL,
    ALTER COLUMN source SET NOT NULL;
