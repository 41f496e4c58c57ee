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
