TRUNCATE resident_days, campaign_days, totals_daily, activity_daily, scoring_pending_totals, scoring_pending_activity,
         scoring_team_flips, history_scores, history_challenges, history_advanced
