-- Scheduling's read model: customers (no personal data kept here), deliveries, planned visits.
CREATE TABLE customer (
    customer_id        text PRIMARY KEY,
    -- Known from CustomerDelivered or IntentSigned; an IssueResolved may arrive first.
    tier               text,
    segment            text,
    timezone           text,
    -- The time of the fact that set tier/segment/timezone: the latest fact wins, whatever
    -- the order in which the facts arrive.
    profile_at         timestamptz,
    region             text,
    account_manager_id text,
    intent_signed_at   timestamptz,
    project_started_at timestamptz,
    -- The rolling horizon the plan reaches; the tick extends plans that fall short.
    planned_until      timestamptz,
    updated_at         timestamptz NOT NULL
);

-- Resolved issues whose fix must be confirmed by an issue_follow_up visit.
CREATE TABLE resolved_issue (
    issue_id    text PRIMARY KEY,
    customer_id text NOT NULL,
    resolved_at timestamptz NOT NULL
);
CREATE INDEX resolved_issue_by_customer ON resolved_issue (customer_id);

CREATE TABLE delivery (
    customer_id  text NOT NULL,
    order_id     text NOT NULL,
    delivered_at timestamptz NOT NULL,
    product      text NOT NULL,
    tier         text NOT NULL,
    event_id     text NOT NULL,
    PRIMARY KEY (customer_id, order_id)
);

CREATE TABLE planned_visit (
    visit_id             text PRIMARY KEY,
    customer_id          text NOT NULL,
    order_id             text,
    kinds                text[] NOT NULL,
    due_at               timestamptz NOT NULL,
    deadline             timestamptz NOT NULL,
    deadline_provisional boolean NOT NULL DEFAULT false,
    attempt              smallint NOT NULL DEFAULT 1,
    issue_id             text,
    agent_id             text,
    reason               text NOT NULL,
    status               text NOT NULL DEFAULT 'planned'
                         CHECK (status IN ('planned', 'due', 'done', 'missed')),
    -- The policy components merged into this visit (domain.Candidate.key), so a re-plan
    -- never plans again what was already published.
    sources              text[] NOT NULL DEFAULT '{}',
    due_event_id         text,
    created_at           timestamptz NOT NULL
);

-- The due sweep reads only planned rows by due time: a partial index, not a scan.
CREATE INDEX planned_visit_due_sweep ON planned_visit (due_at) WHERE status = 'planned';
CREATE INDEX planned_visit_by_customer ON planned_visit (customer_id, due_at);
CREATE INDEX planned_visit_by_due ON planned_visit (due_at, visit_id);

CREATE INDEX customer_by_planned_until ON customer (planned_until);
