WITH marked AS (
    INSERT INTO dirty_member_days (campaign_id, resident_id, local_date)
    SELECT e.campaign_id, e.resident_id, d.local_date
    FROM dirty_days d
    JOIN enrolments e ON e.resident_id = d.resident_id
    JOIN campaigns k ON k.id = e.campaign_id AND d.local_date BETWEEN k.starts_on AND k.ends_on
    UNION
    SELECT c.campaign_id, c.resident_id, rd.local_date
    FROM changed_enrolments c
    JOIN campaigns k ON k.id = c.campaign_id
    JOIN resident_days rd ON rd.resident_id = c.resident_id AND rd.local_date BETWEEN k.starts_on AND k.ends_on
    UNION
    SELECT d.campaign_id, d.resident_id, d.local_date
    FROM changed_enrolments c JOIN campaign_days d USING (campaign_id, resident_id)
    ON CONFLICT DO NOTHING
    RETURNING campaign_id, resident_id, local_date
)
INSERT INTO dirty_members (campaign_id, resident_id, taking_part, city_id, district_id, team_id, baseline,
                           first_day, last_day, history_cutoff)
SELECT x.campaign_id, x.resident_id, e.resident_id IS NOT NULL AND e.left_at IS NULL, e.city_id, r.district_id,
       e.team_id, e.baseline, greatest(k.starts_on, (e.enrolled_at AT TIME ZONE r.time_zone)::date), k.ends_on,
       (SELECT h.cutoff FROM history_scores h
        WHERE h.campaign_id = x.campaign_id AND h.resident_id = x.resident_id
          AND NOT x.enrolment_changed AND x.earliest >= h.cutoff
          AND h.rules_through >= (SELECT coalesce(max(ch.id), 0) FROM challenges ch
                                  WHERE ch.campaign_id = x.campaign_id))
FROM (SELECT campaign_id, resident_id, min(local_date) AS earliest, bool_or(enrolment) AS enrolment_changed
      FROM (SELECT campaign_id, resident_id, local_date, false AS enrolment FROM marked
            UNION ALL SELECT campaign_id, resident_id, NULL, true FROM changed_enrolments) u
      GROUP BY campaign_id, resident_id) x
LEFT JOIN enrolments e ON e.campaign_id = x.campaign_id AND e.resident_id = x.resident_id
JOIN campaigns k ON k.id = x.campaign_id
JOIN residents r ON r.id = x.resident_id
ON CONFLICT DO NOTHING
