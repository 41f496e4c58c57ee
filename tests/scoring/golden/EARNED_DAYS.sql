SELECT d.local_date, d.campaign_id, c.code AS campaign, c.title, sum(d.points) AS points
FROM (SELECT campaign_id FROM enrolments WHERE resident_id = $1) e
JOIN campaign_days d ON d.campaign_id = e.campaign_id AND d.resident_id = $1
JOIN campaigns c ON c.id = d.campaign_id
WHERE d.city_id = $2
  AND ($3::date IS NULL OR (d.local_date, d.campaign_id) < ($3::date, $4::integer))
GROUP BY d.local_date, d.campaign_id, c.code, c.title
HAVING sum(d.points) > 0
ORDER BY d.local_date DESC, d.campaign_id DESC
LIMIT $5
