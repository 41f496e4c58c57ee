-- The cut-off the last complete advance of the stored history ran for. The
-- worker advances again once the week's cut-off is later than this, so a
-- history that is empty because there are no days before the cut-off (a
-- season's first weeks) is complete too, not advanced again every run. An
-- advance going through the residents has its row with no finished_at yet;
-- a rebuild or a rescore, which drop history rows, delete every row, so an
-- advance they overlapped does not count as complete.
CREATE TABLE history_advanced (
    cutoff       date PRIMARY KEY,
    finished_at  timestamptz
);

-- A history stored before this table existed was complete up to its oldest cut-off.
INSERT INTO history_advanced (cutoff, finished_at)
SELECT min(cutoff), now() FROM history_scores HAVING count(*) > 0;
