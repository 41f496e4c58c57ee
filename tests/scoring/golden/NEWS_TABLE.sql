CREATE TEMP TABLE IF NOT EXISTS news (resident_id bigint NOT NULL, kind text NOT NULL, subject_id integer NOT NULL)
    ON COMMIT DROP
