-- Research: consent per purpose, studies with randomised arms, the decision log
-- of nudges, surveys, and the audit log of anonymised exports (docs/research.md).
--
-- Every row about a resident carries city_id (the tenant key). Consent
-- documents, survey instruments and studies come from the definition files.

-- A consent document version is history once stored: its text never changes.
CREATE TABLE consent_documents (
    purpose       text NOT NULL CHECK (purpose IN ('service', 'research', 'demographics')),
    version       integer NOT NULL CHECK (version >= 1),
    published_on  date NOT NULL,
    title         jsonb NOT NULL,
    body          jsonb NOT NULL,
    PRIMARY KEY (purpose, version)
);

-- Every grant and withdrawal, never updated: the history a resident and an auditor read.
CREATE TABLE consent_decisions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id  bigint NOT NULL REFERENCES residents (id),
    city_id      integer NOT NULL REFERENCES cities (id),
    purpose      text NOT NULL,
    version      integer NOT NULL,
    granted      boolean NOT NULL,
    decided_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (purpose, version) REFERENCES consent_documents (purpose, version)
);
CREATE INDEX consent_decisions_resident ON consent_decisions (resident_id, purpose, id DESC);

-- The latest decision per resident and purpose (kept with the history, in the same statement).
CREATE TABLE consents (
    resident_id  bigint NOT NULL REFERENCES residents (id),
    purpose      text NOT NULL,
    city_id      integer NOT NULL REFERENCES cities (id),
    version      integer NOT NULL,
    granted      boolean NOT NULL,
    decided_at   timestamptz NOT NULL,
    PRIMARY KEY (resident_id, purpose),
    FOREIGN KEY (purpose, version) REFERENCES consent_documents (purpose, version)
);

-- A consent is current when its latest decision grants the version in force (the highest).
CREATE VIEW current_consents AS
SELECT c.resident_id, c.purpose, c.city_id, c.version, c.decided_at
FROM consents c
WHERE c.granted
  AND c.version = (SELECT max(d.version) FROM consent_documents d WHERE d.purpose = c.purpose);

-- Given only under the demographics consent; erased when it is withdrawn.
CREATE TABLE resident_demographics (
    resident_id  bigint PRIMARY KEY REFERENCES residents (id),
    city_id      integer NOT NULL REFERENCES cities (id),
    birth_year   integer CHECK (birth_year BETWEEN 1900 AND 2100),
    gender       text CHECK (gender IN ('woman', 'man', 'another', 'prefer-not-to-say')),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Survey instruments: (code, version) is history once stored; answers name it.
CREATE TABLE survey_instruments (
    id       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code     text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9-]*$'),
    version  integer NOT NULL CHECK (version >= 1),
    title    jsonb NOT NULL,
    items    jsonb NOT NULL,
    UNIQUE (code, version)
);

CREATE TABLE studies (
    id                  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]*$'),
    city_id             integer NOT NULL REFERENCES cities (id),   -- the folder's city; not an access rule
    title               jsonb NOT NULL,
    description         jsonb NOT NULL,
    seed                text NOT NULL,                              -- the recorded random seed
    randomisation       text NOT NULL CHECK (randomisation IN ('blocks', 'simple')),
    stratify_by         text NOT NULL CHECK (stratify_by IN ('none', 'city', 'district')),
    recruiting          boolean NOT NULL DEFAULT true,
    controlled_nudges   text[] NOT NULL DEFAULT '{}',   -- nudge codes some arm names: only arms naming them get them
    controlled_challenges text[] NOT NULL DEFAULT '{}',
    definition          jsonb NOT NULL,
    source              text NOT NULL CHECK (source IN ('file', 'demo')),  -- demo: written by `upscale dev`
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- A campaign is in at most one study, so a participant's arm is never ambiguous.
CREATE TABLE study_campaigns (
    study_id     integer NOT NULL REFERENCES studies (id),
    campaign_id  integer NOT NULL UNIQUE REFERENCES campaigns (id),
    PRIMARY KEY (study_id, campaign_id)
);

CREATE TABLE study_arms (
    id                 integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    study_id           integer NOT NULL REFERENCES studies (id),
    code               text NOT NULL,
    control            boolean NOT NULL,
    ratio              integer NOT NULL CHECK (ratio >= 1),
    nudges             text[] NOT NULL,
    challenges         text[] NOT NULL,
    nudge_probability  double precision NOT NULL CHECK (nudge_probability > 0 AND nudge_probability <= 1),
    UNIQUE (study_id, code)
);
CREATE UNIQUE INDEX study_arms_one_control ON study_arms (study_id) WHERE control;

