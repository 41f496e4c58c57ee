"""SQL for coordinators: their campaigns, teams, statistics and broadcasts; storing campaign definitions."""

CAMPAIGN_ID = "SELECT id FROM campaigns WHERE code = $1"

ADMIN_LIST = """
SELECT k.id, k.code, c.code AS city, k.definition, p.phase, k.source,
       (SELECT count(*) FROM enrolments e WHERE e.campaign_id = k.id AND e.left_at IS NULL) AS enrolled
FROM campaigns k JOIN cities c ON c.id = k.city_id JOIN campaign_phases p ON p.id = k.id
WHERE $1::text[] IS NULL OR c.code = ANY($1::text[])
ORDER BY k.starts_at DESC, k.code
"""

# A campaign's teams with their invite codes and member counts.
TEAMS = """
SELECT t.id, t.code, t.name, t.kind, c.code AS city, t.member_quota, t.invite_code,
       (SELECT count(*) FROM enrolments e WHERE e.team_id = t.id AND e.left_at IS NULL) AS members
FROM teams t JOIN cities c ON c.id = t.city_id
WHERE t.campaign_id = $1 AND t.active
ORDER BY t.name
"""

LOCK_CAMPAIGN_CODE = "SELECT pg_advisory_xact_lock($1, hashtext($2))"

# Who owns a campaign, as stored: its owning city and every city it runs in.
OWNERSHIP = """
SELECT c.code AS city,
       array(SELECT x.code FROM campaign_cities cc JOIN cities x ON x.id = cc.city_id
             WHERE cc.campaign_id = k.id ORDER BY x.code) AS cities
FROM campaigns k JOIN cities c ON c.id = k.city_id
WHERE k.code = $1
FOR UPDATE OF k
"""

ADMIN_ONE = """
SELECT k.id, k.code, c.code AS city, k.definition, p.phase, k.source
FROM campaigns k JOIN cities c ON c.id = k.city_id JOIN campaign_phases p ON p.id = k.id
WHERE k.code = $1
"""

# Participants of campaign $1 in the segment: team code $2 (NULL: any), no live
# action for $3 days (NULL: any). $4 title, $5 body (localised jsonb), $6 send at,
# $7 a key unique to this broadcast, $8 false = only count.
BROADCAST = """
WITH audience AS (
    SELECT e.resident_id, e.city_id, r.locale
    FROM enrolments e
    JOIN residents r ON r.id = e.resident_id
    LEFT JOIN teams t ON t.id = e.team_id
    WHERE e.campaign_id = $1 AND e.left_at IS NULL
      AND ($2::text IS NULL OR t.code = $2)
      AND ($3::int IS NULL OR NOT EXISTS (
          SELECT 1 FROM action_logs a WHERE a.resident_id = e.resident_id AND a.deleted_at IS NULL
            AND a.performed_at > $6::timestamptz - make_interval(days => $3)))
), sent AS (
    INSERT INTO notifications
        (resident_id, city_id, kind, campaign_id, dedupe_key, title, body, data, locale, not_before, expires_at)
    SELECT a.resident_id, a.city_id, 'broadcast', $1, 'broadcast:' || $7,
           coalesce($4::jsonb ->> a.locale, $4::jsonb ->> 'en'), coalesce($5::jsonb ->> a.locale, $5::jsonb ->> 'en'),
           '{}', a.locale, $6, $6::timestamptz + interval '2 days'
    FROM audience a
    WHERE $8
    ON CONFLICT (resident_id, dedupe_key) DO NOTHING
)
SELECT count(*) FROM audience
"""

ENROLLED = "SELECT count(*) FROM enrolments WHERE campaign_id = $1 AND left_at IS NULL"

TEAM_EXISTS = "SELECT true FROM teams WHERE campaign_id = $1 AND code = $2"

STORED_DEFINITIONS = "SELECT code, source, definition FROM campaigns WHERE code = ANY($1::text[])"

