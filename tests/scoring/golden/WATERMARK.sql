SELECT coalesce((SELECT seen FROM job_watermarks WHERE job = $1), '1:1:'::pg_snapshot)
