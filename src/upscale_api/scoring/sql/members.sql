-- Campaign participants: the campaign days they count (what their resident days give a campaign) and
-- their scores.

-- name: MARK_CHANGED_ENROLMENTS
-- Participants of part $3 of $2 (resident id modulo $2) whose enrolment was written by a transaction
-- that snapshot $1 did not see as done: they joined, left or changed team.
INSERT INTO changed_enrolments (campaign_id, resident_id)
SELECT campaign_id, resident_id FROM enrolments
WHERE written_xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(written_xid, $1::pg_snapshot)
  AND resident_id % $2 = $3
ON CONFLICT DO NOTHING

-- name: MARK_MEMBER_DAYS
-- The campaign days to recompute: a changed resident day inside a campaign its resident is enrolled
-- in, and every day, stored or to be stored, of a changed enrolment. Runs before resident days are
-- recomputed: a changed enrolment's days come from the stored resident and campaign days, and a day
-- new in this run is a changed day, marked by the first part.
--
-- Their participants are marked with what recomputing them reads of their enrolment, looked up once
-- here: whether they take part (enrolled, not left), their city, district and team, their baseline
-- answers, the local days that count (from the day they enrolled to the campaign's last), and the
-- cut-off before which their stored history stands. Without one (NULL) they are recomputed from all
-- their days: when a marked day is before the cut-off, when their enrolment changed, or when their
-- campaign has a challenge newer than their history.
WITH marked AS (
    INSERT INTO dirty_member_days (campaign_id, resident_id, local_date)
    SELECT e.campaign_id, e.resident_id, d.local_date
    FROM dirty_days d
    JOIN enrolments e ON e.resident_id = d.resident_id
    JOIN campaigns k ON k.id = e.campaign_id AND d.local_date BETWEEN k.starts_on AND k.ends_on
    UNION
    SELECT c.campaign_id, c.resident_id, rd.local_date
    FROM changed_enrolments c
    JOIN campaigns k ON k.id = c.campaign_id
    JOIN resident_days rd ON rd.resident_id = c.resident_id AND rd.local_date BETWEEN k.starts_on AND k.ends_on
    UNION
    SELECT d.campaign_id, d.resident_id, d.local_date
    FROM changed_enrolments c JOIN campaign_days d USING (campaign_id, resident_id)
    ON CONFLICT DO NOTHING
    RETURNING campaign_id, resident_id, local_date
)
INSERT INTO dirty_members (campaign_id, resident_id, taking_part, city_id, district_id, team_id, baseline,
                           first_day, last_day, history_cutoff)
SELECT x.campaign_id, x.resident_id, e.resident_id IS NOT NULL AND e.left_at IS NULL, e.city_id, r.district_id,
       e.team_id, e.baseline, greatest(k.starts_on, (e.enrolled_at AT TIME ZONE r.time_zone)::date), k.ends_on,
       (SELECT h.cutoff FROM history_scores h
        WHERE h.campaign_id = x.campaign_id AND h.resident_id = x.resident_id
          AND NOT x.enrolment_changed AND x.earliest >= h.cutoff
          AND h.rules_through >= (SELECT coalesce(max(ch.id), 0) FROM challenges ch
                                  WHERE ch.campaign_id = x.campaign_id))
FROM (SELECT campaign_id, resident_id, min(local_date) AS earliest, bool_or(enrolment) AS enrolment_changed
      FROM (SELECT campaign_id, resident_id, local_date, false AS enrolment FROM marked
            UNION ALL SELECT campaign_id, resident_id, NULL, true FROM changed_enrolments) u
      GROUP BY campaign_id, resident_id) x
LEFT JOIN enrolments e ON e.campaign_id = x.campaign_id AND e.resident_id = x.resident_id
JOIN campaigns k ON k.id = x.campaign_id
JOIN residents r ON r.id = x.resident_id
ON CONFLICT DO NOTHING

-- name: FORGET_HISTORY
-- Stored history that no longer stands: of participants recomputed from all their days.
DELETE FROM history_scores h USING dirty_members m
WHERE h.campaign_id = m.campaign_id AND h.resident_id = m.resident_id AND m.history_cutoff IS NULL

-- name: MARK_ALL_MEMBERS
-- A rebuild marks every enrolment as MARK_MEMBER_DAYS marks a participant, with no stored history,
-- and each once: no conflict to look for (which took a third of the statement's time), and inserted
-- in key order, which keeps both temporary tables' indexes growing at their right edge (1.47M
-- participants: 7.8 s to mark before, 4.3 s now).
INSERT INTO dirty_members (campaign_id, resident_id, taking_part, city_id, district_id, team_id, baseline,
                           first_day, last_day, history_cutoff)
SELECT x.campaign_id, x.resident_id, e.resident_id IS NOT NULL AND e.left_at IS NULL, e.city_id, r.district_id,
       e.team_id, e.baseline, greatest(k.starts_on, (e.enrolled_at AT TIME ZONE r.time_zone)::date), k.ends_on,
       NULL
FROM enrolments e CROSS JOIN LATERAL (SELECT e.campaign_id, e.resident_id) x
JOIN campaigns k ON k.id = x.campaign_id
JOIN residents r ON r.id = x.resident_id
ORDER BY x.campaign_id, x.resident_id;
INSERT INTO changed_enrolments (campaign_id, resident_id) SELECT campaign_id, resident_id FROM dirty_members

-- name: MEMBER_DAYS_OUT
-- The marked campaign days deleted, kept as differences with sign -1.
WITH gone AS (
    DELETE FROM campaign_days d USING dirty_member_days m
    WHERE d.campaign_id = m.campaign_id AND d.resident_id = m.resident_id AND d.local_date = m.local_date
    RETURNING d.*
)
INSERT INTO member_changes SELECT -1, * FROM gone

-- name: MEMBER_DAYS_IN
-- The marked campaign days computed again, kept as differences with sign +1. What counts for a
-- campaign: the participant's unheld days of the campaign's action types, inside its days and from
-- the local day of enrolment. Points are capped per type and day. The resident days are those the
-- unit just stored (day_changes) or, for a changed enrolment's days that did not change, the stored
-- ones.
WITH stored AS (
    INSERT INTO campaign_days (campaign_id, resident_id, local_date, action_type_id, city_id, district_id, team_id,
                               quantity, co2e_kg, points, actions)
    SELECT m.campaign_id, m.resident_id, rd.local_date, rd.action_type_id, m.city_id, rd.district_id, m.team_id,
           rd.quantity, rd.co2e_kg,
           CASE WHEN x.max_points_per_day IS NULL THEN rd.quantity * x.points_per_unit::numeric
                ELSE least(rd.quantity * x.points_per_unit::numeric, x.max_points_per_day::numeric) END,
           rd.actions
    FROM dirty_member_days d
    JOIN dirty_members m USING (campaign_id, resident_id)
    JOIN (SELECT resident_id, local_date, action_type_id, district_id, quantity, co2e_kg, actions, held
          FROM day_changes WHERE sign = 1
          UNION ALL
          SELECT resident_id, local_date, action_type_id, district_id, quantity, co2e_kg, actions, held
          FROM resident_days r
          WHERE r.resident_id IN (SELECT resident_id FROM changed_enrolments)
            AND NOT EXISTS (SELECT FROM dirty_days x
                            WHERE x.resident_id = r.resident_id AND x.local_date = r.local_date)
         ) rd ON rd.resident_id = d.resident_id AND rd.local_date = d.local_date
    JOIN campaign_action_types x ON x.campaign_id = m.campaign_id AND x.action_type_id = rd.action_type_id
    WHERE m.taking_part AND NOT rd.held AND rd.local_date BETWEEN m.first_day AND m.last_day
    RETURNING *
)
INSERT INTO member_changes SELECT 1, * FROM stored

-- name: REBUILD_MEMBER_DAYS
-- Every participant's campaign days, computed as MEMBER_DAYS_IN computes the marked ones, from every
-- resident day.
INSERT INTO campaign_days (campaign_id, resident_id, local_date, action_type_id, city_id, district_id, team_id,
                           quantity, co2e_kg, points, actions)
SELECT m.campaign_id, m.resident_id, rd.local_date, rd.action_type_id, m.city_id, rd.district_id, m.team_id,
       rd.quantity, rd.co2e_kg,
       CASE WHEN x.max_points_per_day IS NULL THEN rd.quantity * x.points_per_unit::numeric
            ELSE least(rd.quantity * x.points_per_unit::numeric, x.max_points_per_day::numeric) END,
       rd.actions
FROM dirty_members m
JOIN resident_days rd ON rd.resident_id = m.resident_id
JOIN campaign_action_types x ON x.campaign_id = m.campaign_id AND x.action_type_id = rd.action_type_id
WHERE m.taking_part AND NOT rd.held AND rd.local_date BETWEEN m.first_day AND m.last_day

-- name: SCORES
-- A current participant's score: points, kg, actions, active days, the longest run of consecutive
-- active days and the latest run (current while it ends today or yesterday), from their stored
-- history before its cut-off, if any, and their days since. Those who left drop out. $1: now.
--
-- Their days are read from their history's cut-off, or all of them (no cut-off): written as one
-- bound, not an OR, so the bound is part of the index condition and days before it are never fetched
-- from the table.
WITH earlier AS MATERIALIZED (
    SELECT h.* FROM dirty_members m JOIN history_scores h USING (campaign_id, resident_id)
    WHERE m.history_cutoff IS NOT NULL
), days AS (
    SELECT d.campaign_id, d.resident_id, d.local_date,
           sum(d.points) AS points, sum(d.co2e_kg) AS co2e_kg, sum(d.actions) AS actions
    FROM dirty_members m JOIN campaign_days d USING (campaign_id, resident_id)
    WHERE d.local_date >= coalesce(m.history_cutoff, '-infinity')
    GROUP BY d.campaign_id, d.resident_id, d.local_date
), runs AS (
    -- consecutive days share (day - rank): the gaps-and-islands trick; a later run has a larger one
    SELECT campaign_id, resident_id, run, min(local_date) AS first_day, max(local_date) AS last_day,
           count(*)::int AS days, sum(points) AS points, sum(co2e_kg) AS co2e_kg, sum(actions) AS actions
    FROM (SELECT *, local_date - date '2000-01-01'
                    - row_number() OVER (PARTITION BY campaign_id, resident_id ORDER BY local_date) AS run
          FROM days) x
    GROUP BY campaign_id, resident_id, run
), sums AS (
    SELECT r.campaign_id, r.resident_id, sum(r.points) AS points, sum(r.co2e_kg) AS co2e_kg,
           sum(r.actions)::int AS actions, sum(r.days)::int AS active_days,
           -- a run that starts on the cut-off continues the stored latest run if that ended the day before
           max(r.days + CASE WHEN r.first_day = h.cutoff AND h.last_run_end = h.cutoff - 1 THEN h.last_run_days
                             ELSE 0 END) AS longest,
           max(r.last_day) AS last_day,
           -- the latest run's days
           (max(ARRAY[r.run, r.days + CASE WHEN r.first_day = h.cutoff AND h.last_run_end = h.cutoff - 1
                                           THEN h.last_run_days ELSE 0 END]))[2]::int AS last_days
    FROM runs r LEFT JOIN earlier h ON h.campaign_id = r.campaign_id AND h.resident_id = r.resident_id
    GROUP BY r.campaign_id, r.resident_id
), gone AS (
    DELETE FROM campaign_scores s USING dirty_members m
    WHERE s.campaign_id = m.campaign_id AND s.resident_id = m.resident_id AND NOT m.taking_part
)
INSERT INTO campaign_scores AS s (campaign_id, resident_id, city_id, district_id, team_id, points, co2e_kg, actions,
                                  active_days, longest_streak, last_run_end, last_run_days, updated_at)
SELECT m.campaign_id, m.resident_id, m.city_id, m.district_id, m.team_id,
       coalesce(h.points, 0) + coalesce(t.points, 0), coalesce(h.co2e_kg, 0) + coalesce(t.co2e_kg, 0),
       coalesce(h.actions, 0) + coalesce(t.actions, 0), coalesce(h.active_days, 0) + coalesce(t.active_days, 0),
       coalesce(greatest(h.longest_streak, t.longest), 0), coalesce(t.last_day, h.last_run_end),
       coalesce(t.last_days, h.last_run_days, 0), $1
FROM dirty_members m
LEFT JOIN sums t ON t.campaign_id = m.campaign_id AND t.resident_id = m.resident_id
LEFT JOIN earlier h ON h.campaign_id = m.campaign_id AND h.resident_id = m.resident_id
WHERE m.taking_part
ON CONFLICT (campaign_id, resident_id) DO UPDATE
SET city_id = excluded.city_id, district_id = excluded.district_id, team_id = excluded.team_id,
    points = excluded.points, co2e_kg = excluded.co2e_kg, actions = excluded.actions,
    active_days = excluded.active_days, longest_streak = excluded.longest_streak,
    last_run_end = excluded.last_run_end, last_run_days = excluded.last_run_days, updated_at = excluded.updated_at
WHERE (s.city_id, s.district_id, s.team_id, s.points, s.co2e_kg, s.actions, s.active_days, s.longest_streak,
       s.last_run_end, s.last_run_days)
      IS DISTINCT FROM
      (excluded.city_id, excluded.district_id, excluded.team_id, excluded.points, excluded.co2e_kg, excluded.actions,
       excluded.active_days, excluded.longest_streak, excluded.last_run_end, excluded.last_run_days)

-- name: REBUILD_SCORES
-- Every participant's score, computed as SCORES computes it, with no stored history: from all their
-- days, grouped in the days' order (SORTED_SCORES). $1: now.
WITH earlier AS MATERIALIZED (
    -- no stored history: every participant from all their days
    SELECT * FROM history_scores WHERE false
), days AS (
    SELECT d.campaign_id, d.resident_id, d.local_date,
           sum(d.points) AS points, sum(d.co2e_kg) AS co2e_kg, sum(d.actions) AS actions
    FROM dirty_members m JOIN campaign_days d USING (campaign_id, resident_id)
    GROUP BY d.campaign_id, d.resident_id, d.local_date
), runs AS (
    -- consecutive days share (day - rank): the gaps-and-islands trick; a later run has a larger one
    SELECT campaign_id, resident_id, run, min(local_date) AS first_day, max(local_date) AS last_day,
           count(*)::int AS days, sum(points) AS points, sum(co2e_kg) AS co2e_kg, sum(actions) AS actions
    FROM (SELECT *, local_date - date '2000-01-01'
                    - row_number() OVER (PARTITION BY campaign_id, resident_id ORDER BY local_date) AS run
          FROM days) x
    GROUP BY campaign_id, resident_id, run
), sums AS (
    SELECT r.campaign_id, r.resident_id, sum(r.points) AS points, sum(r.co2e_kg) AS co2e_kg,
           sum(r.actions)::int AS actions, sum(r.days)::int AS active_days,
           max(r.days + 0) AS longest,  -- no run continues one before
           max(r.last_day) AS last_day,
           (max(ARRAY[r.run, r.days + 0]))[2]::int AS last_days  -- the latest run's days
    FROM runs r
    GROUP BY r.campaign_id, r.resident_id
), gone AS (
    DELETE FROM campaign_scores s USING dirty_members m
    WHERE s.campaign_id = m.campaign_id AND s.resident_id = m.resident_id AND NOT m.taking_part
)
INSERT INTO campaign_scores AS s (campaign_id, resident_id, city_id, district_id, team_id, points, co2e_kg, actions,
                                  active_days, longest_streak, last_run_end, last_run_days, updated_at)
SELECT m.campaign_id, m.resident_id, m.city_id, m.district_id, m.team_id,
       coalesce(h.points, 0) + coalesce(t.points, 0), coalesce(h.co2e_kg, 0) + coalesce(t.co2e_kg, 0),
       coalesce(h.actions, 0) + coalesce(t.actions, 0), coalesce(h.active_days, 0) + coalesce(t.active_days, 0),
       coalesce(greatest(h.longest_streak, t.longest), 0), coalesce(t.last_day, h.last_run_end),
       coalesce(t.last_days, h.last_run_days, 0), $1
FROM dirty_members m
LEFT JOIN sums t ON t.campaign_id = m.campaign_id AND t.resident_id = m.resident_id
LEFT JOIN earlier h ON h.campaign_id = m.campaign_id AND h.resident_id = m.resident_id
WHERE m.taking_part
ON CONFLICT (campaign_id, resident_id) DO UPDATE
SET city_id = excluded.city_id, district_id = excluded.district_id, team_id = excluded.team_id,
    points = excluded.points, co2e_kg = excluded.co2e_kg, actions = excluded.actions,
    active_days = excluded.active_days, longest_streak = excluded.longest_streak,
    last_run_end = excluded.last_run_end, last_run_days = excluded.last_run_days, updated_at = excluded.updated_at
WHERE (s.city_id, s.district_id, s.team_id, s.points, s.co2e_kg, s.actions, s.active_days, s.longest_streak,
       s.last_run_end, s.last_run_days)
      IS DISTINCT FROM
      (excluded.city_id, excluded.district_id, excluded.team_id, excluded.points, excluded.co2e_kg, excluded.actions,
       excluded.active_days, excluded.longest_streak, excluded.last_run_end, excluded.last_run_days)
