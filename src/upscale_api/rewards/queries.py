"""SQL for partners, rewards, redemptions, partner keys, city cards and card deliveries.

A redemption "counts" (its points are spent, its item taken from the stock) while
it is used or delivered, or issued and not expired. An issued code past its expiry
stops counting at once in every balance; the worker's ``expire`` job then marks it
expired and gives its item back to the stock.
"""

# What the status of a redemption is at $now: an issued code past its expiry is expired.
_STATUS_AT = """CASE WHEN r.status = 'issued' AND r.expires_at <= {now} THEN 'expired' ELSE r.status END"""
_COUNTS_AT = """(r.status IN ('used', 'delivered')
     OR (r.status = 'issued' AND (r.expires_at IS NULL OR r.expires_at > {now})))"""

# --- Storing definitions ----------------------------------------------------------------

# $1 partner codes: who owns each stored one, and the reward codes of other partners among $2.
STORED_PARTNERS = """
SELECT p.code, p.source, c.code AS city FROM partners p JOIN cities c ON c.id = p.city_id WHERE p.code = ANY($1::text[])
"""
REWARD_OWNERS = """
SELECT w.code AS reward, p.code AS partner
FROM rewards w JOIN partners p ON p.id = w.partner_id
WHERE w.code = ANY($1::text[])
"""

# $1 rows {city, code, kind, name, description, website, address, webhook_url, active, definition}, $2 source.
UPSERT_PARTNERS = """
INSERT INTO partners (city_id, code, kind, name, description, website, address, webhook_url, active, source, definition)
SELECT c.id, x.code, x.kind, x.name, x.description, x.website, x.address, x.webhook_url, x.active, $2, x.definition
FROM jsonb_to_recordset($1::jsonb) AS x(city text, code text, kind text, name jsonb, description jsonb,
                                        website text, address text, webhook_url text, active boolean, definition jsonb)
JOIN cities c ON c.code = x.city
ON CONFLICT (code) DO UPDATE SET
    city_id = excluded.city_id, kind = excluded.kind, name = excluded.name, description = excluded.description,
    website = excluded.website, address = excluded.address, webhook_url = excluded.webhook_url,
    active = excluded.active, definition = excluded.definition, updated_at = now()
WHERE partners.definition IS DISTINCT FROM excluded.definition OR partners.city_id <> excluded.city_id
"""

# $1 rows {partner, position, code, title, description, cost, stock, limit_per_resident, limit_period,
# available_from, available_until, code_valid_days, delivery, active}.
UPSERT_REWARDS = """
INSERT INTO rewards (partner_id, city_id, code, title, description, cost, stock, limit_per_resident, limit_period,
                     available_from, available_until, code_valid_days, delivery, active, position)
SELECT p.id, p.city_id, x.code, x.title, x.description, x.cost, x.stock, x.limit_per_resident, x.limit_period,
       x.available_from, x.available_until, x.code_valid_days, x.delivery, x.active AND p.active, x.position
FROM jsonb_to_recordset($1::jsonb) AS x(partner text, position integer, code text, title jsonb, description jsonb,
                                        cost integer, stock integer, limit_per_resident integer, limit_period text,
                                        available_from date, available_until date, code_valid_days integer,
                                        delivery text, active boolean)
JOIN partners p ON p.code = x.partner
ON CONFLICT (code) DO UPDATE SET
    title = excluded.title, description = excluded.description, cost = excluded.cost, stock = excluded.stock,
    limit_per_resident = excluded.limit_per_resident, limit_period = excluded.limit_period,
    available_from = excluded.available_from, available_until = excluded.available_until,
    code_valid_days = excluded.code_valid_days, delivery = excluded.delivery, active = excluded.active,
    position = excluded.position, updated_at = now()
WHERE (rewards.title, rewards.description, rewards.cost, rewards.stock, rewards.limit_per_resident,
       rewards.limit_period, rewards.available_from, rewards.available_until, rewards.code_valid_days,
       rewards.delivery, rewards.active, rewards.position)
      IS DISTINCT FROM
      (excluded.title, excluded.description, excluded.cost, excluded.stock, excluded.limit_per_resident,
       excluded.limit_period, excluded.available_from, excluded.available_until, excluded.code_valid_days,
       excluded.delivery, excluded.active, excluded.position)
"""

