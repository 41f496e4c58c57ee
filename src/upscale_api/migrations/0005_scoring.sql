-- Scoring: what the scheduled jobs compute from the action log, and the
-- watermark they compute it from.
--
-- Watermark. Every row the jobs read records the transaction that last wrote
-- it (written_xid). A tick takes a snapshot before it reads; the rows it must
-- read are those committed since the previous tick's snapshot, i.e. written by
-- a transaction that snapshot did not see as done (at or above its xmin and not
-- visible in it). A transaction still running at a tick is therefore read by a
-- later one, never skipped, however long it runs. Rows read twice are harmless
-- because every step recomputes from the source.
--
-- Derived sums are numeric: adding and taking away a delta is then exact, so
-- totals maintained by deltas equal a recomputation to the last digit.

ALTER TABLE action_logs DROP COLUMN change_seq;
DROP SEQUENCE action_log_changes;
ALTER TABLE action_logs ADD COLUMN written_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX action_logs_written ON action_logs (written_xid);

ALTER TABLE enrolments ADD COLUMN written_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX enrolments_written ON enrolments (written_xid);

-- A day total above this is held out of scores until a coordinator accepts it.
ALTER TABLE action_types ADD COLUMN plausible_per_day double precision CHECK (plausible_per_day > 0);

CREATE TABLE job_watermarks (
    job      text PRIMARY KEY,
    seen     pg_snapshot NOT NULL,          -- what the last run had read everything of
    ran_at   timestamptz NOT NULL
);

-- One resident's live actions of one type on one local day. held: the day's
-- quantity is over the type's plausible limit and not accepted.
CREATE TABLE resident_days (
    resident_id     bigint NOT NULL,
    local_date      date NOT NULL,
    action_type_id  integer NOT NULL,
    city_id         integer NOT NULL,
    district_id     integer,                -- as it was when computed, so deltas take back what they gave
    quantity        numeric NOT NULL,
    co2e_kg         numeric NOT NULL,
    actions         integer NOT NULL,
    held            boolean NOT NULL,
    PRIMARY KEY (resident_id, local_date, action_type_id)
);
CREATE INDEX resident_days_city ON resident_days (city_id, local_date) INCLUDE (resident_id);

-- Anti-gaming: resident days over a plausible limit, for a coordinator to decide.
-- accepted covers the quantity decided on; a larger day total is pending again.
CREATE TABLE held_days (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id        bigint NOT NULL REFERENCES residents (id),
    local_date         date NOT NULL,
    action_type_id     integer NOT NULL REFERENCES action_types (id),
    city_id            integer NOT NULL REFERENCES cities (id),
    quantity           numeric NOT NULL,         -- the day total when last flagged
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
    flagged_at         timestamptz NOT NULL DEFAULT now(),
    decided_by         text,
    decided_at         timestamptz,
    decided_quantity   numeric,
    written_xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    UNIQUE (resident_id, local_date, action_type_id)
);
CREATE INDEX held_days_review ON held_days (city_id, status, flagged_at);
CREATE INDEX held_days_written ON held_days (written_xid);

-- What counts for a campaign, per participant, day and action type: live, not
-- held, of the campaign's types, inside its days, from the day of enrolment.
-- points are capped per type and day by the campaign's max_points_per_day.
CREATE TABLE campaign_days (
    campaign_id     integer NOT NULL,
    resident_id     bigint NOT NULL,
    local_date      date NOT NULL,
    action_type_id  integer NOT NULL,
    city_id         integer NOT NULL,
    district_id     integer,
    team_id         integer,
    quantity        numeric NOT NULL,
    co2e_kg         numeric NOT NULL,
    points          numeric NOT NULL,
    actions         integer NOT NULL,
    PRIMARY KEY (campaign_id, resident_id, local_date, action_type_id)
);

-- One row per current participant of a campaign.
CREATE TABLE campaign_scores (
    campaign_id      integer NOT NULL,
    resident_id      bigint NOT NULL,
    city_id          integer NOT NULL,
    district_id      integer,
    team_id          integer,
    points           numeric NOT NULL,
    co2e_kg          numeric NOT NULL,
    actions          integer NOT NULL,
    active_days      integer NOT NULL,
    longest_streak   integer NOT NULL,
    last_run_end     date,                     -- the latest run of consecutive active days
    last_run_days    integer NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, resident_id)
);
CREATE INDEX campaign_scores_team ON campaign_scores (team_id) WHERE team_id IS NOT NULL;

