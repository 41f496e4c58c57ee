-- Corrections (a rescore) and the full rebuild: recomputing from the action log.

-- name: REFACTOR
-- Live actions whose stored estimate came from factor versions no longer in force get the versions
-- in force and the saving they give: one statement, and a second run finds nothing to change.
-- written_xid moves so the scoring tick sees them. $1: from this local day (NULL: all), $2: of this
-- action type (NULL: all); returns the change per action type.
WITH in_force AS (
    SELECT t.id AS action_type_id, t.code, b.id AS baseline_id, o.id AS option_id,
           b.value - coalesce(o.value, 0) AS saving_per_unit
    FROM action_types t
    JOIN emission_factors_in_force b ON b.code = t.baseline_factor
    LEFT JOIN emission_factors_in_force o ON o.code = t.option_factor
), stale AS MATERIALIZED (
    -- found first, with their kg before: usually none of ten million actions, read once
    SELECT a.id, f.code, f.baseline_id, f.option_id, a.co2e_kg AS before,
           round((a.quantity * f.saving_per_unit)::numeric, 6)::float8 AS co2e_kg
    FROM action_logs a JOIN in_force f ON f.action_type_id = a.action_type_id
    WHERE a.deleted_at IS NULL
      AND ($1::date IS NULL OR a.local_date >= $1)
      AND ($2::text IS NULL OR f.code = $2)
      AND (a.baseline_factor_id, a.option_factor_id) IS DISTINCT FROM (f.baseline_id, f.option_id)
), changed AS (
    UPDATE action_logs a
    SET baseline_factor_id = s.baseline_id, option_factor_id = s.option_id, co2e_kg = s.co2e_kg,
        written_xid = pg_current_xact_id()
    FROM stale s
    WHERE a.id = s.id AND a.deleted_at IS NULL
    RETURNING s.code, s.co2e_kg, s.before
)
SELECT code AS action_type, count(*) AS actions, round(sum(co2e_kg - before)::numeric, 6)::float8 AS delta_kg
FROM changed GROUP BY code ORDER BY code

-- name: POINTS_AND_KG
-- Campaign points and kg in all (or of campaign $1), to show what a correction changed.
SELECT coalesce(sum(points), 0)::float8 AS points, coalesce(sum(co2e_kg), 0)::float8 AS kg
FROM campaign_scores WHERE $1::int IS NULL OR campaign_id = $1

-- name: RESIDENT_RANGE
-- The lowest and highest resident id, to go through the residents in chunks.
SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM residents

-- name: MARK_RESIDENTS
-- A rescore marks residents with ids in [$1, $2] of part $6 of $5 (id modulo $5), their days from $3
-- (NULL: all), and their enrolments (in campaign $4 only, when given; then no days are marked), as
-- if changed. MARK_MEMBER_DAYS follows.
WITH days AS (
    INSERT INTO dirty_days (resident_id, local_date)
    SELECT DISTINCT resident_id, local_date FROM action_logs
    WHERE $4::int IS NULL AND resident_id BETWEEN $1 AND $2 AND resident_id % $5 = $6
      AND ($3::date IS NULL OR local_date >= $3)
    UNION
    SELECT DISTINCT resident_id, local_date FROM resident_days
    WHERE $4::int IS NULL AND resident_id BETWEEN $1 AND $2 AND resident_id % $5 = $6
      AND ($3::date IS NULL OR local_date >= $3)
    ON CONFLICT DO NOTHING
)
INSERT INTO changed_enrolments (campaign_id, resident_id)
SELECT e.campaign_id, e.resident_id
FROM enrolments e JOIN campaigns k ON k.id = e.campaign_id
WHERE e.resident_id BETWEEN $1 AND $2 AND e.resident_id % $5 = $6 AND ($4::int IS NULL OR e.campaign_id = $4)
  AND ($3::date IS NULL OR k.ends_on >= $3)
ON CONFLICT DO NOTHING

-- name: REBUILD_SETTINGS
-- Bulk statements sort and hash millions of rows, and build indexes of them: in memory, not in spill
-- files.
SET LOCAL work_mem = '1GB'; SET LOCAL maintenance_work_mem = '1GB'

-- name: REBUILD_CLEAR
-- What a rebuild computes again; the sums units left unfolded are part of it.
TRUNCATE resident_days, campaign_days, totals_daily, activity_daily, scoring_pending_totals, scoring_pending_activity,
         scoring_team_flips, history_scores, history_challenges, history_advanced

-- name: INDEX_DEFINITIONS
-- The tables a rebuild empties and fills again (queries.REBUILT_TABLES) lose their indexes in
-- between: one sort per index once a table is full costs a fraction of keeping each index up to date
-- row by row (10M resident days: 36 s to insert and 10 s to index, against 70 s with the indexes in
-- place). For each index of the tables $1 (text[]): its table and the statements that drop it and
-- create it again, a primary key as the constraint it backs. The statements are the catalog's own
-- definitions, names quoted by format('%I').
SELECT t.relname AS table_name,
       CASE WHEN k.oid IS NULL THEN format('DROP INDEX %I', i.relname)
            ELSE format('ALTER TABLE %I DROP CONSTRAINT %I', t.relname, k.conname) END AS drop_statement,
       CASE WHEN k.oid IS NULL THEN pg_get_indexdef(i.oid)
            ELSE format('ALTER TABLE %I ADD CONSTRAINT %I %s', t.relname, k.conname, pg_get_constraintdef(k.oid))
       END AS create_statement
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
LEFT JOIN pg_constraint k ON k.conindid = i.oid AND k.conrelid = t.oid
WHERE t.oid = ANY($1::text[]::regclass[])
ORDER BY t.relname, i.relname

-- name: SORTED_GROUPING
-- Grouping the whole action log by resident day: one sort of the log read in storage order (10M
-- rows: 36 s, written to the table without its indexes) beats a hash table of 10M groups (55 s) and
-- reading the log through the resident-day index (a random heap read per action); the sorted groups
-- also arrive in the key order of resident_days.
SET LOCAL enable_hashagg = off; SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off

-- name: PLANNER_DEFAULTS
-- The planner's choices back to their defaults.
SET LOCAL enable_hashagg TO DEFAULT; SET LOCAL enable_indexscan TO DEFAULT;
SET LOCAL enable_bitmapscan TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT

-- name: SORTED_SCORES
-- Every participant's scores at once: their campaign days are sorted for the streaks anyway, and
-- grouping them in that order takes half the time of hash tables of numeric sums, which outgrow even
-- a rebuild's work_mem and spill (3M campaign days: 16 s against 31 s).
SET LOCAL enable_hashagg = off

-- name: HASHED_RULES
-- Every participant's challenges at once: their 3M campaign days are matched to the few thousand
-- (rule, counted type) pairs through a hash of the pairs, not by sorting the days for a merge join,
-- once per kind of rule (29 s to 26 s).
SET LOCAL enable_mergejoin = off

-- name: ANALYZE_RESIDENT_DAYS
-- A rebuild's later statements join the tables it has just filled: they are planned on their new
-- contents, not on the statistics of the old ones (none, on a new database).
ANALYZE resident_days

-- name: ANALYZE_CAMPAIGN_DAYS
-- As ANALYZE_RESIDENT_DAYS.
ANALYZE campaign_days

-- name: ANALYZE_REBUILT_SCORES
-- As ANALYZE_RESIDENT_DAYS.
ANALYZE campaign_scores, challenges_met

-- name: COUNT_RESIDENT_DAYS
-- Resident days in all, for the rebuild's report.
SELECT count(*) FROM resident_days
