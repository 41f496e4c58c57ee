-- Rewards: local partners of a city, the rewards they give for points, residents'
-- redemptions, partner API keys, city-card links and the outbox of card deliveries.
--
-- A resident's balance in a city's programme is not stored: it is the points the
-- scoring job computed for their campaign days in that city, minus the cost of
-- their redemptions that still count (used, delivered, or issued and not expired).

-- A partner (a shop, a museum, the transport operator, a farm, the city card) of
-- one city, from a file under campaigns/<city>/rewards/ or the coordinator API.
CREATE TABLE partners (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    city_id      integer NOT NULL REFERENCES cities (id),
    code         text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]*$'),
    kind         text NOT NULL,
    name         jsonb NOT NULL,
    description  jsonb NOT NULL,
    website      text,
    address      text,
    webhook_url  text,                        -- where deliveries to the city card go
    active       boolean NOT NULL DEFAULT true,
    source       text NOT NULL CHECK (source IN ('file', 'api')),
    definition   jsonb NOT NULL,              -- the whole definition as given, rewards included
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partners_city ON partners (city_id);

-- A reward withdrawn from a definition is retired (active = false), never
-- deleted: redemptions point at it. ``claimed`` counts the items handed out
-- that still count against the stock; every redemption of a reward with a
-- stock updates it, so the fill factor leaves room for updates in place.
CREATE TABLE rewards (
    id                  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id          integer NOT NULL REFERENCES partners (id),
    city_id             integer NOT NULL REFERENCES cities (id),
    code                text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]*$'),
    title               jsonb NOT NULL,
    description         jsonb NOT NULL,
    cost                integer NOT NULL CHECK (cost > 0),
    stock               integer CHECK (stock >= 0),        -- NULL: unlimited
    claimed             integer NOT NULL DEFAULT 0 CHECK (claimed >= 0),
    limit_per_resident  integer CHECK (limit_per_resident >= 1),
    limit_period        text NOT NULL DEFAULT 'ever' CHECK (limit_period IN ('ever', 'day', 'week', 'month')),
    available_from      date,
    available_until     date,
    code_valid_days     integer NOT NULL CHECK (code_valid_days BETWEEN 1 AND 366),
    delivery            text NOT NULL CHECK (delivery IN ('code', 'city-card')),
    active              boolean NOT NULL DEFAULT true,
    position            integer NOT NULL DEFAULT 0,         -- the order in its definition
    updated_at          timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70);
CREATE INDEX rewards_city ON rewards (city_id) WHERE active;
CREATE INDEX rewards_partner ON rewards (partner_id);

-- A partner's API keys: only the SHA-256 of each key is stored (the key is shown
-- once, when created). A rotated-out key keeps working until expires_at.
CREATE TABLE partner_keys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id    integer NOT NULL REFERENCES partners (id),
    hash          bytea NOT NULL UNIQUE,
    prefix        text NOT NULL,              -- the key's first characters, to tell keys apart
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL,              -- a coordinator's uid, 'partner' (rotation) or 'operator'
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX partner_keys_partner ON partner_keys (partner_id);

-- One row per resident and city programme they ever redeemed in: redemptions
-- lock it, so one resident's spending in a city is serialised across processes.
CREATE TABLE reward_wallets (
    resident_id    bigint NOT NULL REFERENCES residents (id),
    city_id        integer NOT NULL REFERENCES cities (id),
    redemptions    integer NOT NULL DEFAULT 0,
    last_redeemed  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (resident_id, city_id)
);

-- The app chooses a redemption's id (retries are recognised). ``code`` is what
-- the resident shows the partner; NULL for deliveries to the city card.
-- reward_id and partner_id carry no foreign keys: checking one locks the
-- referenced row (FOR KEY SHARE) until the commit, and every redemption of a
-- popular reward would then turn that row's lock into a shared multixact with
-- the stock update; rewards and partners are never deleted, only withdrawn.
CREATE TABLE redemptions (
    id            uuid PRIMARY KEY,
    resident_id   bigint NOT NULL REFERENCES residents (id),
    city_id       integer NOT NULL REFERENCES cities (id),
    reward_id     integer NOT NULL,
    partner_id    integer NOT NULL,
    cost          integer NOT NULL CHECK (cost > 0),
    code          text UNIQUE,
    status        text NOT NULL CHECK (status IN ('issued', 'used', 'delivered', 'cancelled', 'expired')),
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,                -- NULL: deliveries to the card do not expire
    used_at       timestamptz,                -- used at the partner, or acknowledged by the card
    used_by_key   bigint REFERENCES partner_keys (id),
    returned_at   timestamptz,                -- cancelled or expired: points and stock given back
    CHECK ((status = 'issued') = (used_at IS NULL AND returned_at IS NULL))
);
CREATE INDEX redemptions_resident ON redemptions (resident_id, city_id, created_at DESC, id DESC);
CREATE INDEX redemptions_limit ON redemptions (reward_id, resident_id, created_at);
CREATE INDEX redemptions_partner ON redemptions (partner_id, created_at DESC, id DESC);
CREATE INDEX redemptions_city ON redemptions (city_id, created_at DESC, id DESC);
CREATE INDEX redemptions_expiring ON redemptions (expires_at) WHERE status = 'issued' AND expires_at IS NOT NULL;

-- A resident's city card in a city, kept only as a keyed hash of its number
-- (HMAC-SHA256 with UPSCALE_CITY_CARD_KEY, which the card operator holds too).
CREATE TABLE city_cards (
    resident_id  bigint NOT NULL REFERENCES residents (id),
    city_id      integer NOT NULL REFERENCES cities (id),
    card_hash    bytea NOT NULL,
    linked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (resident_id, city_id),
    UNIQUE (city_id, card_hash)
);

-- The outbox of deliveries to city cards: one webhook per redemption, signed and
-- retried with backoff until the partner acknowledges it (any 2xx).
CREATE TABLE reward_deliveries (
    id               uuid PRIMARY KEY,        -- the webhook-id the receiver deduplicates on
    redemption_id    uuid NOT NULL UNIQUE REFERENCES redemptions (id),
    city_id          integer NOT NULL REFERENCES cities (id),
    partner_id       integer NOT NULL REFERENCES partners (id),
    url              text NOT NULL,
    payload          jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    delivered_at     timestamptz,
    last_status      integer,
    last_error       text
);
CREATE INDEX reward_deliveries_due ON reward_deliveries (next_attempt_at) WHERE delivered_at IS NULL;

-- Every attempt, kept for audit.
CREATE TABLE reward_delivery_attempts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id     uuid NOT NULL REFERENCES reward_deliveries (id),
    attempt         integer NOT NULL,
    attempted_at    timestamptz NOT NULL,
    status_code     integer,                  -- NULL: no answer (refused, timed out)
    error           text,
    duration_ms     double precision NOT NULL
);
CREATE INDEX reward_delivery_attempts_delivery ON reward_delivery_attempts (delivery_id, attempt);
