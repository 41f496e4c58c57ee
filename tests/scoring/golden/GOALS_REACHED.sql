INSERT INTO goal_announcements (challenge_id, scope_id, campaign_id, reached_at)
SELECT g.challenge_id, g.scope_id, $1, $4 FROM unnest($2::int[], $3::int[]) AS g (challenge_id, scope_id)
ON CONFLICT (challenge_id, scope_id) DO NOTHING
