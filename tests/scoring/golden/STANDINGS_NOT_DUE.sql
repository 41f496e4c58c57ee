DELETE FROM standings_due WHERE campaign_id = $1
