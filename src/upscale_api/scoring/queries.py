"""SQL of the scoring engine.

A unit of work (a part of a tick, a chunk of a rescore) marks what changed in
temporary tables: ``dirty_days`` (resident, local day), ``changed_enrolments``
(participants who joined, left or changed team: their whole campaign history
is recomputed), ``dirty_member_days`` (campaign, participant, local day) and
``dirty_members`` (participants whose score is recomputed, with what their
enrolment says: looked up once). The statements
below recompute exactly those keys from the source. Recomputed rows replace
the stored ones; the difference (old rows with sign -1, new rows with +1, in
``day_changes`` and ``member_changes``) is summed by the keys of the running
totals into ``scoring_pending_totals`` and ``scoring_pending_activity``, and
the teams whose membership changed go to ``scoring_touched_teams`` and the
members whose success in a team rule flipped to ``scoring_team_flips``: the
fold adds those to the rows that units share. Recomputing a key that did
not change gives a difference of zero, so every statement can run again
without changing anything.
"""

# --- The unit of work -------------------------------------------------------------

SCRATCH = """
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
"""

# Achievements found in this transaction, turned into messages at its end.
NEWS_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS news (resident_id bigint NOT NULL, kind text NOT NULL, subject_id integer NOT NULL)
    ON COMMIT DROP
"""

ANALYZE_SCRATCH = "ANALYZE dirty_days, changed_enrolments, dirty_member_days, dirty_members"

# A unit of work (a tick, a chunk of a rescore) reads thousands of keys of
# tables whose pages are in memory: the planner should treat them as cached and
# stay on the indexes, and sort and aggregate its few hundred thousand rows in
# memory, not in spill files.
UNIT_SETTINGS = "SET LOCAL work_mem = '64MB'; SET LOCAL random_page_cost = 1.1"

# The snapshot of the previous run (before any: one that saw nothing as done).
WATERMARK = "SELECT coalesce((SELECT seen FROM job_watermarks WHERE job = $1), '1:1:'::pg_snapshot)"

# Taken before reading what changed; what it does not show as done is read by a later run.
SNAPSHOT = "SELECT pg_current_snapshot()"

SAVE_WATERMARK = """
INSERT INTO job_watermarks (job, seen, ran_at) VALUES ($1, $2::pg_snapshot, $3)
ON CONFLICT (job) DO UPDATE SET seen = excluded.seen, ran_at = excluded.ran_at
"""

# Rows written by transactions that had not finished at snapshot $1.
_SINCE = "written_xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(written_xid, $1::pg_snapshot)"

# A tick's part $3 of $2: the residents whose id leaves remainder $3 divided by $2.
_PART = "resident_id % $2 = $3"

# Resident days of part $3 of $2 whose actions or whose review decision changed since snapshot $1.
MARK_CHANGED_DAYS = f"""
INSERT INTO dirty_days (resident_id, local_date)
SELECT resident_id, local_date FROM action_logs WHERE {_SINCE} AND {_PART}
UNION
SELECT resident_id, local_date FROM held_days WHERE {_SINCE} AND {_PART}
ON CONFLICT DO NOTHING
"""

# Participants of part $3 of $2 whose enrolment changed since snapshot $1.
MARK_CHANGED_ENROLMENTS = f"""
INSERT INTO changed_enrolments (campaign_id, resident_id)
SELECT campaign_id, resident_id FROM enrolments WHERE {_SINCE} AND {_PART}
ON CONFLICT DO NOTHING
"""

# Participants to recompute with what their recomputation reads of their
# enrolment, looked up once here: whether they take part (enrolled, not left),
# their city, district and team, their baseline answers, and the local days
# that count (from the day they enrolled to the campaign's last). {members}
# gives the participants (``x``: campaign_id, resident_id) and their enrolment
# (``e``, none when they are gone); {history} the cut-off before which their
# stored history stands (NULL: recompute from all their days); {tail} ends the
# statement.
_MARK_MEMBERS = """
INSERT INTO dirty_members (campaign_id, resident_id, taking_part, city_id, district_id, team_id, baseline,
                           first_day, last_day, history_cutoff)
SELECT x.campaign_id, x.resident_id, e.resident_id IS NOT NULL AND e.left_at IS NULL, e.city_id, r.district_id,
       e.team_id, e.baseline, greatest(k.starts_on, (e.enrolled_at AT TIME ZONE r.time_zone)::date), k.ends_on,
       {history}
FROM {members}
JOIN campaigns k ON k.id = x.campaign_id
JOIN residents r ON r.id = x.resident_id
{tail}
"""

# The campaign days to recompute: a changed resident day inside a campaign its
# resident is enrolled in, and every day, stored or to be stored, of a changed
# enrolment. Their participants' scores are recomputed, from their stored
# history before its cut-off and their days since, unless a day before the
# cut-off changed, their enrolment changed, or their campaign has a challenge
# newer than their history. Runs before resident days are recomputed: a
# changed enrolment's days come from the stored resident and campaign days, and
# a day new in this run is a changed day, marked by the first part.
MARK_MEMBER_DAYS = """
WITH marked AS (
    INSERT INTO dirty_member_days (campaign_id, resident_id, local_date)
    SELECT e.campaign_id, e.resident_id, d.local_date
    FROM dirty_days d
    JOIN enrolments e ON e.resident_id = d.resident_id
    JOIN campaigns k ON k.id = e.campaign_id AND d.local_date BETWEEN k.starts_on AND k.ends_on
    UNION
    SELECT c.campaign_id, c.resident_id, rd.local_date
    FROM changed_enrolments c
    JOIN campaigns k ON k.id = c.campaign_id
    JOIN resident_days rd ON rd.resident_id = c.resident_id AND rd.local_date BETWEEN k.starts_on AND k.ends_on
    UNION
    SELECT d.campaign_id, d.resident_id, d.local_date
    FROM changed_enrolments c JOIN campaign_days d USING (campaign_id, resident_id)
    ON CONFLICT DO NOTHING
    RETURNING campaign_id, resident_id, local_date
)
""" + _MARK_MEMBERS.format(
    members="""(SELECT campaign_id, resident_id, min(local_date) AS earliest, bool_or(enrolment) AS enrolment_changed
      FROM (SELECT campaign_id, resident_id, local_date, false AS enrolment FROM marked
            UNION ALL SELECT campaign_id, resident_id, NULL, true FROM changed_enrolments) u
      GROUP BY campaign_id, resident_id) x
LEFT JOIN enrolments e ON e.campaign_id = x.campaign_id AND e.resident_id = x.resident_id""",
    history="""(SELECT h.cutoff FROM history_scores h
        WHERE h.campaign_id = x.campaign_id AND h.resident_id = x.resident_id
          AND NOT x.enrolment_changed AND x.earliest >= h.cutoff
          AND h.rules_through >= (SELECT coalesce(max(ch.id), 0) FROM challenges ch
                                  WHERE ch.campaign_id = x.campaign_id))""",
    tail="ON CONFLICT DO NOTHING",
)

# Stored history that no longer stands: of participants recomputed from all their days.
FORGET_HISTORY = """
DELETE FROM history_scores h USING dirty_members m
WHERE h.campaign_id = m.campaign_id AND h.resident_id = m.resident_id AND m.history_cutoff IS NULL
"""

# For a rescore: residents with ids in [$1, $2] of part $6 of $5 (id modulo $5),
# days from $3 (NULL: all), and their enrolments (in campaign $4 only, when
# given; then no days are marked), recomputed as if changed. MARK_MEMBER_DAYS
# follows.
MARK_RESIDENTS = """
WITH days AS (
    INSERT INTO dirty_days (resident_id, local_date)
    SELECT DISTINCT resident_id, local_date FROM action_logs
    WHERE $4::int IS NULL AND resident_id BETWEEN $1 AND $2 AND resident_id % $5 = $6
      AND ($3::date IS NULL OR local_date >= $3)
    UNION
    SELECT DISTINCT resident_id, local_date FROM resident_days
    WHERE $4::int IS NULL AND resident_id BETWEEN $1 AND $2 AND resident_id % $5 = $6
      AND ($3::date IS NULL OR local_date >= $3)
    ON CONFLICT DO NOTHING
)
INSERT INTO changed_enrolments (campaign_id, resident_id)
SELECT e.campaign_id, e.resident_id
FROM enrolments e JOIN campaigns k ON k.id = e.campaign_id
WHERE e.resident_id BETWEEN $1 AND $2 AND e.resident_id % $5 = $6 AND ($4::int IS NULL OR e.campaign_id = $4)
  AND ($3::date IS NULL OR k.ends_on >= $3)
ON CONFLICT DO NOTHING
"""

# --- Resident days ------------------------------------------------------------------

RESIDENT_DAYS_OUT = """
WITH gone AS (
    DELETE FROM resident_days r USING dirty_days d
    WHERE r.resident_id = d.resident_id AND r.local_date = d.local_date
    RETURNING r.*
)
INSERT INTO day_changes SELECT -1, * FROM gone
"""

# A day total over the type's plausible limit is held unless a coordinator
# accepted at least that much. Each action's quantity and kg count to the
# millionth: summed as whole millionths (bigint), which is exact in any order
# and, unlike a float8-to-numeric cast per row (a conversion through text),
# costs almost nothing; the limits are cast once per type. {source} gives the
# action rows (``a``) to group; {returning} hands the stored rows on
# (``RETURNING *``) or not.
_RESIDENT_DAYS = """
WITH t AS MATERIALIZED (SELECT id, plausible_per_day::numeric AS plausible_per_day FROM action_types)
INSERT INTO resident_days (resident_id, local_date, action_type_id, city_id, district_id, quantity, co2e_kg, actions,
                           held)
SELECT f.resident_id, f.local_date, f.action_type_id, f.city_id, r.district_id, f.quantity, f.co2e_kg, f.actions,
       coalesce(f.quantity > t.plausible_per_day, false)
       AND NOT coalesce(h.status = 'accepted' AND f.quantity <= h.decided_quantity, false)
FROM (SELECT a.resident_id, a.local_date, a.action_type_id, min(a.city_id) AS city_id,
             sum((a.quantity * 1000000)::bigint) * 0.000001 AS quantity,
             sum((a.co2e_kg * 1000000)::bigint) * 0.000001 AS co2e_kg, count(*)::int AS actions
      FROM {source}
      WHERE a.deleted_at IS NULL
      GROUP BY a.resident_id, a.local_date, a.action_type_id) f
