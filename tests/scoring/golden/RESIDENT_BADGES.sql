SELECT k.code AS campaign, b.code AS badge, e.earned_at
FROM earned_badges e JOIN badges b ON b.id = e.badge_id JOIN campaigns k ON k.id = b.campaign_id
WHERE e.resident_id = $1
ORDER BY e.earned_at, k.code, b.code
