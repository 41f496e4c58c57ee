"""SQL for role grants."""

GRANTS_OF = """
SELECT g.role, c.code AS city
FROM role_grants g LEFT JOIN cities c ON c.id = g.city_id
WHERE g.firebase_uid = $1
ORDER BY g.role, c.code
"""

CITY_ID = "SELECT id FROM cities WHERE code = $1"

# A grant exists once per user, role and city: granting again changes nothing.
GRANT = """
INSERT INTO role_grants (firebase_uid, role, city_id, granted_by)
VALUES ($1, $2, $3, $4)
ON CONFLICT (firebase_uid, role, coalesce(city_id, 0)) DO NOTHING
RETURNING true
"""

REVOKE = """
DELETE FROM role_grants g
WHERE g.firebase_uid = $1 AND g.role = $2
  AND g.city_id IS NOT DISTINCT FROM (SELECT id FROM cities WHERE code = $3)
"""