JOIN residents r ON r.id = f.resident_id
JOIN t ON t.id = f.action_type_id
LEFT JOIN held_days h
    ON h.resident_id = f.resident_id AND h.local_date = f.local_date AND h.action_type_id = f.action_type_id
{returning}
"""

RESIDENT_DAYS_IN = "WITH stored AS ({}) INSERT INTO day_changes SELECT 1, * FROM stored".format(
    _RESIDENT_DAYS.format(
        source="dirty_days d JOIN action_logs a ON a.resident_id = d.resident_id AND a.local_date = d.local_date",
        returning="RETURNING *",
    )
)
REBUILD_RESIDENT_DAYS = _RESIDENT_DAYS.format(source="action_logs a", returning="")

# Held days are listed for review (a larger total than the one accepted is
# pending again); a pending day that fell back under the limit is withdrawn.
# The tick's own writes keep written_xid at 0 so they do not mark the day again.
HOLDS = """
WITH flagged AS (
    INSERT INTO held_days (resident_id, local_date, action_type_id, city_id, quantity, written_xid)
    SELECT resident_id, local_date, action_type_id, city_id, quantity, '0'
    FROM day_changes WHERE sign = 1 AND held
    ON CONFLICT (resident_id, local_date, action_type_id) DO UPDATE
    SET quantity = excluded.quantity,
        status = 'pending',
        flagged_at = now()
    WHERE held_days.quantity <> excluded.quantity OR held_days.status = 'accepted'
)
DELETE FROM held_days h USING dirty_days d
WHERE h.resident_id = d.resident_id AND h.local_date = d.local_date AND h.status = 'pending'
  AND NOT EXISTS (
      SELECT 1 FROM day_changes c
      WHERE c.sign = 1 AND c.held AND c.resident_id = h.resident_id AND c.local_date = h.local_date
        AND c.action_type_id = h.action_type_id)
"""

# The same over every resident day, after a rebuild.
REBUILD_HOLDS = """
WITH flagged AS (
    INSERT INTO held_days (resident_id, local_date, action_type_id, city_id, quantity, written_xid)
    SELECT resident_id, local_date, action_type_id, city_id, quantity, '0' FROM resident_days WHERE held
    ON CONFLICT (resident_id, local_date, action_type_id) DO UPDATE
    SET quantity = excluded.quantity,
        status = 'pending',
        flagged_at = now()
    WHERE held_days.quantity <> excluded.quantity OR held_days.status = 'accepted'
)
DELETE FROM held_days h
WHERE h.status = 'pending'
  AND NOT EXISTS (
      SELECT 1 FROM resident_days r
      WHERE r.held AND r.resident_id = h.resident_id AND r.local_date = h.local_date
        AND r.action_type_id = h.action_type_id)
"""

# --- Running totals ---------------------------------------------------------------------
#
# totals_daily keeps sums by action type where they are read by type: all
# actions per city, a campaign's per campaign and city. activity_daily keeps
# every scope's day over all types (campaign 0: city and district; a campaign:
# campaign, city, district and team) with the residents active that day. A
# unit sums its differences by their keys into the pending tables ({changes}:
# day_changes for all actions, campaign 0, or member_changes for what counts in
# each campaign); the fold adds them up.

_DAY_TOTAL_SCOPES = "(VALUES ('city', c.city_id))"
_MEMBER_TOTAL_SCOPES = "(VALUES ('campaign', 0), ('city', c.city_id))"
_DAY_ACTIVITY_SCOPES = "(VALUES ('city', c.city_id), ('district', c.district_id))"
_MEMBER_ACTIVITY_SCOPES = (
    "(VALUES ('campaign', 0), ('city', c.city_id), ('district', c.district_id), ('team', c.team_id))"
)

_PENDING_TOTALS = """
INSERT INTO scoring_pending_totals
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT {campaign}, s.scope, s.scope_id, c.local_date, c.action_type_id,
       sum(c.sign * c.quantity), sum(c.sign * c.co2e_kg), sum(c.sign * {points}), sum(c.sign * c.actions), sum(c.sign)
FROM {changes} c
CROSS JOIN LATERAL {scopes} AS s (scope, scope_id)
WHERE s.scope_id IS NOT NULL {filter}
GROUP BY 1, s.scope, s.scope_id, c.local_date, c.action_type_id
HAVING sum(c.sign * c.quantity) <> 0 OR sum(c.sign * c.co2e_kg) <> 0 OR sum(c.sign * {points}) <> 0
    OR sum(c.sign * c.actions) <> 0 OR sum(c.sign) <> 0
