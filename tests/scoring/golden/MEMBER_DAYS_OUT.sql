WITH gone AS (
    DELETE FROM campaign_days d USING dirty_member_days m
    WHERE d.campaign_id = m.campaign_id AND d.resident_id = m.resident_id AND d.local_date = m.local_date
    RETURNING d.*
)
INSERT INTO member_changes SELECT -1, * FROM gone
