"""SQL of residents' data rights: erasure (``erasure.py``), the export and retention.

Erasure and retention write the tables of several domains: what becomes of
each table with a resident in it is decided in one place, ``erasure.py``, so
that a reviewer (and a test over the catalogue) sees every table's treatment
together. The export reads them for the same reason; scoring's results come
through ``scoring.reads``.

Erasure statements take ``$1`` the residents' ids (``bigint[]``); the staff
statements take ``$1`` the Firebase uids and ``$2`` the pseudonym each uid's
decisions keep (``text[]`` each, in the same order).
"""

# --- Erasure ---------------------------------------------------------------------

# The residents of these uids, locked against their own concurrent requests.
LOCK_RESIDENTS = """
SELECT id, firebase_uid FROM residents WHERE firebase_uid = ANY($1::text[]) ORDER BY id FOR UPDATE
"""

# Messages (the inbox and the outbox) with their deliveries and attempts. Foreign keys
# are checked at the statement's end, so parent and children go in one statement. A
# message a sender is pushing right now is left until its outcome is recorded (recording
# it refers to the message); the retention job deletes it then, with any other message a
# producer wrote to the tombstone afterwards (SWEEP_ERASED_MESSAGES).
DELETE_MESSAGES = """
WITH gone AS (
    DELETE FROM notifications n WHERE n.resident_id = ANY($1::bigint[])
      AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.notification_id = n.id AND d.status = 'sending')
    RETURNING n.id
), deliveries AS (
    DELETE FROM notification_deliveries WHERE notification_id IN (SELECT id FROM gone)
)
DELETE FROM notification_attempts WHERE notification_id IN (SELECT id FROM gone)
"""

DELETE_DEVICES = "DELETE FROM devices WHERE resident_id = ANY($1::bigint[])"

DELETE_NOTIFICATION_SETTINGS = "DELETE FROM notification_settings WHERE resident_id = ANY($1::bigint[])"

# Actions stay (every total counts them) but lose their exact times: noon of their
# local day, which is all that scoring reads (local_date). written_xid is left as it
# is, so the scoring tick does not score them again.
DETACH_ACTIONS = """
UPDATE action_logs a
SET performed_at = (a.local_date + time '12:00') AT TIME ZONE r.time_zone,
    recorded_at = (a.local_date + time '12:00') AT TIME ZONE r.time_zone,
    deleted_at = CASE WHEN a.deleted_at IS NULL THEN NULL
                      ELSE (a.local_date + time '12:00') AT TIME ZONE r.time_zone END
FROM residents r
WHERE r.id = a.resident_id AND a.resident_id = ANY($1::bigint[])
"""

# Enrolments stay (campaign and team results count the participant) with their
# times cut to the local day, which is what scoring reads of them.
DETACH_ENROLMENTS = """
UPDATE enrolments e
SET enrolled_at = date_trunc('day', e.enrolled_at AT TIME ZONE r.time_zone) AT TIME ZONE r.time_zone,
    left_at = date_trunc('day', e.left_at AT TIME ZONE r.time_zone) AT TIME ZONE r.time_zone
FROM residents r
WHERE r.id = e.resident_id AND e.resident_id = ANY($1::bigint[])
"""

TOMBSTONE_RESIDENTS = """
UPDATE residents
SET firebase_uid = NULL, display_name = NULL, locale = 'en', erased_at = $2, inactivity_notice_at = NULL,
    created_at = date_trunc('day', created_at), updated_at = $2
WHERE id = ANY($1::bigint[]) AND erased_at IS NULL
"""

DELETE_ROLE_GRANTS = "DELETE FROM role_grants WHERE firebase_uid = ANY($1::text[])"

# Staff decisions stay on record under a pseudonym: the same one for all of a person's.
PSEUDONYMISE_DECISIONS = """
WITH staff AS (
    SELECT * FROM unnest($1::text[], $2::text[]) AS s(uid, pseudonym)
), held AS (
    UPDATE held_days h SET decided_by = s.pseudonym FROM staff s WHERE h.decided_by = s.uid
), decisions AS (
    UPDATE held_day_decisions d SET decided_by = s.pseudonym FROM staff s WHERE d.decided_by = s.uid
)
UPDATE role_grants g SET granted_by = s.pseudonym FROM staff s WHERE g.granted_by = s.uid
"""

# Rate-limit counters keyed by the uid (`resident:<uid>`, `batch-resident:<uid>`, ...).
DELETE_RATE_LIMITS = """
DELETE FROM rate_limits
WHERE split_part(key, ':', 1) LIKE '%resident' AND substr(key, strpos(key, ':') + 1) = ANY($1::text[])
"""

# Every column that holds a resident: named resident_id, or a foreign key to
# residents, or a Firebase uid (named firebase_uid or *_by). What the erasure test
# checks every table against, tables added later included.
DELETE_CONSENTS = "DELETE FROM consents WHERE resident_id = ANY($1::bigint[])"

DELETE_DEMOGRAPHICS = "DELETE FROM resident_demographics WHERE resident_id = ANY($1::bigint[])"

DELETE_SURVEY_RESPONSES = "DELETE FROM survey_responses WHERE resident_id = ANY($1::bigint[])"

