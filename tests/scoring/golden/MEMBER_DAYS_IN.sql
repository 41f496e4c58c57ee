WITH stored AS (
    INSERT INTO campaign_days (campaign_id, resident_id, local_date, action_type_id, city_id, district_id, team_id,
                               quantity, co2e_kg, points, actions)
    SELECT m.campaign_id, m.resident_id, rd.local_date, rd.action_type_id, m.city_id, rd.district_id, m.team_id,
           rd.quantity, rd.co2e_kg,
           CASE WHEN x.max_points_per_day IS NULL THEN rd.quantity * x.points_per_unit::numeric
                ELSE least(rd.quantity * x.points_per_unit::numeric, x.max_points_per_day::numeric) END,
           rd.actions
    FROM dirty_member_days d
    JOIN dirty_members m USING (campaign_id, resident_id)
    JOIN (SELECT resident_id, local_date, action_type_id, district_id, quantity, co2e_kg, actions, held
          FROM day_changes WHERE sign = 1
          UNION ALL
          SELECT resident_id, local_date, action_type_id, district_id, quantity, co2e_kg, actions, held
          FROM resident_days r
          WHERE r.resident_id IN (SELECT resident_id FROM changed_enrolments)
            AND NOT EXISTS (SELECT FROM dirty_days x
                            WHERE x.resident_id = r.resident_id AND x.local_date = r.local_date)
         ) rd ON rd.resident_id = d.resident_id AND rd.local_date = d.local_date
    JOIN campaign_action_types x ON x.campaign_id = m.campaign_id AND x.action_type_id = rd.action_type_id
    WHERE m.taking_part AND NOT rd.held AND rd.local_date BETWEEN m.first_day AND m.last_day
    RETURNING *
)
INSERT INTO member_changes SELECT 1, * FROM stored
