-- Running totals. totals_daily keeps sums by action type where they are read by type: all actions
-- per city (campaign 0), a campaign's for the whole campaign (scope id 0) and per city.
-- activity_daily keeps every scope's day over all types with the residents active that day: all
-- actions (campaign 0) per city and district, a campaign's for the whole campaign and per city,
-- district and team.
--
-- A unit sums its differences (day_changes for all actions, member_changes for what counts in each
-- campaign) by the totals' keys into the pending tables; the fold adds them up. A rebuild fills the
-- emptied tables from the stored days in one pass each.

-- name: DAY_TOTALS
-- A unit's differences in the totals of all actions per city; held days do not count.
INSERT INTO scoring_pending_totals
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT 0, s.scope, s.scope_id, c.local_date, c.action_type_id,
       sum(c.sign * c.quantity), sum(c.sign * c.co2e_kg), sum(c.sign * 0), sum(c.sign * c.actions), sum(c.sign)
FROM day_changes c
CROSS JOIN LATERAL (VALUES ('city', c.city_id)) AS s (scope, scope_id)
WHERE s.scope_id IS NOT NULL AND NOT held
GROUP BY 1, s.scope, s.scope_id, c.local_date, c.action_type_id
HAVING sum(c.sign * c.quantity) <> 0 OR sum(c.sign * c.co2e_kg) <> 0 OR sum(c.sign * 0) <> 0
    OR sum(c.sign * c.actions) <> 0 OR sum(c.sign) <> 0

