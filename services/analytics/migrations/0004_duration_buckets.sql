-- Exact nearest-rank times without reading every duration of a period: per day, grouping and
-- group, how many items of each time KPI fall in each hour of duration (bucket: duration_us
-- / 3,600,000,000, truncated). A reader finds the hour holding each rank from these counts,
-- then reads the exact durations of that hour only (kpi_item_by_bucket).
ALTER TABLE kpi_item ADD COLUMN bucket bigint GENERATED ALWAYS AS (duration_us / 3600000000) STORED;
CREATE INDEX kpi_item_by_bucket ON kpi_item (kpi, bucket, at) WHERE duration_us IS NOT NULL;

CREATE TABLE kpi_dur_day (
    kpi      text NOT NULL,
    grouping text NOT NULL,
    day      date NOT NULL,
    key      text,
    bucket   bigint NOT NULL,
    n        bigint NOT NULL
);
CREATE UNIQUE INDEX kpi_dur_day_key ON kpi_dur_day (kpi, grouping, day, key, bucket)
    NULLS NOT DISTINCT;

-- The rows already there.
INSERT INTO kpi_dur_day (kpi, grouping, day, key, bucket, n)
SELECT kpi, g.grouping, (at AT TIME ZONE 'Asia/Shanghai')::date, g.key, bucket, count(*)
FROM kpi_item CROSS JOIN LATERAL (VALUES
    ('all', 'all'), ('month', k_month), ('tier', k_tier), ('agent', k_agent),
    ('department', k_department), ('category', k_category), ('region', k_region)
) AS g(grouping, key)
WHERE duration_us IS NOT NULL
GROUP BY 1, 2, 3, 4, 5;
