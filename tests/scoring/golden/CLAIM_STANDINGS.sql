WITH taken AS (
    DELETE FROM standings_due d
    WHERE d.campaign_id = (
        SELECT u.campaign_id FROM standings_due u
        WHERE NOT EXISTS (SELECT FROM standings_computed s
                          WHERE s.campaign_id = u.campaign_id AND s.took >= interval '1 second'
                            AND s.computed_at + s.took * 10 > $1)
        ORDER BY u.since LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING d.campaign_id
)
SELECT t.campaign_id,
       EXISTS (SELECT 1 FROM standings_computed s WHERE s.campaign_id = t.campaign_id AND s.final) AS final
FROM taken t
