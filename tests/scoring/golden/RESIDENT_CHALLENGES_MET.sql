SELECT k.code AS campaign, ch.code AS challenge, m.met_at
FROM challenges_met m JOIN challenges ch ON ch.id = m.challenge_id JOIN campaigns k ON k.id = ch.campaign_id
WHERE m.resident_id = $1
ORDER BY m.met_at, k.code, ch.code
