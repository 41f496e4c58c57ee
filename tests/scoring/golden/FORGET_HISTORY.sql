DELETE FROM history_scores h USING dirty_members m
WHERE h.campaign_id = m.campaign_id AND h.resident_id = m.resident_id AND m.history_cutoff IS NULL
