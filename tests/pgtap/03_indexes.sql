-- pgTAP: the indexes of every table, the leaderboard index, and an index behind every foreign key
BEGIN;
SELECT plan(27);

SELECT indexes_are('qr_event', 'accounts', ARRAY['accounts_pkey', 'accounts_email_lower_key']);
SELECT indexes_are('qr_event', 'events', ARRAY['events_pkey', 'events_owner_id_id_idx']);
SELECT indexes_are('qr_event', 'event_staff', ARRAY['event_staff_pkey', 'event_staff_account_id_event_id_idx']);
SELECT indexes_are('qr_event', 'families', ARRAY['families_pkey', 'families_event_id_id_key']);
SELECT indexes_are('qr_event', 'guests', ARRAY['guests_pkey', 'guests_event_id_id_key',
    'guests_event_id_family_id_idx']);
SELECT indexes_are('qr_event', 'games', ARRAY['games_pkey', 'games_event_id_id_key']);
SELECT indexes_are('qr_event', 'game_participations', ARRAY['game_participations_pkey',
    'game_participations_game_id_guest_id_key', 'game_participations_game_id_family_id_key',
    'game_participations_leaderboard_idx', 'game_participations_guest_id_idx',
    'game_participations_family_id_idx']);
SELECT indexes_are('qr_event', 'qr_codes', ARRAY['qr_codes_pkey', 'qr_codes_token_key',
    'qr_codes_event_id_id_key', 'qr_codes_event_id_guest_id_idx', 'qr_codes_event_id_replaced_by_idx']);
SELECT indexes_are('qr_event', 'qr_code_events', ARRAY['qr_code_events_pkey',
    'qr_code_events_qr_code_id_version_key', 'qr_code_events_event_id_occurred_at_idx']);
SELECT indexes_are('qr_event', 'qr_unknown_scans', ARRAY['qr_unknown_scans_pkey', 'qr_unknown_scans_occurred_at_idx']);

SELECT has_index('qr_event', 'accounts', 'accounts_email_lower_key', 'lower(email)',
                 'emails are indexed by lower(email)');
SELECT has_index('qr_event', 'events', 'events_owner_id_id_idx', ARRAY['owner_id', 'id'],
                 'an owner''s events are listed by id');
SELECT has_index('qr_event', 'event_staff', 'event_staff_account_id_event_id_idx',
                 ARRAY['account_id', 'event_id'], 'an account''s staff roles are found by account');
SELECT has_index('qr_event', 'guests', 'guests_event_id_family_id_idx', ARRAY['event_id', 'family_id'],
                 'a family''s guests are found within the event');
SELECT has_index('qr_event', 'qr_codes', 'qr_codes_event_id_guest_id_idx', ARRAY['event_id', 'guest_id'],
                 'a guest''s codes are found within the event');
SELECT has_index('qr_event', 'qr_code_events', 'qr_code_events_event_id_occurred_at_idx',
                 ARRAY['event_id', 'occurred_at'], 'an event''s audit is read in time order');
SELECT has_index('qr_event', 'qr_codes', 'qr_codes_event_id_replaced_by_idx', ARRAY['event_id', 'replaced_by'],
                 'a code''s replacement is found within the event');
SELECT has_index('qr_event', 'qr_unknown_scans', 'qr_unknown_scans_occurred_at_idx', ARRAY['occurred_at'],
                 'unknown scans are read in time order');

-- the leaderboard: completed rows only, in rank order
SELECT is(pg_get_indexdef('qr_event.game_participations_leaderboard_idx'::regclass),
          'CREATE INDEX game_participations_leaderboard_idx ON qr_event.game_participations '
          'USING btree (game_id, total_score DESC, completed_at, id) WHERE is_completed',
          'the leaderboard index is (game_id, total_score DESC, completed_at, id) WHERE is_completed');

SELECT is(pg_get_expr(i.indpred, i.indrelid), '(guest_id IS NOT NULL)',
          'guest_id is indexed where set')
FROM pg_index i WHERE i.indexrelid = 'qr_event.game_participations_guest_id_idx'::regclass;
SELECT is(pg_get_expr(i.indpred, i.indrelid), '(family_id IS NOT NULL)',
          'family_id is indexed where set')
FROM pg_index i WHERE i.indexrelid = 'qr_event.game_participations_family_id_idx'::regclass;
SELECT is(pg_get_expr(i.indpred, i.indrelid), '(replaced_by IS NOT NULL)',
          'replaced_by is indexed where set (most codes are never replaced)')
FROM pg_index i WHERE i.indexrelid = 'qr_event.qr_codes_event_id_replaced_by_idx'::regclass;

-- deleting a parent never scans a child table: an index leads with the key's own
-- column (not the tenant), or with exactly the key's columns; a partial index counts
-- only when its predicate is "<key column> IS NOT NULL", which every checked row meets
SELECT is_empty($$
    SELECT c.conname FROM pg_constraint c
    WHERE c.connamespace = 'qr_event'::regnamespace AND c.contype = 'f'
      AND NOT EXISTS (
          SELECT FROM pg_index i
          WHERE i.indrelid = c.conrelid
            AND (i.indpred IS NULL
                 OR pg_get_expr(i.indpred, i.indrelid) IN (
                        SELECT format('(%s IS NOT NULL)', quote_ident(a.attname)) FROM pg_attribute a
                        WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)))
            AND (   (i.indkey[0] = ANY (c.conkey)
                     AND i.indkey[0] <> (SELECT attnum FROM pg_attribute
                                         WHERE attrelid = c.conrelid AND attname = 'event_id'))
                 OR (SELECT array_agg(i.indkey[n] ORDER BY i.indkey[n])
                     FROM generate_series(0, cardinality(c.conkey) - 1) AS n)
                    = (SELECT array_agg(k ORDER BY k) FROM unnest(c.conkey) AS k)))
$$, 'every foreign key has an index to check and cascade through');

-- the deletes of the foreign keys' actions can use those indexes
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
SET LOCAL enable_seqscan = off;
SELECT matches(pg_temp.plan_of('DELETE FROM ONLY qr_event.game_participations WHERE event_id = 1 AND guest_id = 2'),
               'game_participations_guest_id_idx', 'a deleted guest''s participations are found by index');
SELECT matches(pg_temp.plan_of('DELETE FROM ONLY qr_event.game_participations WHERE event_id = 1 AND family_id = 2'),
               'game_participations_family_id_idx', 'a deleted family''s participations are found by index');
SELECT matches(pg_temp.plan_of('SELECT 1 FROM ONLY qr_event.qr_codes WHERE event_id = 1 AND guest_id = 2'),
               'qr_codes_event_id_guest_id_idx', 'a guest''s QR codes are found by index');
-- the check of qr_codes_replaced_by_fkey when a code is deleted or its id changes: the
-- partial index serves it, as replaced_by = $2 implies replaced_by IS NOT NULL
SELECT matches(pg_temp.plan_of('SELECT 1 FROM ONLY qr_event.qr_codes WHERE event_id = 1 AND replaced_by = 2'),
               'qr_codes_event_id_replaced_by_idx', 'the codes a deleted code replaced are found by index');

SELECT * FROM finish();
ROLLBACK;
