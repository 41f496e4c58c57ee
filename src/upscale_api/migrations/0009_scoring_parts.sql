-- A scoring tick works on its residents in parts, one transaction each, side
-- by side on separate connections. Each part adds up what its residents'
-- recomputed days change in the running totals and leaves those sums here,
-- committed with the days and scores it recomputed; the tick then folds them
-- into totals_daily and activity_daily (one transaction per table, side by
-- side, each taking the rows it adds) and judges the teams the parts touched.
-- Rows left by a tick that failed before its end are folded by the next one,
-- which recomputes those residents again and finds nothing more to change:
-- nothing is counted twice or lost.
CREATE TABLE scoring_pending_totals (LIKE totals_daily);
CREATE TABLE scoring_pending_activity (LIKE activity_daily);
CREATE TABLE scoring_touched_teams (team_id integer NOT NULL);
