-- Incremental aggregates, maintained in the consumer's batch transaction from the facts
-- (followup.analytics.aggregates): a KPI question sums these rows instead of folding facts.
-- Everything here is derived: a replay rebuilds it from the facts it rebuilds.

-- One row per measured thing of a visit or issue (followup.analytics.domain.items), known
-- as of everything stored; k_* are its group under each grouping. settled_at: the entity's
-- last instant its items compare `as_of` with (an answer as of an earlier instant folds it).
CREATE TABLE kpi_item (
    entity       text NOT NULL CHECK (entity IN ('visit', 'issue')),
    entity_id    text NOT NULL,
    kpi          text NOT NULL,
    at           timestamptz NOT NULL,
    k_month      text,
    k_tier       text,
    k_agent      text,
    k_department text,
    k_category   text,
    k_region     text,
    hit          boolean,
    duration_us  bigint,
    detail       text,
    settled_at   timestamptz
);
CREATE INDEX kpi_item_by_entity ON kpi_item (entity_id, entity);
CREATE INDEX kpi_item_by_kpi_at ON kpi_item (kpi, at);

-- Each visit, issue and (for the churn rules) customer the aggregates hold, with its
-- settled_at: an answer as of an earlier instant computes that entity afresh from its facts.
CREATE TABLE kpi_entity (
    entity      text NOT NULL CHECK (entity IN ('visit', 'issue', 'customer')),
    entity_id   text NOT NULL,
    settled_at  timestamptz,
    PRIMARY KEY (entity, entity_id)
);
CREATE INDEX kpi_entity_unsettled ON kpi_entity (settled_at) WHERE settled_at IS NOT NULL;

-- Every churn signal of a customer, known as of everything stored.
CREATE TABLE churn_signal (
    customer_id text NOT NULL,
    rule        text NOT NULL,
    at          timestamptz NOT NULL,
    evidence    text[] NOT NULL
);
CREATE INDEX churn_signal_by_customer ON churn_signal (customer_id);
CREATE INDEX churn_signal_by_at ON churn_signal (at);

-- Per day (the cohort instant's day in Asia/Shanghai), per grouping and group: the hits and
-- count of each ratio KPI's items, kept with kpi_item (a batch subtracts the rows it replaces
-- and adds the new ones). A period's whole days are read here; its partial days, the
-- unsettled entities and the spot checks (latest per visit in the period) from kpi_item.
CREATE TABLE kpi_day (
    kpi      text NOT NULL,
    grouping text NOT NULL,
    day      date NOT NULL,
    key      text,
    hits     bigint NOT NULL,
    n        bigint NOT NULL
);
CREATE UNIQUE INDEX kpi_day_key ON kpi_day (kpi, grouping, day, key) NULLS NOT DISTINCT;
