INSERT INTO job_watermarks (job, seen, ran_at) VALUES ($1, $2::pg_snapshot, $3)
ON CONFLICT (job) DO UPDATE SET seen = excluded.seen, ran_at = excluded.ran_at
