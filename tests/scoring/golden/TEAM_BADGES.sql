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
