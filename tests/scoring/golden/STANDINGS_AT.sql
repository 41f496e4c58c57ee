SELECT (SELECT computed_at FROM standings_computed WHERE campaign_id = $1) AS computed_at,
       (SELECT ran_at FROM job_watermarks WHERE job = 'scoring') AS scored_at
