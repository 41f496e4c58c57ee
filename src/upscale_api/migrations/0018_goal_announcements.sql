-- A collective goal reached is announced to everyone it concerns, with the
-- badges it gives: in a national campaign a million messages and badges,
-- which took the standings run about 30 s in one transaction while no other
-- campaign's standings moved. The run now records the goal here and announces
-- it to a first chunk of participants; the rest follow in chunks, each one
-- transaction (scoring.announce_goals), in resident id order from where the
-- last chunk ended. A chunk rolled back is taken again; the messages' dedupe
-- keys and the badges' keys keep a chunk taken twice from writing anything twice.
CREATE TABLE goal_announcements (
    challenge_id       integer NOT NULL,
    scope_id           integer NOT NULL,            -- 0: the whole campaign, else a city
    campaign_id        integer NOT NULL,
    reached_at         timestamptz NOT NULL,
    announced_through  bigint NOT NULL DEFAULT 0,   -- participants with resident ids up to it have it
    PRIMARY KEY (challenge_id, scope_id)
);
