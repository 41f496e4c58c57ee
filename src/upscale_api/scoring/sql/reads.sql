-- What residents read of the scoring jobs' results: leaderboards (through leaderboard.py) and their
-- own progress in a campaign (through reads.py).

-- name: LEADERBOARD_TOP
-- The top $3 of scope $2 in campaign $1, named in language $4 where a name has several; a rank is
-- the entries above (standings_levels) plus one.
SELECT l.above + 1 AS rank, p.subject_id, p.score, p.points, p.co2e_kg, p.members, p.active_members,
       CASE $2 WHEN 'individual' THEN r.display_name
               WHEN 'team' THEN t.name
               WHEN 'district' THEN coalesce(d.name ->> $4, d.name ->> 'en')
               ELSE coalesce(c.name ->> $4, c.name ->> 'en') END AS name
FROM (SELECT * FROM standings WHERE campaign_id = $1 AND scope = $2 ORDER BY score DESC, subject_id LIMIT $3) p
JOIN standings_levels l ON l.campaign_id = p.campaign_id AND l.scope = p.scope AND l.score = p.score
LEFT JOIN residents r ON $2 = 'individual' AND r.id = p.subject_id
LEFT JOIN teams t ON $2 = 'team' AND t.id = p.subject_id
LEFT JOIN districts d ON $2 = 'district' AND d.id = p.subject_id
LEFT JOIN cities c ON $2 = 'city' AND c.id = p.subject_id
ORDER BY p.score DESC, p.subject_id

