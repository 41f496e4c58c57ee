-- Challenges judged per person keep a row only for the participants who meet
-- them, from when they met them. Progress toward a challenge not met yet is
-- computed when a participant reads it, from their campaign days: a row per
-- participant and challenge, rewritten on every change, cost most of a scoring
-- tick and half the rows of a rescore.
CREATE TABLE challenges_met (
    challenge_id  integer NOT NULL,
    resident_id   bigint NOT NULL,
    met_at        timestamptz NOT NULL,          -- when the current value first reached the target
    PRIMARY KEY (challenge_id, resident_id)
);

INSERT INTO challenges_met (challenge_id, resident_id, met_at)
SELECT challenge_id, resident_id, met_at FROM challenge_progress WHERE met_at IS NOT NULL;

DROP TABLE challenge_progress;
