CREATE TEMP TABLE dirty_days (resident_id bigint, local_date date, PRIMARY KEY (resident_id, local_date))
    ON COMMIT DROP;
CREATE TEMP TABLE changed_enrolments (campaign_id integer, resident_id bigint, PRIMARY KEY (campaign_id, resident_id))
    ON COMMIT DROP;
CREATE TEMP TABLE dirty_member_days (campaign_id integer, resident_id bigint, local_date date,
                                     PRIMARY KEY (campaign_id, resident_id, local_date))
    ON COMMIT DROP;
CREATE TEMP TABLE dirty_members (campaign_id integer, resident_id bigint, taking_part boolean,
                                 city_id integer, district_id integer, team_id integer, baseline jsonb,
                                 first_day date, last_day date, history_cutoff date,
                                 PRIMARY KEY (campaign_id, resident_id))
    ON COMMIT DROP;
CREATE TEMP TABLE day_changes (sign integer NOT NULL, LIKE resident_days) ON COMMIT DROP;
CREATE TEMP TABLE member_changes (sign integer NOT NULL, LIKE campaign_days) ON COMMIT DROP;
