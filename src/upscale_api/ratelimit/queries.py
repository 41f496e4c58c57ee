"""SQL of the rate limits' shared store (the ``rate_limits`` table)."""

HIT = """
WITH clock AS (
    SELECT (extract(epoch FROM statement_timestamp()) * 1000000)::bigint AS now
), checks AS (
    SELECT c.key, c.increment, c.capacity, c.n
    FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS c(key, increment, capacity, n)
), charged AS (
    INSERT INTO rate_limits AS r (key, tat)
    SELECT checks.key, clock.now + checks.increment FROM checks, clock
    ON CONFLICT (key) DO UPDATE
        SET tat = greatest(r.tat, (SELECT now FROM clock)) + excluded.tat - (SELECT now FROM clock)
        WHERE greatest(r.tat, (SELECT now FROM clock)) + excluded.tat - 2 * (SELECT now FROM clock)
              <= (SELECT capacity FROM checks WHERE checks.key = excluded.key)
    RETURNING r.key, r.tat
)
SELECT coalesce(charged.tat, kept.tat, clock.now) AS tat, charged.key IS NOT NULL AS allowed, clock.now
FROM checks CROSS JOIN clock
LEFT JOIN charged ON charged.key = checks.key
LEFT JOIN rate_limits kept ON kept.key = checks.key AND charged.key IS NULL
ORDER BY checks.n
"""

FORGET_EXPIRED = """
DELETE FROM rate_limits WHERE tat <= (extract(epoch FROM statement_timestamp()) * 1000000)::bigint
"""
