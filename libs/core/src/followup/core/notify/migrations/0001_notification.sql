-- One row per (event, recipient, channel): the idempotency key of a delivery and its state.
CREATE TABLE IF NOT EXISTS notification (
    delivery_id     uuid PRIMARY KEY,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    person_id       text NOT NULL,
    role            text NOT NULL,
    channel         text NOT NULL,
    reason          text NOT NULL,
    facts           jsonb NOT NULL,
    occurred_at     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_error      text,
    finished_at     timestamptz
);

CREATE INDEX IF NOT EXISTS notification_due ON notification (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS notification_finished ON notification (finished_at)
    WHERE state <> 'pending';
