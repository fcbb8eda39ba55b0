-- The core's tables, in every service's database.

-- Where each consumer is in each partition: the next offset to read. Written in the same
-- transaction as the read model, so the two never disagree.
CREATE TABLE consumer_offset (
    consumer    text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);

-- Ids of the events a consumer has applied: an id seen again has no second effect.
CREATE TABLE processed_event (
    consumer text NOT NULL,
    event_id text NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Events to publish, written in the transaction that changes state; the relay sends them.
-- Rows stay after publishing: their unique event id is what keeps a replay from publishing
-- anything twice.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    event_id     text NOT NULL UNIQUE,
    event_type   text NOT NULL,
    topic        text NOT NULL,
    key          text NOT NULL,
    value        bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz
);
-- The relay reads only unpublished rows, in id order.
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Every message a consumer could not accept, as sent to the dead-letter topic.
CREATE TABLE dead_letter (
    id              bigserial PRIMARY KEY,
    consumer        text    NOT NULL,
    topic           text    NOT NULL,
    partition       integer NOT NULL,
    kafka_offset    bigint  NOT NULL,
    key             bytea,
    value           bytea,
    -- [[name, base64 value], ...] in their original order.
    headers         jsonb   NOT NULL DEFAULT '[]',
    reason          text    NOT NULL,
    error_type      text    NOT NULL,
    error           text    NOT NULL,
    event_id        text,
    event_type      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    replayed_at     timestamptz,
    replay_attempts integer NOT NULL DEFAULT 0,
    last_replay_error text,
    -- A message redelivered (restart, replay) is one dead letter, not two.
    UNIQUE (consumer, topic, partition, kafka_offset)
);
CREATE INDEX dead_letter_open ON dead_letter (consumer, id) WHERE replayed_at IS NULL;
