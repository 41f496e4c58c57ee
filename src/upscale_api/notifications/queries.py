"""SQL of the notifications domain: devices, preferences and the inbox; delivery of the outbox
(``sender.py``); the producers that write into it (``producers.py``)."""

# One row per installation. It moves to another resident only when the request
# proves it holds the device: the registration token stored for it, which only
# the device (and FCM) knows. Knowing an installation id is not enough.
UPSERT_DEVICE = """
INSERT INTO devices (installation_id, resident_id, city_id, registration_token, platform, app_version, locale)
SELECT $1, r.id, r.city_id, $3, $4, $5, $6 FROM residents r WHERE r.firebase_uid = $2
ON CONFLICT (installation_id) DO UPDATE SET
    resident_id = excluded.resident_id, city_id = excluded.city_id,
    registration_token = excluded.registration_token, platform = excluded.platform,
    app_version = excluded.app_version, locale = excluded.locale,
    active = true, deactivated_reason = NULL, updated_at = now()
WHERE devices.resident_id = excluded.resident_id
   OR devices.registration_token = excluded.registration_token
RETURNING (xmax = 0) AS created, installation_id, platform, app_version, registration_token IS NOT NULL AS has_token,
          locale, active, updated_at
"""

# Why an upsert returned no row: the caller is not registered, or the device is another resident's.
DEVICE_REFUSAL = """
SELECT EXISTS (SELECT 1 FROM residents WHERE firebase_uid = $1) AS registered
"""

DEVICES = """
SELECT d.installation_id, d.platform, d.app_version, d.registration_token IS NOT NULL AS has_token, d.locale,
       d.active, d.updated_at
FROM devices d JOIN residents r ON r.id = d.resident_id
WHERE r.firebase_uid = $1
ORDER BY d.updated_at DESC
"""

DELETE_DEVICE = """
DELETE FROM devices d USING residents r
WHERE r.id = d.resident_id AND r.firebase_uid = $1 AND d.installation_id = $2
"""

SETTINGS = """
SELECT r.id AS resident_id, s.reminders, s.campaign_news, s.achievements, s.weekly_summary,
       to_char(s.quiet_start, 'HH24:MI') AS quiet_start, to_char(s.quiet_end, 'HH24:MI') AS quiet_end, s.daily_cap
FROM residents r LEFT JOIN notification_settings s ON s.resident_id = r.id
WHERE r.firebase_uid = $1
"""

# NULL keeps the stored value (or the default for a resident without a row yet).
PATCH_SETTINGS = """
INSERT INTO notification_settings AS s
    (resident_id, reminders, campaign_news, achievements, weekly_summary, quiet_start, quiet_end, daily_cap)
VALUES ($1, coalesce($2, true), coalesce($3, true), coalesce($4, true), coalesce($5, true),
        coalesce($6::time, '21:00'), coalesce($7::time, '08:00'), coalesce($8, 3))
ON CONFLICT (resident_id) DO UPDATE SET
    reminders = coalesce($2, s.reminders), campaign_news = coalesce($3, s.campaign_news),
    achievements = coalesce($4, s.achievements), weekly_summary = coalesce($5, s.weekly_summary),
    quiet_start = coalesce($6::time, s.quiet_start), quiet_end = coalesce($7::time, s.quiet_end),
    daily_cap = coalesce($8, s.daily_cap), updated_at = now()
"""

# Every message that is due, whatever became of its push (opt-outs turn off pushes, not the inbox).
INBOX = """
SELECT n.id, n.kind, n.title, n.body, n.data, n.created_at, n.read_at
FROM notifications n
WHERE n.resident_id = $1 AND n.not_before <= now()
  AND ($2::bigint IS NULL OR n.id < $2)
ORDER BY n.id DESC
LIMIT $3
"""

UNREAD = """
SELECT count(*) FROM notifications
WHERE resident_id = $1 AND read_at IS NULL AND not_before <= now()
"""

MARK_READ = """
UPDATE notifications n SET read_at = coalesce(n.read_at, now())
FROM residents r
WHERE r.id = n.resident_id AND r.firebase_uid = $1 AND n.id = $2
RETURNING n.read_at
"""

# --- Delivery (sender.py) ------------------------------------------------------------

