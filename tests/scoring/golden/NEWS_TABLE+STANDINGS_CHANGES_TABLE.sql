CREATE TEMP TABLE IF NOT EXISTS news (resident_id bigint NOT NULL, kind text NOT NULL, subject_id integer NOT NULL)
    ON COMMIT DROP;CREATE TEMP TABLE standings_changes (LIKE standings, gone boolean NOT NULL) ON COMMIT DROP;
