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

# Research consent (and demographics, with a birth year) for the listed demo residents, version in force.
CONSENT = """
WITH given AS (
    SELECT r.id AS resident_id, r.city_id, p.purpose, d.version, $3::timestamptz AS at
    FROM residents r
    CROSS JOIN unnest(ARRAY['service', 'research', 'demographics']) AS p(purpose)
    JOIN LATERAL (SELECT max(version) AS version FROM consent_documents c WHERE c.purpose = p.purpose) d ON true
    WHERE r.id = ANY($1::bigint[]) AND d.version IS NOT NULL
), history AS (
    INSERT INTO consent_decisions (resident_id, city_id, purpose, version, granted, decided_at)
    SELECT resident_id, city_id, purpose, version, true, at FROM given
), demographics AS (
    INSERT INTO resident_demographics (resident_id, city_id, birth_year, gender)
    SELECT r.id, r.city_id, u.birth_year, u.gender
    FROM unnest($1::bigint[], $2::int[], $4::text[]) AS u(resident_id, birth_year, gender)
    JOIN residents r ON r.id = u.resident_id
)
INSERT INTO consents (resident_id, purpose, city_id, version, granted, decided_at)
SELECT resident_id, purpose, city_id, version, true, at FROM given
"""

KRANJ_DEMO_RESIDENTS = """
SELECT r.id FROM residents r JOIN cities c ON c.id = r.city_id
WHERE c.code = 'kranj' AND r.firebase_uid LIKE 'demo-resident-%' ORDER BY r.id
"""

GRANT_STUDY_ROLE = """
INSERT INTO role_grants (firebase_uid, role, granted_by, study_id)
SELECT $1, 'researcher', 'demo', s.id FROM studies s WHERE s.code = $2
ON CONFLICT DO NOTHING
"""

# Answers to the baseline wave of the demo study from some of its participants.
ANSWER_BASELINE = """
INSERT INTO survey_responses (wave_id, resident_id, city_id, instrument_id, answers, submitted_at)
SELECT w.id, a.resident_id, a.city_id, w.instrument_id, u.answers, a.assigned_at + interval '1 day'
FROM unnest($2::bigint[], $3::jsonb[]) AS u(resident_id, answers)
JOIN study_assignments a ON a.resident_id = u.resident_id
JOIN studies s ON s.id = a.study_id AND s.code = $1
JOIN study_waves w ON w.study_id = s.id AND w.code = 'baseline'
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