-- name: DAY_ACTIVITY
-- A unit's differences in the activity of all actions per city and district. A resident's day (all
-- types) first, so that each active resident counts once.
INSERT INTO scoring_pending_activity (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT c.campaign_id, s.scope, s.scope_id, c.local_date,
       sum(c.sign), sum(c.sign * c.co2e_kg), sum(c.sign * c.points), sum(c.sign * c.actions)
FROM (SELECT sign, 0 AS campaign_id, resident_id, local_date, city_id, district_id, NULL::int AS team_id,
             sum(co2e_kg) AS co2e_kg, sum(0) AS points, sum(actions) AS actions
      FROM day_changes WHERE true AND NOT held
      GROUP BY 1, 2, 3, 4, 5, 6, 7) c
CROSS JOIN LATERAL (VALUES ('city', c.city_id), ('district', c.district_id)) AS s (scope, scope_id)
WHERE s.scope_id IS NOT NULL
GROUP BY c.campaign_id, s.scope, s.scope_id, c.local_date
HAVING sum(c.sign) <> 0 OR sum(c.sign * c.co2e_kg) <> 0 OR sum(c.sign * c.points) <> 0
    OR sum(c.sign * c.actions) <> 0

-- name: MEMBER_TOTALS
-- A unit's differences in each campaign's totals, for the whole campaign and per city.
INSERT INTO scoring_pending_totals
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT c.campaign_id, s.scope, s.scope_id, c.local_date, c.action_type_id,
       sum(c.sign * c.quantity), sum(c.sign * c.co2e_kg), sum(c.sign * c.points), sum(c.sign * c.actions), sum(c.sign)
FROM member_changes c
CROSS JOIN LATERAL (VALUES ('campaign', 0), ('city', c.city_id)) AS s (scope, scope_id)
WHERE s.scope_id IS NOT NULL
GROUP BY 1, s.scope, s.scope_id, c.local_date, c.action_type_id
HAVING sum(c.sign * c.quantity) <> 0 OR sum(c.sign * c.co2e_kg) <> 0 OR sum(c.sign * c.points) <> 0
    OR sum(c.sign * c.actions) <> 0 OR sum(c.sign) <> 0

-- name: MEMBER_ACTIVITY
-- A unit's differences in each campaign's activity, for the whole campaign and per city, district
-- and team; a participant's day first, as in DAY_ACTIVITY.
INSERT INTO scoring_pending_activity (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT c.campaign_id, s.scope, s.scope_id, c.local_date,
       sum(c.sign), sum(c.sign * c.co2e_kg), sum(c.sign * c.points), sum(c.sign * c.actions)
FROM (SELECT sign, campaign_id AS campaign_id, resident_id, local_date, city_id, district_id, team_id AS team_id,
             sum(co2e_kg) AS co2e_kg, sum(points) AS points, sum(actions) AS actions
      FROM member_changes WHERE true
      GROUP BY 1, 2, 3, 4, 5, 6, 7) c
CROSS JOIN LATERAL (VALUES ('campaign', 0), ('city', c.city_id), ('district', c.district_id), ('team', c.team_id))
    AS s (scope, scope_id)
WHERE s.scope_id IS NOT NULL
GROUP BY c.campaign_id, s.scope, s.scope_id, c.local_date
HAVING sum(c.sign) <> 0 OR sum(c.sign * c.co2e_kg) <> 0 OR sum(c.sign * c.points) <> 0
    OR sum(c.sign * c.actions) <> 0

-- name: FOLD_TOTALS
-- The fold: the pending sums added to the running totals and emptied in one transaction, so that
-- each is added once whichever transaction commits. No unit runs meanwhile (the scoring lock), so
-- emptying cannot take one unseen.
INSERT INTO totals_daily AS t
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT campaign_id, scope, scope_id, local_date, action_type_id,
       sum(quantity), sum(co2e_kg), sum(points), sum(actions), sum(residents)
FROM scoring_pending_totals
GROUP BY campaign_id, scope, scope_id, local_date, action_type_id
HAVING sum(quantity) <> 0 OR sum(co2e_kg) <> 0 OR sum(points) <> 0 OR sum(actions) <> 0 OR sum(residents) <> 0
ON CONFLICT (campaign_id, scope, scope_id, local_date, action_type_id) DO UPDATE
SET quantity = t.quantity + excluded.quantity, co2e_kg = t.co2e_kg + excluded.co2e_kg,
    points = t.points + excluded.points, actions = t.actions + excluded.actions,
    residents = t.residents + excluded.residents;
TRUNCATE scoring_pending_totals

-- name: FOLD_ACTIVITY
-- The same as FOLD_TOTALS for the activity.
INSERT INTO activity_daily AS p (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT campaign_id, scope, scope_id, local_date, sum(residents), sum(co2e_kg), sum(points), sum(actions)
FROM scoring_pending_activity
GROUP BY campaign_id, scope, scope_id, local_date
HAVING sum(residents) <> 0 OR sum(co2e_kg) <> 0 OR sum(points) <> 0 OR sum(actions) <> 0
ON CONFLICT (campaign_id, scope, scope_id, local_date) DO UPDATE
SET residents = p.residents + excluded.residents, co2e_kg = p.co2e_kg + excluded.co2e_kg,
    points = p.points + excluded.points, actions = p.actions + excluded.actions;
TRUNCATE scoring_pending_activity

-- name: REBUILD_DAY_TOTALS
-- A rebuild's totals of all actions per city. Every scope's sums are grouped at once (GROUPING
-- SETS), with no differences to add. Rows are written in day order, as ticks write them: the days a
-- tick updates then fill a few hundred pages, not most of the table's (after a checkpoint, each page
-- a tick first changes is written whole to the WAL).
INSERT INTO totals_daily
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT 0, 'city', coalesce(city_id), local_date, action_type_id,
       sum(quantity), sum(co2e_kg), sum(0), sum(actions), count(*)
FROM resident_days WHERE NOT held
GROUP BY local_date, action_type_id, GROUPING SETS ((city_id))
HAVING coalesce(city_id) IS NOT NULL
ORDER BY local_date

-- name: REBUILD_DAY_ACTIVITY
-- A rebuild's activity of all actions per city and district. A resident counts once per city they
-- were active in that day, in each scope (as a unit's differences count them: one who logged in two
-- cities that day counts twice in their district). The first of their rows in a city marks it; their
-- rows come in key order from the index, so marking takes no sort of the table, and the scopes' sums
-- are then hashed at once. Summing each resident's day first, then the scopes', would need both to
-- be hashed or both sorted (10M rows: 32 s against 13 s).
INSERT INTO activity_daily (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT 0, CASE WHEN grouping(city_id) = 0 THEN 'city' ELSE 'district' END, coalesce(city_id, district_id), local_date,
       count(*) FILTER (WHERE first_in_city), sum(co2e_kg), sum(0), sum(actions)
FROM (SELECT *,
             0 IS DISTINCT FROM lag(0) OVER w OR resident_id IS DISTINCT FROM lag(resident_id) OVER w
             OR local_date IS DISTINCT FROM lag(local_date) OVER w OR city_id IS DISTINCT FROM lag(city_id) OVER w
             AS first_in_city
      FROM resident_days WHERE NOT held
      WINDOW w AS (ORDER BY 0, resident_id, local_date, city_id)) d
GROUP BY local_date, GROUPING SETS ((city_id), (district_id))
HAVING coalesce(city_id, district_id) IS NOT NULL
ORDER BY local_date

-- name: REBUILD_MEMBER_TOTALS
-- A rebuild's totals of each campaign, for the whole campaign and per city, as REBUILD_DAY_TOTALS
-- groups them.
INSERT INTO totals_daily
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT campaign_id, CASE WHEN grouping(city_id) = 0 THEN 'city' ELSE 'campaign' END,
       coalesce(city_id, CASE WHEN grouping(city_id) = 1 THEN 0 END), local_date, action_type_id,
       sum(quantity), sum(co2e_kg), sum(points), sum(actions), count(*)
FROM campaign_days
GROUP BY campaign_id, local_date, action_type_id, GROUPING SETS ((), (city_id))
HAVING coalesce(city_id, CASE WHEN grouping(city_id) = 1 THEN 0 END) IS NOT NULL
ORDER BY local_date

-- name: REBUILD_MEMBER_ACTIVITY
-- A rebuild's activity of each campaign, for the whole campaign and per city, district and team,
-- counted as REBUILD_DAY_ACTIVITY counts residents.
INSERT INTO activity_daily (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT campaign_id,
       CASE WHEN grouping(city_id) = 0 THEN 'city' WHEN grouping(district_id) = 0 THEN 'district'
            WHEN grouping(team_id) = 0 THEN 'team' ELSE 'campaign' END,
       coalesce(city_id, district_id, team_id, CASE WHEN grouping(city_id, district_id, team_id) = 7 THEN 0 END),
       local_date, count(*) FILTER (WHERE first_in_city), sum(co2e_kg), sum(points), sum(actions)
FROM (SELECT *,
             campaign_id IS DISTINCT FROM lag(campaign_id) OVER w
             OR resident_id IS DISTINCT FROM lag(resident_id) OVER w
             OR local_date IS DISTINCT FROM lag(local_date) OVER w OR city_id IS DISTINCT FROM lag(city_id) OVER w
             AS first_in_city
      FROM campaign_days
      WINDOW w AS (ORDER BY campaign_id, resident_id, local_date, city_id)) d
GROUP BY campaign_id, local_date, GROUPING SETS ((), (city_id), (district_id), (team_id))
HAVING coalesce(city_id, district_id, team_id, CASE WHEN grouping(city_id, district_id, team_id) = 7 THEN 0 END)
       IS NOT NULL
ORDER BY local_date
