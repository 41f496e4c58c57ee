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
