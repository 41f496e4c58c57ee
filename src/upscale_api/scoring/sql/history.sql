-- History before a cut-off (a Monday): what each participant's campaign days before it add up to, so
-- that ticks read only the days since (SCORES and CHALLENGES add them up with those).

-- name: HISTORY_DUE
-- Whether the last complete advance of the history ran for a cut-off before $1, or none did.
SELECT coalesce(max(cutoff) FILTER (WHERE finished_at IS NOT NULL) < $1, true) FROM history_advanced

-- name: HISTORY_STARTED
-- An advance for cut-off $1 starts going through the residents.
INSERT INTO history_advanced (cutoff, finished_at) VALUES ($1, NULL)
ON CONFLICT (cutoff) DO UPDATE SET finished_at = NULL

-- name: HISTORY_CLEAR
-- The stored history of residents with ids in [$1, $2].
WITH scores AS (DELETE FROM history_scores WHERE resident_id BETWEEN $1 AND $2)
DELETE FROM history_challenges WHERE resident_id BETWEEN $1 AND $2

-- name: HISTORY_SCORES
-- The score parts of participants with resident ids in [$2, $3] over their campaign days before the
-- cut-off $1, computed as SCORES computes them: sums, the longest run and the latest run; with the
-- campaign's newest challenge then.
WITH days AS (
    SELECT campaign_id, resident_id, local_date, sum(points) AS points, sum(co2e_kg) AS co2e_kg, sum(actions) AS actions
    FROM campaign_days WHERE local_date < $1 AND resident_id BETWEEN $2 AND $3
    GROUP BY campaign_id, resident_id, local_date
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
), newest AS (
    SELECT campaign_id, max(id) AS id FROM challenges GROUP BY campaign_id
)
INSERT INTO history_scores (campaign_id, resident_id, cutoff, rules_through, points, co2e_kg, actions, active_days,
                            longest_streak, last_run_end, last_run_days)
SELECT t.campaign_id, t.resident_id, $1, coalesce(n.id, 0), t.points, t.co2e_kg, t.actions, t.active_days,
       t.longest, t.last_day, t.last_days
FROM sums t LEFT JOIN newest n USING (campaign_id)

-- name: HISTORY_CHALLENGES
-- Every challenge's value for participants with resident ids in [$2, $3] over their campaign days
-- before the cut-off $1, found as REBUILD_CHALLENGES finds them.
WITH rules AS (
    SELECT ch.id, ch.campaign_id, ch.code, ch.rule ->> 'kind' AS kind,
           CASE WHEN ch.rule ->> 'kind' = 'team_participation' THEN ch.rule -> 'member_rule' ELSE ch.rule END AS r
    FROM challenges ch WHERE ch.rule ->> 'kind' <> 'collective'
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
    FROM campaign_days WHERE local_date < $1 AND resident_id BETWEEN $2 AND $3
), counted_days AS NOT MATERIALIZED (
    SELECT s.id AS challenge_id, s.campaign_id, d.resident_id, d.local_date, s.rule_kind = 'distinct_days' AS by_days,
           -- the window: a day, an ISO week from Monday, or (NULL) the whole campaign
           CASE s.win WHEN 'day' THEN d.local_date
                      WHEN 'week' THEN d.local_date - (extract(isodow FROM d.local_date)::int - 1) END AS window_start,
           CASE WHEN s.by_kg THEN d.co2e_kg ELSE d.quantity END AS value
    FROM days d
    JOIN shaped s ON s.campaign_id = d.campaign_id
    JOIN counted c ON c.challenge_id = s.id AND c.action_type_id = d.action_type_id
), windows AS (
    SELECT challenge_id, campaign_id, resident_id, sum(value) AS value
    FROM counted_days WHERE NOT by_days
    GROUP BY challenge_id, campaign_id, resident_id, window_start
    UNION ALL
    SELECT challenge_id, campaign_id, resident_id, count(DISTINCT local_date)
    FROM counted_days WHERE by_days
    GROUP BY challenge_id, campaign_id, resident_id, window_start
), best AS (
    SELECT challenge_id, campaign_id, resident_id, max(value) AS value
    FROM windows GROUP BY challenge_id, campaign_id, resident_id
)
INSERT INTO history_challenges (resident_id, challenge_id, value)
SELECT resident_id, challenge_id, value FROM best

-- name: HISTORY_ADVANCED
-- The advance for cut-off $1 went through every resident, unless a rescore dropped its row
-- meanwhile; it replaces older advances.
WITH finished AS (UPDATE history_advanced SET finished_at = now() WHERE cutoff = $1 RETURNING cutoff)
DELETE FROM history_advanced WHERE cutoff <> $1 AND EXISTS (SELECT FROM finished)

-- name: HISTORY_STALE
-- The stored history lost rows (a rescore recomputed participants from all their days): advance it
-- again.
DELETE FROM history_advanced
