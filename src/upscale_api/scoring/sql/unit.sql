-- The unit of work: a part of a tick, or a chunk of a rescore, in a transaction of its own.
--
-- A unit marks what changed in temporary tables: dirty_days (resident, local day),
-- changed_enrolments (participants who joined, left or changed team: their whole campaign history is
-- recomputed), dirty_member_days (campaign, participant, local day) and dirty_members (participants
-- whose score is recomputed, with what their enrolment says: looked up once). The statements of the
-- stages recompute exactly those keys from the source. Recomputed rows replace the stored ones; the
-- difference (old rows with sign -1, new rows with +1, in day_changes and member_changes) is summed
-- by the keys of the running totals into scoring_pending_totals and scoring_pending_activity
-- (totals.sql), the teams whose membership changed go to scoring_touched_teams and the members whose
-- success in a team rule flipped to scoring_team_flips: the fold adds those to the rows that units
-- share. Recomputing a key that did not change gives a difference of zero, so every statement can
-- run again without changing anything.
--
-- Here: the unit's settings and scratch tables, the watermark, the advisory locks, and the
-- achievements a transaction finds (news) turned into messages.

-- name: UNIT_SETTINGS
-- A unit reads thousands of keys of tables whose pages are in memory: the planner should treat them
-- as cached and stay on the indexes, and sort and aggregate its few hundred thousand rows in memory,
-- not in spill files.
SET LOCAL work_mem = '64MB'; SET LOCAL random_page_cost = 1.1

-- name: SCRATCH
-- What a unit marks and the differences it computes, dropped with its transaction.
CREATE TEMP TABLE dirty_days (resident_id bigint, local_date date, PRIMARY KEY (resident_id, local_date))
    ON COMMIT DROP;
CREATE TEMP TABLE changed_enrolments (campaign_id integer, resident_id bigint, PRIMARY KEY (campaign_id, resident_id))
    ON COMMIT DROP;
CREATE TEMP TABLE dirty_member_days (campaign_id integer, resident_id bigint, local_date date,
                                     PRIMARY KEY (campaign_id, resident_id, local_date))
    ON COMMIT DROP;
CREATE TEMP TABLE dirty_members (campaign_id integer, resident_id bigint, taking_part boolean,
                                 city_id integer, district_id integer, team_id integer, baseline jsonb,
                                 first_day date, last_day date, history_cutoff date,
                                 PRIMARY KEY (campaign_id, resident_id))
    ON COMMIT DROP;
CREATE TEMP TABLE day_changes (sign integer NOT NULL, LIKE resident_days) ON COMMIT DROP;
CREATE TEMP TABLE member_changes (sign integer NOT NULL, LIKE campaign_days) ON COMMIT DROP;

-- name: ANALYZE_SCRATCH
-- The marks counted, so that the statements joining them are planned on their size.
ANALYZE dirty_days, changed_enrolments, dirty_member_days, dirty_members

-- name: COUNT_DIRTY_DAYS
-- Resident days marked.
SELECT count(*) FROM dirty_days

-- name: COUNT_DIRTY_MEMBERS
-- Participants marked.
SELECT count(*) FROM dirty_members

-- name: WATERMARK
-- The snapshot of job $1's previous run (before any: one that saw nothing as done).
SELECT coalesce((SELECT seen FROM job_watermarks WHERE job = $1), '1:1:'::pg_snapshot)

-- name: SNAPSHOT
-- Taken before reading what changed; what it does not show as done is read by a later run.
SELECT pg_current_snapshot()

-- name: SAVE_WATERMARK
-- Job $1 read everything snapshot $2 shows as done; it ran at $3.
INSERT INTO job_watermarks (job, seen, ran_at) VALUES ($1, $2::pg_snapshot, $3)
ON CONFLICT (job) DO UPDATE SET seen = excluded.seen, ran_at = excluded.ran_at

-- name: TRY_LOCK
-- The transaction-scoped advisory lock $1 (db.AdvisoryLock); false at once when another transaction
-- holds it.
SELECT pg_try_advisory_xact_lock($1)

-- name: LOCK
-- The transaction-scoped advisory lock $1 (db.AdvisoryLock), waiting for whoever holds it.
SELECT pg_advisory_xact_lock($1)

-- name: NEWS_TABLE
-- Achievements found in this transaction, turned into messages at its end (NOTIFY).
CREATE TEMP TABLE IF NOT EXISTS news (resident_id bigint NOT NULL, kind text NOT NULL, subject_id integer NOT NULL)
    ON COMMIT DROP

-- name: NEWS_COUNT
-- Achievements found so far.
SELECT count(*) FROM news

-- name: NOTIFY
-- One achievement message per piece of news, in the resident's language. $1: now, $2:
-- {"challenge"|"team_challenge"|"goal"|"badge": {"title": {...}, "body": {...}}} with {title} and
-- {campaign} filled in. The dedupe key makes it once per resident.
INSERT INTO notifications
    (resident_id, city_id, kind, campaign_id, dedupe_key, title, body, data, locale, not_before, expires_at)
SELECT n.resident_id, r.city_id, 'achievement', k.id, n.kind || ':' || n.subject_id,
       replace(replace(coalesce(tpl.t -> 'title' ->> r.locale, tpl.t -> 'title' ->> 'en'),
                       '{title}', what.text), '{campaign}', campaign.text),
       replace(replace(coalesce(tpl.t -> 'body' ->> r.locale, tpl.t -> 'body' ->> 'en'),
                       '{title}', what.text), '{campaign}', campaign.text),
       jsonb_build_object('campaign', k.code,
                          CASE WHEN n.kind = 'badge' THEN 'badge' ELSE 'challenge' END, subject.code),
       r.locale, $1, $1::timestamptz + interval '3 days'
FROM (SELECT DISTINCT resident_id, kind, subject_id FROM news) n
JOIN residents r ON r.id = n.resident_id
CROSS JOIN LATERAL (
    SELECT b.campaign_id, b.code, b.title FROM badges b WHERE n.kind = 'badge' AND b.id = n.subject_id
    UNION ALL
    SELECT ch.campaign_id, ch.code, ch.title FROM challenges ch WHERE n.kind <> 'badge' AND ch.id = n.subject_id
) AS subject
JOIN campaigns k ON k.id = subject.campaign_id
CROSS JOIN LATERAL (SELECT $2::jsonb -> n.kind AS t) AS tpl
CROSS JOIN LATERAL (SELECT coalesce(subject.title ->> r.locale, subject.title ->> 'en') AS text) AS what
CROSS JOIN LATERAL (SELECT coalesce(k.title ->> r.locale, k.title ->> 'en') AS text) AS campaign
ON CONFLICT (resident_id, dedupe_key) DO NOTHING

-- name: CLEAR_NEWS
-- The news told (or, by a correction, left untold).
TRUNCATE news
