WITH rules AS (
    SELECT ch.id, ch.campaign_id, ch.code, ch.rule ->> 'kind' = 'team_participation' AS for_team,
           CASE WHEN ch.rule ->> 'kind' = 'team_participation' THEN ch.rule -> 'member_rule' ELSE ch.rule END AS r
    FROM challenges ch
    WHERE ch.active AND ch.rule ->> 'kind' <> 'collective'
      AND ch.campaign_id IN (SELECT campaign_id FROM dirty_members)
), shaped AS (
    SELECT rules.*, r ->> 'kind' AS rule_kind,
           coalesce(r ->> 'window', CASE r ->> 'kind' WHEN 'personal' THEN 'week' ELSE 'campaign' END) AS win,
           r ->> 'kind' = 'quantity' AND r ->> 'measure' = 'co2e_kg' AS by_kg
    FROM rules
), restricted AS MATERIALIZED (
    -- the challenges some arm of their campaign's study names (controlled_challenges), which only the
    -- arms naming them get; a campaign in no study has none, and pays a lookup of study_campaigns
    SELECT rules.id AS challenge_id, rules.campaign_id, rules.code, sc.study_id,
           (SELECT arm.id FROM study_arms arm WHERE arm.study_id = sc.study_id AND arm.control) AS control_arm_id
    FROM rules
    JOIN study_campaigns sc ON sc.campaign_id = rules.campaign_id
    JOIN studies st ON st.id = sc.study_id
    WHERE rules.code = ANY (st.controlled_challenges)
), arms AS MATERIALIZED (
    -- the arm of each participant of a campaign with such challenges, as HIDDEN_CHALLENGES
    -- (research/queries.py) finds it: the one assigned while research consent is current, else the
    -- control arm. Their assignment and consent are looked up by key, once per participant: a hash
    -- of them would read the whole study's at every tick
    SELECT m.campaign_id, m.resident_id,
           coalesce((SELECT a.arm_id FROM study_assignments a
                     JOIN current_consents cc ON cc.resident_id = a.resident_id AND cc.purpose = 'research'
                     WHERE a.study_id = k.study_id AND a.resident_id = m.resident_id),
                    k.control_arm_id) AS arm_id
    FROM (SELECT DISTINCT campaign_id, study_id, control_arm_id FROM restricted) k
    JOIN dirty_members m ON m.campaign_id = k.campaign_id
), hidden AS MATERIALIZED (
    -- the participants whose arm does not get one of those
    SELECT x.challenge_id, p.resident_id
    FROM arms p
    JOIN study_arms arm ON arm.id = p.arm_id
    JOIN restricted x ON x.campaign_id = p.campaign_id AND x.code <> ALL (arm.challenges)
), counted AS MATERIALIZED (
    SELECT rules.id AS challenge_id, x.action_type_id
    FROM rules
    JOIN campaign_action_types x ON x.campaign_id = rules.campaign_id
    JOIN action_types t ON t.id = x.action_type_id
    WHERE t.code IN (SELECT jsonb_array_elements_text(coalesce(rules.r -> 'action_types', '[]')))
       OR t.category IN (SELECT jsonb_array_elements_text(coalesce(rules.r -> 'categories', '[]')))
), days AS MATERIALIZED (
    -- each participant's days read once, then matched to every rule of their campaign
    SELECT d.campaign_id, d.resident_id, d.local_date, d.action_type_id, d.quantity, d.co2e_kg
    FROM dirty_members m JOIN campaign_days d USING (campaign_id, resident_id)
    WHERE d.local_date >= coalesce(m.history_cutoff, '-infinity')
), windows AS (
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
), best AS (
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
), met AS MATERIALIZED (
    -- judged where there is a value: without one, nothing reaches a target above zero
    SELECT s.id AS challenge_id, e.resident_id, s.for_team, e.team_id
    FROM best b
    JOIN shaped s ON s.id = b.challenge_id
    JOIN dirty_members e ON e.campaign_id = b.campaign_id AND e.resident_id = b.resident_id AND e.taking_part
    CROSS JOIN LATERAL (
        -- the rule's target, or for a personal goal the share of the participant's baseline answer
        SELECT CASE s.rule_kind WHEN 'quantity' THEN (s.r ->> 'target')::numeric
                                WHEN 'distinct_days' THEN (s.r ->> 'days')::numeric
                                ELSE round(coalesce((e.baseline ->> (s.r ->> 'question'))::numeric, 0)
                                           * (s.r ->> 'share')::numeric, 6) END AS target) t
    WHERE b.value >= t.target AND t.target > 0
      -- a challenge the participant's arm does not get is not judged for them: a success stored falls back
      -- (NOT IN: a hash of the few pairs hidden, which NOT EXISTS planned as a scan of them per pair met)
      AND (s.id, e.resident_id) NOT IN (SELECT challenge_id, resident_id FROM hidden)
), was AS MATERIALIZED (
    SELECT p.challenge_id, p.resident_id, s.for_team, e.team_id
    FROM dirty_members e
    JOIN shaped s ON s.campaign_id = e.campaign_id
    CROSS JOIN LATERAL (
        SELECT p.challenge_id, p.resident_id FROM challenges_met p
        WHERE p.challenge_id = s.id AND p.resident_id = e.resident_id OFFSET 0) p
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
