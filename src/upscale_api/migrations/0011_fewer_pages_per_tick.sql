-- A scoring tick changes a few thousand residents' rows, and the first change
-- to a page after a checkpoint writes the whole page to the WAL. These changes
-- cut the pages a tick touches that no reader needs it to touch.

-- Running totals are updated where their day is: the last days, over and
-- over. A rebuild writes them in day order (the tick's own order), and each
-- page keeps room for the new versions of its rows, so that an update stays on
-- its page and adds no index entry (a HOT update).
ALTER TABLE totals_daily SET (fillfactor = 80);
ALTER TABLE activity_daily SET (fillfactor = 80);

-- Earned badges are read by resident and looked up by (badge, resident) only
-- to skip one already earned, which any unique index of the pair does: one
-- index ordered by resident instead of two.
ALTER TABLE earned_badges DROP CONSTRAINT earned_badges_pkey;
ALTER TABLE earned_badges ADD PRIMARY KEY (resident_id, badge_id);
DROP INDEX earned_badges_resident;

-- Checking a message's resident locked the resident's row, a WAL record and
-- a changed page per message. Every producer reads the row of each resident it
-- addresses (for their language), and residents are never deleted; erasing one
-- must delete their messages like their other rows.
ALTER TABLE notifications DROP CONSTRAINT notifications_resident_id_fkey;
