"""SQL of the dashboard's sessions (``sessions.py``); the pages read through the other domains' services."""

SESSION_GET = """
SELECT value FROM dashboard_sessions
WHERE key_hash = $1 AND (expires_at IS NULL OR expires_at > now())
"""

SESSION_RENEW = """
UPDATE dashboard_sessions SET expires_at = now() + make_interval(secs => $2)
WHERE key_hash = $1 AND (expires_at IS NULL OR expires_at > now())
RETURNING value
"""

SESSION_SET = """
INSERT INTO dashboard_sessions (key_hash, value, expires_at)
VALUES ($1, $2, CASE WHEN $3::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $3) END)
ON CONFLICT (key_hash) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
"""

SESSION_DELETE = "DELETE FROM dashboard_sessions WHERE key_hash = $1"

SESSION_DELETE_ALL = "DELETE FROM dashboard_sessions"

SESSION_EXPIRES_IN = """
SELECT ceil(extract(epoch FROM expires_at - now()))::int AS seconds, expires_at IS NULL AS forever
FROM dashboard_sessions WHERE key_hash = $1 AND (expires_at IS NULL OR expires_at > now())
"""

SESSION_SWEEP = "DELETE FROM dashboard_sessions WHERE expires_at <= now()"