# $1 partner codes, $2 the reward codes they still define: the others are withdrawn.
RETIRE_REWARDS = """
UPDATE rewards w SET active = false, updated_at = now()
FROM partners p
WHERE p.id = w.partner_id AND p.code = ANY($1::text[]) AND w.active AND NOT (w.code = ANY($2::text[]))
"""

# $1 the codes of the partners the files define: a partner whose file is gone is withdrawn with its rewards.
RETIRE_FILE_PARTNERS = """
WITH gone AS (
    UPDATE partners SET active = false, updated_at = now()
    WHERE source = 'file' AND active AND NOT (code = ANY($1::text[]))
    RETURNING id
)
UPDATE rewards SET active = false, updated_at = now() WHERE partner_id IN (SELECT id FROM gone) AND active
"""

# --- What residents read ----------------------------------------------------------------

_REWARD_COLUMNS = """
w.id, w.code, w.title, w.description, w.cost, w.stock, w.claimed, w.limit_per_resident, w.limit_period,
w.available_from, w.available_until, w.code_valid_days, w.delivery, w.city_id, c.code AS city, c.time_zone,
p.id AS partner_id, p.code AS partner, p.kind AS partner_kind, p.name AS partner_name,
p.description AS partner_description, p.website, p.address, p.webhook_url
"""

# $1 city id, $2 the local date there: the rewards that can be redeemed now or later.
REWARDS_OF_CITY = (
    "SELECT"
    + _REWARD_COLUMNS
    + """
FROM rewards w
JOIN partners p ON p.id = w.partner_id
JOIN cities c ON c.id = w.city_id
WHERE w.city_id = $1 AND w.active AND p.active
  AND (w.available_until IS NULL OR w.available_until >= $2::date)
ORDER BY w.cost, w.code
"""
)

# $1 reward code.
REWARD = (
    "SELECT"
    + _REWARD_COLUMNS
    + """, w.active AND p.active AS active
FROM rewards w
JOIN partners p ON p.id = w.partner_id
JOIN cities c ON c.id = w.city_id
WHERE w.code = $1
"""
)

# $1 resident, $2 now: points spent per city.
SPENT = (
    """
SELECT r.city_id, coalesce(sum(r.cost), 0)::bigint AS spent
FROM redemptions r
WHERE r.resident_id = $1 AND """
    + _COUNTS_AT.format(now="$2")
    + """
GROUP BY r.city_id
"""
)

# $1 resident, $2 reward ids, $3 now, $4 the time zone periods are counted in: redemptions that count,
# per reward, within the current period of its limit.
REDEEMED_IN_PERIOD = (
    """
SELECT r.reward_id, count(*)::integer AS redeemed
FROM redemptions r
JOIN rewards w ON w.id = r.reward_id
WHERE r.resident_id = $1 AND r.reward_id = ANY($2::integer[]) AND """
    + _COUNTS_AT.format(now="$3")
    + """
  AND (w.limit_period = 'ever'
       OR r.created_at >= (date_trunc(CASE w.limit_period WHEN 'ever' THEN 'year' ELSE w.limit_period END,
                                      $3::timestamptz AT TIME ZONE $4) AT TIME ZONE $4))
GROUP BY r.reward_id
"""
)

# --- Redeeming ---------------------------------------------------------------------------

# $1 redemption id.
REDEMPTION_OWNER = "SELECT resident_id, reward_id FROM redemptions WHERE id = $1"

# $1 resident, $2 city: takes the lock that serialises the resident's spending in the city's programme.
LOCK_WALLET = """
INSERT INTO reward_wallets AS w (resident_id, city_id) VALUES ($1, $2)
ON CONFLICT (resident_id, city_id) DO UPDATE SET redemptions = w.redemptions + 1, last_redeemed = now()
"""

# $1 id, $2 resident, $3 city, $4 reward, $5 partner, $6 cost, $7 code, $8 now, $9 expires_at.
INSERT_REDEMPTION = """
INSERT INTO redemptions (id, resident_id, city_id, reward_id, partner_id, cost, code, status, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'issued', $8, $9)
"""