UPSERT_CAMPAIGNS = """
INSERT INTO campaigns
    (code, city_id, title, description, starts_on, ends_on, starts_at, ends_at, status, enrolment,
     invite_code, residents_create_teams, questions, definition, source)
SELECT n.code, c.id, n.title, n.description, n.starts_on, n.ends_on, n.starts_at, n.ends_at, n.status,
       n.enrolment, n.invite_code, n.residents_create_teams, n.question, n.definition, $2
FROM jsonb_to_recordset($1::jsonb) AS n(
    code text, city text, title jsonb, description jsonb, starts_on date, ends_on date,
    starts_at timestamptz, ends_at timestamptz, status text, enrolment text, invite_code text,
    residents_create_teams boolean, question jsonb, definition jsonb)
JOIN cities c ON c.code = n.city
ON CONFLICT (code) DO UPDATE SET
    city_id = excluded.city_id, title = excluded.title, description = excluded.description,
    starts_on = excluded.starts_on,
    ends_on = excluded.ends_on, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
    status = excluded.status, enrolment = excluded.enrolment, invite_code = excluded.invite_code,
    residents_create_teams = excluded.residents_create_teams, questions = excluded.questions,
    definition = excluded.definition, updated_at = now()
WHERE campaigns.definition IS DISTINCT FROM excluded.definition
"""

SYNC_CAMPAIGN_CITIES = """
WITH wanted AS (
    SELECT k.id AS campaign_id, c.id AS city_id
    FROM jsonb_to_recordset($1::jsonb) AS n(code text, cities jsonb)
    JOIN campaigns k ON k.code = n.code
    CROSS JOIN LATERAL jsonb_array_elements_text(n.cities) AS x(city)
    JOIN cities c ON c.code = x.city
), removed AS (
    DELETE FROM campaign_cities cc
    USING campaigns k
    WHERE k.id = cc.campaign_id AND k.code = ANY($2::text[])
      AND (cc.campaign_id, cc.city_id) NOT IN (SELECT campaign_id, city_id FROM wanted)
)
INSERT INTO campaign_cities SELECT campaign_id, city_id FROM wanted ON CONFLICT DO NOTHING
"""

SYNC_CAMPAIGN_ACTION_TYPES = """
WITH wanted AS (
    SELECT k.id AS campaign_id, t.id AS action_type_id, a.points_per_unit, a.max_points_per_day
    FROM jsonb_to_recordset($1::jsonb) AS n(code text, action jsonb)
    JOIN campaigns k ON k.code = n.code
    CROSS JOIN LATERAL jsonb_to_recordset(n.action)
        AS a(type text, points_per_unit float8, max_points_per_day float8)
    JOIN action_types t ON t.code = a.type
), removed AS (
    DELETE FROM campaign_action_types x
    USING campaigns k
    WHERE k.id = x.campaign_id AND k.code = ANY($2::text[])
      AND (x.campaign_id, x.action_type_id) NOT IN (SELECT campaign_id, action_type_id FROM wanted)
)
INSERT INTO campaign_action_types SELECT * FROM wanted
ON CONFLICT (campaign_id, action_type_id) DO UPDATE SET
    points_per_unit = excluded.points_per_unit, max_points_per_day = excluded.max_points_per_day
"""

UPSERT_TEAMS = """
INSERT INTO teams (campaign_id, city_id, code, kind, name, member_quota)
SELECT k.id, c.id, t.code, t.kind, t.name, t.member_quota
FROM jsonb_to_recordset($1::jsonb) AS n(code text, city text, team jsonb)
JOIN campaigns k ON k.code = n.code
CROSS JOIN LATERAL jsonb_to_recordset(n.team)
    AS t(code text, kind text, name text, city text, member_quota int)
JOIN cities c ON c.code = coalesce(t.city, n.city)
ON CONFLICT (campaign_id, code) DO UPDATE SET
    city_id = excluded.city_id, kind = excluded.kind, name = excluded.name,
    member_quota = excluded.member_quota, active = true
WHERE (teams.city_id, teams.kind, teams.name, teams.member_quota, teams.active)
    IS DISTINCT FROM (excluded.city_id, excluded.kind, excluded.name, excluded.member_quota, true)
"""

RETIRE_TEAMS = """
UPDATE teams t SET active = false
FROM campaigns k
WHERE k.id = t.campaign_id AND k.code = ANY($2::text[]) AND t.active AND t.created_by IS NULL
  AND NOT EXISTS (
      SELECT 1 FROM jsonb_to_recordset($1::jsonb) AS n(code text, team jsonb)
      CROSS JOIN LATERAL jsonb_to_recordset(n.team) AS x(code text)
      WHERE n.code = k.code AND x.code = t.code)
"""

