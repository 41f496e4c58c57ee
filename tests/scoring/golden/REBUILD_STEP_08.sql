ANALYZE dirty_days, changed_enrolments, dirty_member_days, dirty_members
