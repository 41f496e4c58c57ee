SELECT count(*) FROM resident_days
