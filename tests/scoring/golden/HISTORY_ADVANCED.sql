WITH finished AS (UPDATE history_advanced SET finished_at = now() WHERE cutoff = $1 RETURNING cutoff)
DELETE FROM history_advanced WHERE cutoff <> $1 AND EXISTS (SELECT FROM finished)
