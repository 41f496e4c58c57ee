SELECT d.campaign_id, count(DISTINCT d.resident_id)::int AS active
FROM campaign_days d
WHERE d.campaign_id = ANY($1::int[]) AND d.local_date >= $2::date
GROUP BY d.campaign_id
