"""SQL of research: storing studies and instruments, assignment, withdrawals, surveys,
the researcher's rates, survey reminders and the export.

The export's microdata statements are composed from the column expressions
below (constants) by :func:`select_columns`; values are always parameters.
"""

# --- Storing the definition files (store.py) ----------------------------------------

SURVEY_VERSIONS_REWRITTEN = """
SELECT s.code, s.version
FROM jsonb_to_recordset($1::jsonb) AS n(code text, version int, title jsonb, items jsonb)
JOIN survey_instruments s USING (code, version)
WHERE s.items IS DISTINCT FROM n.items
"""

UPSERT_SURVEY_VERSIONS = """
INSERT INTO survey_instruments (code, version, title, items)
SELECT n.code, n.version, n.title, n.items
FROM jsonb_to_recordset($1::jsonb) AS n(code text, version int, title jsonb, items jsonb)
ON CONFLICT (code, version) DO UPDATE SET title = excluded.title
WHERE survey_instruments.title IS DISTINCT FROM excluded.title
"""

STORED_STUDIES = """
SELECT s.code, s.source, s.definition, EXISTS (SELECT 1 FROM study_assignments a WHERE a.study_id = s.id) AS started
FROM studies s WHERE s.code = ANY($1::text[])
"""

# Campaign codes of the studies that are unknown, or in another study already.
CAMPAIGN_PROBLEMS = """
SELECT n.code AS study, x.campaign,
       CASE WHEN k.id IS NULL THEN 'no campaign with this code'
            ELSE 'is in study ' || o.code || ' already' END AS reason
FROM jsonb_to_recordset($1::jsonb) AS n(code text, campaigns jsonb)
CROSS JOIN LATERAL jsonb_array_elements_text(n.campaigns) AS x(campaign)
LEFT JOIN campaigns k ON k.code = x.campaign
LEFT JOIN study_campaigns sc ON sc.campaign_id = k.id
LEFT JOIN studies o ON o.id = sc.study_id
WHERE k.id IS NULL OR (o.code IS NOT NULL AND o.code <> n.code)
"""

# Arm nudges and challenges that no campaign of the study has (for studies on campaigns made over the API).
UNKNOWN_ARM_PARTS = """
SELECT n.code AS study, a.code AS arm, 'nudges' AS part, y.code
FROM jsonb_to_recordset($1::jsonb) AS n(code text, campaigns jsonb, arm jsonb)
CROSS JOIN LATERAL jsonb_to_recordset(n.arm) AS a(code text, nudges jsonb, challenges jsonb)
CROSS JOIN LATERAL jsonb_array_elements_text(a.nudges) AS y(code)
WHERE NOT EXISTS (SELECT 1 FROM nudges u JOIN campaigns k ON k.id = u.campaign_id
                  WHERE u.code = y.code AND u.active AND n.campaigns ? k.code)
UNION ALL
SELECT n.code, a.code, 'challenges', y.code
FROM jsonb_to_recordset($1::jsonb) AS n(code text, campaigns jsonb, arm jsonb)
CROSS JOIN LATERAL jsonb_to_recordset(n.arm) AS a(code text, nudges jsonb, challenges jsonb)
CROSS JOIN LATERAL jsonb_array_elements_text(a.challenges) AS y(code)
WHERE NOT EXISTS (SELECT 1 FROM challenges u JOIN campaigns k ON k.id = u.campaign_id
                  WHERE u.code = y.code AND u.active AND n.campaigns ? k.code)
"""

UPSERT_STUDIES = """
INSERT INTO studies (code, city_id, title, description, seed, randomisation, stratify_by, recruiting,
                     controlled_nudges, controlled_challenges, definition, source)
SELECT n.code, c.id, n.title, n.description, n.seed, n.randomisation, n.stratify_by, n.recruiting,
       ARRAY(SELECT DISTINCT x FROM jsonb_to_recordset(n.arm) AS a(nudges jsonb),
             jsonb_array_elements_text(a.nudges) AS x ORDER BY 1),
       ARRAY(SELECT DISTINCT x FROM jsonb_to_recordset(n.arm) AS a(challenges jsonb),
             jsonb_array_elements_text(a.challenges) AS x ORDER BY 1),
       n.definition, $2
FROM jsonb_to_recordset($1::jsonb) AS n(
    code text, city text, title jsonb, description jsonb, seed text, randomisation text, stratify_by text,
    recruiting boolean, arm jsonb, definition jsonb)
JOIN cities c ON c.code = n.city
ON CONFLICT (code) DO UPDATE SET
    city_id = excluded.city_id, title = excluded.title, description = excluded.description,
    seed = excluded.seed, randomisation = excluded.randomisation, stratify_by = excluded.stratify_by,
    recruiting = excluded.recruiting, controlled_nudges = excluded.controlled_nudges,
    controlled_challenges = excluded.controlled_challenges, definition = excluded.definition, updated_at = now()
WHERE studies.definition IS DISTINCT FROM excluded.definition OR studies.city_id <> excluded.city_id
"""

