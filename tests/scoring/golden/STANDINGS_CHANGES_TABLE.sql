CREATE TEMP TABLE standings_changes (LIKE standings, gone boolean NOT NULL) ON COMMIT DROP;
