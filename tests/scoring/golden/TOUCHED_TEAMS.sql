INSERT INTO scoring_touched_teams (team_id)
SELECT s.team_id
FROM campaign_scores s
JOIN changed_enrolments m USING (campaign_id, resident_id)
LEFT JOIN enrolments e USING (campaign_id, resident_id)
WHERE s.team_id IS NOT NULL AND (e.left_at IS NOT NULL OR e.team_id IS DISTINCT FROM s.team_id)
UNION
SELECT e.team_id
FROM enrolments e
JOIN changed_enrolments m USING (campaign_id, resident_id)
LEFT JOIN campaign_scores s USING (campaign_id, resident_id)
WHERE e.team_id IS NOT NULL AND e.left_at IS NULL AND s.team_id IS DISTINCT FROM e.team_id
UNION
-- a member whose arm may have changed (research consent granted or withdrawn marks their enrolment) in
-- a campaign whose study decides challenges: their team counts again the members who get its rules
SELECT e.team_id
FROM enrolments e
JOIN changed_enrolments m USING (campaign_id, resident_id)
JOIN study_campaigns sc ON sc.campaign_id = e.campaign_id
JOIN studies st ON st.id = sc.study_id
WHERE e.team_id IS NOT NULL AND e.left_at IS NULL AND st.controlled_challenges <> '{}'