SYNC_STUDY_CAMPAIGNS = """
WITH wanted AS (
    SELECT s.id AS study_id, k.id AS campaign_id
    FROM jsonb_to_recordset($1::jsonb) AS n(code text, campaigns jsonb)
    JOIN studies s ON s.code = n.code
    CROSS JOIN LATERAL jsonb_array_elements_text(n.campaigns) AS x(campaign)
    JOIN campaigns k ON k.code = x.campaign
), removed AS (
    DELETE FROM study_campaigns sc USING studies s
    WHERE s.id = sc.study_id AND s.code = ANY($2::text[])
      AND (sc.study_id, sc.campaign_id) NOT IN (SELECT study_id, campaign_id FROM wanted)
)
INSERT INTO study_campaigns SELECT study_id, campaign_id FROM wanted ON CONFLICT DO NOTHING
"""

UPSERT_ARMS = """
INSERT INTO study_arms (study_id, code, control, ratio, nudges, challenges, nudge_probability)
SELECT s.id, a.code, a.control, a.ratio,
       ARRAY(SELECT jsonb_array_elements_text(a.nudges)), ARRAY(SELECT jsonb_array_elements_text(a.challenges)),
       a.nudge_probability
FROM jsonb_to_recordset($1::jsonb) AS n(code text, arm jsonb)
JOIN studies s ON s.code = n.code
CROSS JOIN LATERAL jsonb_to_recordset(n.arm)
    AS a(code text, control boolean, ratio int, nudges jsonb, challenges jsonb, nudge_probability float8)
ON CONFLICT (study_id, code) DO UPDATE SET
    control = excluded.control, ratio = excluded.ratio, nudges = excluded.nudges,
    challenges = excluded.challenges, nudge_probability = excluded.nudge_probability
WHERE (study_arms.control, study_arms.ratio, study_arms.nudges, study_arms.challenges, study_arms.nudge_probability)
    IS DISTINCT FROM (excluded.control, excluded.ratio, excluded.nudges, excluded.challenges,
                      excluded.nudge_probability)
"""

# Arms left out of a file go, while nobody was assigned to them (a started study cannot drop arms).
DELETE_ARMS = """
DELETE FROM study_arms a USING studies s
WHERE s.id = a.study_id AND s.code = ANY($2::text[])
  AND NOT EXISTS (SELECT 1 FROM study_assignments x WHERE x.arm_id = a.id)
  AND NOT EXISTS (
      SELECT 1 FROM jsonb_to_recordset($1::jsonb) AS n(code text, arm jsonb)
      CROSS JOIN LATERAL jsonb_to_recordset(n.arm) AS y(code text)
      WHERE n.code = s.code AND y.code = a.code)
"""

# A wave answers the instrument's highest stored version.
UPSERT_WAVES = """
INSERT INTO study_waves (study_id, code, instrument_id, opens, open_days, remind_after_days)
SELECT s.id, w.code,
       (SELECT i.id FROM survey_instruments i WHERE i.code = w.survey ORDER BY i.version DESC LIMIT 1),
       w.opens, w.open_days, w.remind_after_days
FROM jsonb_to_recordset($1::jsonb) AS n(code text, wave jsonb)
JOIN studies s ON s.code = n.code
CROSS JOIN LATERAL jsonb_to_recordset(n.wave)
    AS w(code text, survey text, opens text, open_days int, remind_after_days int)
ON CONFLICT (study_id, code) DO UPDATE SET
    instrument_id = excluded.instrument_id, opens = excluded.opens, open_days = excluded.open_days,
    remind_after_days = excluded.remind_after_days, active = true
WHERE (study_waves.instrument_id, study_waves.opens, study_waves.open_days, study_waves.remind_after_days,
       study_waves.active)
    IS DISTINCT FROM (excluded.instrument_id, excluded.opens, excluded.open_days, excluded.remind_after_days, true)
"""

