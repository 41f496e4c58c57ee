WITH counted AS (
    SELECT scope, score, count(*) AS entries FROM standings WHERE campaign_id = $1 GROUP BY scope, score
), stored AS (
    INSERT INTO standings_levels (campaign_id, scope, score, above)
    SELECT $1, scope, score, (sum(entries) OVER (PARTITION BY scope ORDER BY score DESC) - entries)::int
    FROM counted
)
SELECT coalesce(jsonb_object_agg(scope, entries), '{}') FROM (
    SELECT scope, sum(entries)::int AS entries FROM counted GROUP BY scope) s
