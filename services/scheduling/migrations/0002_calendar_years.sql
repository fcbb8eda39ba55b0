-- The official calendar years the stored deadlines were counted on (region, year and a digest
-- of the year's days off and make-up working days). A service started with official data newly
-- loaded or corrected compares it with these, recomputes the deadlines of open visits counted on
-- the changed years (SPEC §2; finished ones never), then records the new digests.
CREATE TABLE calendar_year (
    region      text NOT NULL,
    year        integer NOT NULL,
    fingerprint text NOT NULL,
    PRIMARY KEY (region, year)
);
