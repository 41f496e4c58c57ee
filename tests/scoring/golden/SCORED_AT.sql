SELECT ran_at FROM job_watermarks WHERE job = 'scoring'
