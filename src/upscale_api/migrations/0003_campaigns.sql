-- Campaigns, their teams, challenges, badges and scheduled nudges, and who
-- enrolled. A campaign belongs to its first city (city_id) and may run in
-- several (campaign_cities) that compete with each other.
--
-- What a person sets is draft, scheduled or archived; active and ended follow
-- the clock between starts_at and ends_at (see campaign_phases).

CREATE TABLE campaigns (
    id                      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                    text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]*$'),
    city_id                 integer NOT NULL REFERENCES cities (id),
    title                   jsonb NOT NULL,
    description             jsonb NOT NULL,
    starts_on               date NOT NULL,
    ends_on                 date NOT NULL,
    starts_at               timestamptz NOT NULL,   -- starts_on 00:00 in the owner city's time zone
    ends_at                 timestamptz NOT NULL,   -- the day after ends_on, 00:00 there
    status                  text NOT NULL CHECK (status IN ('draft', 'scheduled', 'archived')),
    enrolment               text NOT NULL CHECK (enrolment IN ('open', 'invite', 'team')),
    invite_code             text,
    residents_create_teams  boolean NOT NULL DEFAULT false,
    questions               jsonb NOT NULL DEFAULT '[]',
    definition              jsonb NOT NULL,          -- the whole definition as last applied
    source                  text NOT NULL CHECK (source IN ('file', 'api')),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK (starts_on <= ends_on),
    CHECK (enrolment <> 'invite' OR invite_code IS NOT NULL)
);

CREATE TABLE campaign_cities (
    campaign_id  integer NOT NULL REFERENCES campaigns (id),
    city_id      integer NOT NULL REFERENCES cities (id),
    PRIMARY KEY (campaign_id, city_id)
);
CREATE INDEX campaign_cities_city ON campaign_cities (city_id);

CREATE TABLE campaign_action_types (
    campaign_id         integer NOT NULL REFERENCES campaigns (id),
    action_type_id      integer NOT NULL REFERENCES action_types (id),
    points_per_unit     double precision NOT NULL CHECK (points_per_unit >= 0),
    max_points_per_day  double precision CHECK (max_points_per_day > 0),
    PRIMARY KEY (campaign_id, action_type_id)
);

CREATE TABLE teams (
    id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id     integer NOT NULL REFERENCES campaigns (id),
    city_id         integer NOT NULL REFERENCES cities (id),
    code            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('school', 'kindergarten', 'workplace', 'association', 'district', 'other')),
    name            text NOT NULL,
    member_quota    integer CHECK (member_quota >= 1),
    invite_code     text NOT NULL UNIQUE DEFAULT upper(substr(md5(gen_random_uuid()::text), 1, 10)),
    created_by      bigint REFERENCES residents (id),   -- NULL: created by a coordinator or a file
    active          boolean NOT NULL DEFAULT true,
    UNIQUE (campaign_id, code)
);

CREATE TABLE challenges (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id  integer NOT NULL REFERENCES campaigns (id),
    code         text NOT NULL,
    title        jsonb NOT NULL,
    description  jsonb NOT NULL,
    rule         jsonb NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    UNIQUE (campaign_id, code)
);

CREATE TABLE badges (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id  integer NOT NULL REFERENCES campaigns (id),
    code         text NOT NULL,
    title        jsonb NOT NULL,
    description  jsonb NOT NULL,
    rule         jsonb NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    UNIQUE (campaign_id, code)
);

CREATE TABLE nudges (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id  integer NOT NULL REFERENCES campaigns (id),
    code         text NOT NULL,
    schedule     jsonb NOT NULL,
    audience     text NOT NULL,
    title        jsonb NOT NULL,
    body         jsonb NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    UNIQUE (campaign_id, code)
);

-- A resident is in a campaign at most once and in at most one of its teams.
CREATE TABLE enrolments (
    campaign_id  integer NOT NULL REFERENCES campaigns (id),
    resident_id  bigint NOT NULL REFERENCES residents (id),
    city_id      integer NOT NULL REFERENCES cities (id),
    team_id      integer REFERENCES teams (id),
    baseline     jsonb NOT NULL DEFAULT '{}',            -- answers to the campaign's questions
    enrolled_at  timestamptz NOT NULL DEFAULT now(),
    left_at      timestamptz,
    PRIMARY KEY (campaign_id, resident_id)
);
CREATE INDEX enrolments_resident ON enrolments (resident_id);
CREATE INDEX enrolments_team ON enrolments (team_id) WHERE left_at IS NULL;

CREATE VIEW campaign_phases AS
SELECT c.id,
       CASE WHEN c.status <> 'scheduled' THEN c.status
            WHEN now() < c.starts_at THEN 'scheduled'
            WHEN now() < c.ends_at THEN 'active'
            ELSE 'ended' END AS phase
FROM campaigns c;