DELETE_NUDGE_DECISIONS = "DELETE FROM nudge_decisions WHERE resident_id = ANY($1::bigint[])"

PSEUDONYMISE_EXPORT_REQUESTS = """
UPDATE research_exports e SET requested_by = p.pseudonym
FROM unnest($1::text[], $2::text[]) AS p(uid, pseudonym)
WHERE e.requested_by = p.uid
"""

DELETE_CITY_CARDS = "DELETE FROM city_cards WHERE resident_id = ANY($1::bigint[])"

DELETE_REWARD_WALLETS = "DELETE FROM reward_wallets WHERE resident_id = ANY($1::bigint[])"

PSEUDONYMISE_PARTNER_KEYS = """
UPDATE partner_keys k SET created_by = p.pseudonym
FROM unnest($1::text[], $2::text[]) AS p(uid, pseudonym)
WHERE k.created_by = p.uid
"""

RESIDENT_COLUMNS = """
SELECT c.table_name::text AS table_name, c.column_name::text AS column_name,
       CASE WHEN c.column_name = 'firebase_uid' OR c.column_name LIKE '%\\_by' AND c.data_type = 'text'
            THEN 'uid' ELSE 'resident' END AS holds
FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
  AND (c.column_name IN ('resident_id', 'firebase_uid')
       OR c.column_name LIKE '%\\_resident\\_id'
       OR (c.column_name LIKE '%\\_by' AND c.data_type = 'text')
       OR EXISTS (
           SELECT 1
           FROM pg_constraint k
           JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey)
           WHERE k.contype = 'f' AND k.confrelid = 'residents'::regclass
             AND k.conrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass
             AND a.attname = c.column_name))
ORDER BY 1, 2
"""

# --- The export ------------------------------------------------------------------

PROFILE = """
SELECT r.id, r.firebase_uid AS uid, c.code AS city, d.code AS district, r.display_name, r.locale, r.time_zone,
       r.created_at AS registered_at, r.updated_at
FROM residents r
JOIN cities c ON c.id = r.city_id
LEFT JOIN districts d ON d.id = r.district_id
WHERE r.firebase_uid = $1
"""

ROLES = """
SELECT g.role, c.code AS city, g.granted_at
FROM role_grants g LEFT JOIN cities c ON c.id = g.city_id
WHERE g.firebase_uid = $1
ORDER BY g.granted_at, g.id
"""

# Read through a cursor, oldest first: an export of years of actions streams in pages.
ACTIONS = """
SELECT a.id, t.code AS action_type, t.category, a.quantity, t.unit, a.performed_at, a.local_date, a.recorded_at,
       a.deleted_at, a.co2e_kg, b.code || '@' || b.version AS baseline_factor,
       o.code || '@' || o.version AS option_factor
FROM action_logs a
JOIN action_types t ON t.id = a.action_type_id
JOIN emission_factors b ON b.id = a.baseline_factor_id
LEFT JOIN emission_factors o ON o.id = a.option_factor_id
WHERE a.resident_id = $1
ORDER BY a.performed_at, a.id
"""

ENROLMENTS = """
SELECT k.code AS campaign, t.name AS team, e.baseline, e.enrolled_at, e.left_at
FROM enrolments e
JOIN campaigns k ON k.id = e.campaign_id
LEFT JOIN teams t ON t.id = e.team_id
WHERE e.resident_id = $1
ORDER BY e.enrolled_at, k.code
"""

TEAMS_STARTED = """
SELECT k.code AS campaign, t.code, t.name, t.kind
FROM teams t JOIN campaigns k ON k.id = t.campaign_id
WHERE t.created_by = $1
ORDER BY t.id
"""

HELD_ENTRIES = """
SELECT h.local_date, t.code AS action_type, h.quantity::float8 AS quantity, h.status, h.note, h.decided_at
FROM held_days h JOIN action_types t ON t.id = h.action_type_id
WHERE h.resident_id = $1
ORDER BY h.local_date, t.code
"""

DEVICES = """
SELECT installation_id, platform, app_version, registration_token IS NOT NULL AS has_registration_token, locale,
       active, created_at AS registered_at, updated_at
FROM devices WHERE resident_id = $1
ORDER BY created_at, installation_id
"""

NOTIFICATION_SETTINGS = """
SELECT reminders, campaign_news, achievements, weekly_summary, to_char(quiet_start, 'HH24:MI') AS quiet_start,
       to_char(quiet_end, 'HH24:MI') AS quiet_end, daily_cap
FROM notification_settings WHERE resident_id = $1
"""

NOTIFICATIONS = """
SELECT n.id, n.kind, k.code AS campaign, n.title, n.body, n.created_at, n.status, n.read_at
FROM notifications n LEFT JOIN campaigns k ON k.id = n.campaign_id
WHERE n.resident_id = $1
ORDER BY n.id DESC
"""

# --- Retention (retention.py) ----------------------------------------------------
# Old rows are found among the oldest by id (ids grow with time), so a run reads
# what it deletes and little more, without an index on the time.

