SELECT d.city_id, sum(d.points) AS points
FROM (SELECT campaign_id FROM enrolments WHERE resident_id = $1) e
JOIN campaign_days d ON d.campaign_id = e.campaign_id AND d.resident_id = $1
GROUP BY d.city_id