-- Sums per day and action type. campaign_id 0: all actions, by city and district;
-- otherwise what counts for that campaign, by campaign (scope_id 0), city, district and team.
CREATE TABLE totals_daily (
    campaign_id     integer NOT NULL,
    scope           text NOT NULL CHECK (scope IN ('campaign', 'city', 'district', 'team')),
    scope_id        integer NOT NULL,
    local_date      date NOT NULL,
    action_type_id  integer NOT NULL,
    quantity        numeric NOT NULL,
    co2e_kg         numeric NOT NULL,
    points          numeric NOT NULL,
    actions         integer NOT NULL,
    residents       integer NOT NULL,          -- residents with such actions that day
    PRIMARY KEY (campaign_id, scope, scope_id, local_date, action_type_id)
);

-- Residents active on a day (any type), by the same keys.
CREATE TABLE participants_daily (
    campaign_id  integer NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('campaign', 'city', 'district', 'team')),
    scope_id     integer NOT NULL,
    local_date   date NOT NULL,
    residents    integer NOT NULL,
    PRIMARY KEY (campaign_id, scope, scope_id, local_date)
);

-- A participant's standing in a challenge that is judged per person (quantity,
-- distinct days, personal; and the member rule of team participation).
-- met_at: when the current value first reached the target; NULL while it does not.
CREATE TABLE challenge_progress (
    challenge_id  integer NOT NULL,
    resident_id   bigint NOT NULL,
    value         numeric NOT NULL,
    target        numeric NOT NULL,
    met_at        timestamptz,
    PRIMARY KEY (challenge_id, resident_id)
);

-- Team participation challenges: the share of members meeting the member rule.
CREATE TABLE team_progress (
    challenge_id   integer NOT NULL,
    team_id        integer NOT NULL,
    members        integer NOT NULL,
    members_met    integer NOT NULL,
    share          numeric NOT NULL,
    met_at         timestamptz,
    PRIMARY KEY (challenge_id, team_id)
);

-- Collective goals: scope_id 0 for the whole campaign, else a city.
CREATE TABLE collective_progress (
    challenge_id  integer NOT NULL,
    scope_id      integer NOT NULL,
    value         numeric NOT NULL,
    target        numeric NOT NULL,
    met_at        timestamptz,
    computed_at   timestamptz NOT NULL,
    PRIMARY KEY (challenge_id, scope_id)
);

-- Badges are kept once earned.
CREATE TABLE earned_badges (
    badge_id     integer NOT NULL REFERENCES badges (id),
    resident_id  bigint NOT NULL REFERENCES residents (id),
    earned_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (badge_id, resident_id)
);
CREATE INDEX earned_badges_resident ON earned_badges (resident_id);

-- Campaigns whose scores changed since their standings were last computed.
CREATE TABLE standings_due (
    campaign_id  integer PRIMARY KEY,
    since        timestamptz NOT NULL DEFAULT now()
);

-- Standings per campaign and scope, rebuilt by the standings job. Ties share a
-- rank (1, 2, 2, 4); entries with equal rank are listed by subject id.
-- individual: subject = resident; team, district, city: subject = that id,
-- ranked by points per member.
CREATE TABLE standings (
    campaign_id    integer NOT NULL,
    scope          text NOT NULL CHECK (scope IN ('individual', 'team', 'district', 'city')),
    subject_id     bigint NOT NULL,
    rank           integer NOT NULL,
    score          numeric NOT NULL,          -- what is ranked: points, or points per member
    points         numeric NOT NULL,
    co2e_kg        numeric NOT NULL,
    members        integer NOT NULL,
    active_members integer NOT NULL,
    PRIMARY KEY (campaign_id, scope, subject_id)
);
CREATE INDEX standings_rank ON standings (campaign_id, scope, rank, subject_id);

CREATE TABLE standings_computed (
    campaign_id  integer PRIMARY KEY,
    computed_at  timestamptz NOT NULL,
    sizes        jsonb NOT NULL,                  -- entries per scope, {"individual": n, ...}
    final        boolean NOT NULL DEFAULT false   -- frozen when the campaign's result was taken
);

-- The result of a campaign, taken once after it ended and late offline logs had time to arrive.
CREATE TABLE campaign_results (
    campaign_id  integer PRIMARY KEY REFERENCES campaigns (id),
    taken_at     timestamptz NOT NULL DEFAULT now(),
    result       jsonb NOT NULL
);