PLAN = """
WITH due AS (
    SELECT n.id, n.resident_id, n.kind, n.expires_at, r.time_zone,
           coalesce(s.quiet_start, '21:00') AS quiet_start, coalesce(s.quiet_end, '08:00') AS quiet_end,
           coalesce(s.daily_cap, 3) AS daily_cap,
           CASE n.kind WHEN 'reminder' THEN coalesce(s.reminders, true)
                       WHEN 'campaign_news' THEN coalesce(s.campaign_news, true)
                       WHEN 'achievement' THEN coalesce(s.achievements, true)
                       WHEN 'weekly_summary' THEN coalesce(s.weekly_summary, true)
                       ELSE true END AS wanted,
           ($1::timestamptz AT TIME ZONE r.time_zone) AS local_now
    FROM notifications n
    JOIN residents r ON r.id = n.resident_id
    LEFT JOIN notification_settings s ON s.resident_id = n.resident_id
    WHERE n.status = 'pending' AND n.not_before <= $1
    ORDER BY n.not_before
    LIMIT $2
    FOR UPDATE OF n SKIP LOCKED
), judged AS (
    SELECT d.*,
           CASE WHEN d.quiet_start > d.quiet_end
                THEN d.local_now::time >= d.quiet_start OR d.local_now::time < d.quiet_end
                ELSE d.local_now::time >= d.quiet_start AND d.local_now::time < d.quiet_end END AS quiet,
           -- pushed today (local) before, plus those ahead of this one in this round
           (SELECT count(*) FROM notifications x
            WHERE x.resident_id = d.resident_id AND x.status IN ('sent', 'sending')
              AND (x.not_before AT TIME ZONE d.time_zone)::date = d.local_now::date)
           + row_number() OVER (PARTITION BY d.resident_id ORDER BY d.id) - 1 AS sent_today,
           -- the end of the current (or next) quiet period, back in UTC
           ((CASE WHEN d.local_now::time < d.quiet_end THEN d.local_now::date ELSE d.local_now::date + 1 END
             + d.quiet_end) AT TIME ZONE d.time_zone) AS quiet_ends_at
    FROM due d
), decided AS (
    UPDATE notifications n SET
        status = CASE WHEN j.expires_at <= $1 THEN 'expired'
                      WHEN NOT j.wanted THEN 'dropped'
                      WHEN j.quiet OR j.sent_today >= j.daily_cap THEN 'pending'
                      ELSE 'sending' END,
        status_reason = CASE WHEN j.expires_at <= $1 THEN 'expired before it could be sent'
                             WHEN NOT j.wanted THEN 'opted out of ' || j.kind
                             WHEN j.quiet THEN 'deferred: quiet hours'
                             WHEN j.sent_today >= j.daily_cap THEN 'deferred: daily cap of ' || j.daily_cap
                             ELSE NULL END,
        not_before = CASE WHEN j.expires_at > $1 AND j.wanted AND (j.quiet OR j.sent_today >= j.daily_cap)
                          THEN j.quiet_ends_at ELSE n.not_before END
    FROM judged j WHERE j.id = n.id
    RETURNING n.id, n.resident_id, n.status
)
INSERT INTO notification_deliveries (notification_id, installation_id, next_attempt_at)
SELECT d.id, v.installation_id, $1
FROM decided d JOIN devices v ON v.resident_id = d.resident_id AND v.active
WHERE d.status = 'sending' AND $3  -- push on
ON CONFLICT DO NOTHING
"""


# Notifications that went to 'sending' with nothing to push (no active device, or push
# off) are done: they live in the inbox.
SETTLE_WITHOUT_DEVICES = """
UPDATE notifications n SET status = 'sent', status_reason = 'inbox only: no device to push to'
WHERE n.status = 'sending'
  AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.notification_id = n.id)
"""


CLAIM = """
UPDATE notification_deliveries d SET status = 'sending', attempts = d.attempts + 1, claimed_at = $1
FROM (
    SELECT notification_id, installation_id FROM notification_deliveries
    WHERE status = 'pending' AND next_attempt_at <= $1
    ORDER BY next_attempt_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
) c, notifications n, devices v
WHERE d.notification_id = c.notification_id AND d.installation_id = c.installation_id
  AND n.id = d.notification_id AND v.installation_id = d.installation_id
RETURNING d.notification_id, d.installation_id, d.attempts, n.title, n.body, n.data, n.kind, n.expires_at,
          v.registration_token
"""


