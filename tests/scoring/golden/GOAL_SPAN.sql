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