RETIRE_WAVES = """
UPDATE study_waves w SET active = false
FROM studies s
WHERE s.id = w.study_id AND s.code = ANY($2::text[]) AND w.active
  AND NOT EXISTS (
      SELECT 1 FROM jsonb_to_recordset($1::jsonb) AS n(code text, wave jsonb)
      CROSS JOIN LATERAL jsonb_to_recordset(n.wave) AS y(code text)
      WHERE n.code = s.code AND y.code = w.code)
"""

# --- Assignment and withdrawal (service.py) ------------------------------------------

# The studies resident $1 should be assigned to now: enrolled in one of its campaigns,
# research consent current, not assigned yet, the study recruiting. With the stratum.
PENDING_ASSIGNMENTS = """
SELECT DISTINCT ON (s.id) s.id, s.code, s.seed, s.randomisation, s.definition,
       CASE s.stratify_by WHEN 'none' THEN 'all'
                          WHEN 'city' THEN c.code
                          ELSE c.code || '/' || coalesce(d.code, 'none') END AS stratum,
       (SELECT jsonb_agg(jsonb_build_object('id', a.id, 'code', a.code, 'ratio', a.ratio) ORDER BY a.code)
        FROM study_arms a WHERE a.study_id = s.id) AS arms
FROM enrolments e
JOIN study_campaigns sc ON sc.campaign_id = e.campaign_id
JOIN studies s ON s.id = sc.study_id AND s.recruiting
JOIN residents r ON r.id = e.resident_id
JOIN cities c ON c.id = r.city_id
LEFT JOIN districts d ON d.id = r.district_id
WHERE e.resident_id = $1 AND e.left_at IS NULL
  AND EXISTS (SELECT 1 FROM current_consents cc WHERE cc.resident_id = $1 AND cc.purpose = 'research')
  AND NOT EXISTS (SELECT 1 FROM study_assignments x WHERE x.study_id = s.id AND x.resident_id = $1)
ORDER BY s.id
"""

# The stratum's next position; the row lock orders concurrent assignments in a stratum.
NEXT_POSITION = """
INSERT INTO study_strata (study_id, stratum, assigned) VALUES ($1, $2, 1)
ON CONFLICT (study_id, stratum) DO UPDATE SET assigned = study_strata.assigned + 1
RETURNING assigned - 1
"""

ASSIGN = """
INSERT INTO study_assignments (study_id, resident_id, city_id, arm_id, stratum, position, probability, assigned_at)
SELECT $1, r.id, r.city_id, $3, $4, $5, $6, $7 FROM residents r WHERE r.id = $2
ON CONFLICT (study_id, resident_id) DO NOTHING
"""

# Residents waiting for studies $1 (codes): enrolled in one of a recruiting study's campaigns,
# research consent current, not assigned yet. In the order they became eligible (the later
# of enrolment and consent), which is the order their places in the blocks are given in.
WAITING_PARTICIPANTS = """
SELECT s.id AS study_id, r.id AS resident_id,
       CASE s.stratify_by WHEN 'none' THEN 'all'
                          WHEN 'city' THEN c.code
                          ELSE c.code || '/' || coalesce(d.code, 'none') END AS stratum
FROM studies s
JOIN study_campaigns sc ON sc.study_id = s.id
JOIN enrolments e ON e.campaign_id = sc.campaign_id AND e.left_at IS NULL
JOIN current_consents cc ON cc.resident_id = e.resident_id AND cc.purpose = 'research'
JOIN residents r ON r.id = e.resident_id
JOIN cities c ON c.id = r.city_id
LEFT JOIN districts d ON d.id = r.district_id
WHERE s.code = ANY($1::text[]) AND s.recruiting
  AND NOT EXISTS (SELECT 1 FROM study_assignments x WHERE x.study_id = s.id AND x.resident_id = r.id)
GROUP BY s.id, r.id, c.code, d.code
ORDER BY s.id, min(greatest(e.enrolled_at, cc.decided_at)), r.id
"""

# Take $3 places in each stratum at once; returns the first place taken.
TAKE_POSITIONS = """
INSERT INTO study_strata AS t (study_id, stratum, assigned)
SELECT * FROM unnest($1::int[], $2::text[], $3::int[])
ON CONFLICT (study_id, stratum) DO UPDATE SET assigned = t.assigned + excluded.assigned
RETURNING study_id, stratum, assigned
"""

