-- log_actions: the database half of logging actions, in one round trip.
--
-- The service checks each action against the catalogue and the time window and
-- computes its saving; it passes every action, with valid = false for those
-- that failed, because a retry of an action stored earlier must still be
-- recognised as such. Under a lock on the resident's row (so per-day limits
-- hold across processes), item by item and in order:
--   * id already stored (also earlier in this call): 'duplicate' when resident
--     and content match, else 'conflict';
--   * valid = false: 'rejected' (the service has the reasons);
--   * action type not offered in the resident's city: 'not_offered';
--   * day total (resident's time zone, live actions) over max_per_day:
--     'over_limit', with the total already logged that day;
--   * otherwise inserted: 'stored' (or 'conflict' if another resident took the
--     id in the meantime).
-- An unknown uid gives one row with outcome 'not_registered'.
-- Each statement in this VOLATILE function sees what was committed before it
-- ran, so the day totals read after taking the lock are current.

CREATE FUNCTION log_actions(
    p_uid             text,
    p_ids             uuid[],
    p_valid           boolean[],
    p_action_type_ids integer[],
    p_quantities      double precision[],
    p_performed_at    timestamptz[],
    p_max_per_day     double precision[],
    p_baseline_ids    integer[],
    p_option_ids      integer[],
    p_co2e_kg         double precision[]
) RETURNS TABLE (item integer, outcome text, day date, stored_at timestamptz, day_total double precision)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r_id    bigint;
    r_city  integer;
    r_zone  text;
    i       integer;
    found_row record;
BEGIN
    SELECT r.id, r.city_id, r.time_zone INTO r_id, r_city, r_zone
    FROM residents r WHERE r.firebase_uid = p_uid
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        item := -1; outcome := 'not_registered';
        RETURN NEXT;
        RETURN;
    END IF;

    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        item := i - 1;
        day := (p_performed_at[i] AT TIME ZONE r_zone)::date;
        stored_at := NULL;
        day_total := NULL;

        SELECT a.resident_id, a.action_type_id, a.quantity, a.performed_at INTO found_row
        FROM action_logs a WHERE a.id = p_ids[i];
        IF FOUND THEN
            outcome := CASE WHEN found_row.resident_id = r_id
                              AND found_row.action_type_id IS NOT DISTINCT FROM p_action_type_ids[i]
                              AND found_row.quantity = p_quantities[i]
                              AND found_row.performed_at = p_performed_at[i]
                            THEN 'duplicate' ELSE 'conflict' END;
        ELSIF NOT p_valid[i] THEN
            outcome := 'rejected';
        ELSIF NOT EXISTS (SELECT 1 FROM city_action_types c
                          WHERE c.city_id = r_city AND c.action_type_id = p_action_type_ids[i]) THEN
            outcome := 'not_offered';
        ELSE
            SELECT coalesce(sum(a.quantity), 0) INTO day_total
            FROM action_logs a
            WHERE a.resident_id = r_id AND a.action_type_id = p_action_type_ids[i]
              AND a.local_date = day AND a.deleted_at IS NULL;
            IF day_total + p_quantities[i] > p_max_per_day[i] + 1e-9 THEN
                outcome := 'over_limit';
            ELSE
                INSERT INTO action_logs
                    (id, resident_id, city_id, action_type_id, quantity, performed_at, local_date,
                     baseline_factor_id, option_factor_id, co2e_kg)
                VALUES (p_ids[i], r_id, r_city, p_action_type_ids[i], p_quantities[i], p_performed_at[i], day,
                        p_baseline_ids[i], p_option_ids[i], p_co2e_kg[i])
                ON CONFLICT (id) DO NOTHING
                RETURNING recorded_at INTO stored_at;
                outcome := CASE WHEN stored_at IS NULL THEN 'conflict' ELSE 'stored' END;
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
END;
$$;
