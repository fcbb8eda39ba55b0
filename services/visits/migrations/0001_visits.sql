-- Visits' read model: every event of a visit (folded by domain.evolve), the queue row the API
-- reads, customers' account managers and encrypted contacts, and idempotent API requests.
CREATE TABLE visit_event (
    visit_id   text NOT NULL,
    seq        bigserial,
    event_id   text NOT NULL UNIQUE,
    type       text NOT NULL,
    data       jsonb NOT NULL,
    PRIMARY KEY (visit_id, seq)
);

CREATE TABLE visit (
    visit_id         text PRIMARY KEY,
    customer_id      text NOT NULL,
    order_id         text,
    kinds            text[] NOT NULL DEFAULT '{}',
    status           text NOT NULL CHECK (status IN ('due', 'missed', 'done')),
    agent_id         text,
    due_at           timestamptz,
    deadline         timestamptz,
    attempt          smallint,
    issue_id         text,
    completed_at     timestamptz,
    completed_by     text,
    on_time          boolean NOT NULL DEFAULT false,
    spot_check       text,
    updated_at       timestamptz NOT NULL
);
-- An agent's queue by deadline, and the missed sweep over due visits.
CREATE INDEX visit_queue ON visit (agent_id, status, deadline, visit_id);
CREATE INDEX visit_by_status ON visit (status, deadline, visit_id);
CREATE INDEX visit_by_customer ON visit (customer_id, due_at);
CREATE INDEX visit_completed_by ON visit (completed_by, completed_at);

CREATE TABLE customer (
    customer_id        text PRIMARY KEY,
    account_manager_id text,
    -- Contact data encrypted with the customer's own key; deleting the key forgets it.
    contact_ciphertext bytea,
    updated_at         timestamptz NOT NULL
);

CREATE TABLE customer_key (
    customer_id text PRIMARY KEY,
    wrapped_key bytea NOT NULL
);

CREATE TABLE idempotent_request (
    key          text PRIMARY KEY,
    request_hash text NOT NULL,
    status_code  int NOT NULL,
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL
);
