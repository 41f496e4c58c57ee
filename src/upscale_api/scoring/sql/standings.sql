-- Standings (leaderboards), collective goals and campaign results, per campaign ($1 unless told
-- otherwise).

-- name: STANDINGS_DUE
-- The campaigns of a unit's participants, due for standings. In campaign order: parts running side
-- by side then wait for each other's new rows in one order, never in a circle.
INSERT INTO standings_due (campaign_id) SELECT DISTINCT campaign_id FROM dirty_members ORDER BY campaign_id
ON CONFLICT DO NOTHING

-- name: CLAIM_STANDINGS
-- The campaign waiting longest; campaigns with final standings are only taken off the list.
-- Standings that took a second or more wait, from when they were computed, ten times as long as they
-- took (the rest of the list goes on meanwhile). $1: now.
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

-- name: RANKING_CHANGED
-- Campaigns $1 (codes) now rank by another measure: their standings are due (in campaign order, as
-- STANDINGS_DUE inserts).
INSERT INTO standings_due (campaign_id) SELECT id FROM campaigns WHERE code = ANY($1::text[]) ORDER BY id
ON CONFLICT DO NOTHING

-- name: STANDINGS_NOT_DUE
-- Campaign $1 off the list: its final standings were just taken.
DELETE FROM standings_due WHERE campaign_id = $1

-- name: STANDINGS_CHANGES_TABLE
-- What changed in a campaign's standings, dropped with the transaction.
CREATE TEMP TABLE standings_changes (LIKE standings, gone boolean NOT NULL) ON COMMIT DROP;

