INSERT INTO standings_computed (campaign_id, computed_at, sizes, final, took)
VALUES ($1, $2, $4, $3, clock_timestamp() - now())
ON CONFLICT (campaign_id) DO UPDATE
SET computed_at = excluded.computed_at, sizes = excluded.sizes, final = excluded.final, took = excluded.took
