-- Issues' ledger: every event of an issue (folded by domain.evolve), the row the API lists,
-- and idempotent API requests.
CREATE TABLE issue_event (
    issue_id text NOT NULL,
    seq      bigserial,
    event_id text NOT NULL UNIQUE,
    type     text NOT NULL,
    data     jsonb NOT NULL,
    PRIMARY KEY (issue_id, seq)
);

CREATE TABLE issue (
    issue_id       text PRIMARY KEY,
    customer_id    text NOT NULL,
    status         text NOT NULL,
    paused         boolean NOT NULL DEFAULT false,
    department     text NOT NULL,
    owner_id       text,
    category       text NOT NULL,
    severity       text NOT NULL,
    source         text NOT NULL,
    raised_at      timestamptz NOT NULL,
    breached       boolean NOT NULL DEFAULT false,
    timezone       text NOT NULL,
    -- The earliest deadline still able to breach: the breach sweep reads only issues past it.
    next_breach_at timestamptz,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX issue_breach_sweep ON issue (next_breach_at) WHERE next_breach_at IS NOT NULL;
CREATE INDEX issue_by_raised ON issue (raised_at DESC, issue_id DESC);
CREATE INDEX issue_by_status ON issue (status, raised_at DESC, issue_id DESC);
CREATE INDEX issue_by_department ON issue (department, status, raised_at DESC, issue_id DESC);
CREATE INDEX issue_by_customer ON issue (customer_id, raised_at DESC);

CREATE TABLE idempotent_request (
    key          text PRIMARY KEY,
    request_hash text NOT NULL,
    status_code  int NOT NULL,
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL
);
