-- Erasure. A resident who deletes their account (or is erased after a long
-- inactivity) leaves a tombstone: the row keeps its id, city, district and time
-- zone, which every derived number is computed from (city, district, team and
-- campaign totals, standings, published open data; a rescore computes them
-- again from the action log and these columns), and loses everything that
-- names or reaches the person: the Firebase uid, the display name, the
-- language. A token of the uid then finds no resident, and the uid may
-- register again as a new person (a new row). See docs/privacy.md.
ALTER TABLE residents ALTER COLUMN firebase_uid DROP NOT NULL;
ALTER TABLE residents ADD COLUMN erased_at timestamptz;
ALTER TABLE residents ADD CONSTRAINT residents_uid_unless_erased
    CHECK (CASE WHEN erased_at IS NULL THEN firebase_uid IS NOT NULL
                ELSE firebase_uid IS NULL AND display_name IS NULL END);

-- Retention: when an inactive resident was told that their account will be
-- erased; cleared when they are active again before that.
ALTER TABLE residents ADD COLUMN inactivity_notice_at timestamptz;
CREATE INDEX residents_inactivity_notice ON residents (inactivity_notice_at) WHERE inactivity_notice_at IS NOT NULL;
CREATE INDEX residents_erased ON residents (erased_at) WHERE erased_at IS NOT NULL;