-- name: LEADERBOARD_OWN
-- When the standings of campaign $1 were computed, and the entry of resident $3's subject in scope
-- $2 (their own, their team's, district's or city's), named in language $4: one row, whatever the
-- standings hold.
SELECT k.computed_at, k.sizes, coalesce(k.final, false) AS final,
       l.above + 1 AS rank, p.subject_id, p.score, p.points, p.co2e_kg, p.members, p.active_members,
       CASE $2 WHEN 'individual' THEN r.display_name
               WHEN 'team' THEN t.name
               WHEN 'district' THEN coalesce(d.name ->> $4, d.name ->> 'en')
               ELSE coalesce(c.name ->> $4, c.name ->> 'en') END AS name
FROM (SELECT 1) AS one
LEFT JOIN standings_computed k ON k.campaign_id = $1
LEFT JOIN campaign_scores s ON s.campaign_id = $1 AND s.resident_id = $3
LEFT JOIN standings p ON p.campaign_id = $1 AND p.scope = $2
    AND p.subject_id = CASE $2 WHEN 'individual' THEN s.resident_id WHEN 'team' THEN s.team_id
                               WHEN 'district' THEN s.district_id ELSE s.city_id END
LEFT JOIN standings_levels l ON l.campaign_id = p.campaign_id AND l.scope = p.scope AND l.score = p.score
LEFT JOIN residents r ON $2 = 'individual' AND r.id = p.subject_id
LEFT JOIN teams t ON $2 = 'team' AND t.id = p.subject_id
LEFT JOIN districts d ON $2 = 'district' AND d.id = p.subject_id
LEFT JOIN cities c ON $2 = 'city' AND c.id = p.subject_id

-- name: MY_SCORE
-- A participant's score in campaign $1 (resident $2) and their individual rank.
SELECT s.points, s.co2e_kg, s.actions, s.active_days, s.longest_streak, s.last_run_end, s.last_run_days,
       l.above + 1 AS rank, (c.sizes ->> 'individual')::int AS ranked, c.computed_at, c.final,
       (SELECT ran_at FROM job_watermarks WHERE job = 'scoring') AS scored_at
FROM campaign_scores s
LEFT JOIN standings p ON p.campaign_id = s.campaign_id AND p.scope = 'individual' AND p.subject_id = s.resident_id
LEFT JOIN standings_levels l ON l.campaign_id = p.campaign_id AND l.scope = p.scope AND l.score = p.score
LEFT JOIN standings_computed c ON c.campaign_id = s.campaign_id
WHERE s.campaign_id = $1 AND s.resident_id = $2

-- name: MY_CHALLENGES
-- Every active challenge of campaign $1 as resident $2 stands in it: their best window's value
-- (found as CHALLENGES finds it, from all their days) and target, the total of the current window
-- (the day or ISO week of $3, their local date), when they met it, their team's share and the
-- collective total of their scope.
WITH rules AS (
    SELECT ch.id, ch.campaign_id, ch.code, ch.rule ->> 'kind' AS kind,
           CASE WHEN ch.rule ->> 'kind' = 'team_participation' THEN ch.rule -> 'member_rule' ELSE ch.rule END AS r
    FROM challenges ch WHERE ch.campaign_id = $1 AND ch.active
), shaped AS (
    SELECT rules.*, r ->> 'kind' AS rule_kind,
           coalesce(r ->> 'window', CASE r ->> 'kind' WHEN 'personal' THEN 'week' ELSE 'campaign' END) AS win,
           r ->> 'kind' = 'quantity' AND r ->> 'measure' = 'co2e_kg' AS by_kg
    FROM rules
), counted AS MATERIALIZED (
    SELECT rules.id AS challenge_id, x.action_type_id
    FROM rules
    JOIN campaign_action_types x ON x.campaign_id = rules.campaign_id
    JOIN action_types t ON t.id = x.action_type_id
    WHERE t.code IN (SELECT jsonb_array_elements_text(coalesce(rules.r -> 'action_types', '[]')))
       OR t.category IN (SELECT jsonb_array_elements_text(coalesce(rules.r -> 'categories', '[]')))
), days AS (
    SELECT campaign_id, resident_id, local_date, action_type_id, quantity, co2e_kg
    FROM campaign_days WHERE campaign_id = $1 AND resident_id = $2
), windows AS (
    SELECT s.id AS challenge_id, s.campaign_id, d.resident_id,
           sum(CASE WHEN s.by_kg THEN d.co2e_kg ELSE d.quantity END) AS value
    FROM days d
    JOIN shaped s ON s.campaign_id = d.campaign_id AND s.win = 'day' AND s.rule_kind <> 'distinct_days'
    JOIN counted c ON c.challenge_id = s.id AND c.action_type_id = d.action_type_id
    GROUP BY s.id, s.campaign_id, d.resident_id, d.local_date
    UNION ALL
    SELECT s.id, s.campaign_id, w.resident_id, sum(CASE WHEN s.by_kg THEN w.co2e_kg ELSE w.quantity END)
    FROM (SELECT campaign_id, resident_id, action_type_id,
                 local_date - (extract(isodow FROM local_date)::int - 1) AS week,
                 sum(quantity) AS quantity, sum(co2e_kg) AS co2e_kg
          FROM days GROUP BY campaign_id, resident_id, action_type_id, week) w
    JOIN shaped s ON s.campaign_id = w.campaign_id AND s.win <> 'day' AND s.rule_kind <> 'distinct_days'
    JOIN counted c ON c.challenge_id = s.id AND c.action_type_id = w.action_type_id
    GROUP BY s.id, s.campaign_id, w.resident_id, CASE WHEN s.win = 'week' THEN w.week END
    UNION ALL
    SELECT challenge_id, campaign_id, resident_id, count(*)
    FROM (SELECT DISTINCT s.id AS challenge_id, s.campaign_id, d.resident_id, d.local_date
          FROM days d
          JOIN shaped s ON s.campaign_id = d.campaign_id AND s.rule_kind = 'distinct_days'
          JOIN counted c ON c.challenge_id = s.id AND c.action_type_id = d.action_type_id) x
    GROUP BY challenge_id, campaign_id, resident_id
), best AS (
    SELECT challenge_id, campaign_id, resident_id, max(value) AS value
    FROM windows GROUP BY challenge_id, campaign_id, resident_id
), windowed AS (
    SELECT s.id, sum(CASE WHEN s.by_kg THEN d.co2e_kg ELSE d.quantity END) AS value
    FROM shaped s
    JOIN counted c ON c.challenge_id = s.id
    JOIN days d ON d.action_type_id = c.action_type_id
    WHERE CASE s.win
              WHEN 'day' THEN d.local_date = $3::date
              WHEN 'week' THEN d.local_date - (extract(isodow FROM d.local_date)::int - 1)
                               = $3::date - (extract(isodow FROM $3::date)::int - 1)
              ELSE false END
    GROUP BY s.id
)
SELECT s.code, s.kind, coalesce(b.value, 0) AS value,
       CASE s.rule_kind WHEN 'quantity' THEN (s.r ->> 'target')::numeric
                        WHEN 'distinct_days' THEN (s.r ->> 'days')::numeric
                        ELSE round(coalesce((e.baseline ->> (s.r ->> 'question'))::numeric, 0)
                                   * (s.r ->> 'share')::numeric, 6) END AS target,
       p.met_at,
       tp.members, tp.members_met, tp.share, tp.met_at AS team_met_at,
       cp.value AS goal_value, cp.met_at AS goal_met_at,
       coalesce(w.value, 0) AS window_value
FROM shaped s
LEFT JOIN enrolments e ON e.campaign_id = $1 AND e.resident_id = $2 AND e.left_at IS NULL
LEFT JOIN campaign_scores cs ON cs.campaign_id = $1 AND cs.resident_id = $2
LEFT JOIN best b ON b.challenge_id = s.id
LEFT JOIN challenges_met p ON p.challenge_id = s.id AND p.resident_id = $2
LEFT JOIN team_progress tp ON tp.challenge_id = s.id AND tp.team_id = cs.team_id
LEFT JOIN collective_progress cp ON cp.challenge_id = s.id
    AND cp.scope_id = CASE WHEN s.r ->> 'scope' = 'city' THEN cs.city_id ELSE 0 END
LEFT JOIN windowed w ON w.id = s.id

-- name: MY_BADGES
-- The codes of the badges resident $2 earned in campaign $1.
SELECT b.code FROM earned_badges e JOIN badges b ON b.id = e.badge_id
WHERE b.campaign_id = $1 AND e.resident_id = $2

-- name: EARNED_POINTS
-- The points resident $1 earned, by the city they were earned in (the city of each campaign day):
-- what a city's rewards programme credits them with. Only campaigns they ever enrolled in have days.
SELECT d.city_id, sum(d.points) AS points
FROM (SELECT campaign_id FROM enrolments WHERE resident_id = $1) e
JOIN campaign_days d ON d.campaign_id = e.campaign_id AND d.resident_id = $1
GROUP BY d.city_id

-- name: EARNED_DAYS
-- Resident $1's points in city $2 per campaign and local day, newest first, after the position
-- ($3 local date, $4 campaign id) when given, at most $5 rows: the earning side of a balance's history.
SELECT d.local_date, d.campaign_id, c.code AS campaign, c.title, sum(d.points) AS points
FROM (SELECT campaign_id FROM enrolments WHERE resident_id = $1) e
JOIN campaign_days d ON d.campaign_id = e.campaign_id AND d.resident_id = $1
JOIN campaigns c ON c.id = d.campaign_id
WHERE d.city_id = $2
  AND ($3::date IS NULL OR (d.local_date, d.campaign_id) < ($3::date, $4::integer))
GROUP BY d.local_date, d.campaign_id, c.code, c.title
HAVING sum(d.points) > 0
ORDER BY d.local_date DESC, d.campaign_id DESC
LIMIT $5

-- name: SCORED_AT
-- When the scoring jobs last ran (null before their first run).
SELECT ran_at FROM job_watermarks WHERE job = 'scoring'

-- name: RESIDENT_SCORES
-- Resident $1's score in every campaign they took part in, for their own export.
SELECT k.code AS campaign, s.points::float8 AS points, s.co2e_kg::float8 AS co2e_kg, s.actions, s.active_days,
       s.longest_streak, s.updated_at
FROM campaign_scores s JOIN campaigns k ON k.id = s.campaign_id
WHERE s.resident_id = $1
ORDER BY k.code

-- name: RESIDENT_BADGES
-- Every badge resident $1 earned, for their own export.
SELECT k.code AS campaign, b.code AS badge, e.earned_at
FROM earned_badges e JOIN badges b ON b.id = e.badge_id JOIN campaigns k ON k.id = b.campaign_id
WHERE e.resident_id = $1
ORDER BY e.earned_at, k.code, b.code

-- name: RESIDENT_CHALLENGES_MET
-- Every challenge resident $1 met, for their own export.
SELECT k.code AS campaign, ch.code AS challenge, m.met_at
FROM challenges_met m JOIN challenges ch ON ch.id = m.challenge_id JOIN campaigns k ON k.id = ch.campaign_id
WHERE m.resident_id = $1
ORDER BY m.met_at, k.code, ch.code

-- name: CITY_WEEKS
-- Open data: city $1's counted resident days from $2 to $3 (Mondays to Sundays) by ISO week (its
-- Monday), district and category, with each district's and category's and the week's totals
-- (all_districts, all_categories set where a dimension is summed over). participants: the distinct
-- residents in the group. Held days do not count, as in every total.
SELECT date_trunc('week', d.local_date)::date AS week, d.district_id, t.category,
       GROUPING(d.district_id) = 1 AS all_districts, GROUPING(t.category) = 1 AS all_categories,
       count(DISTINCT d.resident_id)::int AS participants, sum(d.actions)::bigint AS actions,
       sum(d.co2e_kg) AS co2e_kg
