INSERT INTO standings_due (campaign_id) SELECT id FROM campaigns WHERE code = ANY($1::text[]) ORDER BY id
ON CONFLICT DO NOTHING