RECORD = """
WITH results AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[])
        AS r(notification_id, installation_id, status, outcome, fcm_message_id, next_attempt_at, detail)
), deliveries AS (
    UPDATE notification_deliveries d
    SET status = r.status, fcm_message_id = r.fcm_message_id,
        next_attempt_at = coalesce(r.next_attempt_at, d.next_attempt_at)
    FROM results r
    WHERE d.notification_id = r.notification_id AND d.installation_id = r.installation_id
), attempts AS (
    INSERT INTO notification_attempts (notification_id, installation_id, outcome, fcm_message_id, detail)
    SELECT notification_id, installation_id, outcome, fcm_message_id, detail FROM results
), deactivated AS (
    UPDATE devices v SET active = false, deactivated_reason = r.outcome, updated_at = now()
    FROM results r
    WHERE v.installation_id = r.installation_id AND r.outcome IN ('UNREGISTERED', 'SENDER_ID_MISMATCH', 'INVALID_TOKEN')
)
SELECT count(*) FROM results
"""


# A notification is done when none of its deliveries is still pending or being sent.
SETTLE = """
UPDATE notifications n
SET status = CASE WHEN EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.notification_id = n.id
                                 AND d.status = 'sent') THEN 'sent' ELSE 'failed' END
WHERE n.id = ANY($1::bigint[]) AND n.status = 'sending'
  AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.notification_id = n.id
                    AND d.status IN ('pending', 'sending'))
"""


# Deliveries a sender claimed and never recorded: it may have died after FCM took
# them, so they are not sent again (at most once); they fail with the reason.
FAIL_STALE = """
WITH stale AS (
    UPDATE notification_deliveries d SET status = 'failed'
    WHERE d.status = 'sending' AND d.claimed_at < $1
    RETURNING d.notification_id, d.installation_id
), attempts AS (
    INSERT INTO notification_attempts (notification_id, installation_id, outcome, detail)
    SELECT notification_id, installation_id, 'SENDER_STOPPED',
           'claimed by a sender that stopped before recording the result; not resent to avoid a duplicate'
    FROM stale
)
SELECT coalesce(array_agg(DISTINCT notification_id), '{}') FROM stale
"""

# Claimed rows a stopping sender never handed to FCM: back to the queue at once, the claim's attempt undone.
RELEASE = """
UPDATE notification_deliveries d SET status = 'pending', attempts = d.attempts - 1, claimed_at = NULL
FROM unnest($1::bigint[], $2::text[]) AS r(notification_id, installation_id)
WHERE d.notification_id = r.notification_id AND d.installation_id = r.installation_id AND d.status = 'sending'
"""


# What is due and waiting, for the metrics: notifications not yet planned and deliveries not yet sent
# (each through its partial index on the pending rows).
OUTBOX_DUE = """
WITH due AS (
    SELECT not_before AS due_at FROM notifications WHERE status = 'pending' AND not_before <= $1
    UNION ALL
    SELECT next_attempt_at FROM notification_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
)
SELECT count(*) AS messages, min(due_at) AS oldest FROM due
"""


# --- Producers (producers.py) ---------------------------------------------------------

