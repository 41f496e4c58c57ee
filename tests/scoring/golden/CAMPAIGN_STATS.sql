WITH days AS MATERIALIZED (
    SELECT d.resident_id, d.local_date, date_trunc('week', d.local_date)::date AS week, t.code AS action_type,
           t.category, d.quantity, d.co2e_kg, d.actions
    FROM campaign_days d JOIN action_types t ON t.id = d.action_type_id
    WHERE d.campaign_id = $1
), cohorts AS MATERIALIZED (
    SELECT e.resident_id, date_trunc('week', (e.enrolled_at AT TIME ZONE r.time_zone)::date)::date AS cohort
    FROM enrolments e JOIN residents r ON r.id = e.resident_id
    WHERE e.campaign_id = $1 AND e.left_at IS NULL
), active_weeks AS MATERIALIZED (
    SELECT DISTINCT resident_id, week FROM days
)
SELECT
    (SELECT count(*) FROM cohorts) AS enrolled,
    (SELECT count(*) FROM enrolments WHERE campaign_id = $1 AND left_at IS NOT NULL) AS left,
    (SELECT count(*) FROM campaign_scores WHERE campaign_id = $1 AND actions > 0) AS active_residents,
    (SELECT coalesce(jsonb_agg(d ORDER BY d.day), '[]') FROM (
        SELECT local_date AS day, count(DISTINCT resident_id) AS active_residents, sum(actions) AS actions,
               round(sum(co2e_kg), 3)::float8 AS co2e_kg
        FROM days GROUP BY local_date) d) AS by_day,
    (SELECT coalesce(jsonb_agg(w ORDER BY w.week), '[]') FROM (
        SELECT week, count(DISTINCT resident_id) AS active_residents, sum(actions) AS actions,
               round(sum(co2e_kg), 3)::float8 AS co2e_kg
        FROM days GROUP BY week) w) AS by_week,
    (SELECT coalesce(jsonb_agg(t ORDER BY t.co2e_kg DESC, t.action_type), '[]') FROM (
        SELECT action_type, sum(actions) AS actions, round(sum(quantity), 3)::float8 AS quantity,
               round(sum(co2e_kg), 3)::float8 AS co2e_kg
        FROM days GROUP BY action_type) t) AS by_action_type,
    (SELECT coalesce(jsonb_agg(w ORDER BY w.week, w.category), '[]') FROM (
        SELECT week, category, round(sum(co2e_kg), 3)::float8 AS co2e_kg
        FROM days GROUP BY week, category) w) AS by_week_and_category,
    (SELECT coalesce(jsonb_agg(r ORDER BY r.cohort, r.week), '[]') FROM (
        SELECT s.cohort, w.week, s.size, count(a.resident_id) AS active
        FROM (SELECT cohort, count(*) AS size FROM cohorts GROUP BY cohort) s
        JOIN (SELECT DISTINCT week FROM active_weeks) w ON w.week >= s.cohort
        LEFT JOIN (active_weeks a JOIN cohorts c ON c.resident_id = a.resident_id)
            ON c.cohort = s.cohort AND a.week = w.week
        GROUP BY s.cohort, w.week, s.size) r) AS retention,
    (SELECT coalesce(jsonb_agg(s ORDER BY s.participation DESC, s.co2e_kg DESC, s.team), '[]') FROM (
        SELECT t.code AS team, t.name, count(e.resident_id) AS members,
               count(p.resident_id) FILTER (WHERE p.actions > 0) AS active_members,
               CASE WHEN count(e.resident_id) = 0 THEN 0
                    ELSE round((count(p.resident_id) FILTER (WHERE p.actions > 0))::numeric / count(e.resident_id),
                               4)::float8
               END AS participation,
               coalesce(round(sum(p.co2e_kg), 3)::float8, 0) AS co2e_kg
        FROM teams t
        LEFT JOIN enrolments e ON e.team_id = t.id AND e.left_at IS NULL
        LEFT JOIN campaign_scores p ON p.campaign_id = $1 AND p.resident_id = e.resident_id
        WHERE t.campaign_id = $1 AND t.active
        GROUP BY t.id) s) AS teams
