SELECT count(*) FROM dirty_members
