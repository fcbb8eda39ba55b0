-- How many consumer batches have stored facts: read with the table's oid (a replay swaps in a
-- new table), it tells a reader in one row that no fact was added since it last looked, so a
-- kept answer can be reused without asking what its period involves (cache.py).
CREATE TABLE fact_version (
    single  boolean PRIMARY KEY DEFAULT true CHECK (single),
    batches bigint NOT NULL
);
INSERT INTO fact_version (single, batches) VALUES (true, 0);