# $1 reward id: one more item handed out, unless none is left. Taken last, just before the commit,
# so the row lock every redemption of the reward waits for is held as briefly as possible.
CLAIM_STOCK = """
UPDATE rewards SET claimed = claimed + 1 WHERE id = $1 AND (stock IS NULL OR claimed < stock) RETURNING claimed
"""

# $1 resident, $2 city.
CARD_HASH = "SELECT card_hash FROM city_cards WHERE resident_id = $1 AND city_id = $2"

# $1 id, $2 redemption, $3 city, $4 partner, $5 url, $6 payload, $7 now.
INSERT_DELIVERY = """
INSERT INTO reward_deliveries (id, redemption_id, city_id, partner_id, url, payload, created_at, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
"""

_REDEMPTION_COLUMNS = (
    """
SELECT r.id, c.code AS city, w.code AS reward, w.title, p.name AS partner_name, p.code AS partner, r.cost, r.code,
       """
    + _STATUS_AT.format(now="$2")
    + """ AS status, r.created_at, r.expires_at, r.used_at, r.partner_id, r.city_id
FROM redemptions r
JOIN rewards w ON w.id = r.reward_id
JOIN partners p ON p.id = r.partner_id
JOIN cities c ON c.id = r.city_id
"""
)

# $1 id, $2 now.
REDEMPTION = _REDEMPTION_COLUMNS + "WHERE r.id = $1\n"

# $1 resident, $2 now, ($3, $4) the cursor, $5 limit.
RESIDENT_PAGE = (
    _REDEMPTION_COLUMNS
    + """
WHERE r.resident_id = $1 AND ($3::timestamptz IS NULL OR (r.created_at, r.id) < ($3, $4::uuid))
ORDER BY r.created_at DESC, r.id DESC
LIMIT $5
"""
)

# $1 id, $2 resident, $3 now: an unused, unexpired code given back; its item returns to the stock.
CANCEL = """
WITH cancelled AS (
    UPDATE redemptions SET status = 'cancelled', returned_at = $3
    WHERE id = $1 AND resident_id = $2 AND status = 'issued' AND code IS NOT NULL AND expires_at > $3
    RETURNING reward_id
)
UPDATE rewards SET claimed = claimed - 1 FROM cancelled WHERE rewards.id = cancelled.reward_id
RETURNING rewards.id
"""

# $1 now: codes past their expiry marked expired, their items given back to the stock (set-based).
EXPIRE = """
WITH expired AS (
    UPDATE redemptions SET status = 'expired', returned_at = expires_at
    WHERE status = 'issued' AND expires_at <= $1
    RETURNING reward_id
), by_reward AS (
    SELECT reward_id, count(*)::integer AS n FROM expired GROUP BY reward_id
)
UPDATE rewards SET claimed = greatest(claimed - by_reward.n, 0)
FROM by_reward WHERE rewards.id = by_reward.reward_id
RETURNING by_reward.n
"""

# $1 resident, $2 city, $3 the resident's time zone, ($4 local date, $5 rank, $6 ref) the cursor, $7 limit, $8 now:
# the redemptions and the points given back, as movements of the balance, newest first. A movement's
# position is its local day, its rank (2 returned, 1 redeemed; a campaign's points are rank 0) and the
# moment in microseconds.
REDEMPTION_MOVES = """
WITH moves AS (
    SELECT (r.created_at AT TIME ZONE $3)::date AS on_day, 1 AS rank,
           (extract(epoch FROM r.created_at) * 1000000)::bigint AS ref,
           'redeemed' AS kind, -r.cost AS points, w.code AS reward, w.title, r.id
    FROM redemptions r JOIN rewards w ON w.id = r.reward_id
    WHERE r.resident_id = $1 AND r.city_id = $2
    UNION ALL
    SELECT (x.returned AT TIME ZONE $3)::date, 2, (extract(epoch FROM x.returned) * 1000000)::bigint,
           'returned', r.cost, w.code, w.title, r.id
    FROM redemptions r
    JOIN rewards w ON w.id = r.reward_id
    CROSS JOIN LATERAL (SELECT coalesce(r.returned_at,
                                        CASE WHEN r.status = 'issued' AND r.expires_at <= $8 THEN r.expires_at END)
                        AS returned) x
    WHERE r.resident_id = $1 AND r.city_id = $2 AND x.returned IS NOT NULL
)
SELECT * FROM moves
WHERE $4::date IS NULL OR (on_day, rank, ref) < ($4::date, $5::integer, $6::bigint)
ORDER BY on_day DESC, rank DESC, ref DESC
LIMIT $7
"""

