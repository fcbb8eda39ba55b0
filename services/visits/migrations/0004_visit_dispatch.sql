-- SPEC §10 dispatch: routing reads the customer's region, segment and tier (intent-only
-- customers included); the unassigned queue is read by the partial index.
ALTER TABLE customer ADD COLUMN region text;
ALTER TABLE customer ADD COLUMN segment text;
ALTER TABLE customer ADD COLUMN tier text;
CREATE INDEX visit_unassigned ON visit (deadline, visit_id)
    WHERE agent_id IS NULL AND status IN ('due', 'missed', 'rescheduled');
