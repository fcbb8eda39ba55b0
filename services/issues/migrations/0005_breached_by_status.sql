-- GET /v1/issues?breached=true&status=… walked the breached issues newest first and looked each
-- one's status up: when the matching ones are old (breached assigned issues, under a backlog of
-- new unassigned ones) that was every breached issue (4 s at 1,000,000 issues). The status and
-- department in charge are kept here too (the projections update them with the issue row), and
-- the breached issues of a status have their own index.
ALTER TABLE issue_breached ADD COLUMN status text, ADD COLUMN department text;
UPDATE issue_breached b SET status = i.status, department = i.department
  FROM issue i WHERE i.issue_id = b.issue_id;
ALTER TABLE issue_breached ALTER COLUMN status SET NOT NULL,
                           ALTER COLUMN department SET NOT NULL;
CREATE INDEX issue_breached_by_status ON issue_breached (status, raised_at DESC, issue_id DESC);
