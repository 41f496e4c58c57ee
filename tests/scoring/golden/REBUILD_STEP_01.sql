SET LOCAL work_mem = '1GB'; SET LOCAL maintenance_work_mem = '1GB';
TRUNCATE resident_days, campaign_days, totals_daily, activity_daily, scoring_pending_totals, scoring_pending_activity,
         scoring_team_flips, history_scores, history_challenges, history_advanced
;ALTER TABLE activity_daily DROP CONSTRAINT activity_daily_pkey;ALTER TABLE campaign_days DROP CONSTRAINT campaign_days_pkey;DROP INDEX resident_days_city;ALTER TABLE resident_days DROP CONSTRAINT resident_days_pkey;ALTER TABLE totals_daily DROP CONSTRAINT totals_daily_pkey
