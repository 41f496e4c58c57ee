-- Rate limits shared by every API process (UPSCALE_RATE_LIMIT_STORE=postgres):
-- one row per limited key ('resident:<uid>', 'address:<ip>', ...) holding its
-- theoretical arrival time (GCRA), in microseconds since the epoch on the
-- database's clock. A key whose time has passed has its whole quota again,
-- the same as a key without a row, so the worker deletes such rows.
-- UNLOGGED: counts that would matter for a minute are not worth WAL and
-- replication; a crash empties the table, which only hands out full quotas.
-- No index besides the key, so each charge is a HOT update in place (room
-- for it kept by the fill factor); the cleanup scans the small table.
CREATE UNLOGGED TABLE rate_limits (
    key  text PRIMARY KEY,
    tat  bigint NOT NULL
) WITH (fillfactor = 70);
