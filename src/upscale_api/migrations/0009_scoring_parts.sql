-- A scoring tick works on its residents in parts, one transaction each, side
-- by side on separate connections; a last transaction adds up what the parts
-- changed in the rows they share (running totals, team progress) and moves the
-- watermark. A part leaves its differences here, committed with the days and
-- scores it recomputed; the last transaction folds them in and empties these
-- tables. Rows left by parts whose tick failed before its end are folded by the
-- next tick, which recomputes those residents again (finding nothing more to
-- change), so nothing is counted twice or lost.
--
-- unit: the transaction that left the row. A resident's day counts once among
-- the residents active in a scope; with several units' rows waiting, that
-- holds within each unit's rows, not across them.
CREATE TABLE scoring_day_changes (
    sign integer NOT NULL, LIKE resident_days, unit xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE TABLE scoring_member_changes (
    sign integer NOT NULL, LIKE campaign_days, unit xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE TABLE scoring_touched_teams (team_id integer NOT NULL);
