-- Sessions of the coordinator dashboard (/dashboard), kept on the server: the browser holds only a
-- random id, in an HttpOnly cookie; this table holds its SHA-256, so reading the table does not
-- give anyone a usable session. Shared by every API process, like the rate limits' table. UNLOGGED:
-- a crash that empties it only signs coordinators out.
CREATE UNLOGGED TABLE dashboard_sessions (
    key_hash    bytea PRIMARY KEY,
    value       bytea NOT NULL,
    expires_at  timestamptz
);