FROM resident_days d JOIN action_types t ON t.id = d.action_type_id
WHERE d.city_id = $1 AND d.local_date BETWEEN $2 AND $3 AND NOT d.held
GROUP BY date_trunc('week', d.local_date), GROUPING SETS ((d.district_id, t.category), (d.district_id), (t.category), ())

-- name: CITY_CAMPAIGN_WEEKS
-- Open data: what counted for each campaign among city $1's residents from $2 to $3, by campaign,
-- ISO week and category (category NULL: all of them). matching: the participants whose counted
-- figures in the group equal their figures in the city's same group (week and category over all
-- districts): the city's participants in it less these are the residents that the difference
-- between the city's figure and the campaign's describes.
WITH city AS MATERIALIZED (
    SELECT d.resident_id, date_trunc('week', d.local_date)::date AS week, t.category,
           sum(d.actions) AS actions, sum(d.co2e_kg) AS co2e_kg
    FROM resident_days d JOIN action_types t ON t.id = d.action_type_id
    WHERE d.city_id = $1 AND d.local_date BETWEEN $2 AND $3 AND NOT d.held
    GROUP BY d.resident_id, date_trunc('week', d.local_date), GROUPING SETS ((t.category), ())
), counted AS MATERIALIZED (
    SELECT c.campaign_id, c.resident_id, date_trunc('week', c.local_date)::date AS week, t.category,
           sum(c.actions) AS actions, sum(c.co2e_kg) AS co2e_kg
    FROM campaign_days c JOIN action_types t ON t.id = c.action_type_id
    WHERE c.city_id = $1 AND c.local_date BETWEEN $2 AND $3
    GROUP BY c.campaign_id, c.resident_id, date_trunc('week', c.local_date), GROUPING SETS ((t.category), ())
)
SELECT k.code AS campaign, n.week, n.category, count(*)::int AS participants, sum(n.actions)::bigint AS actions,
       sum(n.co2e_kg) AS co2e_kg,
       count(*) FILTER (WHERE y.actions = n.actions AND y.co2e_kg = n.co2e_kg)::int AS matching
