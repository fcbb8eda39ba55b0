-- Bounded growth (the relay prunes, see followup.core.retention). BRIN indexes: both columns
-- grow with insertion order, so a few pages of index find the old rows without slowing inserts.
ALTER TABLE processed_event ADD COLUMN processed_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX processed_event_age ON processed_event USING brin (processed_at);
CREATE INDEX outbox_published_age ON outbox USING brin (published_at);