# Messages written before $1 that are done (or expired before it), of the oldest $2, with their
# deliveries and attempts.
RETAIN_NOTIFICATIONS = """
WITH oldest AS (
    SELECT id, created_at, status, expires_at FROM notifications ORDER BY id LIMIT $2
), gone AS (
    DELETE FROM notifications WHERE id IN (
        SELECT id FROM oldest
        WHERE created_at < $1 AND (status NOT IN ('pending', 'sending') OR expires_at < $1))
    RETURNING id
), deliveries AS (
    DELETE FROM notification_deliveries WHERE notification_id IN (SELECT id FROM gone)
), attempts AS (
    DELETE FROM notification_attempts WHERE notification_id IN (SELECT id FROM gone)
)
SELECT count(*) FROM gone
"""

# Delivery attempts made before $1, of the oldest $2.
RETAIN_ATTEMPTS = """
DELETE FROM notification_attempts WHERE id IN (
    SELECT id FROM (SELECT id, attempted_at FROM notification_attempts ORDER BY id LIMIT $2) o
    WHERE attempted_at < $1)
"""

# Devices not registered or refreshed since $1 (the app refreshes its device when it starts),
# with the deliveries still waiting for them.
RETAIN_DEVICES = """
WITH gone AS (
    DELETE FROM devices WHERE updated_at < $1 RETURNING installation_id
), waiting AS (
    DELETE FROM notification_deliveries d USING gone g
    WHERE d.installation_id = g.installation_id AND d.status = 'pending'
)
SELECT count(*) FROM gone
"""

# Messages a producer wrote to a tombstone after its erasure (an enrolment stays, so
# campaign messages may still address it), and those being pushed when it was erased.
SWEEP_ERASED_MESSAGES = """
WITH gone AS (
    DELETE FROM notifications n USING residents r
    WHERE r.erased_at IS NOT NULL AND n.resident_id = r.id
      AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.notification_id = n.id AND d.status = 'sending')
    RETURNING n.id
), deliveries AS (
    DELETE FROM notification_deliveries WHERE notification_id IN (SELECT id FROM gone)
), attempts AS (
    DELETE FROM notification_attempts WHERE notification_id IN (SELECT id FROM gone)
)
SELECT count(*) FROM gone
"""

# Whether resident r did anything since $since: changed the profile, logged (an action
# received since, performed at most the longest backdating before), refreshed a device
# or joined a campaign. Spliced into the statements below.
_ACTIVE_SINCE = """
(r.updated_at >= {since}
 OR EXISTS (SELECT 1 FROM action_logs a WHERE a.resident_id = r.id
            AND a.performed_at >= {since} - interval '366 days' AND a.recorded_at >= {since})
 OR EXISTS (SELECT 1 FROM devices d WHERE d.resident_id = r.id AND d.updated_at >= {since})
 OR EXISTS (SELECT 1 FROM enrolments e WHERE e.resident_id = r.id AND e.enrolled_at >= {since}))
"""

# Notices whose resident was active since: the clock starts again.
RESET_NOTICES = f"""
UPDATE residents r SET inactivity_notice_at = NULL
WHERE r.inactivity_notice_at IS NOT NULL AND r.erased_at IS NULL
  AND {_ACTIVE_SINCE.format(since="r.inactivity_notice_at")}
"""

# Up to $3 residents inactive since $2 and not told yet, without staff roles: each is told
# (through the outbox, whatever their settings, in their language: $4 titles, $5 texts with
# {date} = $6) that their account will be erased at $7 unless they use the app, and marked.
NOTIFY_INACTIVE = f"""
WITH inactive AS (
    SELECT r.id, r.city_id, r.locale FROM residents r
    WHERE r.erased_at IS NULL AND r.inactivity_notice_at IS NULL AND r.updated_at < $2
      AND NOT {_ACTIVE_SINCE.format(since="$2::timestamptz")}
      AND NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.firebase_uid = r.firebase_uid)
    ORDER BY r.id
    LIMIT $3
    FOR UPDATE OF r SKIP LOCKED
), noticed AS (
    UPDATE residents r SET inactivity_notice_at = $1 FROM inactive i WHERE r.id = i.id
)
INSERT INTO notifications (resident_id, city_id, kind, dedupe_key, title, body, data, locale, not_before, expires_at)
SELECT i.id, i.city_id, 'broadcast', 'inactive-account:' || $6,
       coalesce($4::jsonb ->> i.locale, $4::jsonb ->> 'en'),
       replace(coalesce($5::jsonb ->> i.locale, $5::jsonb ->> 'en'), '{{date}}', $6),
       jsonb_build_object('notice', 'inactive-account', 'erase_on', $6), i.locale, $1, $7
FROM inactive i
ON CONFLICT (resident_id, dedupe_key) DO NOTHING
"""

# Up to $2 residents told before $1 and not active since (RESET_NOTICES ran first), locked.
DUE_FOR_ERASURE = """
SELECT r.id, r.firebase_uid FROM residents r
WHERE r.inactivity_notice_at < $1 AND r.erased_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.firebase_uid = r.firebase_uid)
ORDER BY r.id
LIMIT $2
FOR UPDATE OF r SKIP LOCKED
"""
