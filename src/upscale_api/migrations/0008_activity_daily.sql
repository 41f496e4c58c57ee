-- Sums per day at two grains. By action type only where something reads them
-- by type: all actions per city (the city impact report), and a campaign's
-- totals for the whole campaign and per city (collective goals). Every scope,
-- districts and teams included, keeps its day over all types, with the
-- residents active that day, in activity_daily, which replaces
-- participants_daily: by type, districts and teams were three quarters of the
-- rows every tick and rebuild wrote, and nothing read them by type.
CREATE TABLE activity_daily (
    campaign_id  integer NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('campaign', 'city', 'district', 'team')),
    scope_id     integer NOT NULL,
    local_date   date NOT NULL,
    residents    integer NOT NULL,          -- residents with counted actions that day
    co2e_kg      numeric NOT NULL,
    points       numeric NOT NULL,
    actions      integer NOT NULL,
    PRIMARY KEY (campaign_id, scope, scope_id, local_date)
);

INSERT INTO activity_daily (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT campaign_id, scope, scope_id, local_date, coalesce(p.residents, 0),
       coalesce(t.co2e_kg, 0), coalesce(t.points, 0), coalesce(t.actions, 0)
FROM participants_daily p
FULL JOIN (SELECT campaign_id, scope, scope_id, local_date,
                  sum(co2e_kg) AS co2e_kg, sum(points) AS points, sum(actions)::int AS actions
           FROM totals_daily GROUP BY 1, 2, 3, 4) t USING (campaign_id, scope, scope_id, local_date);

DROP TABLE participants_daily;

DELETE FROM totals_daily WHERE scope IN ('district', 'team');
ALTER TABLE totals_daily DROP CONSTRAINT totals_daily_scope_check;
ALTER TABLE totals_daily ADD CONSTRAINT totals_daily_scope_check CHECK (scope IN ('campaign', 'city'));
