-- Teams (the share of their members meeting a team rule) and badges.

-- name: TOUCHED_TEAMS
-- Teams whose membership changes, counted again by the fold: the team a participant whose enrolment
-- changed leaves and the one they join (CHALLENGES leaves the flips of other members' standing in a
-- team rule), and in a campaign whose study decides challenges the team of any member whose enrolment
-- changed. Runs before SCORES, which stores the new team.
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
UNION
-- a member whose arm may have changed (research consent granted or withdrawn marks their enrolment) in
-- a campaign whose study decides challenges: their team counts again the members who get its rules
SELECT e.team_id
FROM enrolments e
JOIN changed_enrolments m USING (campaign_id, resident_id)
JOIN study_campaigns sc ON sc.campaign_id = e.campaign_id
JOIN studies st ON st.id = sc.study_id
WHERE e.team_id IS NOT NULL AND e.left_at IS NULL AND st.controlled_challenges <> '{}'

-- name: EVERY_TEAM
-- A rebuild counts every team with members again.
INSERT INTO scoring_touched_teams (team_id)
SELECT DISTINCT team_id FROM enrolments WHERE team_id IS NOT NULL AND left_at IS NULL

-- name: TEAMS
-- Team participation: the share of a team's current members who get the rule meeting the member rule.
-- The teams units touched (taken off their list) are counted again from their members, as is a team
-- with a flip but no count yet; the others' counts move by their members' flips (taken off theirs),
-- which costs nothing per member: a tick's flips touched a hundred teams of two hundred members each
-- at country scale, and counting those again was a tenth of the fold. A team newly meeting the rule
-- tells every member who gets it.
--
-- A team rule some arm of the campaign's study names (restricted) is only for the members whose arm
-- gets it, as in challenges.sql: the others (hidden) are not among the team's members for it, and
-- are not told. Their arm is looked up by key for the members of the teams counted again or flipped
-- in such a rule; a campaign in no study has none, and pays a lookup of study_campaigns. $1: now.
WITH touched AS (
    DELETE FROM scoring_touched_teams RETURNING team_id
), flips AS (
    DELETE FROM scoring_team_flips RETURNING team_id, challenge_id, delta
), counted_again AS (
    SELECT team_id FROM touched
    UNION
    SELECT f.team_id FROM flips f
    WHERE NOT EXISTS (SELECT FROM team_progress p WHERE p.challenge_id = f.challenge_id AND p.team_id = f.team_id)
), restricted AS MATERIALIZED (
    -- the team rules of these teams' campaigns that some arm of the study names (controlled_challenges)
    SELECT ch.id AS challenge_id, ch.campaign_id, ch.code, sc.study_id,
           (SELECT arm.id FROM study_arms arm WHERE arm.study_id = sc.study_id AND arm.control) AS control_arm_id
    FROM challenges ch
    JOIN study_campaigns sc ON sc.campaign_id = ch.campaign_id
    JOIN studies st ON st.id = sc.study_id
    WHERE ch.active AND ch.rule ->> 'kind' = 'team_participation' AND ch.code = ANY (st.controlled_challenges)
      AND ch.campaign_id IN (SELECT t.campaign_id FROM teams t
                             WHERE t.id IN (SELECT team_id FROM counted_again UNION SELECT team_id FROM flips))
), hidden AS MATERIALIZED (
    -- the members of the teams counted again, or flipped in such a rule, whose arm does not get it: the
    -- one assigned while research consent is current, else the control arm (HIDDEN_CHALLENGES,
    -- research/queries.py)
    SELECT x.challenge_id, e.resident_id
    FROM restricted x
    JOIN teams t ON t.campaign_id = x.campaign_id
    JOIN enrolments e ON e.team_id = t.id AND e.left_at IS NULL
    JOIN study_arms arm ON arm.id = coalesce(
        (SELECT a.arm_id FROM study_assignments a
         JOIN current_consents cc ON cc.resident_id = a.resident_id AND cc.purpose = 'research'
         WHERE a.study_id = x.study_id AND a.resident_id = e.resident_id),
        x.control_arm_id)
    WHERE (t.id IN (SELECT team_id FROM counted_again)
           OR (t.id, x.challenge_id) IN (SELECT team_id, challenge_id FROM flips))
      AND x.code <> ALL (arm.challenges)
), judged AS (
    SELECT ch.id AS challenge_id, t.id AS team_id, (ch.rule ->> 'share')::numeric AS share,
           count(e.resident_id)::int AS members, count(p.resident_id)::int AS members_met
    FROM counted_again tt
    JOIN teams t ON t.id = tt.team_id
    JOIN challenges ch ON ch.campaign_id = t.campaign_id AND ch.active AND ch.rule ->> 'kind' = 'team_participation'
    LEFT JOIN enrolments e ON e.team_id = t.id AND e.left_at IS NULL
        -- a member whose arm does not get the rule is not among its members (NOT IN: a hash of the few pairs)
        AND (ch.id, e.resident_id) NOT IN (SELECT challenge_id, resident_id FROM hidden)
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
WHERE s.met_at = $1 AND (s.challenge_id, e.resident_id) NOT IN (SELECT challenge_id, resident_id FROM hidden)

-- name: BADGES
-- Badges of a unit's participants. A badge is kept once earned; one earned before is skipped by the
-- conflict, not by a NOT EXISTS on earned_badges: on a new database, whose statistics said that
-- table was empty, that was planned as a scan of it per candidate, and each scan read the rows the
-- statement had inserted so far (a first rebuild ran for over half an hour). The candidates' scores
-- are read first, by key: a few thousand lookups, not a scan of every score. The badges' rules are
-- read once, each challenge badge's challenge found by its code, and the candidates are matched to
-- them by a join: a rebuild's 1.4M candidates took 8.5 s through a lookup of their campaign's badges
-- and challenges each, 4.4 s so. A candidate's success in a challenge badge's challenge is looked up
-- by key, row by row (OFFSET 0 keeps the planner from turning it into a scan of every success, as it
-- did with a join or an EXISTS). $1: now.
WITH candidates AS MATERIALIZED (
    SELECT s.campaign_id, s.resident_id, s.city_id, s.team_id, s.actions, s.longest_streak
    FROM (SELECT campaign_id, resident_id FROM dirty_members) c
    JOIN campaign_scores s USING (campaign_id, resident_id)
), rules AS MATERIALIZED (
    -- each active badge's threshold, or the challenge it is for and that challenge's kind; and the study
    -- of a challenge some arm of the campaign's study names (controlled_challenges), with its control arm
    SELECT b.id, b.campaign_id, b.rule ->> 'kind' AS kind, (b.rule ->> 'actions')::int AS actions,
           (b.rule ->> 'days')::int AS days, ch.id AS challenge_id, ch.code AS challenge_code,
           ch.rule ->> 'kind' AS challenge_kind, ch.rule ->> 'badge_to' AS badge_to, st.id AS study_id,
           (SELECT arm.id FROM study_arms arm WHERE arm.study_id = st.id AND arm.control) AS control_arm_id
    FROM badges b
    LEFT JOIN challenges ch ON ch.campaign_id = b.campaign_id AND ch.code = b.rule ->> 'challenge'
    LEFT JOIN (study_campaigns sc JOIN studies st ON st.id = sc.study_id)
        ON sc.campaign_id = b.campaign_id AND ch.code = ANY (st.controlled_challenges)
    WHERE b.active AND b.campaign_id IN (SELECT campaign_id FROM candidates)
), hidden AS MATERIALIZED (
    -- the candidates whose arm does not get such a badge's challenge: the one assigned while research
    -- consent is current, else the control arm (HIDDEN_CHALLENGES, research/queries.py). Only the few
    -- badges of such challenges are joined to candidates, whose arm is looked up by key
    SELECT b.id AS badge_id, s.resident_id
    FROM rules b
    JOIN candidates s ON s.campaign_id = b.campaign_id
    JOIN study_arms arm ON arm.id = coalesce(
        (SELECT a.arm_id FROM study_assignments a
         JOIN current_consents cc ON cc.resident_id = a.resident_id AND cc.purpose = 'research'
         WHERE a.study_id = b.study_id AND a.resident_id = s.resident_id),
        b.control_arm_id)
    WHERE b.study_id IS NOT NULL AND b.challenge_code <> ALL (arm.challenges)
), earned AS (
    INSERT INTO earned_badges (badge_id, resident_id, earned_at)
    SELECT b.id, s.resident_id, $1
    FROM candidates s
    JOIN rules b ON b.campaign_id = s.campaign_id
    LEFT JOIN LATERAL (
        SELECT p.resident_id FROM challenges_met p
        WHERE p.challenge_id = b.challenge_id AND p.resident_id = s.resident_id OFFSET 0) p ON true
    WHERE CASE b.kind
        WHEN 'first_action' THEN s.actions >= 1
        WHEN 'actions_count' THEN s.actions >= b.actions
        WHEN 'streak' THEN s.longest_streak >= b.days
        ELSE CASE b.challenge_kind
            WHEN 'team_participation' THEN EXISTS (
                SELECT 1 FROM team_progress tp
                WHERE tp.challenge_id = b.challenge_id AND tp.team_id = s.team_id AND tp.met_at IS NOT NULL)
                -- declared per challenge: every member, or only those who met the member rule themselves
                AND (b.badge_to IS DISTINCT FROM 'members_meeting_rule' OR p.resident_id IS NOT NULL)
            WHEN 'collective' THEN EXISTS (
                SELECT 1 FROM collective_progress cp
                WHERE cp.challenge_id = b.challenge_id AND cp.scope_id IN (0, s.city_id) AND cp.met_at IS NOT NULL)
            ELSE p.resident_id IS NOT NULL
            END
        END
      -- a challenge the candidate's arm does not get gives them no badge, also when their team or city
      -- met it (NOT IN: a hash of the few pairs hidden)
      AND (b.id, s.resident_id) NOT IN (SELECT badge_id, resident_id FROM hidden)
    ON CONFLICT DO NOTHING
    RETURNING badge_id, resident_id
)
INSERT INTO news (resident_id, kind, subject_id) SELECT resident_id, 'badge', badge_id FROM earned

-- name: REBUILD_BADGES
-- Every participant's badges, found as BADGES finds a unit's, their successes joined by hash. $1:
-- now.
WITH candidates AS MATERIALIZED (
    SELECT s.campaign_id, s.resident_id, s.city_id, s.team_id, s.actions, s.longest_streak
    FROM (SELECT campaign_id, resident_id FROM dirty_members) c
    JOIN campaign_scores s USING (campaign_id, resident_id)
), rules AS MATERIALIZED (
    -- each active badge's threshold, or the challenge it is for and that challenge's kind; and the study
    -- of a challenge some arm of the campaign's study names (controlled_challenges), with its control arm
    SELECT b.id, b.campaign_id, b.rule ->> 'kind' AS kind, (b.rule ->> 'actions')::int AS actions,
           (b.rule ->> 'days')::int AS days, ch.id AS challenge_id, ch.code AS challenge_code,
           ch.rule ->> 'kind' AS challenge_kind, ch.rule ->> 'badge_to' AS badge_to, st.id AS study_id,
           (SELECT arm.id FROM study_arms arm WHERE arm.study_id = st.id AND arm.control) AS control_arm_id
    FROM badges b
    LEFT JOIN challenges ch ON ch.campaign_id = b.campaign_id AND ch.code = b.rule ->> 'challenge'
    LEFT JOIN (study_campaigns sc JOIN studies st ON st.id = sc.study_id)
        ON sc.campaign_id = b.campaign_id AND ch.code = ANY (st.controlled_challenges)
    WHERE b.active AND b.campaign_id IN (SELECT campaign_id FROM candidates)
), hidden AS MATERIALIZED (
    -- the candidates whose arm does not get such a badge's challenge: the one assigned while research
    -- consent is current, else the control arm (HIDDEN_CHALLENGES, research/queries.py). Only the few
    -- badges of such challenges are joined to candidates, whose arm is looked up by key
    SELECT b.id AS badge_id, s.resident_id
    FROM rules b
    JOIN candidates s ON s.campaign_id = b.campaign_id
    JOIN study_arms arm ON arm.id = coalesce(
        (SELECT a.arm_id FROM study_assignments a
         JOIN current_consents cc ON cc.resident_id = a.resident_id AND cc.purpose = 'research'
         WHERE a.study_id = b.study_id AND a.resident_id = s.resident_id),
        b.control_arm_id)
    WHERE b.study_id IS NOT NULL AND b.challenge_code <> ALL (arm.challenges)
), earned AS (
    INSERT INTO earned_badges (badge_id, resident_id, earned_at)
    SELECT b.id, s.resident_id, $1
    FROM candidates s
    JOIN rules b ON b.campaign_id = s.campaign_id
    LEFT JOIN challenges_met p ON p.challenge_id = b.challenge_id AND p.resident_id = s.resident_id
    WHERE CASE b.kind
        WHEN 'first_action' THEN s.actions >= 1
        WHEN 'actions_count' THEN s.actions >= b.actions
        WHEN 'streak' THEN s.longest_streak >= b.days
        ELSE CASE b.challenge_kind
            WHEN 'team_participation' THEN EXISTS (
                SELECT 1 FROM team_progress tp
                WHERE tp.challenge_id = b.challenge_id AND tp.team_id = s.team_id AND tp.met_at IS NOT NULL)
                -- declared per challenge: every member, or only those who met the member rule themselves
                AND (b.badge_to IS DISTINCT FROM 'members_meeting_rule' OR p.resident_id IS NOT NULL)
            WHEN 'collective' THEN EXISTS (
                SELECT 1 FROM collective_progress cp
                WHERE cp.challenge_id = b.challenge_id AND cp.scope_id IN (0, s.city_id) AND cp.met_at IS NOT NULL)
            ELSE p.resident_id IS NOT NULL
            END
        END
      -- a challenge the candidate's arm does not get gives them no badge, also when their team or city
      -- met it (NOT IN: a hash of the few pairs hidden)
      AND (b.id, s.resident_id) NOT IN (SELECT badge_id, resident_id FROM hidden)
    ON CONFLICT DO NOTHING
    RETURNING badge_id, resident_id
)
INSERT INTO news (resident_id, kind, subject_id) SELECT resident_id, 'badge', badge_id FROM earned

-- name: TEAM_BADGES
-- Badges of the members of teams that just met a challenge (in the fold, after TEAMS), found as
-- BADGES finds them. $1: now.
WITH candidates AS MATERIALIZED (
    SELECT s.campaign_id, s.resident_id, s.city_id, s.team_id, s.actions, s.longest_streak
    FROM (SELECT DISTINCT ch.campaign_id, n.resident_id
          FROM news n JOIN challenges ch ON ch.id = n.subject_id
          WHERE n.kind = 'team_challenge') c
    JOIN campaign_scores s USING (campaign_id, resident_id)
), rules AS MATERIALIZED (
    -- each active badge's threshold, or the challenge it is for and that challenge's kind; and the study
    -- of a challenge some arm of the campaign's study names (controlled_challenges), with its control arm
    SELECT b.id, b.campaign_id, b.rule ->> 'kind' AS kind, (b.rule ->> 'actions')::int AS actions,
           (b.rule ->> 'days')::int AS days, ch.id AS challenge_id, ch.code AS challenge_code,
           ch.rule ->> 'kind' AS challenge_kind, ch.rule ->> 'badge_to' AS badge_to, st.id AS study_id,
           (SELECT arm.id FROM study_arms arm WHERE arm.study_id = st.id AND arm.control) AS control_arm_id
    FROM badges b
    LEFT JOIN challenges ch ON ch.campaign_id = b.campaign_id AND ch.code = b.rule ->> 'challenge'
    LEFT JOIN (study_campaigns sc JOIN studies st ON st.id = sc.study_id)
        ON sc.campaign_id = b.campaign_id AND ch.code = ANY (st.controlled_challenges)
    WHERE b.active AND b.campaign_id IN (SELECT campaign_id FROM candidates)
), hidden AS MATERIALIZED (
    -- the candidates whose arm does not get such a badge's challenge: the one assigned while research
    -- consent is current, else the control arm (HIDDEN_CHALLENGES, research/queries.py). Only the few
    -- badges of such challenges are joined to candidates, whose arm is looked up by key
    SELECT b.id AS badge_id, s.resident_id
    FROM rules b
    JOIN candidates s ON s.campaign_id = b.campaign_id
    JOIN study_arms arm ON arm.id = coalesce(
        (SELECT a.arm_id FROM study_assignments a
         JOIN current_consents cc ON cc.resident_id = a.resident_id AND cc.purpose = 'research'
         WHERE a.study_id = b.study_id AND a.resident_id = s.resident_id),
        b.control_arm_id)
    WHERE b.study_id IS NOT NULL AND b.challenge_code <> ALL (arm.challenges)
), earned AS (
    INSERT INTO earned_badges (badge_id, resident_id, earned_at)
    SELECT b.id, s.resident_id, $1
    FROM candidates s
    JOIN rules b ON b.campaign_id = s.campaign_id
    LEFT JOIN LATERAL (
        SELECT p.resident_id FROM challenges_met p
        WHERE p.challenge_id = b.challenge_id AND p.resident_id = s.resident_id OFFSET 0) p ON true
    WHERE CASE b.kind
        WHEN 'first_action' THEN s.actions >= 1
        WHEN 'actions_count' THEN s.actions >= b.actions
        WHEN 'streak' THEN s.longest_streak >= b.days
        ELSE CASE b.challenge_kind
            WHEN 'team_participation' THEN EXISTS (
                SELECT 1 FROM team_progress tp
                WHERE tp.challenge_id = b.challenge_id AND tp.team_id = s.team_id AND tp.met_at IS NOT NULL)
                -- declared per challenge: every member, or only those who met the member rule themselves
                AND (b.badge_to IS DISTINCT FROM 'members_meeting_rule' OR p.resident_id IS NOT NULL)
            WHEN 'collective' THEN EXISTS (
                SELECT 1 FROM collective_progress cp
                WHERE cp.challenge_id = b.challenge_id AND cp.scope_id IN (0, s.city_id) AND cp.met_at IS NOT NULL)
            ELSE p.resident_id IS NOT NULL
            END
        END
      -- a challenge the candidate's arm does not get gives them no badge, also when their team or city
      -- met it (NOT IN: a hash of the few pairs hidden)
      AND (b.id, s.resident_id) NOT IN (SELECT badge_id, resident_id FROM hidden)
    ON CONFLICT DO NOTHING
    RETURNING badge_id, resident_id
)
INSERT INTO news (resident_id, kind, subject_id) SELECT resident_id, 'badge', badge_id FROM earned
