WITH rules AS (
    SELECT ch.id, ch.campaign_id, ch.rule AS r, coalesce(ch.rule ->> 'scope', 'campaign') AS scope,
           coalesce(ch.rule ->> 'measure', 'co2e_kg') AS measure, (ch.rule ->> 'target')::numeric AS target
    FROM challenges ch WHERE ch.campaign_id = $1 AND ch.active AND ch.rule ->> 'kind' = 'collective'
), counted AS MATERIALIZED (
    SELECT rules.id AS challenge_id, x.action_type_id
    FROM rules
    JOIN campaign_action_types x ON x.campaign_id = rules.campaign_id
    JOIN action_types t ON t.id = x.action_type_id
    WHERE t.code IN (SELECT jsonb_array_elements_text(coalesce(rules.r -> 'action_types', '[]')))
       OR t.category IN (SELECT jsonb_array_elements_text(coalesce(rules.r -> 'categories', '[]')))
), subjects AS (
    SELECT rules.*, 0 AS scope_id FROM rules WHERE scope = 'campaign'
    UNION ALL
    SELECT rules.*, cc.city_id FROM rules JOIN campaign_cities cc ON cc.campaign_id = rules.campaign_id
    WHERE scope = 'city'
), by_type AS (
    -- the campaign's totals by scope and type, read in one pass: looked up per subject and type, the
    -- national campaign's 4,240 city-type pairs each scanned every day and type of their city
    SELECT scope, scope_id, action_type_id, sum(co2e_kg) AS co2e_kg, sum(quantity) AS quantity
    FROM totals_daily WHERE campaign_id = $1 AND scope IN ('campaign', 'city')
    GROUP BY scope, scope_id, action_type_id
), sums AS (
    SELECT s.id AS challenge_id, s.scope_id, s.target,
           coalesce(sum(CASE WHEN s.measure = 'co2e_kg' THEN t.co2e_kg ELSE t.quantity END), 0) AS value
    FROM subjects s
    LEFT JOIN counted c ON c.challenge_id = s.id
    LEFT JOIN by_type t ON t.action_type_id = c.action_type_id AND t.scope = s.scope AND t.scope_id = s.scope_id
    GROUP BY s.id, s.scope_id, s.target
), stored AS (
    INSERT INTO collective_progress AS p (challenge_id, scope_id, value, target, met_at, computed_at)
    SELECT challenge_id, scope_id, value, target, CASE WHEN value >= target THEN $2::timestamptz END, $2
    FROM sums
    ON CONFLICT (challenge_id, scope_id) DO UPDATE
    SET value = excluded.value, target = excluded.target, computed_at = excluded.computed_at,
        met_at = CASE WHEN excluded.met_at IS NULL THEN NULL ELSE coalesce(p.met_at, excluded.met_at) END
    RETURNING p.challenge_id, p.scope_id, p.met_at
)
SELECT challenge_id, scope_id FROM stored WHERE met_at = $2
