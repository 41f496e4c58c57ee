"""SQL for residents."""

# The resident behind a Firebase uid, for other domains' statements keyed by resident id.
BY_UID = "SELECT id, city_id, time_zone, locale FROM residents WHERE firebase_uid = $1"

UPSERT = """
INSERT INTO residents (firebase_uid, city_id, district_id, display_name, locale, time_zone)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (firebase_uid) DO UPDATE SET
    city_id = excluded.city_id, district_id = excluded.district_id,
    display_name = excluded.display_name, locale = excluded.locale,
    time_zone = excluded.time_zone, updated_at = now()
RETURNING (xmax = 0) AS created, created_at, updated_at
"""

BY_UID = """
SELECT r.id, r.city_id, c.code AS city, d.code AS district, r.display_name, r.locale, r.time_zone,
       r.created_at, r.updated_at
FROM residents r
JOIN cities c ON c.id = r.city_id
LEFT JOIN districts d ON d.id = r.district_id
WHERE r.firebase_uid = $1
"""
