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
