WITH days AS (
    SELECT campaign_id, resident_id, local_date, sum(points) AS points, sum(co2e_kg) AS co2e_kg, sum(actions) AS actions
    FROM campaign_days WHERE local_date < $1 AND resident_id BETWEEN $2 AND $3
    GROUP BY campaign_id, resident_id, local_date
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
), newest AS (
    SELECT campaign_id, max(id) AS id FROM challenges GROUP BY campaign_id
)
INSERT INTO history_scores (campaign_id, resident_id, cutoff, rules_through, points, co2e_kg, actions, active_days,
                            longest_streak, last_run_end, last_run_days)
SELECT t.campaign_id, t.resident_id, $1, coalesce(n.id, 0), t.points, t.co2e_kg, t.actions, t.active_days,
       t.longest, t.last_day, t.last_days
FROM sums t LEFT JOIN newest n USING (campaign_id)