ASSIGN_MANY = """
INSERT INTO study_assignments (study_id, resident_id, city_id, arm_id, stratum, position, probability, assigned_at)
SELECT u.study_id, r.id, r.city_id, u.arm_id, u.stratum, u.position, u.probability, $7
FROM unnest($1::int[], $2::bigint[], $3::int[], $4::text[], $5::int[], $6::float8[])
    AS u(study_id, resident_id, arm_id, stratum, position, probability)
JOIN residents r ON r.id = u.resident_id
ON CONFLICT (study_id, resident_id) DO NOTHING
"""

STUDY_ARMS = """
SELECT s.id, s.seed, s.randomisation, s.definition,
       (SELECT jsonb_agg(jsonb_build_object('id', a.id, 'code', a.code, 'ratio', a.ratio) ORDER BY a.code)
        FROM study_arms a WHERE a.study_id = s.id) AS arms
FROM studies s WHERE s.id = ANY($1::int[])
"""

ASSIGNED_STUDIES = """
SELECT a.resident_id, s.id, s.code FROM study_assignments a JOIN studies s ON s.id = a.study_id
WHERE a.resident_id = ANY($1::bigint[]) ORDER BY a.resident_id, s.id
"""

# A pseudonym already listed and withdrawn again (after consenting again) is listed again.
ADD_WITHDRAWALS = """
INSERT INTO study_withdrawals (study_id, pseudonym, key_epoch, reason)
SELECT * FROM unnest($1::int[], $2::text[], $3::int[], $4::text[])
ON CONFLICT (study_id, key_epoch, pseudonym) DO UPDATE SET
    reason = excluded.reason, withdrawn_at = now(), listed_in = NULL
"""

# Codes of the campaign's challenges resident $2 does not see: those some arm names and
# the resident's arm does not (the control arm's for residents outside the study).
HIDDEN_CHALLENGES = """
SELECT coalesce(array(SELECT unnest(s.controlled_challenges) EXCEPT SELECT unnest(arm.challenges)), '{}')
FROM study_campaigns sc
JOIN studies s ON s.id = sc.study_id
LEFT JOIN study_assignments a ON a.study_id = s.id AND a.resident_id = $2
    AND EXISTS (SELECT 1 FROM current_consents cc WHERE cc.resident_id = $2 AND cc.purpose = 'research')
JOIN study_arms arm
    ON arm.id = coalesce(a.arm_id, (SELECT c.id FROM study_arms c WHERE c.study_id = s.id AND c.control))
WHERE sc.campaign_id = $1
"""

# Resident $1's current enrolments in campaigns whose study decides challenges, marked written: the
# next scoring tick recomputes them and judges their challenges by the arm they have now.
REJUDGE_CHALLENGES = """
UPDATE enrolments e SET written_xid = pg_current_xact_id()
FROM study_campaigns sc JOIN studies s ON s.id = sc.study_id
WHERE e.resident_id = $1 AND e.left_at IS NULL AND e.campaign_id = sc.campaign_id
  AND s.controlled_challenges <> '{}'
"""

# --- Surveys -----------------------------------------------------------------------

# Waves of the studies resident $1 takes part in (assigned, research consent current),
# with when each opens and closes for them; $2 now. A campaign_end wave opens when the
# study's last campaign ends.
WAVES = """
WITH mine AS (
    SELECT w.id AS wave_id, w.code AS wave, s.code AS study, s.id AS study_id, i.code AS instrument,
           i.version, i.title, i.items, i.id AS instrument_id, w.remind_after_days,
           CASE w.opens WHEN 'enrolment' THEN a.assigned_at
                ELSE (SELECT max(k.ends_at) FROM study_campaigns sc JOIN campaigns k ON k.id = sc.campaign_id
                      WHERE sc.study_id = s.id) END AS opened_at,
           w.open_days
    FROM study_assignments a
    JOIN studies s ON s.id = a.study_id
    JOIN study_waves w ON w.study_id = s.id AND w.active
    JOIN survey_instruments i ON i.id = w.instrument_id
    WHERE a.resident_id = $1
      AND EXISTS (SELECT 1 FROM current_consents cc WHERE cc.resident_id = $1 AND cc.purpose = 'research')
)
SELECT m.*, m.opened_at + make_interval(days => m.open_days) AS closes_at,
       r.submitted_at AS answered_at, r.answers
FROM mine m
LEFT JOIN survey_responses r ON r.wave_id = m.wave_id AND r.resident_id = $1
WHERE m.opened_at <= $2 AND $2 < m.opened_at + make_interval(days => m.open_days)
  AND ($3::text IS NULL OR (m.study = $3 AND m.wave = $4))
ORDER BY closes_at, m.study, m.wave
"""

