"""SQL of consents: the documents (from the files), residents' decisions and demographics."""

# Stored document versions whose text the files would change (refused: a new version asks again).
DOCUMENTS_REWRITTEN = """
SELECT d.purpose, d.version
FROM jsonb_to_recordset($1::jsonb) AS n(purpose text, version int, published_on date, title jsonb, body jsonb)
JOIN consent_documents d USING (purpose, version)
WHERE (d.title, d.body, d.published_on) IS DISTINCT FROM (n.title, n.body, n.published_on)
"""

INSERT_DOCUMENTS = """
INSERT INTO consent_documents (purpose, version, published_on, title, body)
SELECT n.purpose, n.version, n.published_on, n.title, n.body
FROM jsonb_to_recordset($1::jsonb) AS n(purpose text, version int, published_on date, title jsonb, body jsonb)
ON CONFLICT (purpose, version) DO NOTHING
"""

# Each purpose's document in force (its highest version) with the resident's latest decision.
CONSENTS = """
SELECT d.purpose, d.version, d.published_on, d.title, d.body,
       c.version AS decided_version, c.granted, c.decided_at
FROM (SELECT DISTINCT ON (purpose) * FROM consent_documents ORDER BY purpose, version DESC) d
LEFT JOIN consents c ON c.resident_id = $1 AND c.purpose = d.purpose
ORDER BY array_position(ARRAY['service', 'research', 'demographics'], d.purpose)
"""

IN_FORCE = "SELECT purpose, max(version) AS version FROM consent_documents GROUP BY purpose"

# The decisions, one row each: appended to the history and made the latest, in one statement.
# Returns, per purpose, whether consent was current before and is now.
DECIDE = """
WITH n AS (
    SELECT * FROM unnest($3::text[], $4::int[], $5::bool[]) AS n(purpose, version, granted)
), before AS (
    SELECT n.purpose, EXISTS (SELECT 1 FROM current_consents c
                              WHERE c.resident_id = $1 AND c.purpose = n.purpose) AS was_current
    FROM n
), history AS (
    INSERT INTO consent_decisions (resident_id, city_id, purpose, version, granted, decided_at)
    SELECT $1, $2, n.purpose, n.version, n.granted, $6 FROM n
), latest AS (
    INSERT INTO consents (resident_id, purpose, city_id, version, granted, decided_at)
    SELECT $1, n.purpose, $2, n.version, n.granted, $6 FROM n
    ON CONFLICT (resident_id, purpose) DO UPDATE SET
        city_id = excluded.city_id, version = excluded.version, granted = excluded.granted,
        decided_at = excluded.decided_at
)
SELECT n.purpose, n.version, n.granted, b.was_current
FROM n JOIN before b USING (purpose)
"""

HISTORY = """
SELECT purpose, version, granted, decided_at FROM consent_decisions
WHERE resident_id = $1 ORDER BY id DESC
"""

DEMOGRAPHICS_CONSENT = """
SELECT EXISTS (SELECT 1 FROM current_consents WHERE resident_id = $1 AND purpose = 'demographics')
"""

DEMOGRAPHICS = "SELECT birth_year, gender FROM resident_demographics WHERE resident_id = $1"

PUT_DEMOGRAPHICS = """
INSERT INTO resident_demographics (resident_id, city_id, birth_year, gender)
VALUES ($1, $2, $3, $4)
ON CONFLICT (resident_id) DO UPDATE SET
    city_id = excluded.city_id, birth_year = excluded.birth_year, gender = excluded.gender, updated_at = now()
"""

ERASE_DEMOGRAPHICS = "DELETE FROM resident_demographics WHERE resident_id = $1"

# Every consent decision of resident $1, oldest first: their own record (the data export).
DECISIONS_OF = """
SELECT purpose, version, granted, decided_at FROM consent_decisions WHERE resident_id = $1 ORDER BY id
"""

DEMOGRAPHICS_OF = "SELECT birth_year, gender, updated_at FROM resident_demographics WHERE resident_id = $1"
