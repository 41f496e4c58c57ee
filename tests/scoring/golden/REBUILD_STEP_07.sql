INSERT INTO dirty_members (campaign_id, resident_id, taking_part, city_id, district_id, team_id, baseline,
                           first_day, last_day, history_cutoff)
SELECT x.campaign_id, x.resident_id, e.resident_id IS NOT NULL AND e.left_at IS NULL, e.city_id, r.district_id,
       e.team_id, e.baseline, greatest(k.starts_on, (e.enrolled_at AT TIME ZONE r.time_zone)::date), k.ends_on,
       NULL
FROM enrolments e CROSS JOIN LATERAL (SELECT e.campaign_id, e.resident_id) x
JOIN campaigns k ON k.id = x.campaign_id
JOIN residents r ON r.id = x.resident_id
ORDER BY x.campaign_id, x.resident_id;
INSERT INTO changed_enrolments (campaign_id, resident_id) SELECT campaign_id, resident_id FROM dirty_members
