-- Analytics' read model: the facts of followup.analytics.domain, one row per contract event
-- (insert-only, so any order of the topics and any redelivery store the same rows). A KPI query
-- picks the visits, issues and customers its period can involve through the indexes, loads
-- their whole facts and folds them with the pure domain. No personal data: no contact, no
-- free text (feedback, descriptions, reasons).

CREATE TABLE customer_fact (
    event_id    text PRIMARY KEY,
    customer_id text NOT NULL,
    at          timestamptz NOT NULL,  -- delivered_at / signed_at: the profile holds from then
    tier        text NOT NULL,
    region      text,
    timezone    text
);
CREATE INDEX customer_fact_by_customer ON customer_fact (customer_id);

-- kind: due (VisitDue), move (VisitDeadlineRecomputed), log (VisitLogged), check
-- (VisitSpotChecked); `at` is due_at, recomputed_at, logged_at, checked_at.
CREATE TABLE visit_fact (
    event_id     text PRIMARY KEY,
    visit_id     text NOT NULL,
    customer_id  text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('due', 'move', 'log', 'check')),
    at           timestamptz NOT NULL,
    deadline     timestamptz,
    attempt      smallint,
    agent_id     text,
    kinds        text[],
    issue_id     text,
    outcome      text,
    satisfaction smallint,
    result       text
);
CREATE INDEX visit_fact_by_visit ON visit_fact (visit_id);
CREATE INDEX visit_fact_by_kind_at ON visit_fact (kind, at);
CREATE INDEX visit_fact_by_deadline ON visit_fact (deadline) WHERE deadline IS NOT NULL;
CREATE INDEX visit_fact_by_issue ON visit_fact (issue_id) WHERE issue_id IS NOT NULL;
CREATE INDEX visit_fact_by_customer ON visit_fact (customer_id);

-- kind: raise, assign, resolve, reopen, close, breach, handover_move, pause, resume; `at` is
-- the event's instant (a breach's: its deadline). agent_id is the assignee or the breach's owner.
CREATE TABLE issue_fact (
    event_id       text PRIMARY KEY,
    issue_id       text NOT NULL,
    customer_id    text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('raise', 'assign', 'resolve', 'reopen', 'close',
                                                 'breach', 'handover_move', 'pause', 'resume')),
    at             timestamptz NOT NULL,
    category       text,
    severity       text,
    source         text,
    department     text,
    handover_by    timestamptz,
    respond_by     timestamptz,
    resolve_by     timestamptz,
    timezone       text,
    agent_id       text,
    clock          text,
    round          smallint,
    paused_seconds integer,
    pause_no       integer
);
CREATE INDEX issue_fact_by_issue ON issue_fact (issue_id);
CREATE INDEX issue_fact_by_kind_at ON issue_fact (kind, at);
CREATE INDEX issue_fact_by_customer ON issue_fact (customer_id);
