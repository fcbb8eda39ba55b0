-- Events used to be stored encoded twice: `data` a jsonb string wrapping the JSON document, so
-- `data->>'agent_id'` (the spot-check sample's query) found nothing. Unwrap them; readers
-- accept both forms, so a row written by an older instance during a rollout still reads.
UPDATE visit_event SET data = (data #>> '{}')::jsonb WHERE jsonb_typeof(data) = 'string';
