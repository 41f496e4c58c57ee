INSERT INTO scoring_touched_teams (team_id)
SELECT DISTINCT team_id FROM enrolments WHERE team_id IS NOT NULL AND left_at IS NULL
