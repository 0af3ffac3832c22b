-- pgTAP: pg_dump keeps the data: every table and identity sequence is registered
-- with pg_extension_config_dump, unfiltered; only the cursor secret is left out
BEGIN;
SELECT plan(6);

SELECT has_extension('qr_event');
SELECT set_eq($$
    SELECT c::regclass::text FROM pg_extension e, unnest(e.extconfig) AS c WHERE e.extname = 'qr_event'
$$, ARRAY['qr_event.accounts', 'qr_event.events', 'qr_event.event_staff', 'qr_event.families',
          'qr_event.guests', 'qr_event.games', 'qr_event.game_participations', 'qr_event.qr_codes',
          'qr_event.qr_code_events', 'qr_event.accounts_id_seq', 'qr_event.events_id_seq',
          'qr_event.families_id_seq', 'qr_event.guests_id_seq', 'qr_event.games_id_seq',
          'qr_event.game_participations_id_seq', 'qr_event.qr_codes_id_seq',
          'qr_event.qr_code_events_seq', 'qr_event.qr_unknown_scans', 'qr_event.qr_unknown_scans_seq_seq'],
    'the tables and identity sequences registered for pg_dump');
SELECT is_empty($$
    SELECT c.oid::regclass FROM pg_class c
    WHERE c.relnamespace = 'qr_event'::regnamespace AND c.relkind IN ('r', 'p', 'S')
      AND c.oid <> ALL (SELECT unnest(extconfig) FROM pg_extension WHERE extname = 'qr_event')
      AND c.oid <> 'qr_event.cursor_keys'::regclass
      -- the rank structure is derived: leaderboard_rebuild() after a restore
      AND c.relname NOT LIKE 'leaderboard\_%'
$$, 'no table or sequence of the schema is left out of pg_dump (but the cursor secret and the rank structure)');
SELECT ok(NOT 'qr_event.cursor_keys'::regclass = ANY (extconfig),
          'the cursor secret is not dumped: a restored database signs cursors with a fresh one')
FROM pg_extension WHERE extname = 'qr_event';
SELECT is_empty($$
    SELECT cond FROM pg_extension e, unnest(e.extcondition) AS cond
    WHERE e.extname = 'qr_event' AND cond <> ''
$$, 'every row is dumped (no filter condition)');
SELECT is((SELECT cardinality(extconfig) = cardinality(extcondition) FROM pg_extension
           WHERE extname = 'qr_event'), true, 'one condition per registered relation');

SELECT * FROM finish();
ROLLBACK;
