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
