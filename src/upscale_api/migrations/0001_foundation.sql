-- Foundation: cities (tenants), the action catalogue with versioned emission
-- factors, residents, role grants and the action log.
--
-- Every tenant row carries city_id: it is the tenant key and the distribution
-- key if the database is ever sharded by city.

CREATE TABLE cities (
    id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]*$'),
    country         text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    name            jsonb NOT NULL,          -- {"sl": "...", "en": "..."}
    time_zone       text NOT NULL,
    languages       text[] NOT NULL CHECK (cardinality(languages) >= 1),
    climate_target  jsonb,                   -- {"baseline_year", "target_year", "reduction_t_co2e"}
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE districts (
    id       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    city_id  integer NOT NULL REFERENCES cities (id),
    code     text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9-]*$'),
    name     jsonb NOT NULL,
    active   boolean NOT NULL DEFAULT true,   -- a district removed from the file is retired, not deleted
    UNIQUE (city_id, code)
);

-- A correction to a factor is a new row with the next version; old rows stay so
-- every stored saving can say which version produced it.
CREATE TABLE emission_factors (
    id                integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code              text NOT NULL,
    version           integer NOT NULL CHECK (version >= 1),
    title             text NOT NULL,
    value             double precision NOT NULL CHECK (value >= 0),   -- kg CO2e per unit
    per               text NOT NULL,                                   -- the activity unit
    baseline          text NOT NULL,
    method            text NOT NULL,
    uncertainty_low   double precision NOT NULL,
    uncertainty_high  double precision NOT NULL,
    sources           jsonb NOT NULL,
    UNIQUE (code, version),
    CHECK (uncertainty_low <= value AND value <= uncertainty_high)
);

-- The version in force is the highest one.
CREATE VIEW emission_factors_in_force AS
SELECT DISTINCT ON (code) *
FROM emission_factors
ORDER BY code, version DESC;

CREATE TABLE action_types (
    id               integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code             text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]*$'),
    category         text NOT NULL CHECK (category IN ('mobility', 'energy', 'food', 'consumption', 'waste')),
    unit             text NOT NULL,
    baseline_factor  text NOT NULL,          -- emission_factors.code
    option_factor    text,                   -- emission_factors.code; NULL = zero
    min_quantity     double precision NOT NULL CHECK (min_quantity > 0),
    max_quantity     double precision NOT NULL,
    max_per_day      double precision NOT NULL,
    step             double precision NOT NULL CHECK (step > 0),
    title            jsonb NOT NULL,
    description      jsonb NOT NULL,
    active           boolean NOT NULL DEFAULT true,
    CHECK (min_quantity <= max_quantity AND max_quantity <= max_per_day)
);

CREATE TABLE city_action_types (
    city_id         integer NOT NULL REFERENCES cities (id),
    action_type_id  integer NOT NULL REFERENCES action_types (id),
    PRIMARY KEY (city_id, action_type_id)
);

CREATE TABLE residents (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    firebase_uid  text NOT NULL UNIQUE,
    city_id       integer NOT NULL REFERENCES cities (id),
    district_id   integer REFERENCES districts (id),
    display_name  text,
    locale        text NOT NULL,
    time_zone     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX residents_city ON residents (city_id);

-- Roles come from here only, never from the client or token claims.
-- Every signed-in user is a resident; these grants add to that.
CREATE TABLE role_grants (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    firebase_uid  text NOT NULL,
    role          text NOT NULL CHECK (role IN ('coordinator', 'researcher', 'admin')),
    city_id       integer REFERENCES cities (id),
    granted_at    timestamptz NOT NULL DEFAULT now(),
    granted_by    text NOT NULL,
    CHECK ((role = 'coordinator') = (city_id IS NOT NULL))
);
CREATE UNIQUE INDEX role_grants_unique ON role_grants (firebase_uid, role, coalesce(city_id, 0));

-- Scheduled jobs read changes in change_seq order: a new row and a deletion both
-- take the next value, so a job's watermark sees both.
CREATE SEQUENCE action_log_changes;

CREATE TABLE action_logs (
    id                 uuid PRIMARY KEY,              -- chosen by the client: makes retries idempotent
    resident_id        bigint NOT NULL REFERENCES residents (id),
    city_id            integer NOT NULL REFERENCES cities (id),
    action_type_id     integer NOT NULL REFERENCES action_types (id),
    quantity           double precision NOT NULL CHECK (quantity > 0),
    performed_at       timestamptz NOT NULL,
    local_date         date NOT NULL,                 -- performed_at in the resident's time zone
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz,
    baseline_factor_id integer NOT NULL REFERENCES emission_factors (id),
    option_factor_id   integer REFERENCES emission_factors (id),
    co2e_kg            double precision NOT NULL,     -- the immediate estimate
    change_seq         bigint NOT NULL DEFAULT nextval('action_log_changes')
);
CREATE INDEX action_logs_resident_time ON action_logs (resident_id, performed_at DESC, id DESC);
CREATE INDEX action_logs_resident_day ON action_logs (resident_id, local_date, action_type_id);
CREATE INDEX action_logs_changes ON action_logs (change_seq);

-- Bumped whenever applying the definition files changed something; API
-- processes compare it to reload their in-memory copy of the catalogue.
CREATE TABLE definitions_revision (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    revision   bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO definitions_revision (revision) VALUES (0);