-- Assignments never change: the arm, the probability it had at that moment, when.
CREATE TABLE study_assignments (
    study_id     integer NOT NULL REFERENCES studies (id),
    resident_id  bigint NOT NULL REFERENCES residents (id),
    city_id      integer NOT NULL REFERENCES cities (id),
    arm_id       integer NOT NULL REFERENCES study_arms (id),
    stratum      text NOT NULL,
    position     integer NOT NULL,              -- the n-th assignment of its stratum, from 0
    probability  double precision NOT NULL CHECK (probability > 0 AND probability <= 1),
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (study_id, resident_id)
);
CREATE INDEX study_assignments_resident ON study_assignments (resident_id);

-- How many were assigned per stratum: the row lock orders assignments within a stratum.
CREATE TABLE study_strata (
    study_id  integer NOT NULL REFERENCES studies (id),
    stratum   text NOT NULL,
    assigned  integer NOT NULL,
    PRIMARY KEY (study_id, stratum)
);

-- Every decision point of a nudge for a study participant, sent or not.
CREATE TABLE nudge_decisions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    study_id        integer NOT NULL REFERENCES studies (id),
    resident_id     bigint NOT NULL REFERENCES residents (id),
    city_id         integer NOT NULL REFERENCES cities (id),
    arm_id          integer NOT NULL REFERENCES study_arms (id),
    nudge_id        integer NOT NULL REFERENCES nudges (id),
    decision_point  timestamptz NOT NULL,   -- the moment the schedule named
    local_date      date NOT NULL,
    available       boolean NOT NULL,       -- in the nudge's audience at that moment
    in_arm          boolean NOT NULL,       -- the arm gets this nudge
    probability     double precision NOT NULL CHECK (probability BETWEEN 0 AND 1),
    sent            boolean NOT NULL,
    decided_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (study_id, resident_id, nudge_id, local_date)
);
CREATE INDEX nudge_decisions_resident ON nudge_decisions (resident_id);

CREATE TABLE study_waves (
    id                  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    study_id            integer NOT NULL REFERENCES studies (id),
    code                text NOT NULL,
    instrument_id       integer NOT NULL REFERENCES survey_instruments (id),
    opens               text NOT NULL CHECK (opens IN ('enrolment', 'campaign_end')),
    open_days           integer NOT NULL CHECK (open_days >= 1),
    remind_after_days   integer CHECK (remind_after_days >= 1),
    active              boolean NOT NULL DEFAULT true,
    UNIQUE (study_id, code)
);

CREATE TABLE survey_responses (
    wave_id        integer NOT NULL REFERENCES study_waves (id),
    resident_id    bigint NOT NULL REFERENCES residents (id),
    city_id        integer NOT NULL REFERENCES cities (id),
    instrument_id  integer NOT NULL REFERENCES survey_instruments (id),
    answers        jsonb NOT NULL,
    submitted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (wave_id, resident_id)
);
CREATE INDEX survey_responses_resident ON survey_responses (resident_id);

-- The audit log of exports: who, when, with which parameters, and what came of it.
CREATE TABLE research_exports (
    id            uuid PRIMARY KEY,
    study_id      integer NOT NULL REFERENCES studies (id),
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    via           text NOT NULL CHECK (via IN ('api', 'cli')),
    parameters    jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    progress      jsonb NOT NULL DEFAULT '{}',
    started_at    timestamptz,
    finished_at   timestamptz,
    failure       text,
    key_epoch     integer,
    k_reached     integer,
    provenance    jsonb,
    directory     text
);
CREATE INDEX research_exports_study ON research_exports (study_id, requested_at DESC);
CREATE INDEX research_exports_queued ON research_exports (requested_at) WHERE status = 'queued';

-- Pseudonyms of participants who withdrew (or whose account was deleted), listed
-- once in the study's next export. No resident id: the row outlives the account.
CREATE TABLE study_withdrawals (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    study_id      integer NOT NULL REFERENCES studies (id),
    pseudonym     text NOT NULL,
    key_epoch     integer NOT NULL,
    reason        text NOT NULL CHECK (reason IN ('consent-withdrawn', 'account-deleted')),
    withdrawn_at  timestamptz NOT NULL DEFAULT now(),
    listed_in     uuid REFERENCES research_exports (id),
    UNIQUE (study_id, key_epoch, pseudonym)
);
CREATE INDEX study_withdrawals_unlisted ON study_withdrawals (study_id) WHERE listed_in IS NULL;

-- Researchers are granted per study.
ALTER TABLE role_grants ADD COLUMN study_id integer REFERENCES studies (id);
ALTER TABLE role_grants ADD CONSTRAINT role_grants_study_for_researchers CHECK (role = 'researcher' OR study_id IS NULL);
DROP INDEX role_grants_unique;
CREATE UNIQUE INDEX role_grants_unique ON role_grants (firebase_uid, role, coalesce(city_id, 0), coalesce(study_id, 0));
