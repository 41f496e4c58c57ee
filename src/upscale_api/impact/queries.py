"""SQL for a resident's impact; every figure in one statement over the resident's
days as the scoring jobs computed them (held days apart)."""

IMPACT = """
WITH all_days AS (
    SELECT d.local_date, d.co2e_kg, d.actions, d.held, t.category
    FROM resident_days d JOIN action_types t ON t.id = d.action_type_id
    WHERE d.resident_id = $1
), mine AS (
    SELECT * FROM all_days WHERE NOT held
), days AS (
    SELECT DISTINCT local_date FROM mine
), runs AS (
    -- consecutive days share (day - rank): the gaps-and-islands trick
    SELECT min(local_date) AS first_day, max(local_date) AS last_day, count(*) AS length
    FROM (SELECT local_date, local_date - (row_number() OVER (ORDER BY local_date))::int AS run FROM days) d
    GROUP BY run
)
SELECT
    (SELECT round(coalesce(sum(co2e_kg), 0), 6)::float8 FROM mine) AS co2e_kg,
    (SELECT coalesce(sum(actions), 0) FROM mine) AS actions,
    (SELECT round(coalesce(sum(co2e_kg), 0), 6)::float8 FROM all_days WHERE held) AS held_co2e_kg,
    (SELECT ran_at FROM job_watermarks WHERE job = 'scoring') AS computed_at,
    (SELECT count(*) FROM days) AS active_days,
    (SELECT coalesce(max(length), 0) FROM runs WHERE last_day >= $2::date - 1) AS current_streak_days,
    (SELECT coalesce(max(length), 0) FROM runs) AS longest_streak_days,
    (SELECT min(local_date) FROM days) AS first_action_on,
    (SELECT max(local_date) FROM days) AS last_action_on,
    (SELECT coalesce(jsonb_agg(c ORDER BY c.co2e_kg DESC, c.category), '[]')
     FROM (SELECT category, round(sum(co2e_kg), 6)::float8 AS co2e_kg, sum(actions) AS actions
           FROM mine GROUP BY category) c
    ) AS by_category,
    (SELECT coalesce(jsonb_agg(w ORDER BY w.week DESC), '[]')
     FROM (SELECT to_char(local_date, 'IYYY-"W"IW') AS week, round(sum(co2e_kg), 6)::float8 AS co2e_kg,
                  sum(actions) AS actions
           FROM mine GROUP BY 1) w
    ) AS by_week
"""