ANSWER = """
INSERT INTO survey_responses (wave_id, resident_id, city_id, instrument_id, answers, submitted_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (wave_id, resident_id) DO UPDATE SET
    instrument_id = excluded.instrument_id, answers = excluded.answers, submitted_at = excluded.submitted_at,
    city_id = excluded.city_id
RETURNING (xmax = 0) AS created
"""

# Invitations when a wave opens and one reminder remind_after_days later, to participants
# who have not answered, while the wave is open; once each ($2..$5: localised templates,
# {survey} replaced by the instrument's title).
SURVEY_NOTICES = """
WITH open_waves AS (
    SELECT w.id AS wave_id, s.code AS study, w.code AS wave, a.resident_id, r.city_id, r.locale, i.title,
           w.remind_after_days, w.open_days,
           CASE w.opens WHEN 'enrolment' THEN a.assigned_at
                ELSE (SELECT max(k.ends_at) FROM study_campaigns sc JOIN campaigns k ON k.id = sc.campaign_id
                      WHERE sc.study_id = s.id) END AS opened_at
    FROM study_assignments a
    JOIN studies s ON s.id = a.study_id
    JOIN study_waves w ON w.study_id = s.id AND w.active
    JOIN survey_instruments i ON i.id = w.instrument_id
    JOIN residents r ON r.id = a.resident_id
    JOIN current_consents cc ON cc.resident_id = a.resident_id AND cc.purpose = 'research'
    WHERE NOT EXISTS (SELECT 1 FROM survey_responses x WHERE x.wave_id = w.id AND x.resident_id = a.resident_id)
), due AS (
    SELECT o.*, n.notice, o.opened_at + make_interval(days => o.open_days) AS closes_at
    FROM open_waves o
    CROSS JOIN LATERAL (VALUES ('open', o.opened_at),
                               ('reminder', o.opened_at + make_interval(days => o.remind_after_days))) AS n(notice, at)
    WHERE n.at IS NOT NULL AND n.at <= $1 AND $1 < o.opened_at + make_interval(days => o.open_days)
)
INSERT INTO notifications
    (resident_id, city_id, kind, dedupe_key, title, body, data, locale, not_before, expires_at)
SELECT d.resident_id, d.city_id, 'reminder', 'survey:' || d.wave_id || ':' || d.notice,
       replace(coalesce(CASE d.notice WHEN 'open' THEN $2::jsonb ELSE $4::jsonb END ->> d.locale,
                        CASE d.notice WHEN 'open' THEN $2::jsonb ELSE $4::jsonb END ->> 'en'),
               '{survey}', coalesce(d.title ->> d.locale, d.title ->> 'en')),
       replace(coalesce(CASE d.notice WHEN 'open' THEN $3::jsonb ELSE $5::jsonb END ->> d.locale,
                        CASE d.notice WHEN 'open' THEN $3::jsonb ELSE $5::jsonb END ->> 'en'),
               '{survey}', coalesce(d.title ->> d.locale, d.title ->> 'en')),
       jsonb_build_object('study', d.study, 'wave', d.wave), d.locale, $1, d.closes_at
FROM due d
ON CONFLICT (resident_id, dedupe_key) DO NOTHING
"""

# --- The researcher API --------------------------------------------------------------

STUDIES = """
SELECT s.id, s.code, s.title, s.description, s.definition, s.randomisation, s.stratify_by, s.recruiting,
       array(SELECT k.code FROM study_campaigns sc JOIN campaigns k ON k.id = sc.campaign_id
             WHERE sc.study_id = s.id ORDER BY k.code) AS campaigns
FROM studies s
WHERE $1::text[] IS NULL OR s.code = ANY($1::text[])
ORDER BY s.code
"""

STUDY = """
SELECT s.id, s.code, s.title, s.description, s.definition, s.randomisation, s.stratify_by, s.recruiting,
       array(SELECT k.code FROM study_campaigns sc JOIN campaigns k ON k.id = sc.campaign_id
             WHERE sc.study_id = s.id ORDER BY k.code) AS campaigns
FROM studies s WHERE s.code = $1
"""