# --- City cards ---------------------------------------------------------------------------

# $1 resident, $2 city, $3 hash.
LINK_CARD = """
INSERT INTO city_cards (resident_id, city_id, card_hash) VALUES ($1, $2, $3)
ON CONFLICT (resident_id, city_id) DO UPDATE SET card_hash = excluded.card_hash, linked_at = now()
RETURNING (xmax = 0) AS created, linked_at
"""
CARD = "SELECT linked_at FROM city_cards WHERE resident_id = $1 AND city_id = $2"
UNLINK_CARD = "DELETE FROM city_cards WHERE resident_id = $1 AND city_id = $2"

# --- Partners ------------------------------------------------------------------------------

# $1 the key's SHA-256: the live key's partner; its last use is noted at most once a minute.
PARTNER_BY_KEY = """
WITH found AS (
    SELECT k.id AS key_id, p.id AS partner_id, p.code AS partner, p.city_id, k.last_used_at
    FROM partner_keys k JOIN partners p ON p.id = k.partner_id
    WHERE k.hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()) AND p.active
), touched AS (
    UPDATE partner_keys SET last_used_at = now()
    WHERE id = (SELECT key_id FROM found)
      AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
)
SELECT key_id, partner_id, partner, city_id FROM found
"""

_PARTNER_REDEMPTION_COLUMNS = (
    """
SELECT r.id, r.code, w.code AS reward, w.title, p.code AS partner, c.code AS city, r.cost,
       """
    + _STATUS_AT.format(now="$2")
    + """ AS status, r.created_at, r.expires_at, r.used_at
FROM redemptions r
JOIN rewards w ON w.id = r.reward_id
JOIN partners p ON p.id = r.partner_id
JOIN cities c ON c.id = r.city_id
"""
)

# $1 code, $2 now, $3 partner: only the partner's own codes are found.
PARTNER_CODE = _PARTNER_REDEMPTION_COLUMNS + "WHERE r.code = $1 AND r.partner_id = $3\n"

# $1 code, $2 now, $3 partner, $4 key: the code used, once.
USE_CODE = """
UPDATE redemptions SET status = 'used', used_at = $2, used_by_key = $4
WHERE code = $1 AND partner_id = $3 AND status = 'issued' AND expires_at > $2
RETURNING id
"""

# $1 partner id (NULL: every partner of the city), $2 now, $3 city id, $4 status, ($5, $6) cursor, $7 limit.
PARTNER_PAGE = (
    _PARTNER_REDEMPTION_COLUMNS
    + """
WHERE ($1::integer IS NULL OR r.partner_id = $1) AND r.city_id = $3
  AND ($4::text IS NULL OR """
    + _STATUS_AT.format(now="$2")
    + """ = $4)
  AND ($5::timestamptz IS NULL OR (r.created_at, r.id) < ($5, $6::uuid))
ORDER BY r.created_at DESC, r.id DESC
LIMIT $7
"""
)

# $1 partner id.
PARTNER_SELF = """
SELECT p.code, c.code AS city, p.name,
       coalesce(array_agg(w.code ORDER BY w.position) FILTER (WHERE w.active), '{}') AS rewards
FROM partners p JOIN cities c ON c.id = p.city_id LEFT JOIN rewards w ON w.partner_id = p.id
WHERE p.id = $1
GROUP BY p.code, c.code, p.name
"""

# --- Keys ------------------------------------------------------------------------------------

_KEY_COLUMNS = "k.id, k.partner_id, k.prefix, k.created_at, k.created_by, k.expires_at, k.revoked_at, k.last_used_at"

