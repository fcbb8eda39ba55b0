-- SPEC §10, no dead ends: a declined visit and one unreachable three times are ended states, a
-- rescheduled one is out of the queue until `rescheduled_to` (the sweep finds it by that time).
ALTER TABLE visit DROP CONSTRAINT visit_status_check;
ALTER TABLE visit ADD CONSTRAINT visit_status_check
    CHECK (status IN ('due', 'missed', 'done', 'rescheduled', 'declined', 'unreachable'));
ALTER TABLE visit ADD COLUMN rescheduled_to timestamptz;
CREATE INDEX visit_rescheduled ON visit (rescheduled_to) WHERE status = 'rescheduled';
