-- GET /v1/issues?breached=true lists newest first, but breached issues are the older ones: the
-- newest day or so holds none (no deadline has passed yet), so walking issue_by_raised for them
-- read ~200,000 rows per page over 1,000,000 issues (30-100 ms). This index holds only them.
CREATE INDEX issue_breached_by_raised ON issue (raised_at DESC, issue_id DESC) WHERE breached;