-- name: STANDINGS_COMPARED
-- What changed in the standings of campaign $1: each participant by points, and teams, districts and
-- cities by the campaign's ranking measure (points per member unless its definition declares points,
-- kg CO2e, the quantity of chosen action types or the share of members taking part), as they are now,
-- set against the stored entries in one pass (a hash join of both), keeping only the entries that are
-- new or differ, and those gone. A national campaign's 990,000 entries are compared in about 0.7 s;
-- comparing them entry by entry in a MERGE took 1.8 s, and finding those gone 0.8 s more. Only a
-- campaign ranked by quantity reads its campaign days (the filter on the measure is decided once,
-- before any of them is read).
WITH ranking AS MATERIALIZED (
    SELECT coalesce(k.definition #>> '{ranking,measure}', 'points_per_member') AS measure,
           array(SELECT t.id FROM action_types t
                 WHERE t.code IN (SELECT jsonb_array_elements_text(
                     coalesce(k.definition #> '{ranking,action_types}', '[]')))) AS types
    FROM campaigns k WHERE k.id = $1
), quantities AS (
    SELECT d.resident_id, sum(d.quantity) AS quantity
    FROM campaign_days d
    WHERE (SELECT measure FROM ranking) = 'quantity' AND d.campaign_id = $1
      AND d.action_type_id = ANY((SELECT types FROM ranking)::int[])
    GROUP BY d.resident_id
), scored AS (
    SELECT 'individual' AS scope, resident_id AS subject_id, points AS score, points, co2e_kg, 1 AS members,
           (actions > 0)::int AS active_members
    FROM campaign_scores WHERE campaign_id = $1
    UNION ALL
    SELECT scope, subject_id,
           CASE (SELECT measure FROM ranking)
               WHEN 'points' THEN points
               WHEN 'co2e_kg' THEN round(co2e_kg, 6)
               WHEN 'quantity' THEN round(quantity, 6)
               WHEN 'participation' THEN round(active_members::numeric / members, 6)
               ELSE round(points / members, 6)
           END AS score,
           points, co2e_kg, members, active_members
    FROM (
        SELECT CASE WHEN grouping(s.team_id) = 0 THEN 'team' WHEN grouping(s.district_id) = 0 THEN 'district'
                    ELSE 'city' END AS scope,
               coalesce(s.team_id, s.district_id, s.city_id) AS subject_id,
               sum(s.points) AS points, sum(s.co2e_kg) AS co2e_kg, coalesce(sum(q.quantity), 0) AS quantity,
               count(*)::int AS members, count(*) FILTER (WHERE s.actions > 0)::int AS active_members
        FROM campaign_scores s LEFT JOIN quantities q ON q.resident_id = s.resident_id
        WHERE s.campaign_id = $1
        GROUP BY GROUPING SETS ((s.team_id), (s.district_id), (s.city_id))
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

-- name: STANDINGS_CHANGED
-- Only the entries that changed are written (after a few ticks a national campaign's ranks have
-- nearly all moved, but few of its scores have: a run writes megabytes of WAL, against 492 MB
-- rewriting every entry).
MERGE INTO standings s
USING standings_changes c ON s.campaign_id = c.campaign_id AND s.scope = c.scope AND s.subject_id = c.subject_id
WHEN MATCHED AND c.gone THEN DELETE
WHEN MATCHED THEN
    UPDATE SET score = c.score, points = c.points, co2e_kg = c.co2e_kg, members = c.members,
               active_members = c.active_members
WHEN NOT MATCHED AND NOT c.gone THEN
    INSERT (campaign_id, scope, subject_id, score, points, co2e_kg, members, active_members)
    VALUES (c.campaign_id, c.scope, c.subject_id, c.score, c.points, c.co2e_kg, c.members, c.active_members)

-- name: STANDINGS_LEVELS_CLEAR
-- Campaign $1's levels, counted again by STANDINGS_LEVELS.
DELETE FROM standings_levels WHERE campaign_id = $1

-- name: STANDINGS_LEVELS
-- Each scope's distinct scores and how many entries are above each: a rank is that count plus one,
-- so ties share a rank (1, 2, 2, 4). Returns each scope's entries.
WITH counted AS (
    SELECT scope, score, count(*) AS entries FROM standings WHERE campaign_id = $1 GROUP BY scope, score
), stored AS (
    INSERT INTO standings_levels (campaign_id, scope, score, above)
    SELECT $1, scope, score, (sum(entries) OVER (PARTITION BY scope ORDER BY score DESC) - entries)::int
    FROM counted
)
SELECT coalesce(jsonb_object_agg(scope, entries), '{}') FROM (
    SELECT scope, sum(entries)::int AS entries FROM counted GROUP BY scope) s

-- name: STANDINGS_COMPUTED
-- Campaign $1's standings computed at $2, final ($3) or not; $4: each scope's entries; took: since
-- the transaction began (the claim, then the standings).
INSERT INTO standings_computed (campaign_id, computed_at, sizes, final, took)
VALUES ($1, $2, $4, $3, clock_timestamp() - now())
ON CONFLICT (campaign_id) DO UPDATE
SET computed_at = excluded.computed_at, sizes = excluded.sizes, final = excluded.final, took = excluded.took

-- name: COLLECTIVE
-- Collective goals of campaign $1 from its running totals, for the whole campaign (scope id 0) or
-- each of its cities; returns those reached at $2 (now). counted: the action types a goal counts, as
-- in challenges.sql.
WITH rules AS (
    SELECT ch.id, ch.campaign_id, ch.rule AS r, coalesce(ch.rule ->> 'scope', 'campaign') AS scope,
           coalesce(ch.rule ->> 'measure', 'co2e_kg') AS measure, (ch.rule ->> 'target')::numeric AS target
    FROM challenges ch WHERE ch.campaign_id = $1 AND ch.active AND ch.rule ->> 'kind' = 'collective'
), counted AS MATERIALIZED (
    SELECT rules.id AS challenge_id, x.action_type_id
    FROM rules
    JOIN campaign_action_types x ON x.campaign_id = rules.campaign_id
    JOIN action_types t ON t.id = x.action_type_id
    WHERE t.code IN (SELECT jsonb_array_elements_text(coalesce(rules.r -> 'action_types', '[]')))
       OR t.category IN (SELECT jsonb_array_elements_text(coalesce(rules.r -> 'categories', '[]')))
), subjects AS (
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

-- name: GOALS_REACHED
-- Goals just reached ($2 challenges, $3 scopes: 0 for the whole campaign, else a city) of campaign
-- $1 at $4, to announce to everyone they concern.
INSERT INTO goal_announcements (challenge_id, scope_id, campaign_id, reached_at)
SELECT g.challenge_id, g.scope_id, $1, $4 FROM unnest($2::int[], $3::int[]) AS g (challenge_id, scope_id)
ON CONFLICT (challenge_id, scope_id) DO NOTHING

-- name: GOAL_CAMPAIGN
-- The campaign whose goals wait longest to be announced.
SELECT campaign_id FROM goal_announcements ORDER BY reached_at LIMIT 1

-- name: GOAL_SPAN
-- The next span of $2 resident ids of campaign $1's participants, from the first not told of every
-- goal yet, get the news of each goal of theirs (the campaign's, their city's) and the badges for
-- them, in one pass over the span; the goals move past it, or are done when no participant is left
-- after it. A goal some arm of the campaign's study names (restricted) is only for the participants
-- whose arm gets it, as in challenges.sql: the others (hidden) are passed over. A campaign in no study
-- has none, and pays a lookup of study_campaigns; otherwise the span's assignments and consents are
-- joined, as a rebuild finds arms.
WITH goals AS (
    SELECT * FROM goal_announcements WHERE campaign_id = $1
), span AS (
    SELECT first - 1 AS low, first - 1 + $2 AS high
    FROM (SELECT min(s.resident_id) AS first FROM campaign_scores s
          WHERE s.campaign_id = $1 AND s.resident_id > (SELECT min(announced_through) FROM goals)) f
), restricted AS MATERIALIZED (
    -- the goals waiting that some arm of the campaign's study names (controlled_challenges)
    SELECT ch.id AS challenge_id, ch.code, sc.study_id,
           (SELECT arm.id FROM study_arms arm WHERE arm.study_id = sc.study_id AND arm.control) AS control_arm_id
    FROM challenges ch
    JOIN study_campaigns sc ON sc.campaign_id = ch.campaign_id
    JOIN studies st ON st.id = sc.study_id
    WHERE ch.id IN (SELECT challenge_id FROM goals) AND ch.code = ANY (st.controlled_challenges)
), hidden AS MATERIALIZED (
    -- the span's participants whose arm does not get one of those: the one assigned while research
    -- consent is current, else the control arm (HIDDEN_CHALLENGES, research/queries.py)
    SELECT x.challenge_id, s.resident_id
    FROM restricted x
    JOIN span ON true
    JOIN campaign_scores s ON s.campaign_id = $1 AND s.resident_id > span.low AND s.resident_id <= span.high
    LEFT JOIN (study_assignments a
               JOIN current_consents cc ON cc.resident_id = a.resident_id AND cc.purpose = 'research')
        ON a.study_id = x.study_id AND a.resident_id = s.resident_id
    JOIN study_arms arm ON arm.id = coalesce(a.arm_id, x.control_arm_id)
    WHERE x.code <> ALL (arm.challenges)
), concerned AS MATERIALIZED (
    SELECT g.challenge_id, s.resident_id, g.reached_at
    FROM span
    JOIN campaign_scores s ON s.campaign_id = $1 AND s.resident_id > span.low AND s.resident_id <= span.high
    JOIN goals g ON s.resident_id > g.announced_through AND (g.scope_id = 0 OR g.scope_id = s.city_id)
    -- NOT IN: a hash of the pairs hidden
    WHERE (g.challenge_id, s.resident_id) NOT IN (SELECT challenge_id, resident_id FROM hidden)
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

-- name: RESULTS_DUE
-- Campaigns over at $1 for longer than the back-dating window ($2), with no result yet.
SELECT k.id FROM campaigns k
WHERE k.status = 'scheduled' AND k.ends_at + $2::interval <= $1
  AND NOT EXISTS (SELECT 1 FROM campaign_results r WHERE r.campaign_id = k.id)
ORDER BY k.ends_at

-- name: RESULT
-- Campaign $1's final standings in one document, taken at $3: totals, goals, and the top $2 of each
-- scope (a rank is the entries above plus one).
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
              FROM standings p
              JOIN standings_levels l ON l.campaign_id = p.campaign_id AND l.scope = p.scope AND l.score = p.score
              WHERE p.campaign_id = $1) s
        WHERE n <= $2
        GROUP BY scope) g))
ON CONFLICT (campaign_id) DO NOTHING