# $1 partner id, $2 hash, $3 prefix, $4 created_by.
INSERT_KEY = f"""
INSERT INTO partner_keys AS k (partner_id, hash, prefix, created_by) VALUES ($1, $2, $3, $4)
RETURNING {_KEY_COLUMNS}
"""

# $1 key id, $2 partner id, $3 until: a rotated-out key keeps working until then.
RETIRE_KEY = f"""
UPDATE partner_keys k SET expires_at = least(coalesce(k.expires_at, $3), $3)
WHERE k.id = $1 AND k.partner_id = $2
RETURNING {_KEY_COLUMNS}
"""

# $1 key id, $2 partner id, $3 now.
REVOKE_KEY = f"""
UPDATE partner_keys k SET revoked_at = coalesce(k.revoked_at, $3)
WHERE k.id = $1 AND k.partner_id = $2
RETURNING {_KEY_COLUMNS}
"""

# $1 key id.
KEY = f"SELECT {_KEY_COLUMNS} FROM partner_keys k WHERE k.id = $1"

# $1 partner ids.
KEYS_OF = f"""
SELECT {_KEY_COLUMNS} FROM partner_keys k WHERE k.partner_id = ANY($1::integer[]) ORDER BY k.created_at DESC, k.id DESC
"""

# --- Coordinators -----------------------------------------------------------------------------

# $1 city id, $2 partner code (NULL: all): partners with what each of their rewards handed out.
PARTNERS_OF_CITY = """
SELECT p.id, p.code, c.code AS city, p.source, p.definition,
       coalesce(jsonb_object_agg(w.code, w.claimed) FILTER (WHERE w.code IS NOT NULL), '{}') AS claimed
FROM partners p
JOIN cities c ON c.id = p.city_id
LEFT JOIN rewards w ON w.partner_id = p.id
WHERE p.city_id = $1 AND ($2::text IS NULL OR p.code = $2)
GROUP BY p.id, p.code, c.code, p.source, p.definition
ORDER BY p.code
"""

# $1 partner code.
PARTNER_ID = "SELECT p.id, c.code AS city FROM partners p JOIN cities c ON c.id = p.city_id WHERE p.code = $1"

# $1 redemption ids.
DELIVERIES = """
SELECT d.redemption_id, d.id, d.url, d.delivered_at, d.next_attempt_at
FROM reward_deliveries d WHERE d.redemption_id = ANY($1::uuid[])
"""
ATTEMPTS = """
SELECT delivery_id, attempt, attempted_at, status_code, error, duration_ms
FROM reward_delivery_attempts WHERE delivery_id = ANY($1::uuid[])
ORDER BY delivery_id, attempt
"""

# --- Card deliveries (the worker) -----------------------------------------------------------

# $1 now, $2 how many: due deliveries, locked for this worker; others skip them.
CLAIM_DELIVERIES = """
SELECT id, url, payload, attempts
FROM reward_deliveries
WHERE delivered_at IS NULL AND next_attempt_at <= $1
ORDER BY next_attempt_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""

# $1 rows {id, attempt, attempted_at, status_code, error, duration_ms, delivered, next_attempt_at}: every
# attempt recorded, each delivery moved on, and acknowledged ones' redemptions delivered.
RECORD_ATTEMPTS = """
WITH x AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, attempt integer, attempted_at timestamptz,
        status_code integer, error text, duration_ms double precision, delivered boolean, next_attempt_at timestamptz)
), logged AS (
    INSERT INTO reward_delivery_attempts (delivery_id, attempt, attempted_at, status_code, error, duration_ms)
    SELECT id, attempt, attempted_at, status_code, error, duration_ms FROM x
), moved AS (
    UPDATE reward_deliveries d
    SET attempts = x.attempt, last_status = x.status_code, last_error = x.error,
        delivered_at = CASE WHEN x.delivered THEN x.attempted_at END,
        next_attempt_at = CASE WHEN x.delivered THEN d.next_attempt_at ELSE x.next_attempt_at END
    FROM x WHERE d.id = x.id
    RETURNING d.redemption_id, d.delivered_at
)
UPDATE redemptions r SET status = 'delivered', used_at = moved.delivered_at
FROM moved WHERE r.id = moved.redemption_id AND moved.delivered_at IS NOT NULL AND r.status = 'issued'
"""
