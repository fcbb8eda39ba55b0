-- The breach sweep reads only this: one row per clock still able to breach (running, or past
-- its deadline and not recorded), with what deciding and recording its breach needs. The
-- projections rewrite an issue's rows after each of its events (domain.breach_schedule), so a
-- sweep no longer loads and folds each issue's whole history: with 10,000 newly breached of
-- 1,000,000 open issues that reading and folding was about 1 s of a 2-5 s sweep.
CREATE TABLE issue_breach_schedule (
    issue_id    text NOT NULL,
    clock       text NOT NULL,
    round       int NOT NULL,
    deadline    timestamptz NOT NULL,
    customer_id text NOT NULL,
    -- In charge at the deadline: the breach's credit.
    department  text NOT NULL,
    owner_id    text,
    -- The customer's zone: the breach names its deadline in it, as the fold does.
    timezone    text NOT NULL,
    PRIMARY KEY (issue_id, clock)
);
CREATE INDEX issue_breach_schedule_due ON issue_breach_schedule (deadline);

-- Issues that could still breach before this table existed: the service's first ticks fold
-- them once and fill their schedule (IssueHandlers.schedule_issues_stored_before_the_schedule).
CREATE TABLE issue_schedule_backfill (issue_id text PRIMARY KEY);
INSERT INTO issue_schedule_backfill SELECT issue_id FROM issue WHERE next_breach_at IS NOT NULL;

-- The schedule holds what next_breach_at held.
DROP INDEX issue_breach_sweep;
ALTER TABLE issue DROP COLUMN next_breach_at;

-- The breached issues, for GET /v1/issues?breached=… (newest first): written once, when an
-- issue first breaches. As a flag on the issue row, every newly breached issue was a new
-- version of a row in six indexes (a breached issue's neighbours, raised at about the same
-- time, breach together, so the pages held no room for a heap-only update): ~0.5 s of database
-- time per 10,000 breaches against ~0.1 s for these two-index inserts.
CREATE TABLE issue_breached (
    issue_id  text PRIMARY KEY,
    raised_at timestamptz NOT NULL
);
INSERT INTO issue_breached SELECT issue_id, raised_at FROM issue WHERE breached;
DROP INDEX issue_breached_by_raised;
ALTER TABLE issue DROP COLUMN breached;
CREATE INDEX issue_breached_by_raised ON issue_breached (raised_at DESC, issue_id DESC);
