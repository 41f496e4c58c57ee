SELECT k.id FROM campaigns k
WHERE k.status = 'scheduled' AND k.ends_at + $2::interval <= $1
  AND NOT EXISTS (SELECT 1 FROM campaign_results r WHERE r.campaign_id = k.id)
ORDER BY k.ends_at
