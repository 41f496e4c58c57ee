SELECT b.code FROM earned_badges e JOIN badges b ON b.id = e.badge_id
WHERE b.campaign_id = $1 AND e.resident_id = $2
