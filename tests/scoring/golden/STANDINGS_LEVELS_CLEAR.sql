DELETE FROM standings_levels WHERE campaign_id = $1