"""

# A resident's day (all types) first, so that each active resident counts once.
_PENDING_ACTIVITY = """
INSERT INTO scoring_pending_activity (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT c.campaign_id, s.scope, s.scope_id, c.local_date,
       sum(c.sign), sum(c.sign * c.co2e_kg), sum(c.sign * c.points), sum(c.sign * c.actions)
FROM (SELECT sign, {campaign} AS campaign_id, resident_id, local_date, city_id, district_id, {team} AS team_id,
             sum(co2e_kg) AS co2e_kg, sum({points}) AS points, sum(actions) AS actions
      FROM {changes} WHERE true {filter}
      GROUP BY 1, 2, 3, 4, 5, 6, 7) c
CROSS JOIN LATERAL {scopes} AS s (scope, scope_id)
WHERE s.scope_id IS NOT NULL
GROUP BY c.campaign_id, s.scope, s.scope_id, c.local_date
HAVING sum(c.sign) <> 0 OR sum(c.sign * c.co2e_kg) <> 0 OR sum(c.sign * c.points) <> 0
    OR sum(c.sign * c.actions) <> 0
"""

DAY_TOTALS = _PENDING_TOTALS.format(
    campaign="0", points="0", changes="day_changes", scopes=_DAY_TOTAL_SCOPES, filter="AND NOT held"
)
DAY_ACTIVITY = _PENDING_ACTIVITY.format(
    campaign="0",
    points="0",
    team="NULL::int",
    changes="day_changes",
    scopes=_DAY_ACTIVITY_SCOPES,
    filter="AND NOT held",
)
MEMBER_TOTALS = _PENDING_TOTALS.format(
    campaign="c.campaign_id", points="c.points", changes="member_changes", scopes=_MEMBER_TOTAL_SCOPES, filter=""
)
MEMBER_ACTIVITY = _PENDING_ACTIVITY.format(
    campaign="campaign_id",
    points="points",
    team="team_id",
    changes="member_changes",
    scopes=_MEMBER_ACTIVITY_SCOPES,
    filter="",
)

# The fold: the pending sums added to the running totals and emptied in one
# transaction, so that each is added once whichever transaction commits. No
# unit runs meanwhile (the scoring lock), so emptying cannot take one unseen.
FOLD_TOTALS = """
INSERT INTO totals_daily AS t
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT campaign_id, scope, scope_id, local_date, action_type_id,
       sum(quantity), sum(co2e_kg), sum(points), sum(actions), sum(residents)
FROM scoring_pending_totals
GROUP BY campaign_id, scope, scope_id, local_date, action_type_id
HAVING sum(quantity) <> 0 OR sum(co2e_kg) <> 0 OR sum(points) <> 0 OR sum(actions) <> 0 OR sum(residents) <> 0
ON CONFLICT (campaign_id, scope, scope_id, local_date, action_type_id) DO UPDATE
SET quantity = t.quantity + excluded.quantity, co2e_kg = t.co2e_kg + excluded.co2e_kg,
    points = t.points + excluded.points, actions = t.actions + excluded.actions,
    residents = t.residents + excluded.residents;
TRUNCATE scoring_pending_totals
"""

FOLD_ACTIVITY = """
INSERT INTO activity_daily AS p (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT campaign_id, scope, scope_id, local_date, sum(residents), sum(co2e_kg), sum(points), sum(actions)
FROM scoring_pending_activity
GROUP BY campaign_id, scope, scope_id, local_date
HAVING sum(residents) <> 0 OR sum(co2e_kg) <> 0 OR sum(points) <> 0 OR sum(actions) <> 0
ON CONFLICT (campaign_id, scope, scope_id, local_date) DO UPDATE
SET residents = p.residents + excluded.residents, co2e_kg = p.co2e_kg + excluded.co2e_kg,
    points = p.points + excluded.points, actions = p.actions + excluded.actions;
TRUNCATE scoring_pending_activity
"""

# A rebuild fills the emptied tables from the stored days in one pass each:
# every scope's sums grouped at once (GROUPING SETS), no differences to add.
# Rows are written in day order, as ticks write them: the days a tick updates
# then fill a few hundred pages, not most of the table's (after a checkpoint,
# each page a tick first changes is written whole to the WAL).
# {campaign}: the campaign column or 0 (and {by} groups by it); {points}: the
# points column or 0; {days}: the rows; {sets}: the scopes' grouping sets;
# {scope}: which set a row belongs to; {scope_ids}: its subject, first not null.
_REBUILD_TOTALS = """
INSERT INTO totals_daily
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT {campaign}, {scope}, coalesce({scope_ids}), local_date, action_type_id,
       sum(quantity), sum(co2e_kg), sum({points}), sum(actions), count(*)
FROM {days}
GROUP BY {by}local_date, action_type_id, GROUPING SETS ({sets})
HAVING coalesce({scope_ids}) IS NOT NULL
ORDER BY local_date
"""

# A resident counts once per city they were active in that day, in each scope
# (as a unit's differences count them: one who logged in two cities that day
# counts twice in their district). The first of their rows in a city marks it;
# their rows come in key order from the index, so marking takes no sort of the
# table, and the scopes' sums are then hashed at once. Summing each resident's
# day first, then the scopes', would need both to be hashed or both sorted
# (10M rows: 32 s against 13 s).
_REBUILD_ACTIVITY = """
INSERT INTO activity_daily (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT {campaign}, {scope}, coalesce({scope_ids}), local_date, count(*) FILTER (WHERE first_in_city),
       sum(co2e_kg), sum({points}), sum(actions)
FROM (SELECT *,
             {campaign} IS DISTINCT FROM lag({campaign}) OVER w OR resident_id IS DISTINCT FROM lag(resident_id) OVER w
             OR local_date IS DISTINCT FROM lag(local_date) OVER w OR city_id IS DISTINCT FROM lag(city_id) OVER w
             AS first_in_city
      FROM {days}
      WINDOW w AS (ORDER BY {campaign}, resident_id, local_date, city_id)) d
GROUP BY {by}local_date, GROUPING SETS ({sets})
HAVING coalesce({scope_ids}) IS NOT NULL
ORDER BY local_date
"""

_DAYS = dict(campaign="0", by="", points="0", days="resident_days WHERE NOT held")
_MEMBERS = dict(campaign="campaign_id", by="campaign_id, ", points="points", days="campaign_days")
REBUILD_DAY_TOTALS = _REBUILD_TOTALS.format(**_DAYS, sets="(city_id)", scope="'city'", scope_ids="city_id")
REBUILD_DAY_ACTIVITY = _REBUILD_ACTIVITY.format(
    **_DAYS,
    sets="(city_id), (district_id)",
    scope="CASE WHEN grouping(city_id) = 0 THEN 'city' ELSE 'district' END",
    scope_ids="city_id, district_id",
)
REBUILD_MEMBER_TOTALS = _REBUILD_TOTALS.format(
    **_MEMBERS,
    sets="(), (city_id)",
    scope="CASE WHEN grouping(city_id) = 0 THEN 'city' ELSE 'campaign' END",
    scope_ids="city_id, CASE WHEN grouping(city_id) = 1 THEN 0 END",
)
REBUILD_MEMBER_ACTIVITY = _REBUILD_ACTIVITY.format(
    **_MEMBERS,
    sets="(), (city_id), (district_id), (team_id)",
    scope="""CASE WHEN grouping(city_id) = 0 THEN 'city' WHEN grouping(district_id) = 0 THEN 'district'
                  WHEN grouping(team_id) = 0 THEN 'team' ELSE 'campaign' END""",
    scope_ids="city_id, district_id, team_id, CASE WHEN grouping(city_id, district_id, team_id) = 7 THEN 0 END",
)

# Bulk statements sort and hash millions of rows, and build indexes of them: in
# memory, not in spill files.
REBUILD_SETTINGS = "SET LOCAL work_mem = '1GB'; SET LOCAL maintenance_work_mem = '1GB'"

# The sums units left unfolded are part of what a rebuild recomputes.
REBUILD_CLEAR = """
TRUNCATE resident_days, campaign_days, totals_daily, activity_daily, scoring_pending_totals, scoring_pending_activity,
         scoring_team_flips, history_scores, history_challenges, history_advanced
"""

# Whether the last complete advance of the history ran for a cut-off before $1, or none did.
HISTORY_DUE = "SELECT coalesce(max(cutoff) FILTER (WHERE finished_at IS NOT NULL) < $1, true) FROM history_advanced"

# An advance for cut-off $1 starts going through the residents.
HISTORY_STARTED = """
INSERT INTO history_advanced (cutoff, finished_at) VALUES ($1, NULL)
ON CONFLICT (cutoff) DO UPDATE SET finished_at = NULL
"""

# It went through every resident, unless a rescore dropped its row meanwhile; it replaces older advances.
HISTORY_ADVANCED = """
WITH finished AS (UPDATE history_advanced SET finished_at = now() WHERE cutoff = $1 RETURNING cutoff)
DELETE FROM history_advanced WHERE cutoff <> $1 AND EXISTS (SELECT FROM finished)
"""

# The stored history lost rows (a rescore recomputed participants from all their days): advance it again.
HISTORY_STALE = "DELETE FROM history_advanced"

# The stored history of residents with ids in [$1, $2].
HISTORY_CLEAR = """
WITH scores AS (DELETE FROM history_scores WHERE resident_id BETWEEN $1 AND $2)
DELETE FROM history_challenges WHERE resident_id BETWEEN $1 AND $2
"""

# The tables a rebuild empties and fills again lose their indexes in between:
# one sort per index once a table is full costs a fraction of keeping each
# index up to date row by row (10M resident days: 36 s to insert and 10 s to
# index, against 70 s with the indexes in place).
REBUILT_TABLES = ["resident_days", "campaign_days", "totals_daily", "activity_daily"]

# For each index of the tables $1 (text[]): its table and the statements that
# drop it and create it again, a primary key as the constraint it backs. The
# statements are the catalog's own definitions, names quoted by format('%I').
INDEX_DEFINITIONS = """
SELECT t.relname AS table_name,
       CASE WHEN k.oid IS NULL THEN format('DROP INDEX %I', i.relname)
            ELSE format('ALTER TABLE %I DROP CONSTRAINT %I', t.relname, k.conname) END AS drop_statement,
       CASE WHEN k.oid IS NULL THEN pg_get_indexdef(i.oid)
            ELSE format('ALTER TABLE %I ADD CONSTRAINT %I %s', t.relname, k.conname, pg_get_constraintdef(k.oid))
       END AS create_statement
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
LEFT JOIN pg_constraint k ON k.conindid = i.oid AND k.conrelid = t.oid
WHERE t.oid = ANY($1::text[]::regclass[])
ORDER BY t.relname, i.relname
"""

# Grouping the whole action log by resident day: one sort of the log read in
# storage order (10M rows: 36 s, written to the table without its indexes)
# beats a hash table of 10M groups (55 s) and reading the log through the
# resident-day index (a random heap read per action); the sorted groups also
# arrive in the key order of resident_days.
SORTED_GROUPING = "SET LOCAL enable_hashagg = off; SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off"
PLANNER_DEFAULTS = (
    "SET LOCAL enable_hashagg TO DEFAULT; SET LOCAL enable_indexscan TO DEFAULT; "
    "SET LOCAL enable_bitmapscan TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT"
)

# Every participant's scores at once: their campaign days are sorted for the
# streaks anyway, and grouping them in that order takes half the time of hash
# tables of numeric sums, which outgrow even a rebuild's work_mem and spill
# (3M campaign days: 16 s against 31 s).
SORTED_SCORES = "SET LOCAL enable_hashagg = off"

# Every participant's challenges at once: their 3M campaign days are matched to
# the few thousand (rule, counted type) pairs through a hash of the pairs, not
# by sorting the days for a merge join, once per kind of rule (29 s to 26 s).
HASHED_RULES = "SET LOCAL enable_mergejoin = off"

# A rebuild's later statements join the tables it has just filled: they are
# planned on their new contents, not on the statistics of the old ones (none,
# on a new database).
ANALYZE_RESIDENT_DAYS = "ANALYZE resident_days"
ANALYZE_CAMPAIGN_DAYS = "ANALYZE campaign_days"
ANALYZE_REBUILT_SCORES = "ANALYZE campaign_scores, challenges_met"

# Every enrolment, each once: no conflict to look for (which took a third of
# the statement's time), and inserted in key order, which keeps both temporary
# tables' indexes growing at their right edge (1.47M participants: 7.8 s to
# mark before, 4.3 s now).
MARK_ALL_MEMBERS = (
    _MARK_MEMBERS.format(
        members="enrolments e CROSS JOIN LATERAL (SELECT e.campaign_id, e.resident_id) x",
        history="NULL",
        tail="ORDER BY x.campaign_id, x.resident_id",
    )
    + ";INSERT INTO changed_enrolments (campaign_id, resident_id) SELECT campaign_id, resident_id FROM dirty_members"
)

# --- Campaign days and scores -----------------------------------------------------------

MEMBER_DAYS_OUT = """
WITH gone AS (
    DELETE FROM campaign_days d USING dirty_member_days m
    WHERE d.campaign_id = m.campaign_id AND d.resident_id = m.resident_id AND d.local_date = m.local_date
    RETURNING d.*
)
INSERT INTO member_changes SELECT -1, * FROM gone
"""

# What counts for a campaign: the participant's unheld days of the campaign's
# action types, inside its days and from the local day of enrolment. Points are
# capped per type and day. {source} gives the participants (``m``, from
# dirty_members) and the resident days (``rd``) to take; {returning} hands the
# stored rows on or not.
_MEMBER_DAYS = """
INSERT INTO campaign_days (campaign_id, resident_id, local_date, action_type_id, city_id, district_id, team_id,
                           quantity, co2e_kg, points, actions)
SELECT m.campaign_id, m.resident_id, rd.local_date, rd.action_type_id, m.city_id, rd.district_id, m.team_id,
       rd.quantity, rd.co2e_kg,
       CASE WHEN x.max_points_per_day IS NULL THEN rd.quantity * x.points_per_unit::numeric
            ELSE least(rd.quantity * x.points_per_unit::numeric, x.max_points_per_day::numeric) END,
       rd.actions
FROM {source}
JOIN campaign_action_types x ON x.campaign_id = m.campaign_id AND x.action_type_id = rd.action_type_id
WHERE m.taking_part AND NOT rd.held AND rd.local_date BETWEEN m.first_day AND m.last_day
{returning}
"""

# A unit's resident days are those it just stored (day_changes) or, for a
# changed enrolment's days that did not change, the stored ones.
MEMBER_DAYS_IN = "WITH stored AS ({}) INSERT INTO member_changes SELECT 1, * FROM stored".format(
    _MEMBER_DAYS.format(
        source="""dirty_member_days d
    JOIN dirty_members m USING (campaign_id, resident_id)
    JOIN (SELECT resident_id, local_date, action_type_id, district_id, quantity, co2e_kg, actions, held
          FROM day_changes WHERE sign = 1
          UNION ALL
          SELECT resident_id, local_date, action_type_id, district_id, quantity, co2e_kg, actions, held
          FROM resident_days r
          WHERE r.resident_id IN (SELECT resident_id FROM changed_enrolments)
            AND NOT EXISTS (SELECT FROM dirty_days x
                            WHERE x.resident_id = r.resident_id AND x.local_date = r.local_date)
         ) rd ON rd.resident_id = d.resident_id AND rd.local_date = d.local_date""",
        returning="RETURNING *",
    )
)
REBUILD_MEMBER_DAYS = _MEMBER_DAYS.format(
    source="dirty_members m JOIN resident_days rd ON rd.resident_id = m.resident_id", returning=""
)

# Teams whose membership changes, counted again by the fold: the team a
# participant whose enrolment changed leaves and the one they join (the
# challenge statement leaves the flips of other members' standing in a team
# rule). Runs before SCORES, which stores the new team.
TOUCHED_TEAMS = """
INSERT INTO scoring_touched_teams (team_id)
SELECT s.team_id
FROM campaign_scores s
JOIN changed_enrolments m USING (campaign_id, resident_id)
LEFT JOIN enrolments e USING (campaign_id, resident_id)
WHERE s.team_id IS NOT NULL AND (e.left_at IS NOT NULL OR e.team_id IS DISTINCT FROM s.team_id)
UNION
SELECT e.team_id
FROM enrolments e
JOIN changed_enrolments m USING (campaign_id, resident_id)
LEFT JOIN campaign_scores s USING (campaign_id, resident_id)
WHERE e.team_id IS NOT NULL AND e.left_at IS NULL AND s.team_id IS DISTINCT FROM e.team_id
"""

# A participant's runs of consecutive active days in `days` (campaign_id,
# resident_id, local_date, points, co2e_kg, actions; one row a day), and their
# sums: points, kg, actions, active days, the longest run and the latest run.
# {continued} adds to a run's length the days it continues from before (0 when
# none), from {earlier}.
_RUNS = """runs AS (
    -- consecutive days share (day - rank): the gaps-and-islands trick; a later run has a larger one
    SELECT campaign_id, resident_id, run, min(local_date) AS first_day, max(local_date) AS last_day,
           count(*)::int AS days, sum(points) AS points, sum(co2e_kg) AS co2e_kg, sum(actions) AS actions
    FROM (SELECT *, local_date - date '2000-01-01'
                    - row_number() OVER (PARTITION BY campaign_id, resident_id ORDER BY local_date) AS run
          FROM days) x
    GROUP BY campaign_id, resident_id, run
), sums AS (
    SELECT r.campaign_id, r.resident_id, sum(r.points) AS points, sum(r.co2e_kg) AS co2e_kg,
           sum(r.actions)::int AS actions, sum(r.days)::int AS active_days, max(r.days + {continued}) AS longest,
           max(r.last_day) AS last_day,
           (max(ARRAY[r.run, r.days + {continued}]))[2]::int AS last_days  -- the latest run's days
    FROM runs r {earlier}
    GROUP BY r.campaign_id, r.resident_id
)"""

# A run that starts on the cut-off continues the stored history's latest run when that ended the day before.
_CONTINUED = "CASE WHEN r.first_day = h.cutoff AND h.last_run_end = h.cutoff - 1 THEN h.last_run_days ELSE 0 END"

# A unit reads a participant's days from their history's cut-off, or all of them
# (no cut-off). Written as one bound, not an OR, so the bound is part of the
# index condition: days before it are never fetched from the table.
_SINCE_CUTOFF = "WHERE d.local_date >= coalesce(m.history_cutoff, '-infinity')"

# A current participant's score: points, kg, actions, active days, the longest
# run of consecutive active days and the latest run (current while it ends
# today or yesterday), from their stored history before its cut-off, if any,
# and their days since. Those who left drop out. $1: now.
_SCORES = """
WITH earlier AS MATERIALIZED ({earlier}), days AS (
    SELECT d.campaign_id, d.resident_id, d.local_date,
           sum(d.points) AS points, sum(d.co2e_kg) AS co2e_kg, sum(d.actions) AS actions
    FROM dirty_members m JOIN campaign_days d USING (campaign_id, resident_id)
    {since}
    GROUP BY d.campaign_id, d.resident_id, d.local_date
), {runs}, gone AS (
    DELETE FROM campaign_scores s USING dirty_members m
    WHERE s.campaign_id = m.campaign_id AND s.resident_id = m.resident_id AND NOT m.taking_part
)
INSERT INTO campaign_scores AS s (campaign_id, resident_id, city_id, district_id, team_id, points, co2e_kg, actions,
                                  active_days, longest_streak, last_run_end, last_run_days, updated_at)
SELECT m.campaign_id, m.resident_id, m.city_id, m.district_id, m.team_id,
       coalesce(h.points, 0) + coalesce(t.points, 0), coalesce(h.co2e_kg, 0) + coalesce(t.co2e_kg, 0),
       coalesce(h.actions, 0) + coalesce(t.actions, 0), coalesce(h.active_days, 0) + coalesce(t.active_days, 0),
       coalesce(greatest(h.longest_streak, t.longest), 0), coalesce(t.last_day, h.last_run_end),
       coalesce(t.last_days, h.last_run_days, 0), $1
FROM dirty_members m
LEFT JOIN sums t ON t.campaign_id = m.campaign_id AND t.resident_id = m.resident_id
LEFT JOIN earlier h ON h.campaign_id = m.campaign_id AND h.resident_id = m.resident_id
WHERE m.taking_part
ON CONFLICT (campaign_id, resident_id) DO UPDATE
SET city_id = excluded.city_id, district_id = excluded.district_id, team_id = excluded.team_id,
    points = excluded.points, co2e_kg = excluded.co2e_kg, actions = excluded.actions,
    active_days = excluded.active_days, longest_streak = excluded.longest_streak,
    last_run_end = excluded.last_run_end, last_run_days = excluded.last_run_days, updated_at = excluded.updated_at
WHERE (s.city_id, s.district_id, s.team_id, s.points, s.co2e_kg, s.actions, s.active_days, s.longest_streak,
       s.last_run_end, s.last_run_days)
      IS DISTINCT FROM
      (excluded.city_id, excluded.district_id, excluded.team_id, excluded.points, excluded.co2e_kg, excluded.actions,
       excluded.active_days, excluded.longest_streak, excluded.last_run_end, excluded.last_run_days)
"""
SCORES = _SCORES.format(
    earlier="""SELECT h.* FROM dirty_members m JOIN history_scores h USING (campaign_id, resident_id)
    WHERE m.history_cutoff IS NOT NULL""",
    since=_SINCE_CUTOFF,
    runs=_RUNS.format(
        continued=_CONTINUED,
        earlier="LEFT JOIN earlier h ON h.campaign_id = r.campaign_id AND h.resident_id = r.resident_id",
    ),
)
# A rebuild has no stored history: every participant from all their days,
# grouped in the days' order.
REBUILD_SCORES = _SCORES.format(
    earlier="SELECT * FROM history_scores WHERE false", since="", runs=_RUNS.format(continued="0", earlier="")
)

# --- History before a cut-off ($1, a Monday) ------------------------------------------------

# The score parts of participants with resident ids in [$2, $3] over their campaign days before the cut-off.
HISTORY_SCORES = (
    """
WITH days AS (
    SELECT campaign_id, resident_id, local_date, sum(points) AS points, sum(co2e_kg) AS co2e_kg, sum(actions) AS actions
    FROM campaign_days WHERE local_date < $1 AND resident_id BETWEEN $2 AND $3
    GROUP BY campaign_id, resident_id, local_date
), """
    + _RUNS.format(continued="0", earlier="")
    + """, newest AS (
    SELECT campaign_id, max(id) AS id FROM challenges GROUP BY campaign_id
)
INSERT INTO history_scores (campaign_id, resident_id, cutoff, rules_through, points, co2e_kg, actions, active_days,
                            longest_streak, last_run_end, last_run_days)
SELECT t.campaign_id, t.resident_id, $1, coalesce(n.id, 0), t.points, t.co2e_kg, t.actions, t.active_days,
       t.longest, t.last_day, t.last_days
FROM sums t LEFT JOIN newest n USING (campaign_id)
"""
)

# In campaign order: parts running side by side then wait for each other's
# new rows in one order, never in a circle.
STANDINGS_DUE = """
INSERT INTO standings_due (campaign_id) SELECT DISTINCT campaign_id FROM dirty_members ORDER BY campaign_id
ON CONFLICT DO NOTHING
"""

# --- Challenges ---------------------------------------------------------------------------

# The rule a challenge ``ch`` judges each participant by: its own, or a team
# rule's member rule.
_RULE_THAT_COUNTS = "CASE WHEN ch.rule ->> 'kind' = 'team_participation' THEN ch.rule -> 'member_rule' ELSE ch.rule END"

# The action types a challenge counts: of the campaign's types, those its rule
# (or a team rule's member rule) lists by code or by category. Needs `rules`
# with id, campaign_id and r (the rule that counts).
_COUNTED = """
counted AS MATERIALIZED (
    SELECT rules.id AS challenge_id, x.action_type_id
    FROM rules
    JOIN campaign_action_types x ON x.campaign_id = rules.campaign_id
    JOIN action_types t ON t.id = x.action_type_id
    WHERE t.code IN (SELECT jsonb_array_elements_text(coalesce(rules.r -> 'action_types', '[]')))
       OR t.category IN (SELECT jsonb_array_elements_text(coalesce(rules.r -> 'categories', '[]')))
)"""

# A rule's shape: its kind, window (day, week or the whole campaign) and whether
# it adds kg CO2e. Needs `rules` with id, campaign_id and r (the rule that counts).
_SHAPED = """
shaped AS (
    SELECT rules.*, r ->> 'kind' AS rule_kind,
           coalesce(r ->> 'window', CASE r ->> 'kind' WHEN 'personal' THEN 'week' ELSE 'campaign' END) AS win,
           r ->> 'kind' = 'quantity' AND r ->> 'measure' = 'co2e_kg' AS by_kg
    FROM rules
)"""


def _rules_and_days(challenges: str, days: str) -> str:
    """The start of a statement that judges challenges: `rules` (id, campaign_id,
    ``r`` the rule that counts, and code and kind) of the challenges ``ch``
    that ``challenges`` selects, their `shaped` and `counted` types, and `days`
    (campaign_id, resident_id, local_date, action_type_id, quantity, co2e_kg) of
    the campaign days ``days`` selects."""
    return (
        """
WITH rules AS (
    SELECT ch.id, ch.campaign_id, ch.code, ch.rule ->> 'kind' AS kind, """
        + _RULE_THAT_COUNTS
        + """ AS r
    FROM challenges ch WHERE """
        + challenges
        + """
), """
        + _SHAPED
        + ", "
        + _COUNTED
        + """, days AS (
    SELECT campaign_id, resident_id, local_date, action_type_id, quantity, co2e_kg
    FROM campaign_days WHERE """
        + days
        + """
)"""
    )


# The best window of each rule for each participant in `days` (campaign_id,
# resident_id, local_date, action_type_id, quantity, co2e_kg), by challenge,
# campaign and resident: the window's total of the counted types (a day, an
# ISO week from Monday, or the whole campaign), or for a distinct-days rule the
# campaign's days with a counted action. A participant who logs daily has a
# hundred days and more, each counted by several rules: weeks and campaigns
# add up each participant's totals by type and week, not every day again for
# every rule; distinct-days rules, which always count the whole campaign,
# count each participant's distinct (rule, day) pairs with no window to
# compute per row.
_WINDOWS = """
windows AS (
    SELECT s.id AS challenge_id, s.campaign_id, d.resident_id,
           sum(CASE WHEN s.by_kg THEN d.co2e_kg ELSE d.quantity END) AS value
    FROM days d
    JOIN shaped s ON s.campaign_id = d.campaign_id AND s.win = 'day' AND s.rule_kind <> 'distinct_days'
    JOIN counted c ON c.challenge_id = s.id AND c.action_type_id = d.action_type_id
    GROUP BY s.id, s.campaign_id, d.resident_id, d.local_date
    UNION ALL
    SELECT s.id, s.campaign_id, w.resident_id, sum(CASE WHEN s.by_kg THEN w.co2e_kg ELSE w.quantity END)
    FROM (SELECT campaign_id, resident_id, action_type_id,
                 local_date - (extract(isodow FROM local_date)::int - 1) AS week,
                 sum(quantity) AS quantity, sum(co2e_kg) AS co2e_kg
          FROM days GROUP BY campaign_id, resident_id, action_type_id, week) w
    JOIN shaped s ON s.campaign_id = w.campaign_id AND s.win <> 'day' AND s.rule_kind <> 'distinct_days'
    JOIN counted c ON c.challenge_id = s.id AND c.action_type_id = w.action_type_id
    GROUP BY s.id, s.campaign_id, w.resident_id, CASE WHEN s.win = 'week' THEN w.week END
    UNION ALL
    SELECT challenge_id, campaign_id, resident_id, count(*)
    FROM (SELECT DISTINCT s.id AS challenge_id, s.campaign_id, d.resident_id, d.local_date
          FROM days d
          JOIN shaped s ON s.campaign_id = d.campaign_id AND s.rule_kind = 'distinct_days'
          JOIN counted c ON c.challenge_id = s.id AND c.action_type_id = d.action_type_id) x
    GROUP BY challenge_id, campaign_id, resident_id
)"""
_BEST = (
    _WINDOWS
    + """, best AS (
    SELECT challenge_id, campaign_id, resident_id, max(value) AS value
    FROM windows GROUP BY challenge_id, campaign_id, resident_id
)"""
)
# The same for a unit's participants, whose `days` start at their stored
# history's cut-off: with each rule's value before it, the greater of the two
# for a day or week window, their sum for the campaign's and for distinct days.
_UNIT_BEST = (
    _WINDOWS
    + """, best AS (
    SELECT w.challenge_id, w.campaign_id, w.resident_id,
           CASE WHEN s.win <> 'campaign' AND s.rule_kind <> 'distinct_days' THEN max(w.value)
                ELSE sum(w.value) END AS value
    FROM (SELECT * FROM windows
          UNION ALL
          SELECT h.challenge_id, m.campaign_id, m.resident_id, h.value
          FROM dirty_members m
          JOIN history_challenges h ON h.resident_id = m.resident_id
          JOIN shaped s ON s.id = h.challenge_id AND s.campaign_id = m.campaign_id
          WHERE m.history_cutoff IS NOT NULL) w
    JOIN shaped s ON s.id = w.challenge_id
    GROUP BY w.challenge_id, w.campaign_id, w.resident_id, s.win, s.rule_kind
)"""
)

# The same for a rebuild, which judges every participant, most with a few
# days (at country scale 2.6 on average): each day joined to every rule
# counting its type, grouped by sorting. Adding up weeks first, as units do,
# gains nothing there: the challenge statement took 39 s that way, 30 s so.
# The counted days are not materialised: each branch of the windows joins the
# days to its own rules, so the 11M rows of a rebuild are never written out
# (the challenge statement took 33 s with them, 29 s without).
_REBUILD_BEST = """
counted_days AS NOT MATERIALIZED (
    SELECT s.id AS challenge_id, s.campaign_id, d.resident_id, d.local_date, s.rule_kind = 'distinct_days' AS by_days,
           -- the window: a day, an ISO week from Monday, or (NULL) the whole campaign
           CASE s.win WHEN 'day' THEN d.local_date
                      WHEN 'week' THEN d.local_date - (extract(isodow FROM d.local_date)::int - 1) END AS window_start,
           CASE WHEN s.by_kg THEN d.co2e_kg ELSE d.quantity END AS value
    FROM days d
    JOIN shaped s ON s.campaign_id = d.campaign_id
    JOIN counted c ON c.challenge_id = s.id AND c.action_type_id = d.action_type_id
), windows AS (
    SELECT challenge_id, campaign_id, resident_id, sum(value) AS value
    FROM counted_days WHERE NOT by_days
    GROUP BY challenge_id, campaign_id, resident_id, window_start
    UNION ALL
    SELECT challenge_id, campaign_id, resident_id, count(DISTINCT local_date)
    FROM counted_days WHERE by_days
    GROUP BY challenge_id, campaign_id, resident_id, window_start
), best AS (
    SELECT challenge_id, campaign_id, resident_id, max(value) AS value
    FROM windows GROUP BY challenge_id, campaign_id, resident_id
)"""

# A rule's target for participant ``e`` (enrolment): the rule's, or for a
# personal goal the share of their baseline answer.
_TARGET = """
CASE s.rule_kind WHEN 'quantity' THEN (s.r ->> 'target')::numeric
                 WHEN 'distinct_days' THEN (s.r ->> 'days')::numeric
                 ELSE round(coalesce((e.baseline ->> (s.r ->> 'question'))::numeric, 0)
                            * (s.r ->> 'share')::numeric, 6) END"""


def _challenges(best: str, stored: str, since: str = "") -> str:
    """Challenges judged per participant, the best windows found by ``best``:
    quantity, distinct days, personal, and the member rule of team
    participation. A participant meets one while the best window's value
    reaches a target above zero; challenges_met keeps when they first did, and
    loses the row when the value falls back (an action deleted). Only the pairs
    with a value are judged, since without one nothing reaches a target above
    zero, and set against the successes stored for the unit's participants (a
    rebuild: 2.9M pairs with a value of 5.8M participant-rule pairs). New
    successes go to `news`. ``stored`` finds the successes stored for each
    (participant ``e``, rule ``s``) as ``p``; ``since`` limits the days read
    (``d``, of participant ``m``). $1: now."""
    return (
        """
WITH rules AS (
    SELECT ch.id, ch.campaign_id, ch.rule ->> 'kind' = 'team_participation' AS for_team,
           """
        + _RULE_THAT_COUNTS
        + """ AS r
    FROM challenges ch
    WHERE ch.active AND ch.rule ->> 'kind' <> 'collective'
      AND ch.campaign_id IN (SELECT campaign_id FROM dirty_members)
), """
        + _SHAPED
        + ", "
        + _COUNTED
        + """, days AS MATERIALIZED (
    -- each participant's days read once, then matched to every rule of their campaign
    SELECT d.campaign_id, d.resident_id, d.local_date, d.action_type_id, d.quantity, d.co2e_kg
    FROM dirty_members m JOIN campaign_days d USING (campaign_id, resident_id)
    """
        + since
        + """
), """
        + best
        + """, met AS MATERIALIZED (
    -- judged where there is a value: without one, nothing reaches a target above zero
    SELECT s.id AS challenge_id, e.resident_id, s.for_team, e.team_id
    FROM best b
    JOIN shaped s ON s.id = b.challenge_id
    JOIN dirty_members e ON e.campaign_id = b.campaign_id AND e.resident_id = b.resident_id AND e.taking_part
    CROSS JOIN LATERAL (SELECT """
        + _TARGET
        + """ AS target) t
    WHERE b.value >= t.target AND t.target > 0
), was AS MATERIALIZED (
    SELECT p.challenge_id, p.resident_id, s.for_team, e.team_id
    FROM dirty_members e
    JOIN shaped s ON s.campaign_id = e.campaign_id
    """
        + stored
        + """
    WHERE e.taking_part
), flipped AS (
    -- a member now meets a team rule's member rule, or no longer does: their team's count moves by one
    INSERT INTO scoring_team_flips (team_id, challenge_id, delta)
    SELECT coalesce(m.team_id, w.team_id), challenge_id, CASE WHEN w.resident_id IS NULL THEN 1 ELSE -1 END
    FROM (SELECT * FROM met WHERE for_team) m
    FULL JOIN (SELECT * FROM was WHERE for_team) w USING (challenge_id, resident_id)
    WHERE (m.resident_id IS NULL OR w.resident_id IS NULL) AND coalesce(m.team_id, w.team_id) IS NOT NULL
), gone AS (
    -- fallen back, or no longer taking part
    DELETE FROM challenges_met p
    USING (SELECT challenge_id, resident_id FROM was
           EXCEPT
           SELECT challenge_id, resident_id FROM met
           UNION ALL
           SELECT ch.id, m.resident_id
           FROM dirty_members m JOIN challenges ch ON ch.campaign_id = m.campaign_id
           WHERE NOT m.taking_part) AS x
    WHERE p.challenge_id = x.challenge_id AND p.resident_id = x.resident_id
), stored AS (
    INSERT INTO challenges_met (challenge_id, resident_id, met_at)
    SELECT m.challenge_id, m.resident_id, $1
    FROM met m LEFT JOIN was w USING (challenge_id, resident_id)
    WHERE w.resident_id IS NULL
    ON CONFLICT DO NOTHING
    RETURNING challenge_id, resident_id
)
INSERT INTO news (resident_id, kind, subject_id)
SELECT s.resident_id, 'challenge', s.challenge_id
FROM stored s JOIN shaped r ON r.id = s.challenge_id
WHERE NOT r.for_team
"""
    )


# A unit looks each (participant, rule) pair's success up by key, row by row
# (``OFFSET 0`` keeps the planner from merging it into a join). As a join, a
# unit whose participants were mostly in the national campaign was planned as
# a read of every stored success of its rules (423,000 rows for 1,300
# participants); a rebuild's 5.8M pairs are joined by hash.
_SUCCESS_BY_KEY = """CROSS JOIN LATERAL (
        SELECT p.challenge_id, p.resident_id FROM challenges_met p
        WHERE p.challenge_id = s.id AND p.resident_id = e.resident_id OFFSET 0) p"""
CHALLENGES = _challenges(_UNIT_BEST, _SUCCESS_BY_KEY, since=_SINCE_CUTOFF)
REBUILD_CHALLENGES = _challenges(
    _REBUILD_BEST, "JOIN challenges_met p ON p.challenge_id = s.id AND p.resident_id = e.resident_id"
)

# Every challenge's value for participants with resident ids in [$2, $3] over
# their campaign days before the cut-off, found as a rebuild finds them.
HISTORY_CHALLENGES = (
    _rules_and_days("ch.rule ->> 'kind' <> 'collective'", "local_date < $1 AND resident_id BETWEEN $2 AND $3")
    + ", "
    + _REBUILD_BEST
    + """
INSERT INTO history_challenges (resident_id, challenge_id, value)
SELECT resident_id, challenge_id, value FROM best
"""
)

# A rebuild counts every team with members again.
EVERY_TEAM = """
INSERT INTO scoring_touched_teams (team_id)
SELECT DISTINCT team_id FROM enrolments WHERE team_id IS NOT NULL AND left_at IS NULL
"""

# Team participation: the share of a team's current members meeting the member
# rule. The teams units touched (taken off their list) are counted again from
# their members, as is a team with a flip but no count yet; the others' counts
# move by their members' flips (taken off theirs), which costs nothing per
# member: a tick's flips touched a hundred teams of two hundred members each
# at country scale, and counting those again was a tenth of the fold. A team
# newly meeting the rule tells every member. $1: now.
TEAMS = """
WITH touched AS (
    DELETE FROM scoring_touched_teams RETURNING team_id
), flips AS (
    DELETE FROM scoring_team_flips RETURNING team_id, challenge_id, delta
), counted_again AS (
    SELECT team_id FROM touched
    UNION
    SELECT f.team_id FROM flips f
    WHERE NOT EXISTS (SELECT FROM team_progress p WHERE p.challenge_id = f.challenge_id AND p.team_id = f.team_id)
), judged AS (
    SELECT ch.id AS challenge_id, t.id AS team_id, (ch.rule ->> 'share')::numeric AS share,
           count(e.resident_id)::int AS members, count(p.resident_id)::int AS members_met
    FROM counted_again tt
    JOIN teams t ON t.id = tt.team_id
    JOIN challenges ch ON ch.campaign_id = t.campaign_id AND ch.active AND ch.rule ->> 'kind' = 'team_participation'
    LEFT JOIN enrolments e ON e.team_id = t.id AND e.left_at IS NULL
    LEFT JOIN challenges_met p ON p.challenge_id = ch.id AND p.resident_id = e.resident_id
    GROUP BY ch.id, t.id
    UNION ALL
    SELECT p.challenge_id, p.team_id, (ch.rule ->> 'share')::numeric, p.members, p.members_met + f.delta
    FROM (SELECT team_id, challenge_id, sum(delta)::int AS delta FROM flips
          WHERE team_id NOT IN (SELECT team_id FROM counted_again)
          GROUP BY team_id, challenge_id) f
    JOIN team_progress p ON p.challenge_id = f.challenge_id AND p.team_id = f.team_id
    JOIN challenges ch ON ch.id = f.challenge_id AND ch.active
    WHERE f.delta <> 0
), stored AS (
    INSERT INTO team_progress AS p (challenge_id, team_id, members, members_met, share, met_at)
    SELECT challenge_id, team_id, members, members_met,
           CASE WHEN members = 0 THEN 0 ELSE round(members_met::numeric / members, 6) END,
           CASE WHEN members > 0 AND members_met::numeric / members >= share THEN $1::timestamptz END
    FROM judged
    ON CONFLICT (challenge_id, team_id) DO UPDATE
    SET members = excluded.members, members_met = excluded.members_met, share = excluded.share,
        met_at = CASE WHEN excluded.met_at IS NULL THEN NULL ELSE coalesce(p.met_at, excluded.met_at) END
    WHERE (p.members, p.members_met, p.met_at IS NULL)
          IS DISTINCT FROM (excluded.members, excluded.members_met, excluded.met_at IS NULL)
    RETURNING p.challenge_id, p.team_id, p.met_at
)
INSERT INTO news (resident_id, kind, subject_id)
SELECT e.resident_id, 'team_challenge', s.challenge_id
FROM stored s JOIN enrolments e ON e.team_id = s.team_id AND e.left_at IS NULL
WHERE s.met_at = $1
"""

# Badges of the {candidates} (campaign_id, resident_id). A badge is kept once
# earned; one earned before is skipped by the conflict, not by a NOT EXISTS on
# earned_badges: on a new database, whose statistics said that table was empty,
# that was planned as a scan of it per candidate, and each scan read the rows
# the statement had inserted so far (a first rebuild ran for over half an
# hour). The candidates' scores are read first, by key: a few thousand lookups,
# not a scan of every score. The badges' rules are read once, each challenge
# badge's challenge found by its code, and the candidates are matched to them
# by a join: a rebuild's 1.4M candidates took 8.5 s through a lookup of their
# campaign's badges and challenges each, 4.4 s so. {met} gives ``p``, the
# candidate's success in a challenge badge's challenge: for a unit's few
# thousand candidates looked up by key, row by row (``OFFSET 0`` keeps the
# planner from turning it into a scan of every success, as it did with a join
# or an EXISTS); for a rebuild's, joined by hash. $1: now.
_BADGES = """
WITH candidates AS MATERIALIZED (
    SELECT s.campaign_id, s.resident_id, s.city_id, s.team_id, s.actions, s.longest_streak
    FROM ({candidates}) c JOIN campaign_scores s USING (campaign_id, resident_id)
), rules AS MATERIALIZED (
    -- each active badge's threshold, or the challenge it is for and that challenge's kind
    SELECT b.id, b.campaign_id, b.rule ->> 'kind' AS kind, (b.rule ->> 'actions')::int AS actions,
           (b.rule ->> 'days')::int AS days, ch.id AS challenge_id, ch.rule ->> 'kind' AS challenge_kind
    FROM badges b
    LEFT JOIN challenges ch ON ch.campaign_id = b.campaign_id AND ch.code = b.rule ->> 'challenge'
    WHERE b.active AND b.campaign_id IN (SELECT campaign_id FROM candidates)
), earned AS (
    INSERT INTO earned_badges (badge_id, resident_id, earned_at)
    SELECT b.id, s.resident_id, $1
    FROM candidates s
    JOIN rules b ON b.campaign_id = s.campaign_id
    {met}
    WHERE CASE b.kind
        WHEN 'first_action' THEN s.actions >= 1
        WHEN 'actions_count' THEN s.actions >= b.actions
        WHEN 'streak' THEN s.longest_streak >= b.days
        ELSE CASE b.challenge_kind
            WHEN 'team_participation' THEN EXISTS (
                SELECT 1 FROM team_progress tp
                WHERE tp.challenge_id = b.challenge_id AND tp.team_id = s.team_id AND tp.met_at IS NOT NULL)
            WHEN 'collective' THEN EXISTS (
                SELECT 1 FROM collective_progress cp
                WHERE cp.challenge_id = b.challenge_id AND cp.scope_id IN (0, s.city_id) AND cp.met_at IS NOT NULL)
            ELSE p.resident_id IS NOT NULL
            END
        END
    ON CONFLICT DO NOTHING
    RETURNING badge_id, resident_id
)
INSERT INTO news (resident_id, kind, subject_id) SELECT resident_id, 'badge', badge_id FROM earned
"""

_DIRTY_MEMBERS = "SELECT campaign_id, resident_id FROM dirty_members"
_MET_BY_KEY = """LEFT JOIN LATERAL (
        SELECT p.resident_id FROM challenges_met p
        WHERE p.challenge_id = b.challenge_id AND p.resident_id = s.resident_id OFFSET 0) p ON true"""
BADGES = _BADGES.format(candidates=_DIRTY_MEMBERS, met=_MET_BY_KEY)
REBUILD_BADGES = _BADGES.format(
    candidates=_DIRTY_MEMBERS,
    met="LEFT JOIN challenges_met p ON p.challenge_id = b.challenge_id AND p.resident_id = s.resident_id",
)
# The members of teams that just met a challenge (in the fold, after TEAMS).
TEAM_BADGES = _BADGES.format(
    candidates="""SELECT DISTINCT ch.campaign_id, n.resident_id FROM news n JOIN challenges ch ON ch.id = n.subject_id
    WHERE n.kind = 'team_challenge'""",
    met=_MET_BY_KEY,
)

# One achievement message per piece of news, in the resident's language. $1:
# now, $2: {"challenge"|"team_challenge"|"goal"|"badge": {"title": {...}, "body": {...}}}
# with {title} and {campaign} filled in. The dedupe key makes it once per resident.
NOTIFY = """
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
"""

NEWS_COUNT = "SELECT count(*) FROM news"

# --- Standings and collective goals (per campaign, $1) ---------------------------------------

# The campaign waiting longest; campaigns with final standings are only taken off the list.
# Standings that took a second or more wait, from when they were computed, ten
# times as long as they took (the rest of the list goes on meanwhile). $1: now.
CLAIM_STANDINGS = """
WITH taken AS (
    DELETE FROM standings_due d
    WHERE d.campaign_id = (
        SELECT u.campaign_id FROM standings_due u
        WHERE NOT EXISTS (SELECT FROM standings_computed s
                          WHERE s.campaign_id = u.campaign_id AND s.took >= interval '1 second'
                            AND s.computed_at + s.took * 10 > $1)
        ORDER BY u.since LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING d.campaign_id
)
SELECT t.campaign_id,
       EXISTS (SELECT 1 FROM standings_computed s WHERE s.campaign_id = t.campaign_id AND s.final) AS final
FROM taken t
"""

# What changed in the standings of campaign $1, in a temporary table: each
# participant by points, and teams, districts and cities by points per member,
# as they are now, set against the stored entries in one pass (a hash join of
# both), keeping only the entries that are new or differ, and those gone. A
# national campaign's 990,000 entries are compared in about 0.7 s; comparing
# them entry by entry in a MERGE took 1.8 s, and finding those gone 0.8 s more.
STANDINGS_CHANGES_TABLE = """
CREATE TEMP TABLE standings_changes (LIKE standings, gone boolean NOT NULL) ON COMMIT DROP;
"""
STANDINGS_COMPARED = """
WITH scored AS (
    SELECT 'individual' AS scope, resident_id AS subject_id, points AS score, points, co2e_kg, 1 AS members,
           (actions > 0)::int AS active_members
    FROM campaign_scores WHERE campaign_id = $1
    UNION ALL
    SELECT scope, subject_id, score, points, co2e_kg, members, active_members
    FROM (
        SELECT CASE WHEN grouping(team_id) = 0 THEN 'team' WHEN grouping(district_id) = 0 THEN 'district'
                    ELSE 'city' END AS scope,
               coalesce(team_id, district_id, city_id) AS subject_id,
               round(sum(points) / count(*), 6) AS score, sum(points) AS points, sum(co2e_kg) AS co2e_kg,
               count(*)::int AS members, count(*) FILTER (WHERE actions > 0)::int AS active_members
        FROM campaign_scores WHERE campaign_id = $1
        GROUP BY GROUPING SETS ((team_id), (district_id), (city_id))
    ) g
    WHERE subject_id IS NOT NULL
)
INSERT INTO standings_changes (campaign_id, scope, subject_id, score, points, co2e_kg, members, active_members, gone)
SELECT $1, coalesce(n.scope, s.scope), coalesce(n.subject_id, s.subject_id), coalesce(n.score, s.score),
       coalesce(n.points, s.points), coalesce(n.co2e_kg, s.co2e_kg), coalesce(n.members, s.members),
       coalesce(n.active_members, s.active_members), n.subject_id IS NULL
FROM scored n
FULL JOIN (SELECT * FROM standings WHERE campaign_id = $1) s ON s.scope = n.scope AND s.subject_id = n.subject_id
WHERE (n.score, n.points, n.co2e_kg, n.members, n.active_members)
      IS DISTINCT FROM (s.score, s.points, s.co2e_kg, s.members, s.active_members)
"""

# Only the entries that changed are written (after a few ticks a national
# campaign's ranks have nearly all moved, but few of its scores have: a run
# writes megabytes of WAL, against 492 MB rewriting every entry).
STANDINGS_CHANGED = """
MERGE INTO standings s
USING standings_changes c ON s.campaign_id = c.campaign_id AND s.scope = c.scope AND s.subject_id = c.subject_id
WHEN MATCHED AND c.gone THEN DELETE
WHEN MATCHED THEN
    UPDATE SET score = c.score, points = c.points, co2e_kg = c.co2e_kg, members = c.members,
               active_members = c.active_members
WHEN NOT MATCHED AND NOT c.gone THEN
    INSERT (campaign_id, scope, subject_id, score, points, co2e_kg, members, active_members)
    VALUES (c.campaign_id, c.scope, c.subject_id, c.score, c.points, c.co2e_kg, c.members, c.active_members)
"""

# Each scope's distinct scores and how many entries are above each: a rank is
# that count plus one, so ties share a rank (1, 2, 2, 4). Returns each scope's
# entries.
STANDINGS_LEVELS_CLEAR = "DELETE FROM standings_levels WHERE campaign_id = $1"
STANDINGS_LEVELS = """
WITH counted AS (
    SELECT scope, score, count(*) AS entries FROM standings WHERE campaign_id = $1 GROUP BY scope, score
), stored AS (
    INSERT INTO standings_levels (campaign_id, scope, score, above)
    SELECT $1, scope, score, (sum(entries) OVER (PARTITION BY scope ORDER BY score DESC) - entries)::int
    FROM counted
)
SELECT coalesce(jsonb_object_agg(scope, entries), '{}') FROM (
    SELECT scope, sum(entries)::int AS entries FROM counted GROUP BY scope) s
"""

# $4: each scope's entries; took: since the transaction began (the claim, then the standings).
STANDINGS_COMPUTED = """
INSERT INTO standings_computed (campaign_id, computed_at, sizes, final, took)
VALUES ($1, $2, $4, $3, clock_timestamp() - now())
ON CONFLICT (campaign_id) DO UPDATE
SET computed_at = excluded.computed_at, sizes = excluded.sizes, final = excluded.final, took = excluded.took
"""

# Collective goals of campaign $1 from its running totals, for the whole
# campaign (scope_id 0) or each of its cities. A goal newly reached tells
# the participants it concerns. $2: now, $3: the "goal" template.
COLLECTIVE = (
    """
WITH rules AS (
    SELECT ch.id, ch.campaign_id, ch.rule AS r, coalesce(ch.rule ->> 'scope', 'campaign') AS scope,
           coalesce(ch.rule ->> 'measure', 'co2e_kg') AS measure, (ch.rule ->> 'target')::numeric AS target
    FROM challenges ch WHERE ch.campaign_id = $1 AND ch.active AND ch.rule ->> 'kind' = 'collective'
), """
    + _COUNTED
    + """, subjects AS (
    SELECT rules.*, 0 AS scope_id FROM rules WHERE scope = 'campaign'
    UNION ALL
    SELECT rules.*, cc.city_id FROM rules JOIN campaign_cities cc ON cc.campaign_id = rules.campaign_id
    WHERE scope = 'city'
), by_type AS (
    -- the campaign's totals by scope and type, read in one pass: looked up per subject and type, the
    -- national campaign's 4,240 city-type pairs each scanned every day and type of their city
    SELECT scope, scope_id, action_type_id, sum(co2e_kg) AS co2e_kg, sum(quantity) AS quantity
    FROM totals_daily WHERE campaign_id = $1 AND scope IN ('campaign', 'city')
    GROUP BY scope, scope_id, action_type_id
), sums AS (
    SELECT s.id AS challenge_id, s.scope_id, s.target,
           coalesce(sum(CASE WHEN s.measure = 'co2e_kg' THEN t.co2e_kg ELSE t.quantity END), 0) AS value
    FROM subjects s
    LEFT JOIN counted c ON c.challenge_id = s.id
    LEFT JOIN by_type t ON t.action_type_id = c.action_type_id AND t.scope = s.scope AND t.scope_id = s.scope_id
    GROUP BY s.id, s.scope_id, s.target
), stored AS (
    INSERT INTO collective_progress AS p (challenge_id, scope_id, value, target, met_at, computed_at)
    SELECT challenge_id, scope_id, value, target, CASE WHEN value >= target THEN $2::timestamptz END, $2
    FROM sums
    ON CONFLICT (challenge_id, scope_id) DO UPDATE
    SET value = excluded.value, target = excluded.target, computed_at = excluded.computed_at,
        met_at = CASE WHEN excluded.met_at IS NULL THEN NULL ELSE coalesce(p.met_at, excluded.met_at) END
    RETURNING p.challenge_id, p.scope_id, p.met_at
)
SELECT challenge_id, scope_id FROM stored WHERE met_at = $2
"""
)

# Goals just reached ($2 challenges, $3 scopes: 0 for the whole campaign, else a
# city) of campaign $1 at $4, to announce to everyone they concern.
GOALS_REACHED = """
INSERT INTO goal_announcements (challenge_id, scope_id, campaign_id, reached_at)
SELECT g.challenge_id, g.scope_id, $1, $4 FROM unnest($2::int[], $3::int[]) AS g (challenge_id, scope_id)
ON CONFLICT (challenge_id, scope_id) DO NOTHING
"""

# The campaign whose goals wait longest to be announced.
GOAL_CAMPAIGN = "SELECT campaign_id FROM goal_announcements ORDER BY reached_at LIMIT 1"

# The next span of $2 resident ids of campaign $1's participants, from the
# first not told of every goal yet, get the news of each goal of theirs (the
# campaign's, their city's) and the badges for them, in one pass over the
# span; the goals move past it, or are done when no participant is left after
# it.
GOAL_SPAN = """
WITH goals AS (
    SELECT * FROM goal_announcements WHERE campaign_id = $1
), span AS (
    SELECT first - 1 AS low, first - 1 + $2 AS high
    FROM (SELECT min(s.resident_id) AS first FROM campaign_scores s
          WHERE s.campaign_id = $1 AND s.resident_id > (SELECT min(announced_through) FROM goals)) f
), concerned AS MATERIALIZED (
    SELECT g.challenge_id, s.resident_id, g.reached_at
    FROM span
    JOIN campaign_scores s ON s.campaign_id = $1 AND s.resident_id > span.low AND s.resident_id <= span.high
    JOIN goals g ON s.resident_id > g.announced_through AND (g.scope_id = 0 OR g.scope_id = s.city_id)
), earned AS (
    INSERT INTO earned_badges (badge_id, resident_id, earned_at)
    SELECT b.id, c.resident_id, c.reached_at
    FROM concerned c
    JOIN challenges ch ON ch.id = c.challenge_id
    JOIN badges b ON b.campaign_id = ch.campaign_id AND b.rule ->> 'challenge' = ch.code
    WHERE b.active AND b.rule ->> 'kind' = 'challenge_met'
    ON CONFLICT DO NOTHING
    RETURNING badge_id, resident_id
), remaining AS (
    SELECT EXISTS (SELECT FROM campaign_scores s, span WHERE s.campaign_id = $1 AND s.resident_id > span.high) AS more
), moved AS (
    UPDATE goal_announcements g SET announced_through = greatest(g.announced_through, span.high)
    FROM span, remaining WHERE g.campaign_id = $1 AND remaining.more
), done AS (
    DELETE FROM goal_announcements g USING remaining WHERE g.campaign_id = $1 AND NOT remaining.more
)
INSERT INTO news (resident_id, kind, subject_id)
SELECT resident_id, 'goal', challenge_id FROM concerned
UNION ALL
SELECT resident_id, 'badge', badge_id FROM earned
"""

# --- Campaign results ----------------------------------------------------------------------

# Campaigns over for longer than the back-dating window ($2) with no result yet.
RESULTS_DUE = """
SELECT k.id FROM campaigns k
WHERE k.status = 'scheduled' AND k.ends_at + $2::interval <= $1
  AND NOT EXISTS (SELECT 1 FROM campaign_results r WHERE r.campaign_id = k.id)
ORDER BY k.ends_at
"""

# The level ``l`` of a standings entry ``p``: its rank is the entries above it plus one.
_LEVEL = "standings_levels l ON l.campaign_id = p.campaign_id AND l.scope = p.scope AND l.score = p.score"

# The final standings in one document: totals, goals, and the top $2 of each scope.
RESULT = (
    """
INSERT INTO campaign_results (campaign_id, taken_at, result)
SELECT $1, $3, jsonb_build_object(
    'participants', (SELECT count(*) FROM campaign_scores WHERE campaign_id = $1),
    'active_participants', (SELECT count(*) FROM campaign_scores WHERE campaign_id = $1 AND actions > 0),
    'points', (SELECT coalesce(sum(points), 0) FROM campaign_scores WHERE campaign_id = $1),
    'co2e_kg', (SELECT coalesce(sum(co2e_kg), 0) FROM campaign_scores WHERE campaign_id = $1),
    'goals', (SELECT coalesce(jsonb_agg(jsonb_build_object('challenge', ch.code, 'scope_id', p.scope_id,
                                                         'value', p.value, 'target', p.target,
                                                         'met', p.met_at IS NOT NULL)
                                      ORDER BY ch.code, p.scope_id), '[]')
              FROM collective_progress p JOIN challenges ch ON ch.id = p.challenge_id WHERE ch.campaign_id = $1),
    'standings', (SELECT coalesce(jsonb_object_agg(scope, entries), '{}') FROM (
        SELECT scope, jsonb_agg(jsonb_build_object('rank', rank, 'subject_id', subject_id, 'score', score,
                                                   'points', points, 'co2e_kg', co2e_kg, 'members', members)
                                ORDER BY score DESC, subject_id) AS entries
        FROM (SELECT p.*, l.above + 1 AS rank,
                     row_number() OVER (PARTITION BY p.scope ORDER BY p.score DESC, p.subject_id) AS n
              FROM standings p JOIN """
    + _LEVEL
    + """
              WHERE p.campaign_id = $1) s
        WHERE n <= $2
        GROUP BY scope) g))
ON CONFLICT (campaign_id) DO NOTHING
"""
)

# --- Factor corrections ------------------------------------------------------------------------

# Live actions whose stored estimate came from factor versions no longer in force
# get the versions in force and the saving they give: one statement, and a second
# run finds nothing to change. written_xid moves so the scoring tick sees them.
REFACTOR = """
WITH in_force AS (
    SELECT t.id AS action_type_id, t.code, b.id AS baseline_id, o.id AS option_id,
           b.value - coalesce(o.value, 0) AS saving_per_unit
    FROM action_types t
    JOIN emission_factors_in_force b ON b.code = t.baseline_factor
    LEFT JOIN emission_factors_in_force o ON o.code = t.option_factor
), stale AS MATERIALIZED (
    -- found first, with their kg before: usually none of ten million actions, read once
    SELECT a.id, f.code, f.baseline_id, f.option_id, a.co2e_kg AS before,
           round((a.quantity * f.saving_per_unit)::numeric, 6)::float8 AS co2e_kg
    FROM action_logs a JOIN in_force f ON f.action_type_id = a.action_type_id
    WHERE a.deleted_at IS NULL
      AND ($1::date IS NULL OR a.local_date >= $1)
      AND ($2::text IS NULL OR f.code = $2)
      AND (a.baseline_factor_id, a.option_factor_id) IS DISTINCT FROM (f.baseline_id, f.option_id)
), changed AS (
    UPDATE action_logs a
    SET baseline_factor_id = s.baseline_id, option_factor_id = s.option_id, co2e_kg = s.co2e_kg,
        written_xid = pg_current_xact_id()
    FROM stale s
    WHERE a.id = s.id AND a.deleted_at IS NULL
    RETURNING s.code, s.co2e_kg, s.before
)
SELECT code AS action_type, count(*) AS actions, round(sum(co2e_kg - before)::numeric, 6)::float8 AS delta_kg
FROM changed GROUP BY code ORDER BY code
"""

RESIDENT_RANGE = "SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM residents"

# Campaign points and kg in all (or of campaign $1), to show what a correction changed.
POINTS_AND_KG = """
SELECT coalesce(sum(points), 0)::float8 AS points, coalesce(sum(co2e_kg), 0)::float8 AS kg
FROM campaign_scores WHERE $1::int IS NULL OR campaign_id = $1
"""

# --- Reading --------------------------------------------------------------------------------

# The name of a standings entry ``p`` of scope $2, in language $4 where it has several.
_NAMED = """
       CASE $2 WHEN 'individual' THEN r.display_name
               WHEN 'team' THEN t.name
               WHEN 'district' THEN coalesce(d.name ->> $4, d.name ->> 'en')
               ELSE coalesce(c.name ->> $4, c.name ->> 'en') END AS name
"""
_NAMES = """
LEFT JOIN residents r ON $2 = 'individual' AND r.id = p.subject_id
LEFT JOIN teams t ON $2 = 'team' AND t.id = p.subject_id
LEFT JOIN districts d ON $2 = 'district' AND d.id = p.subject_id
LEFT JOIN cities c ON $2 = 'city' AND c.id = p.subject_id
"""

# The top $3 of scope $2 in campaign $1, names in language $4.
LEADERBOARD_TOP = (
    """
SELECT l.above + 1 AS rank, p.subject_id, p.score, p.points, p.co2e_kg, p.members, p.active_members, """
    + _NAMED
    + """
FROM (SELECT * FROM standings WHERE campaign_id = $1 AND scope = $2 ORDER BY score DESC, subject_id LIMIT $3) p
JOIN """
    + _LEVEL
    + _NAMES
    + """
ORDER BY p.score DESC, p.subject_id
"""
)

# When the standings of campaign $1 were computed, and the entry of resident $3's
# subject in scope $2 (their own, their team's, district's or city's), named in language $4.
LEADERBOARD_OWN = (
    """
SELECT k.computed_at, k.sizes, coalesce(k.final, false) AS final,
       l.above + 1 AS rank, p.subject_id, p.score, p.points, p.co2e_kg, p.members, p.active_members, """
    + _NAMED
    + """
FROM (SELECT 1) AS one
LEFT JOIN standings_computed k ON k.campaign_id = $1
LEFT JOIN campaign_scores s ON s.campaign_id = $1 AND s.resident_id = $3
LEFT JOIN standings p ON p.campaign_id = $1 AND p.scope = $2
    AND p.subject_id = CASE $2 WHEN 'individual' THEN s.resident_id WHEN 'team' THEN s.team_id
                               WHEN 'district' THEN s.district_id ELSE s.city_id END
LEFT JOIN """
    + _LEVEL
    + _NAMES
)

# A participant's score in campaign $1 (resident $2) and their individual rank.
MY_SCORE = (
    """
SELECT s.points, s.co2e_kg, s.actions, s.active_days, s.longest_streak, s.last_run_end, s.last_run_days,
       l.above + 1 AS rank, (c.sizes ->> 'individual')::int AS ranked, c.computed_at, c.final,
       (SELECT ran_at FROM job_watermarks WHERE job = 'scoring') AS scored_at
FROM campaign_scores s
LEFT JOIN standings p ON p.campaign_id = s.campaign_id AND p.scope = 'individual' AND p.subject_id = s.resident_id
LEFT JOIN """
    + _LEVEL
    + """
LEFT JOIN standings_computed c ON c.campaign_id = s.campaign_id
WHERE s.campaign_id = $1 AND s.resident_id = $2
"""
)

# Every active challenge of campaign $1 as resident $2 stands in it: their best
# window's value and target, the total of the current window (the day or ISO
# week of $3, their local date), when they met it, their team's share and the
# collective total of their scope.
MY_CHALLENGES = (
    _rules_and_days("ch.campaign_id = $1 AND ch.active", "campaign_id = $1 AND resident_id = $2")
    + ", "
    + _BEST
    + """, windowed AS (
    SELECT s.id, sum(CASE WHEN s.by_kg THEN d.co2e_kg ELSE d.quantity END) AS value
    FROM shaped s
    JOIN counted c ON c.challenge_id = s.id
    JOIN days d ON d.action_type_id = c.action_type_id
    WHERE CASE s.win
              WHEN 'day' THEN d.local_date = $3::date
              WHEN 'week' THEN d.local_date - (extract(isodow FROM d.local_date)::int - 1)
                               = $3::date - (extract(isodow FROM $3::date)::int - 1)
              ELSE false END
    GROUP BY s.id
)
SELECT s.code, s.kind, coalesce(b.value, 0) AS value, """
    + _TARGET
    + """ AS target, p.met_at,
       tp.members, tp.members_met, tp.share, tp.met_at AS team_met_at,
       cp.value AS goal_value, cp.met_at AS goal_met_at,
       coalesce(w.value, 0) AS window_value
FROM shaped s
LEFT JOIN enrolments e ON e.campaign_id = $1 AND e.resident_id = $2 AND e.left_at IS NULL
LEFT JOIN campaign_scores cs ON cs.campaign_id = $1 AND cs.resident_id = $2
LEFT JOIN best b ON b.challenge_id = s.id
LEFT JOIN challenges_met p ON p.challenge_id = s.id AND p.resident_id = $2
LEFT JOIN team_progress tp ON tp.challenge_id = s.id AND tp.team_id = cs.team_id
LEFT JOIN collective_progress cp ON cp.challenge_id = s.id
    AND cp.scope_id = CASE WHEN s.r ->> 'scope' = 'city' THEN cs.city_id ELSE 0 END
LEFT JOIN windowed w ON w.id = s.id
"""
)

MY_BADGES = """
SELECT b.code FROM earned_badges e JOIN badges b ON b.id = e.badge_id
WHERE b.campaign_id = $1 AND e.resident_id = $2
"""
