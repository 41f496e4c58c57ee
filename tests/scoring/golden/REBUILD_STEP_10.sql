ALTER TABLE campaign_days ADD CONSTRAINT campaign_days_pkey PRIMARY KEY (campaign_id, resident_id, local_date, action_type_id);ANALYZE campaign_days
