-- How long a campaign's last standings took to compute. Standings that take a
-- second or more (a campaign of a million participants takes about ten) are
-- computed again at most once per ten times that, so that the standings job
-- holds at most a tenth of a core for them however large campaigns grow.
ALTER TABLE standings_computed ADD COLUMN took interval NOT NULL DEFAULT interval '0';