# A nudge is due for a resident when, in the campaign city's time zone, today is
# its weekday (or it runs daily), its time has passed less than $2 ago, and the
# campaign is active. Audiences: everyone enrolled, or those with no live action
# this ISO week / today (their local dates).
#
# Where the campaign is in a study (docs/research.md), its arms decide: a nudge
# some arm names goes only to arms naming it; residents outside the study get what
# the control arm gets. For a participant (assigned, research consent current) each
# decision point is logged in nudge_decisions, sent or not, with its probability:
# when available and in the arm, a nudge some arm names is sent when a draw keyed
# by the study seed, resident, nudge and day falls below the arm's nudge_probability
# (re-running decides the same); other nudges are sent (probability 1). A
# participant's message goes out only with its decision's first logging, so the
# log and the outbox never disagree.
NUDGES = """
WITH due AS (
    SELECT n.id AS nudge_id, n.code AS nudge, k.id AS campaign_id, e.resident_id, e.city_id, r.locale,
           n.title, n.body, k.code AS campaign, local.today, c.time_zone,
           (local.today + (n.schedule ->> 'time')::time) AT TIME ZONE c.time_zone AS decision_point,
           CASE n.audience
             WHEN 'inactive_this_week' THEN NOT EXISTS (
                 SELECT 1 FROM action_logs a WHERE a.resident_id = e.resident_id AND a.deleted_at IS NULL
                   AND date_trunc('week', a.local_date) = date_trunc('week', local.today))
             WHEN 'inactive_today' THEN NOT EXISTS (
                 SELECT 1 FROM action_logs a WHERE a.resident_id = e.resident_id AND a.deleted_at IS NULL
                   AND a.local_date = local.today)
             ELSE true END AS available
    FROM nudges n
    JOIN campaigns k ON k.id = n.campaign_id
    JOIN campaign_phases p ON p.id = k.id AND p.phase = 'active'
    JOIN cities c ON c.id = k.city_id
    CROSS JOIN LATERAL (SELECT ($1::timestamptz AT TIME ZONE c.time_zone) AS now) AS clock
    CROSS JOIN LATERAL (SELECT clock.now::date AS today) AS local
    JOIN enrolments e ON e.campaign_id = k.id AND e.left_at IS NULL
    JOIN residents r ON r.id = e.resident_id
    WHERE n.active
      AND (n.schedule ->> 'weekday' IS NULL
           OR (ARRAY['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'])
              [extract(isodow FROM local.today)::int] = n.schedule ->> 'weekday')
      AND clock.now::time >= (n.schedule ->> 'time')::time
      AND clock.now - (local.today + (n.schedule ->> 'time')::time) < $2::interval
), judged AS (
    SELECT d.*, s.id AS study_id, arm.id AS arm_id, part.resident_id IS NOT NULL AS participant,
           (s.id IS NULL OR NOT (d.nudge = ANY (s.controlled_nudges)) OR d.nudge = ANY (arm.nudges)) AS in_arm,
           CASE WHEN d.nudge = ANY (s.controlled_nudges) THEN arm.nudge_probability ELSE 1 END AS arm_probability,
           ('x' || substr(md5(s.seed || ':' || d.resident_id || ':' || d.nudge_id || ':' || d.today), 1, 13))
               ::bit(52)::bigint / 4503599627370496.0 AS draw
    FROM due d
    LEFT JOIN study_campaigns sc ON sc.campaign_id = d.campaign_id
    LEFT JOIN studies s ON s.id = sc.study_id
    LEFT JOIN study_assignments part ON part.study_id = s.id AND part.resident_id = d.resident_id
        AND EXISTS (SELECT 1 FROM current_consents cc WHERE cc.resident_id = d.resident_id AND cc.purpose = 'research')
    LEFT JOIN study_arms arm ON arm.id = coalesce(part.arm_id,
        (SELECT x.id FROM study_arms x WHERE x.study_id = s.id AND x.control))
), logged AS (
    INSERT INTO nudge_decisions (study_id, resident_id, city_id, arm_id, nudge_id, decision_point, local_date,
                                 available, in_arm, probability, sent, decided_at)
    SELECT j.study_id, j.resident_id, j.city_id, j.arm_id, j.nudge_id, j.decision_point, j.today,
           j.available, j.in_arm, CASE WHEN j.available AND j.in_arm THEN j.arm_probability ELSE 0 END,
           j.available AND j.in_arm AND j.draw < j.arm_probability, $1
    FROM judged j WHERE j.participant
    ON CONFLICT (study_id, resident_id, nudge_id, local_date) DO NOTHING
    RETURNING resident_id, nudge_id, sent
)
INSERT INTO notifications
    (resident_id, city_id, kind, campaign_id, dedupe_key, title, body, data, locale, not_before, expires_at)
SELECT j.resident_id, j.city_id, 'reminder', j.campaign_id,
       'nudge:' || j.nudge_id || ':' || j.today,
       coalesce(j.title ->> j.locale, j.title ->> 'en'),
       coalesce(j.body ->> j.locale, j.body ->> 'en'),
       jsonb_build_object('campaign', j.campaign, 'nudge', j.nudge),
       j.locale, $1, (j.today + 1)::timestamp AT TIME ZONE j.time_zone
FROM judged j
LEFT JOIN logged l ON l.resident_id = j.resident_id AND l.nudge_id = j.nudge_id
WHERE CASE WHEN j.participant THEN coalesce(l.sent, false) ELSE j.available AND j.in_arm END
ON CONFLICT (resident_id, dedupe_key) DO NOTHING
"""


