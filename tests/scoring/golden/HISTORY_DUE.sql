SELECT coalesce(max(cutoff) FILTER (WHERE finished_at IS NOT NULL) < $1, true) FROM history_advanced
