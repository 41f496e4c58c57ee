"""Producers that write into the outbox: campaign nudges, campaign start and end,
and the weekly summary.

Every producer is one set-based statement and idempotent: a message carries a
``dedupe_key`` unique per resident (``nudge:<id>:<local date>``), so running a
producer again, or in two worker replicas at once, writes nothing twice.
Texts are picked in the resident's locale, English when the text lacks it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from upscale_api.db import Pool, rows_affected
from upscale_api.notifications import templates

# A nudge is due for a resident when, in the campaign city's time zone, today is
# its weekday (or it runs daily), its time has passed less than $2 ago, and the
# campaign is active. Audiences: everyone enrolled, or those with no live action
# this ISO week / today (their local dates).
NUDGES = """
INSERT INTO notifications
    (resident_id, city_id, kind, campaign_id, dedupe_key, title, body, data, locale, not_before, expires_at)
SELECT e.resident_id, e.city_id, 'reminder', k.id,
       'nudge:' || n.id || ':' || local.today,
       coalesce(n.title ->> r.locale, n.title ->> 'en'),
       coalesce(n.body ->> r.locale, n.body ->> 'en'),
       jsonb_build_object('campaign', k.code, 'nudge', n.code),
       r.locale, $1, (local.today + 1)::timestamp AT TIME ZONE c.time_zone
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
  AND CASE n.audience
        WHEN 'inactive_this_week' THEN NOT EXISTS (
            SELECT 1 FROM action_logs a WHERE a.resident_id = e.resident_id AND a.deleted_at IS NULL
              AND date_trunc('week', a.local_date) = date_trunc('week', local.today))
        WHEN 'inactive_today' THEN NOT EXISTS (
            SELECT 1 FROM action_logs a WHERE a.resident_id = e.resident_id AND a.deleted_at IS NULL
              AND a.local_date = local.today)
        ELSE true END
ON CONFLICT (resident_id, dedupe_key) DO NOTHING
"""


async def produce_nudges(pool: Pool, now: datetime, catch_up: timedelta = timedelta(hours=1)) -> int:
    """Write the campaign nudges due at ``now``; returns how many messages were new.

    ``catch_up`` is how late a nudge may still go out (a worker that was down
    for a few minutes sends it; one down all morning does not).
    """
    return rows_affected(await pool.execute(NUDGES, now, catch_up))


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


async def produce_weekly_summaries(pool: Pool, now: datetime, at: time = time(9, 0)) -> int:
    """Write last week's summary for every resident who logged something in it (once per week)."""
    template = templates.WEEKLY_SUMMARY
    return rows_affected(await pool.execute(WEEKLY, now, at, template["title"], template["body"]))


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


async def produce_campaign_events(pool: Pool, now: datetime) -> int:
    """Tell participants that a campaign started or ended (once each)."""
    written = 0
    for event, template in (("start", templates.CAMPAIGN_STARTED), ("end", templates.CAMPAIGN_ENDED)):
        status = await pool.execute(CAMPAIGN_EVENT, now, event, template["title"], template["body"])
        written += rows_affected(status)
    return written
