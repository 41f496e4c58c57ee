SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM residents
