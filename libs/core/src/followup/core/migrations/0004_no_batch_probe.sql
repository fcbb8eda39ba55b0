-- 0003's batch probe is withdrawn: a batch found unfinished after a restart blamed whichever
-- event was running when the process died, so external kills (deploys, the crash proofs)
-- could dead-letter innocent events. Attempts are counted once a handler has failed.
ALTER TABLE consumer_offset DROP COLUMN IF EXISTS probe_offset;
