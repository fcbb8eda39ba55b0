-- Pauses, resumes, breaches and recomputed deadlines became contract events on followup.issues
-- (each names its customer), so the topic is the whole history of an issue and a replay
-- rebuilds them. Rename the rows stored under the old internal names and add the customer.
UPDATE issue_event SET type = 'IssueSlaBreached' WHERE type = 'Breach';
UPDATE issue_event SET type = 'IssueDeadlinesRecomputed' WHERE type = 'DeadlinesRecomputed';
UPDATE issue_event e SET data = e.data || jsonb_build_object('customer_id', i.customer_id)
  FROM issue i
 WHERE i.issue_id = e.issue_id AND NOT e.data ? 'customer_id';

-- The customer's IANA zone from followup.customers: an issue's working time is counted in it.
CREATE TABLE customer_zone (
    customer_id text PRIMARY KEY,
    timezone    text NOT NULL
);

-- The official calendar years deadlines were last counted on: a year added later moves the
-- deadlines of open issues (and only theirs).
CREATE TABLE calendar_state (
    id             int PRIMARY KEY CHECK (id = 1),
    official_years int[] NOT NULL
);
