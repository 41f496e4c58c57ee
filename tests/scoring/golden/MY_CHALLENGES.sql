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