# Counts only. Enrolled: in one of the study's campaigns now; consenting: of those,
# research consent current; per arm: assigned; per wave: opened for and answered.
STUDY_STATS = """
WITH enrolled AS (
    SELECT DISTINCT e.resident_id FROM enrolments e JOIN study_campaigns sc ON sc.campaign_id = e.campaign_id
    WHERE sc.study_id = $1 AND e.left_at IS NULL
), last_end AS (
    SELECT max(k.ends_at) AS ends_at FROM study_campaigns sc JOIN campaigns k ON k.id = sc.campaign_id
    WHERE sc.study_id = $1
)
SELECT
    (SELECT count(*) FROM enrolled) AS enrolled,
    (SELECT count(*) FROM enrolled e JOIN current_consents c ON c.resident_id = e.resident_id
      AND c.purpose = 'research') AS consenting,
    (SELECT count(*) FROM study_assignments WHERE study_id = $1) AS assigned,
    (SELECT coalesce(jsonb_agg(x ORDER BY x.code), '[]') FROM (
        SELECT a.code, a.control, a.ratio, count(s.resident_id) AS assigned
        FROM study_arms a LEFT JOIN study_assignments s ON s.arm_id = a.id
        WHERE a.study_id = $1 GROUP BY a.id) x) AS arms,
    (SELECT coalesce(jsonb_agg(x ORDER BY x.code), '[]') FROM (
        SELECT w.code, i.code AS instrument, i.version,
               count(a.resident_id) FILTER (WHERE
                   CASE w.opens WHEN 'enrolment' THEN a.assigned_at ELSE (SELECT ends_at FROM last_end) END <= $2)
                   AS opened,
               count(r.resident_id) AS responded
        FROM study_waves w JOIN survey_instruments i ON i.id = w.instrument_id
        LEFT JOIN study_assignments a ON a.study_id = w.study_id
        LEFT JOIN survey_responses r ON r.wave_id = w.id AND r.resident_id = a.resident_id
        WHERE w.study_id = $1 AND w.active GROUP BY w.id, i.id) x) AS waves
"""

# --- Exports: the job and its audit log ------------------------------------------------

CREATE_EXPORT = """
INSERT INTO research_exports (id, study_id, requested_by, via, parameters, status, started_at)
VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6 = 'running' THEN now() END)
RETURNING requested_at
"""

# The oldest queued export, or a running one whose worker stopped beating for $1
# seconds (it died), taken by one worker (others skip it).
CLAIM_EXPORT = """
UPDATE research_exports SET status = 'running', started_at = now(), heartbeat_at = now(), attempts = attempts + 1
WHERE id = (SELECT id FROM research_exports
            WHERE status = 'queued' OR (status = 'running' AND heartbeat_at < now() - make_interval(secs => $1))
            ORDER BY requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id, attempts
"""

EXPORT_HEARTBEAT = "UPDATE research_exports SET heartbeat_at = now() WHERE id = $1 AND status = 'running'"

# A worker stopping (SIGTERM) puts its export back at once instead of waiting for the heartbeat to lapse.
RELEASE_EXPORT = "UPDATE research_exports SET status = 'queued', attempts = attempts - 1 WHERE id = $1"

EXPORT_PROGRESS = "UPDATE research_exports SET progress = $2 WHERE id = $1"

FINISH_EXPORT = """
UPDATE research_exports SET status = 'done', finished_at = now(), progress = $2, key_epoch = $3, k_reached = $4,
       provenance = $5, directory = $6
WHERE id = $1
"""

FAIL_EXPORT = "UPDATE research_exports SET status = 'failed', finished_at = now(), failure = $2 WHERE id = $1"

MARK_WITHDRAWALS_LISTED = "UPDATE study_withdrawals SET listed_in = $1 WHERE id = ANY($2::bigint[])"

EXPORTS = """
SELECT x.id, s.code AS study, x.status, x.requested_at, x.finished_at, x.progress, x.failure, x.k_reached,
       x.provenance -> 'files' AS files, x.directory, x.requested_by, x.parameters
FROM research_exports x JOIN studies s ON s.id = x.study_id
WHERE s.code = $1 AND ($2::uuid IS NULL OR x.id = $2)
ORDER BY x.requested_at DESC
LIMIT 100
"""

EXPORT_JOB = """
SELECT x.id, x.study_id, x.requested_by, x.via, x.parameters, s.code AS study, s.definition,
       (SELECT y.id FROM research_exports y WHERE y.study_id = x.study_id AND y.status = 'done'
        ORDER BY y.finished_at DESC LIMIT 1) AS previous_export
FROM research_exports x JOIN studies s ON s.id = x.study_id WHERE x.id = $1
"""

