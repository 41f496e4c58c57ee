-- What each participant's campaign days before a cut-off add up to, so that a
-- tick reads only the days from the cut-off on. Days before it change only by a
-- correction, a review decision, a late deletion or an enrolment change; a
-- unit that sees one recomputes that participant from all their days and drops
-- their row here. The cut-off is a Monday, so no ISO-week window straddles it.
-- Derived and rebuildable (`scoring.service.advance_history`), like every
-- scoring table: no foreign keys.

-- The score's parts over the days before `cutoff`. A participant without a
-- row is recomputed from all their days.
CREATE TABLE history_scores (
    campaign_id     integer NOT NULL,
    resident_id     bigint NOT NULL,
    cutoff          date NOT NULL,
    rules_through   integer NOT NULL,   -- the campaign's newest challenge then: a newer one is judged from all days
    points          numeric NOT NULL,
    co2e_kg         numeric NOT NULL,
    actions         integer NOT NULL,
    active_days     integer NOT NULL,
    longest_streak  integer NOT NULL,
    last_run_end    date NOT NULL,      -- the latest run of consecutive active days before the cut-off
    last_run_days   integer NOT NULL,
    PRIMARY KEY (campaign_id, resident_id)
);

-- Each challenge's value over the days before the participant's cut-off: the
-- best day or week, the campaign's sum, or the distinct days. Rows with a
-- value only; read by resident.
CREATE TABLE history_challenges (
    resident_id   bigint NOT NULL,
    challenge_id  integer NOT NULL,
    value         numeric NOT NULL,
    PRIMARY KEY (resident_id, challenge_id)
);
