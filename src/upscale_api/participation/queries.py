"""SQL for residents taking part in campaigns: listing, enrolment, teams."""

# The campaigns a resident of city $1 can see: not draft, not archived.
VISIBLE = """
SELECT k.id, k.code, k.definition, k.starts_at, k.ends_at, p.phase, k.invite_code,
       e.enrolled_at, e.left_at, t.code AS team
FROM campaigns k
JOIN campaign_phases p ON p.id = k.id
JOIN campaign_cities cc ON cc.campaign_id = k.id AND cc.city_id = $1
LEFT JOIN enrolments e ON e.campaign_id = k.id AND e.resident_id = $2
LEFT JOIN teams t ON t.id = e.team_id
WHERE p.phase IN ('scheduled', 'active', 'ended')
ORDER BY k.starts_at DESC, k.code
"""

# A campaign's teams as residents see them: no invite codes.
TEAMS = """
SELECT t.id, t.code, t.name, t.kind, c.code AS city, t.member_quota,
       (SELECT count(*) FROM enrolments e WHERE e.team_id = t.id AND e.left_at IS NULL) AS members
FROM teams t JOIN cities c ON c.id = t.city_id
WHERE t.campaign_id = $1 AND t.active
ORDER BY t.name
"""

# Locks the team row so two residents cannot both take its last place.
TEAM_FOR_ENROLMENT = """
SELECT t.id, t.member_quota,
       (SELECT count(*) FROM enrolments e WHERE e.team_id = t.id AND e.left_at IS NULL
          AND e.resident_id <> $3) AS members
FROM teams t
WHERE t.campaign_id = $1 AND t.active AND (t.code = $2 OR t.invite_code = upper($2))
FOR UPDATE
"""

ENROL = """
INSERT INTO enrolments (campaign_id, resident_id, city_id, team_id, baseline)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (campaign_id, resident_id) DO UPDATE SET
    team_id = excluded.team_id, baseline = excluded.baseline, city_id = excluded.city_id,
    enrolled_at = CASE WHEN enrolments.left_at IS NULL THEN enrolments.enrolled_at ELSE now() END,
    left_at = NULL, written_xid = pg_current_xact_id()
RETURNING enrolled_at
"""

LEAVE = """
UPDATE enrolments SET left_at = now(), written_xid = pg_current_xact_id()
WHERE campaign_id = $1 AND resident_id = $2 AND left_at IS NULL
"""

ENROLMENT = """
SELECT e.resident_id, e.team_id, e.baseline, e.enrolled_at, e.city_id
FROM enrolments e WHERE e.campaign_id = $1 AND e.resident_id = $2 AND e.left_at IS NULL
"""

CREATE_TEAM = """
INSERT INTO teams (campaign_id, city_id, code, kind, name, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id, code, invite_code
"""
