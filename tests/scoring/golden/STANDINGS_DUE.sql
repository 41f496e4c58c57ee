INSERT INTO standings_due (campaign_id) SELECT DISTINCT campaign_id FROM dirty_members ORDER BY campaign_id
ON CONFLICT DO NOTHING