FROM counted n
JOIN campaigns k ON k.id = n.campaign_id
LEFT JOIN city y ON y.resident_id = n.resident_id AND y.week = n.week AND y.category IS NOT DISTINCT FROM n.category
GROUP BY k.code, n.week, n.category

-- name: TEAM_RECOGNITION
-- What coordinators read of campaign $1's team-participation challenges: each active team of the
-- campaign in each such challenge, with its members, the members meeting the member rule, the share
-- and since when it is met, as the last scoring run counted them (a team not counted yet: its
-- current members, none meeting the rule), and its rank among the teams by the campaign's measure.
SELECT ch.code AS challenge, ch.title, ch.rule, t.code AS team, t.name, t.kind, c.code AS city,
       coalesce(p.members, (SELECT count(*) FROM enrolments e WHERE e.team_id = t.id AND e.left_at IS NULL))::int
           AS members,
       coalesce(p.members_met, 0) AS members_met, coalesce(p.share, 0)::float8 AS share, p.met_at,
       l.above + 1 AS rank, s.score
FROM challenges ch
JOIN teams t ON t.campaign_id = ch.campaign_id AND t.active
JOIN cities c ON c.id = t.city_id
LEFT JOIN team_progress p ON p.challenge_id = ch.id AND p.team_id = t.id
LEFT JOIN standings s ON s.campaign_id = ch.campaign_id AND s.scope = 'team' AND s.subject_id = t.id
LEFT JOIN standings_levels l ON l.campaign_id = s.campaign_id AND l.scope = s.scope AND l.score = s.score
WHERE ch.campaign_id = $1 AND ch.active AND ch.rule ->> 'kind' = 'team_participation'
ORDER BY ch.code, p.met_at IS NULL, coalesce(p.share, 0) DESC, t.name, t.code

