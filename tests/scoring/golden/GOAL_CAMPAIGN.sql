SELECT campaign_id FROM goal_announcements ORDER BY reached_at LIMIT 1