# --- Exports: what they read (export.py), all in one repeatable-read snapshot -----------

STUDY_FRAME = """
SELECT min(k.starts_on) AS first_day, max(k.ends_on) AS last_day
FROM study_campaigns sc JOIN campaigns k ON k.id = sc.campaign_id WHERE sc.study_id = $1
"""

CONSENT_VERSIONS = "SELECT purpose, max(version) AS version FROM consent_documents GROUP BY purpose ORDER BY purpose"

# Participants whose research consent is current now; demographics only under its own current consent.
CANDIDATES = """
WITH in_force AS (SELECT purpose, max(version) AS version FROM consent_documents GROUP BY purpose)
SELECT a.resident_id, arm.code AS arm, a.probability, (a.assigned_at AT TIME ZONE r.time_zone)::date AS assigned_on,
       r.time_zone, c.code AS city, coalesce(d.code, 'none') AS district,
       CASE WHEN dc.resident_id IS NOT NULL THEN dem.birth_year END AS birth_year,
       coalesce(CASE WHEN dc.resident_id IS NOT NULL THEN dem.gender END, 'not-given') AS gender
FROM study_assignments a
JOIN consents rc ON rc.resident_id = a.resident_id AND rc.purpose = 'research' AND rc.granted
    AND rc.version = (SELECT version FROM in_force WHERE purpose = 'research')
JOIN study_arms arm ON arm.id = a.arm_id
JOIN residents r ON r.id = a.resident_id
JOIN cities c ON c.id = r.city_id
LEFT JOIN districts d ON d.id = r.district_id
LEFT JOIN consents dc ON dc.resident_id = a.resident_id AND dc.purpose = 'demographics' AND dc.granted
    AND dc.version = (SELECT version FROM in_force WHERE purpose = 'demographics')
LEFT JOIN resident_demographics dem ON dem.resident_id = a.resident_id
WHERE a.study_id = $1
"""

CREATE_RELEASED = """
CREATE TEMPORARY TABLE export_participants (
    resident_id  bigint PRIMARY KEY,
    pseudonym    text NOT NULL,
    arm          text NOT NULL,
    assigned_on  date NOT NULL,
    time_zone    text NOT NULL
) ON COMMIT DROP
"""

ANALYZE_RELEASED = "ANALYZE export_participants"

UNLISTED_WITHDRAWALS = """
SELECT id, pseudonym, key_epoch, reason FROM study_withdrawals
WHERE study_id = $1 AND listed_in IS NULL ORDER BY id
"""

# Column expressions per microdata table; $1 is the study's first day.
_DAYS = {
    "study_day": "(x.local_date - $1::date)",
    "participant_day": "(x.local_date - p.assigned_on)",
    "iso_week": "to_char(x.local_date, 'IYYY-\"W\"IW')",
}
COLUMNS: dict[str, dict[str, str]] = {
    "actions": {
        "pseudonym": "p.pseudonym",
        **_DAYS,
        "local_hour": "extract(hour FROM x.performed_at AT TIME ZONE p.time_zone)::int",
        "action_type": "t.code",
        "category": "t.category",
        "quantity": "x.quantity",
        "unit": "t.unit",
        "co2e_kg": "x.co2e_kg",
    },
    "nudge_decisions": {
        "pseudonym": "p.pseudonym",
        **_DAYS,
        "local_hour": "extract(hour FROM x.decision_point AT TIME ZONE p.time_zone)::int",
        "campaign": "k.code",
        "nudge": "n.code",
        "available": "x.available::text",
        "in_arm": "x.in_arm::text",
        "probability": "x.probability",
        "sent": "x.sent::text",
    },
    "survey_answers": {
        "pseudonym": "p.pseudonym",
        "wave": "w.code",
        "instrument": "i.code",
        "version": "i.version",
        "item": "v.key",
        "kind": "item.kind",
        "value": "CASE jsonb_typeof(v.value) WHEN 'array' THEN "
        "(SELECT string_agg(e, ';' ORDER BY e) FROM jsonb_array_elements_text(v.value) e) ELSE v.value #>> '{}' END",
        "answered_study_day": "((x.submitted_at AT TIME ZONE p.time_zone)::date - $1::date)",
        "answered_iso_week": "to_char((x.submitted_at AT TIME ZONE p.time_zone)::date, 'IYYY-\"W\"IW')",
    },
}