-- name: CONTEST
-- Campaign $1's cities and teams by its ranking measure as the standings last ranked them (a rank is
-- the entries above plus one; a city or team without participants has none), named in language $2.
SELECT 'city' AS scope, c.code, coalesce(c.name ->> $2, c.name ->> 'en') AS name, NULL AS city,
       l.above + 1 AS rank, coalesce(s.score, 0)::float8 AS value, coalesce(s.points, 0)::float8 AS points,
       coalesce(s.co2e_kg, 0)::float8 AS co2e_kg, coalesce(s.members, 0) AS members,
       coalesce(s.active_members, 0) AS active_members
FROM campaign_cities cc
JOIN cities c ON c.id = cc.city_id
LEFT JOIN standings s ON s.campaign_id = cc.campaign_id AND s.scope = 'city' AND s.subject_id = c.id
LEFT JOIN standings_levels l ON l.campaign_id = s.campaign_id AND l.scope = s.scope AND l.score = s.score
WHERE cc.campaign_id = $1
UNION ALL
SELECT 'team', t.code, t.name, c.code, l.above + 1, coalesce(s.score, 0)::float8, coalesce(s.points, 0)::float8,
       coalesce(s.co2e_kg, 0)::float8, coalesce(s.members, 0), coalesce(s.active_members, 0)
FROM teams t
JOIN cities c ON c.id = t.city_id
LEFT JOIN standings s ON s.campaign_id = t.campaign_id AND s.scope = 'team' AND s.subject_id = t.id
LEFT JOIN standings_levels l ON l.campaign_id = s.campaign_id AND l.scope = s.scope AND l.score = s.score
WHERE t.campaign_id = $1 AND t.active
ORDER BY scope, rank NULLS LAST, name, code

-- name: GOALS
-- Campaign $1's collective goals as the standings last computed them: for the whole campaign (city
-- NULL) or each of its cities (named in language $2).
SELECT ch.code AS challenge, ch.title, ch.rule, c.code AS city, coalesce(c.name ->> $2, c.name ->> 'en') AS city_name,
       p.value::float8 AS value, p.target::float8 AS target, p.met_at, p.computed_at
FROM challenges ch
JOIN collective_progress p ON p.challenge_id = ch.id
LEFT JOIN cities c ON c.id = p.scope_id
WHERE ch.campaign_id = $1 AND ch.active AND ch.rule ->> 'kind' = 'collective'
ORDER BY ch.code, p.scope_id <> 0, city_name

-- name: STANDINGS_AT
-- When campaign $1's standings were last computed and the scoring run last ran.
SELECT (SELECT computed_at FROM standings_computed WHERE campaign_id = $1) AS computed_at,
       (SELECT ran_at FROM job_watermarks WHERE job = 'scoring') AS scored_at

-- name: ACTIVE_SINCE
-- How many participants of each campaign $1 (ids) have a counted action on a local day from $2 on.
SELECT d.campaign_id, count(DISTINCT d.resident_id)::int AS active
FROM campaign_days d
WHERE d.campaign_id = ANY($1::int[]) AND d.local_date >= $2::date
GROUP BY d.campaign_id

