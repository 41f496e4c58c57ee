-- Coordinators' decisions on held days. held_days carries the latest decision
-- (and its note); every decision is also kept here, so a corrected mistake
-- stays on record. A held day the scoring job removes (its total fell back
-- under the limit) takes its decisions with it.

ALTER TABLE held_days ADD COLUMN note text;

CREATE TABLE held_day_decisions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    held_day_id  bigint NOT NULL REFERENCES held_days (id) ON DELETE CASCADE,
    status       text NOT NULL CHECK (status IN ('accepted', 'rejected')),
    quantity     numeric NOT NULL,          -- the day total decided on
    note         text,
    decided_by   text NOT NULL,             -- the Firebase uid of the coordinator or admin
    decided_at   timestamptz NOT NULL
);
CREATE INDEX held_day_decisions_day ON held_day_decisions (held_day_id, id);
