MERGE INTO standings s
USING standings_changes c ON s.campaign_id = c.campaign_id AND s.scope = c.scope AND s.subject_id = c.subject_id
WHEN MATCHED AND c.gone THEN DELETE
WHEN MATCHED THEN
    UPDATE SET score = c.score, points = c.points, co2e_kg = c.co2e_kg, members = c.members,
               active_members = c.active_members
WHEN NOT MATCHED AND NOT c.gone THEN
    INSERT (campaign_id, scope, subject_id, score, points, co2e_kg, members, active_members)
    VALUES (c.campaign_id, c.scope, c.subject_id, c.score, c.points, c.co2e_kg, c.members, c.active_members)