-- name: CAMPAIGN_STATS
-- What coordinators watch of campaign $1, from what the scoring jobs counted (campaign days: live
-- actions of its types, inside its days, by current participants from the day they enrolled, not
-- held for review) in one statement: enrolled and left, active participants, per day, per ISO week,
-- per action type, per week and category, weekly retention by enrolment cohort, and teams with the
-- share of members with a counted action. Reading the campaign's own days by its key, not the action
-- log, a page of it costs a few milliseconds of the database at any size of the log.
WITH days AS MATERIALIZED (
    SELECT d.resident_id, d.local_date, date_trunc('week', d.local_date)::date AS week, t.code AS action_type,
           t.category, d.quantity, d.co2e_kg, d.actions
    FROM campaign_days d JOIN action_types t ON t.id = d.action_type_id
    WHERE d.campaign_id = $1
), cohorts AS MATERIALIZED (
    SELECT e.resident_id, date_trunc('week', (e.enrolled_at AT TIME ZONE r.time_zone)::date)::date AS cohort
    FROM enrolments e JOIN residents r ON r.id = e.resident_id
    WHERE e.campaign_id = $1 AND e.left_at IS NULL
), active_weeks AS MATERIALIZED (
    SELECT DISTINCT resident_id, week FROM days
)
SELECT
    (SELECT count(*) FROM cohorts) AS enrolled,
    (SELECT count(*) FROM enrolments WHERE campaign_id = $1 AND left_at IS NOT NULL) AS left,
    (SELECT count(*) FROM campaign_scores WHERE campaign_id = $1 AND actions > 0) AS active_residents,
    (SELECT coalesce(jsonb_agg(d ORDER BY d.day), '[]') FROM (
        SELECT local_date AS day, count(DISTINCT resident_id) AS active_residents, sum(actions) AS actions,
               round(sum(co2e_kg), 3)::float8 AS co2e_kg
        FROM days GROUP BY local_date) d) AS by_day,
    (SELECT coalesce(jsonb_agg(w ORDER BY w.week), '[]') FROM (
        SELECT week, count(DISTINCT resident_id) AS active_residents, sum(actions) AS actions,
               round(sum(co2e_kg), 3)::float8 AS co2e_kg
        FROM days GROUP BY week) w) AS by_week,
    (SELECT coalesce(jsonb_agg(t ORDER BY t.co2e_kg DESC, t.action_type), '[]') FROM (
        SELECT action_type, sum(actions) AS actions, round(sum(quantity), 3)::float8 AS quantity,
               round(sum(co2e_kg), 3)::float8 AS co2e_kg
        FROM days GROUP BY action_type) t) AS by_action_type,
    (SELECT coalesce(jsonb_agg(w ORDER BY w.week, w.category), '[]') FROM (
        SELECT week, category, round(sum(co2e_kg), 3)::float8 AS co2e_kg
        FROM days GROUP BY week, category) w) AS by_week_and_category,
    (SELECT coalesce(jsonb_agg(r ORDER BY r.cohort, r.week), '[]') FROM (
        SELECT s.cohort, w.week, s.size, count(a.resident_id) AS active
        FROM (SELECT cohort, count(*) AS size FROM cohorts GROUP BY cohort) s
        JOIN (SELECT DISTINCT week FROM active_weeks) w ON w.week >= s.cohort
        LEFT JOIN (active_weeks a JOIN cohorts c ON c.resident_id = a.resident_id)
            ON c.cohort = s.cohort AND a.week = w.week
        GROUP BY s.cohort, w.week, s.size) r) AS retention,
    (SELECT coalesce(jsonb_agg(s ORDER BY s.participation DESC, s.co2e_kg DESC, s.team), '[]') FROM (
        SELECT t.code AS team, t.name, count(e.resident_id) AS members,
               count(p.resident_id) FILTER (WHERE p.actions > 0) AS active_members,
               CASE WHEN count(e.resident_id) = 0 THEN 0
                    ELSE round((count(p.resident_id) FILTER (WHERE p.actions > 0))::numeric / count(e.resident_id),
                               4)::float8
               END AS participation,
               coalesce(round(sum(p.co2e_kg), 3)::float8, 0) AS co2e_kg
        FROM teams t
        LEFT JOIN enrolments e ON e.team_id = t.id AND e.left_at IS NULL
        LEFT JOIN campaign_scores p ON p.campaign_id = $1 AND p.resident_id = e.resident_id
        WHERE t.campaign_id = $1 AND t.active
        GROUP BY t.id) s) AS teams
