"""SQL for role grants."""

GRANTS_OF = """
SELECT g.role, c.code AS city, s.code AS study
FROM role_grants g LEFT JOIN cities c ON c.id = g.city_id LEFT JOIN studies s ON s.id = g.study_id
WHERE g.firebase_uid = $1
ORDER BY g.role, c.code, s.code
"""

CITY_ID = "SELECT id FROM cities WHERE code = $1"

STUDY_ID = "SELECT id FROM studies WHERE code = $1"

# A grant exists once per user, role, city and study: granting again changes nothing.
GRANT = """
INSERT INTO role_grants (firebase_uid, role, city_id, granted_by, study_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (firebase_uid, role, coalesce(city_id, 0), coalesce(study_id, 0)) DO NOTHING
RETURNING true
"""

REVOKE = """
DELETE FROM role_grants g
WHERE g.firebase_uid = $1 AND g.role = $2
  AND g.city_id IS NOT DISTINCT FROM (SELECT id FROM cities WHERE code = $3)
  AND g.study_id IS NOT DISTINCT FROM (SELECT id FROM studies WHERE code = $4)
"""
