-- A running export beats every few seconds; one whose worker died stops beating and
-- is taken again by the next worker, at most three times.
ALTER TABLE research_exports
    ADD COLUMN heartbeat_at timestamptz,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0;