# Residents with live actions in the ISO week before the one containing $1 (their
# local dates) get a summary once that week is over, at or after Monday $2 local.
# Templates $3 (title) and $4 (body) are {"sl": ..., "en": ...}; decimals follow
# the language (comma in Slovenian).
WEEKLY = """
WITH last_week AS (
    SELECT a.resident_id, round(sum(a.co2e_kg)::numeric, 1) AS kg, count(*) AS actions,
           count(DISTINCT a.local_date) AS days,
           date_trunc('week', (($1::timestamptz AT TIME ZONE r.time_zone)::date - 7))::date AS week
    FROM action_logs a JOIN residents r ON r.id = a.resident_id
    WHERE a.deleted_at IS NULL
      AND date_trunc('week', a.local_date) = date_trunc('week', (($1::timestamptz AT TIME ZONE r.time_zone)::date - 7))
      AND ($1::timestamptz AT TIME ZONE r.time_zone)::time >= $2::time
    GROUP BY a.resident_id, r.time_zone
)
INSERT INTO notifications (resident_id, city_id, kind, dedupe_key, title, body, data, locale, not_before, expires_at)
SELECT w.resident_id, r.city_id, 'weekly_summary', 'weekly:' || to_char(w.week, 'IYYY-"W"IW'),
       replace(replace(replace(coalesce($3::jsonb ->> r.locale, $3::jsonb ->> 'en'),
           '{kg}', shown.kg), '{actions}', w.actions::text), '{days}', w.days::text),
       replace(replace(replace(coalesce($4::jsonb ->> r.locale, $4::jsonb ->> 'en'),
           '{kg}', shown.kg), '{actions}', w.actions::text), '{days}', w.days::text),
       jsonb_build_object('week', to_char(w.week, 'IYYY-"W"IW')), r.locale, $1, $1::timestamptz + interval '2 days'
FROM last_week w
JOIN residents r ON r.id = w.resident_id
CROSS JOIN LATERAL (
    SELECT CASE WHEN r.locale = 'sl' THEN replace(w.kg::text, '.', ',') ELSE w.kg::text END AS kg
) AS shown
ON CONFLICT (resident_id, dedupe_key) DO NOTHING
"""


# Enrolled residents hear when a campaign starts and when it ends, within a day
# of the moment ($2: 'start' or 'end'); $3/$4 are the templates, {campaign}
# filled with the campaign's title in the resident's language.
CAMPAIGN_EVENT = """
INSERT INTO notifications
    (resident_id, city_id, kind, campaign_id, dedupe_key, title, body, data, locale, not_before, expires_at)
SELECT e.resident_id, e.city_id, 'campaign_news', k.id, 'campaign-' || $2 || ':' || k.id,
       replace(coalesce($3::jsonb ->> r.locale, $3::jsonb ->> 'en'), '{campaign}', name.text),
       replace(coalesce($4::jsonb ->> r.locale, $4::jsonb ->> 'en'), '{campaign}', name.text),
       jsonb_build_object('campaign', k.code, 'event', $2), r.locale, $1, $1::timestamptz + interval '1 day'
FROM campaigns k
JOIN enrolments e ON e.campaign_id = k.id AND e.left_at IS NULL
JOIN residents r ON r.id = e.resident_id
CROSS JOIN LATERAL (SELECT coalesce(k.title ->> r.locale, k.title ->> 'en') AS text) AS name
WHERE k.status = 'scheduled'
  AND CASE $2 WHEN 'start' THEN k.starts_at ELSE k.ends_at END <= $1
  AND CASE $2 WHEN 'start' THEN k.starts_at ELSE k.ends_at END > $1::timestamptz - interval '1 day'
ON CONFLICT (resident_id, dedupe_key) DO NOTHING
"""
