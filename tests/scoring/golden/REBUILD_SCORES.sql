WITH earlier AS MATERIALIZED (
    -- no stored history: every participant from all their days
    SELECT * FROM history_scores WHERE false
), days AS (
    SELECT d.campaign_id, d.resident_id, d.local_date,
           sum(d.points) AS points, sum(d.co2e_kg) AS co2e_kg, sum(d.actions) AS actions
    FROM dirty_members m JOIN campaign_days d USING (campaign_id, resident_id)
    GROUP BY d.campaign_id, d.resident_id, d.local_date
), runs AS (
    -- consecutive days share (day - rank): the gaps-and-islands trick; a later run has a larger one
    SELECT campaign_id, resident_id, run, min(local_date) AS first_day, max(local_date) AS last_day,
           count(*)::int AS days, sum(points) AS points, sum(co2e_kg) AS co2e_kg, sum(actions) AS actions
    FROM (SELECT *, local_date - date '2000-01-01'
                    - row_number() OVER (PARTITION BY campaign_id, resident_id ORDER BY local_date) AS run
          FROM days) x
    GROUP BY campaign_id, resident_id, run
), sums AS (
    SELECT r.campaign_id, r.resident_id, sum(r.points) AS points, sum(r.co2e_kg) AS co2e_kg,
           sum(r.actions)::int AS actions, sum(r.days)::int AS active_days,
           max(r.days + 0) AS longest,  -- no run continues one before
           max(r.last_day) AS last_day,
           (max(ARRAY[r.run, r.days + 0]))[2]::int AS last_days  -- the latest run's days
    FROM runs r
    GROUP BY r.campaign_id, r.resident_id
), gone AS (
    DELETE FROM campaign_scores s USING dirty_members m
    WHERE s.campaign_id = m.campaign_id AND s.resident_id = m.resident_id AND NOT m.taking_part
)
INSERT INTO campaign_scores AS s (campaign_id, resident_id, city_id, district_id, team_id, points, co2e_kg, actions,
                                  active_days, longest_streak, last_run_end, last_run_days, updated_at)
SELECT m.campaign_id, m.resident_id, m.city_id, m.district_id, m.team_id,
       coalesce(h.points, 0) + coalesce(t.points, 0), coalesce(h.co2e_kg, 0) + coalesce(t.co2e_kg, 0),
       coalesce(h.actions, 0) + coalesce(t.actions, 0), coalesce(h.active_days, 0) + coalesce(t.active_days, 0),
       coalesce(greatest(h.longest_streak, t.longest), 0), coalesce(t.last_day, h.last_run_end),
       coalesce(t.last_days, h.last_run_days, 0), $1
FROM dirty_members m
LEFT JOIN sums t ON t.campaign_id = m.campaign_id AND t.resident_id = m.resident_id
LEFT JOIN earlier h ON h.campaign_id = m.campaign_id AND h.resident_id = m.resident_id
WHERE m.taking_part
ON CONFLICT (campaign_id, resident_id) DO UPDATE
SET city_id = excluded.city_id, district_id = excluded.district_id, team_id = excluded.team_id,
    points = excluded.points, co2e_kg = excluded.co2e_kg, actions = excluded.actions,
    active_days = excluded.active_days, longest_streak = excluded.longest_streak,
    last_run_end = excluded.last_run_end, last_run_days = excluded.last_run_days, updated_at = excluded.updated_at
WHERE (s.city_id, s.district_id, s.team_id, s.points, s.co2e_kg, s.actions, s.active_days, s.longest_streak,
       s.last_run_end, s.last_run_days)
      IS DISTINCT FROM
      (excluded.city_id, excluded.district_id, excluded.team_id, excluded.points, excluded.co2e_kg, excluded.actions,
       excluded.active_days, excluded.longest_streak, excluded.last_run_end, excluded.last_run_days)
