-- A collective goal reached is announced to everyone it concerns, with the
-- badges it gives: in a national campaign a million messages and badges,
-- which the standings run wrote in the transaction that found the goal (most
-- of the 30 to 50 s a run of every campaign took after a rescore) while no
-- other campaign's standings moved. The run now records the goal here; the
-- worker's goals job announces a campaign's goals a span of resident ids per
-- transaction (scoring.announce_goals), from the first participant not told.
-- A span rolled back is taken again; the messages' dedupe keys and the badges'
-- keys keep a span taken twice from writing anything twice.
CREATE TABLE goal_announcements (
    challenge_id       integer NOT NULL,
    scope_id           integer NOT NULL,            -- 0: the whole campaign, else a city
    campaign_id        integer NOT NULL,
    reached_at         timestamptz NOT NULL,
    announced_through  bigint NOT NULL DEFAULT 0,   -- participants with resident ids up to it were told
    PRIMARY KEY (challenge_id, scope_id)
);
CREATE INDEX goal_announcements_campaign ON goal_announcements (campaign_id);
