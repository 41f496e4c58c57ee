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
