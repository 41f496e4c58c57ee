INSERT INTO campaign_days (campaign_id, resident_id, local_date, action_type_id, city_id, district_id, team_id,
                           quantity, co2e_kg, points, actions)
SELECT m.campaign_id, m.resident_id, rd.local_date, rd.action_type_id, m.city_id, rd.district_id, m.team_id,
       rd.quantity, rd.co2e_kg,
       CASE WHEN x.max_points_per_day IS NULL THEN rd.quantity * x.points_per_unit::numeric
            ELSE least(rd.quantity * x.points_per_unit::numeric, x.max_points_per_day::numeric) END,
       rd.actions
FROM dirty_members m
JOIN resident_days rd ON rd.resident_id = m.resident_id
JOIN campaign_action_types x ON x.campaign_id = m.campaign_id AND x.action_type_id = rd.action_type_id
WHERE m.taking_part AND NOT rd.held AND rd.local_date BETWEEN m.first_day AND m.last_day
