SELECT date_trunc('week', d.local_date)::date AS week, d.district_id, t.category,
       GROUPING(d.district_id) = 1 AS all_districts, GROUPING(t.category) = 1 AS all_categories,
       count(DISTINCT d.resident_id)::int AS participants, sum(d.actions)::bigint AS actions,
       sum(d.co2e_kg) AS co2e_kg
FROM resident_days d JOIN action_types t ON t.id = d.action_type_id
WHERE d.city_id = $1 AND d.local_date BETWEEN $2 AND $3 AND NOT d.held
GROUP BY date_trunc('week', d.local_date), GROUPING SETS ((d.district_id, t.category), (d.district_id), (t.category), ())
