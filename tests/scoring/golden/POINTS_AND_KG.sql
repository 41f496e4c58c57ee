SELECT coalesce(sum(points), 0)::float8 AS points, coalesce(sum(co2e_kg), 0)::float8 AS kg
FROM campaign_scores WHERE $1::int IS NULL OR campaign_id = $1