# The campaigns' challenges: stored when new or changed; those no longer defined are retired.
UPSERT_CHALLENGES = """
INSERT INTO challenges (campaign_id, code, title, description, rule)
SELECT k.id, x.code, x.title, x.description, x.rule
FROM jsonb_to_recordset($1::jsonb) AS n(code text, challenge jsonb)
JOIN campaigns k ON k.code = n.code
CROSS JOIN LATERAL jsonb_to_recordset(n.challenge) AS x(code text, title jsonb, description jsonb, rule jsonb)
ON CONFLICT (campaign_id, code) DO UPDATE SET
    title = excluded.title, description = excluded.description, rule = excluded.rule, active = true
WHERE (challenges.title, challenges.description, challenges.rule, challenges.active)
    IS DISTINCT FROM (excluded.title, excluded.description, excluded.rule, true)
"""

RETIRE_CHALLENGES = """
UPDATE challenges x SET active = false
FROM campaigns k
WHERE k.id = x.campaign_id AND k.code = ANY($2::text[]) AND x.active
  AND NOT EXISTS (
      SELECT 1 FROM jsonb_to_recordset($1::jsonb) AS n(code text, challenge jsonb)
      CROSS JOIN LATERAL jsonb_to_recordset(n.challenge) AS y(code text)
      WHERE n.code = k.code AND y.code = x.code)
"""

# The campaigns' badges: stored when new or changed; those no longer defined are retired.
UPSERT_BADGES = """
INSERT INTO badges (campaign_id, code, title, description, rule)
SELECT k.id, x.code, x.title, x.description, x.rule
FROM jsonb_to_recordset($1::jsonb) AS n(code text, badge jsonb)
JOIN campaigns k ON k.code = n.code
CROSS JOIN LATERAL jsonb_to_recordset(n.badge) AS x(code text, title jsonb, description jsonb, rule jsonb)
ON CONFLICT (campaign_id, code) DO UPDATE SET
    title = excluded.title, description = excluded.description, rule = excluded.rule, active = true
WHERE (badges.title, badges.description, badges.rule, badges.active)
    IS DISTINCT FROM (excluded.title, excluded.description, excluded.rule, true)
"""

RETIRE_BADGES = """
UPDATE badges x SET active = false
FROM campaigns k
WHERE k.id = x.campaign_id AND k.code = ANY($2::text[]) AND x.active
  AND NOT EXISTS (
      SELECT 1 FROM jsonb_to_recordset($1::jsonb) AS n(code text, badge jsonb)
      CROSS JOIN LATERAL jsonb_to_recordset(n.badge) AS y(code text)
      WHERE n.code = k.code AND y.code = x.code)
"""

# The campaigns' nudges: stored when new or changed; those no longer defined are retired.
UPSERT_NUDGES = """
INSERT INTO nudges (campaign_id, code, schedule, audience, title, body)
SELECT k.id, x.code, x.schedule, x.audience, x.title, x.body
FROM jsonb_to_recordset($1::jsonb) AS n(code text, nudge jsonb)
JOIN campaigns k ON k.code = n.code
CROSS JOIN LATERAL jsonb_to_recordset(n.nudge)
    AS x(code text, schedule jsonb, audience text, title jsonb, body jsonb)
ON CONFLICT (campaign_id, code) DO UPDATE SET
    schedule = excluded.schedule, audience = excluded.audience, title = excluded.title, body = excluded.body,
    active = true
WHERE (nudges.schedule, nudges.audience, nudges.title, nudges.body, nudges.active)
    IS DISTINCT FROM (excluded.schedule, excluded.audience, excluded.title, excluded.body, true)
"""

RETIRE_NUDGES = """
UPDATE nudges x SET active = false
FROM campaigns k
WHERE k.id = x.campaign_id AND k.code = ANY($2::text[]) AND x.active
  AND NOT EXISTS (
      SELECT 1 FROM jsonb_to_recordset($1::jsonb) AS n(code text, nudge jsonb)
      CROSS JOIN LATERAL jsonb_to_recordset(n.nudge) AS y(code text)
      WHERE n.code = k.code AND y.code = x.code)
"""
