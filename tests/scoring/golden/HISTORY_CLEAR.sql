WITH scores AS (DELETE FROM history_scores WHERE resident_id BETWEEN $1 AND $2)
DELETE FROM history_challenges WHERE resident_id BETWEEN $1 AND $2
