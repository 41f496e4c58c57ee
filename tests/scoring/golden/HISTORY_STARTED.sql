INSERT INTO history_advanced (cutoff, finished_at) VALUES ($1, NULL)
ON CONFLICT (cutoff) DO UPDATE SET finished_at = NULL
