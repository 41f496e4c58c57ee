-- A team's count of members meeting a team rule's member rule moves by one
-- for each member whose success in it is stored or dropped. Units leave those
-- moves here (+1 or -1, committed with the successes); the tick adds them to
-- team_progress. Teams whose membership changed, or that have no count yet,
-- are counted again from their members instead. Like the pending sums, rows
-- left by a tick that failed are added by the next one.
CREATE TABLE scoring_team_flips (
    team_id      integer NOT NULL,
    challenge_id integer NOT NULL,
    delta        integer NOT NULL
);
