WITH gone AS (
    DELETE FROM resident_days r USING dirty_days d
    WHERE r.resident_id = d.resident_id AND r.local_date = d.local_date
    RETURNING r.*
)
INSERT INTO day_changes SELECT -1, * FROM gone
