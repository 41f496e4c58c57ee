"""SQL for devices, preferences and the inbox."""

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
