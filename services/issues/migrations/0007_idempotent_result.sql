-- A command answers with a domain result and its API picks the status code: new rows keep the
-- result only (followup.core.commands.remember_result); rows from before keep their 201.
ALTER TABLE idempotent_request ALTER COLUMN status_code DROP NOT NULL;
