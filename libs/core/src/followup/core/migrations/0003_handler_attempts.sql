-- Handler attempts that did not finish, per event, each written in its own short transaction
-- before the handler runs (and forgotten when it succeeds): the bound on attempts then holds
-- across restarts, and a handler that kills its process (OOM, segfault) is counted too.
CREATE TABLE handler_attempt (
    consumer   text        NOT NULL,
    event_id   text        NOT NULL,
    attempts   integer     NOT NULL,
    error_type text        NOT NULL,
    error      text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Where the first batch of a partition after a start began, written before that batch runs.
-- Found still equal to next_offset at the next start, it says the process died inside that
-- batch: the batch is then run one event at a time, with counted attempts.
ALTER TABLE consumer_offset ADD COLUMN probe_offset bigint;
