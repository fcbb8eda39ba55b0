-- The PolicyActivated events a service has seen (SPEC §11), kept in its own database: a restart
-- and a replay (core tables are not rebuilt) find the policy in force at any instant at once.
CREATE TABLE policy_activation (
    event_id     text PRIMARY KEY,
    effective_at timestamptz NOT NULL,
    seen_at      bigserial NOT NULL,
    digest       text NOT NULL,
    document     jsonb NOT NULL
);
