"""SQL that writes the demo data (``seed.py``)."""

# Demo data is written once: the first demo resident says it is there.
DEMO_PRESENT = "SELECT 1 FROM residents WHERE firebase_uid LIKE 'demo-resident-%' LIMIT 1"

INSERT_RESIDENTS = """
INSERT INTO residents (firebase_uid, city_id, district_id, display_name, locale, time_zone, created_at)
SELECT u.uid, u.city_id, u.district_id, u.name, u.locale, u.tz, $7
FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[])
     AS u(uid, city_id, district_id, name, locale, tz)
RETURNING id, firebase_uid, city_id, time_zone
"""

GRANT_ROLES = """
INSERT INTO role_grants (firebase_uid, role, city_id, granted_by)
SELECT $1, $2, (SELECT id FROM cities WHERE code = $3), 'demo'
ON CONFLICT DO NOTHING
"""

# Every Kranj demo resident joins the demo campaign, in one of its teams, from the day they joined.
ENROL_KRANJ = """
INSERT INTO enrolments (campaign_id, resident_id, city_id, team_id, enrolled_at)
SELECT k.id, r.id, r.city_id,
       (SELECT t.id FROM teams t WHERE t.campaign_id = k.id ORDER BY t.code OFFSET r.id % 3 LIMIT 1),
       r.created_at
FROM campaigns k, residents r JOIN cities c ON c.id = r.city_id
WHERE k.code = $1 AND c.code = 'kranj' AND r.firebase_uid LIKE 'demo-resident-%'
ON CONFLICT DO NOTHING
"""

# Every demo resident of cities $2 takes part in campaign $1 from the day they registered (no team).
ENROL_CITIES = """
INSERT INTO enrolments (campaign_id, resident_id, city_id, enrolled_at)
SELECT k.id, r.id, r.city_id, r.created_at
FROM campaigns k, residents r JOIN cities c ON c.id = r.city_id
WHERE k.code = $1 AND c.code = ANY($2::text[]) AND r.firebase_uid LIKE 'demo-resident-%'
ON CONFLICT DO NOTHING
"""
