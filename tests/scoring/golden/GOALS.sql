SELECT ch.code AS challenge, ch.title, ch.rule, c.code AS city, coalesce(c.name ->> $2, c.name ->> 'en') AS city_name,
       p.value::float8 AS value, p.target::float8 AS target, p.met_at, p.computed_at
FROM challenges ch
JOIN collective_progress p ON p.challenge_id = ch.id
LEFT JOIN cities c ON c.id = p.scope_id
WHERE ch.campaign_id = $1 AND ch.active AND ch.rule ->> 'kind' = 'collective'
ORDER BY ch.code, p.scope_id <> 0, city_name
