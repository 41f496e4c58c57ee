-- Earned badges are written by the scoring engine alone, for participants of
-- the badge's campaign, and like challenges_met they are derived from rows
-- that already reference the resident and the badge (enrolments, badges of the
-- campaign). Their foreign keys checked each new badge by locking the
-- resident's row: a first scoring of 900,000 badges took 17 s with the checks
-- and 10 s without. Badges are deactivated, never deleted; erasing a resident
-- must delete their rows from every scoring table alike.
ALTER TABLE earned_badges
    DROP CONSTRAINT earned_badges_badge_id_fkey,
    DROP CONSTRAINT earned_badges_resident_id_fkey;
