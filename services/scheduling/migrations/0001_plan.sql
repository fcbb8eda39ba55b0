-- Scheduling's read model: customers (no personal data kept here), deliveries, planned visits.
CREATE TABLE customer (
    customer_id        text PRIMARY KEY,
    tier               text NOT NULL,
    segment            text NOT NULL,
    timezone           text NOT NULL,
    region             text,
    account_manager_id text,
    first_delivered_at timestamptz,
    updated_at         timestamptz NOT NULL
);

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
                         CHECK (status IN ('planned', 'due', 'done', 'missed', 'cancelled')),
    due_event_id         text,
    created_at           timestamptz NOT NULL
);

-- The due sweep reads only planned rows by due time: a partial index, not a scan.
CREATE INDEX planned_visit_due_sweep ON planned_visit (due_at) WHERE status = 'planned';
CREATE INDEX planned_visit_by_customer ON planned_visit (customer_id, due_at);
CREATE INDEX planned_visit_by_due ON planned_visit (due_at, visit_id);