# Live actions of exported participants within the study's days ($1 first, $2 last), any type.
_FROM = {
    "actions": """
FROM action_logs x
JOIN export_participants p ON p.resident_id = x.resident_id
JOIN action_types t ON t.id = x.action_type_id
WHERE x.deleted_at IS NULL AND x.local_date BETWEEN $1::date AND $2::date
""",
    "nudge_decisions": """
FROM nudge_decisions x
JOIN export_participants p ON p.resident_id = x.resident_id
JOIN nudges n ON n.id = x.nudge_id
JOIN campaigns k ON k.id = n.campaign_id
WHERE x.study_id = $2 AND $1::date IS NOT NULL
ORDER BY x.decision_point, p.pseudonym, n.code
""",
    "survey_answers": """
FROM survey_responses x
JOIN export_participants p ON p.resident_id = x.resident_id
JOIN study_waves w ON w.id = x.wave_id AND w.study_id = $2
JOIN survey_instruments i ON i.id = x.instrument_id
CROSS JOIN LATERAL jsonb_each(x.answers) AS v(key, value)
CROSS JOIN LATERAL (SELECT e ->> 'kind' AS kind FROM jsonb_array_elements(i.items) e
                    WHERE e ->> 'code' = v.key) AS item
WHERE (item.kind <> 'text' OR v.key = ANY($3::text[])) AND $1::date IS NOT NULL
ORDER BY w.code, p.pseudonym, v.key
""",
}


def select_columns(table: str, columns: list[str]) -> str:
    """The statement of one microdata table with the named columns (from :data:`COLUMNS`), in order."""
    chosen = ", ".join(f"{COLUMNS[table][name]} AS {name}" for name in columns)
    return f"SELECT {chosen}{_FROM[table]}"


# Per arm and ISO week, and per arm over the whole study: exported participants' actions.
ARM_WEEKS = """
WITH weekly AS MATERIALIZED (
    -- per participant and ISO week (its Monday) first: hashed, no sort over every action
    SELECT p.arm, x.local_date - (extract(isodow FROM x.local_date)::int - 1) AS week, x.resident_id,
           count(*) AS actions, sum(x.co2e_kg) AS co2e_kg
    FROM action_logs x JOIN export_participants p ON p.resident_id = x.resident_id
    WHERE x.deleted_at IS NULL AND x.local_date BETWEEN $1::date AND $2::date
    GROUP BY p.arm, week, x.resident_id
)
SELECT arm, to_char(week, 'IYYY-"W"IW') AS iso_week, count(*) AS active_participants,
       sum(actions)::bigint AS actions, sum(co2e_kg) AS co2e_kg
FROM weekly GROUP BY arm, week
UNION ALL
SELECT arm, 'all', count(*), sum(actions)::bigint, sum(co2e_kg)
FROM (SELECT arm, resident_id, sum(actions) AS actions, sum(co2e_kg) AS co2e_kg
      FROM weekly GROUP BY arm, resident_id) per_participant
GROUP BY arm
ORDER BY arm, iso_week
"""

# Per wave and arm: exported participants the wave opened for ($2 now), and who answered.
WAVE_RESPONSES = """
SELECT w.code AS wave, p.arm,
       count(*) FILTER (WHERE
           CASE w.opens WHEN 'enrolment' THEN a.assigned_at
                ELSE (SELECT max(k.ends_at) FROM study_campaigns sc JOIN campaigns k ON k.id = sc.campaign_id
                      WHERE sc.study_id = w.study_id) END <= $2) AS opened,
       count(r.resident_id) AS responded
FROM study_waves w
JOIN study_assignments a ON a.study_id = w.study_id
JOIN export_participants p ON p.resident_id = a.resident_id
LEFT JOIN survey_responses r ON r.wave_id = w.id AND r.resident_id = a.resident_id
WHERE w.study_id = $1 AND w.active
GROUP BY w.code, p.arm
ORDER BY w.code, p.arm
"""

# Every survey answer of resident $1, oldest first, with its study, wave and instrument version.
ANSWERS_OF = """
SELECT s.code AS study, w.code AS wave, i.code AS instrument, i.version, r.answers, r.submitted_at
FROM survey_responses r
JOIN study_waves w ON w.id = r.wave_id
JOIN studies s ON s.id = w.study_id
JOIN survey_instruments i ON i.id = r.instrument_id
WHERE r.resident_id = $1
ORDER BY r.submitted_at, s.code, w.code
"""
