-- A rank counts everyone above, so when any score moves most ranks move: a
-- national campaign's standings rewrote 990,000 rows (10 s, 490 MB of WAL)
-- on every run. Standings now keep each entry's score, written only where it
-- changed, and each scope's distinct scores with how many entries are above
-- them: an entry's rank is that count plus one (ties share a rank: 1, 2, 2,
-- 4), and the levels are a small fraction of the entries (79,000 for those
-- 990,000). The standings job keeps both, one campaign per transaction.
CREATE TABLE standings_levels (
    campaign_id integer NOT NULL,
    scope       text NOT NULL,
    score       numeric NOT NULL,
    above       integer NOT NULL,    -- entries of this campaign and scope with a higher score
    PRIMARY KEY (campaign_id, scope, score)
);

INSERT INTO standings_levels (campaign_id, scope, score, above)
SELECT campaign_id, scope, score, min(rank) - 1 FROM standings GROUP BY campaign_id, scope, score;

DROP INDEX standings_rank;
ALTER TABLE standings DROP COLUMN rank;
-- The top of a scope, best first; entries of equal score by subject id.
CREATE INDEX standings_by_score ON standings (campaign_id, scope, score DESC, subject_id);
