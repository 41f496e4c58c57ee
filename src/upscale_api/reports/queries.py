"""SQL for the city impact report: one statement over the scoring job's derived tables.

$1 city id, $2 first month, $3 last month (first days), $4 the categories in report order.
Held-out entries (implausible, under review) count nowhere: ``totals_daily`` leaves
them out and participants are read from ``resident_days`` where not held.
"""

CITY_IMPACT = """
WITH months AS (
    SELECT m::date AS month FROM generate_series($2::date, $3::date, interval '1 month') m
), categories AS (
    SELECT category, ord FROM unnest($4::text[]) WITH ORDINALITY c (category, ord)
), sums AS (
    SELECT date_trunc('month', d.local_date)::date AS month, t.category,
           sum(d.co2e_kg) AS co2e_kg, sum(d.actions) AS actions
    FROM totals_daily d JOIN action_types t ON t.id = d.action_type_id
    WHERE d.campaign_id = 0 AND d.scope = 'city' AND d.scope_id = $1
      AND d.local_date >= $2::date AND d.local_date < ($3::date + interval '1 month')::date
    GROUP BY 1, 2
), people AS (
    -- per month, and (the empty grouping set) over the whole range: each resident once
    SELECT date_trunc('month', r.local_date)::date AS month,
           grouping(date_trunc('month', r.local_date)) = 1 AS whole_range,
           count(DISTINCT r.resident_id) AS participants
    FROM resident_days r
    WHERE r.city_id = $1 AND NOT r.held AND r.actions > 0
      AND r.local_date >= $2::date AND r.local_date < ($3::date + interval '1 month')::date
    GROUP BY GROUPING SETS ((date_trunc('month', r.local_date)), ())
), grid AS (
    SELECT m.month, c.category, c.ord, coalesce(s.co2e_kg, 0) AS co2e_kg, coalesce(s.actions, 0) AS actions
    FROM months m CROSS JOIN categories c
    LEFT JOIN sums s ON s.month = m.month AND s.category = c.category
), by_month AS (
    SELECT g.month, sum(g.co2e_kg) AS co2e_kg, sum(g.actions) AS actions,
           jsonb_agg(jsonb_build_object(
               'category', g.category, 'co2e_kg', round(g.co2e_kg, 3)::float8, 'actions', g.actions
           ) ORDER BY g.ord) AS by_category
    FROM grid g
    GROUP BY g.month
)
SELECT
    (SELECT round(coalesce(sum(co2e_kg), 0), 3)::float8 FROM by_month) AS co2e_kg,
    (SELECT coalesce(sum(actions), 0)::bigint FROM by_month) AS actions,
    coalesce((SELECT participants FROM people WHERE whole_range), 0) AS participants,
    (SELECT ran_at FROM job_watermarks WHERE job = 'scoring') AS computed_at,
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'month', to_char(b.month, 'YYYY-MM'),
                'co2e_kg', round(b.co2e_kg, 3)::float8,
                'actions', b.actions,
                'participants', coalesce(p.participants, 0),
                'by_category', b.by_category
            ) ORDER BY b.month), '[]')
     FROM by_month b LEFT JOIN people p ON p.month = b.month AND NOT p.whole_range
    ) AS months
"""
