-- The per-day aggregates rolled up per month (`day` is the month's first day), kept with them:
-- a period's whole months are read here, its other whole days from kpi_day / kpi_dur_day.
CREATE TABLE kpi_month (LIKE kpi_day);
CREATE UNIQUE INDEX kpi_month_key ON kpi_month (kpi, grouping, day, key) NULLS NOT DISTINCT;
CREATE TABLE kpi_dur_month (LIKE kpi_dur_day);
CREATE UNIQUE INDEX kpi_dur_month_key ON kpi_dur_month (kpi, grouping, day, key, bucket)
    NULLS NOT DISTINCT;

INSERT INTO kpi_month (kpi, grouping, day, key, hits, n)
SELECT kpi, grouping, date_trunc('month', day)::date, key, sum(hits), sum(n)
FROM kpi_day GROUP BY 1, 2, 3, 4;
INSERT INTO kpi_dur_month (kpi, grouping, day, key, bucket, n)
SELECT kpi, grouping, date_trunc('month', day)::date, key, bucket, sum(n)
FROM kpi_dur_day GROUP BY 1, 2, 3, 4, 5;
