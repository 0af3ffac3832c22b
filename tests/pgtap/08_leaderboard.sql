-- pgTAP: the leaderboard rank structure: signatures of leaderboard_rank, record_play and
-- the change signal, who may call them, the structure tables no API role can read,
-- and the triggers that maintain them
BEGIN;
SELECT plan(42);

-- sqlstate_as(role, sql): the SQLSTATE of sql run as role, 00000 on success
\ir lib/sqlstate_as.sql

-- signatures
SELECT is(pg_get_function_arguments('qr_event.leaderboard_rank(bigint,bigint,text)'::regprocedure),
          'game_id bigint, participation_id bigint, rank_mode text DEFAULT ''competition''::text',
          'leaderboard_rank arguments');
SELECT is(pg_get_function_result('qr_event.leaderboard_rank(bigint,bigint,text)'::regprocedure),
          'TABLE(rank bigint, total_score bigint, ranked_count bigint, percentile numeric)',
          'leaderboard_rank result');
SELECT volatility_is('qr_event', 'leaderboard_rank', ARRAY['bigint', 'bigint', 'text'], 'stable',
                     'leaderboard_rank is STABLE');
SELECT function_lang_is('qr_event', 'leaderboard_rank', ARRAY['bigint', 'bigint', 'text'], 'c',
                        'leaderboard_rank is C');
SELECT is(pg_get_function_arguments('qr_event.record_play(bigint,bigint,bigint,bigint,boolean)'::regprocedure),
          'game_id bigint, guest_id bigint, family_id bigint, score bigint, completed boolean DEFAULT false',
          'record_play arguments');
SELECT is(pg_get_function_result('qr_event.record_play(bigint,bigint,bigint,bigint,boolean)'::regprocedure),
          'qr_event.game_participations', 'record_play returns the participation');
SELECT is(pg_get_function_result('qr_event.leaderboard_changes(pg_snapshot)'::regprocedure),
          'TABLE(game_id bigint, version bigint, next_since pg_snapshot)', 'leaderboard_changes result');
SELECT is(pg_get_function_result('qr_event.leaderboard_version(bigint)'::regprocedure), 'bigint',
          'leaderboard_version returns bigint');
SELECT has_function('qr_event', 'leaderboard_compact', ARRAY['bigint']);
SELECT has_function('qr_event', 'leaderboard_rebuild', ARRAY['bigint']);

-- who may call what
SELECT ok(has_function_privilege('qr_gateway_role', 'qr_event.leaderboard_rank(bigint,bigint,text)', 'EXECUTE'),
          'the gateway may rank');
SELECT ok(has_function_privilege('qr_gateway_role', 'qr_event.record_play(bigint,bigint,bigint,bigint,boolean)', 'EXECUTE'),
          'the gateway may record plays');
SELECT ok(has_function_privilege('qr_gateway_role', 'qr_event.leaderboard_changes(pg_snapshot)', 'EXECUTE'),
          'the gateway may poll changes');
SELECT ok(has_function_privilege('qr_gateway_role', 'qr_event.leaderboard_version(bigint)', 'EXECUTE'),
          'the gateway may read versions');
SELECT ok(NOT has_function_privilege('qr_gateway_role', 'qr_event.leaderboard_compact(bigint)', 'EXECUTE'),
          'the gateway may not compact');
SELECT ok(NOT has_function_privilege('qr_gateway_role', 'qr_event.leaderboard_rebuild(bigint)', 'EXECUTE'),
          'the gateway may not rebuild');
SELECT ok(NOT has_function_privilege('qr_analyst', 'qr_event.record_play(bigint,bigint,bigint,bigint,boolean)', 'EXECUTE'),
          'analysts may not record plays');
SELECT ok(NOT has_function_privilege('qr_analyst', 'qr_event.leaderboard_rank(bigint,bigint,text)', 'EXECUTE'),
          'analysts may not rank');

-- the structure tables: no API role reads or writes them
SELECT ok(NOT has_table_privilege(r, 'qr_event.' || t, p), format('%s has no %s on %s', r, p, t))
FROM unnest(ARRAY['qr_gateway_role', 'qr_analyst']) AS r,
     unnest(ARRAY['leaderboard_scores', 'leaderboard_deltas']) AS t,
     unnest(ARRAY['SELECT', 'INSERT']) AS p;
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'SELECT * FROM qr_event.leaderboard_buckets'), '42501',
          'the gateway cannot read the buckets');
SELECT is(pg_temp.sqlstate_as('qr_analyst', 'SELECT * FROM qr_event.leaderboard_state'), '42501',
          'analysts cannot read the state');

-- the triggers
SELECT has_trigger('qr_event', 'game_participations', t, t || ' exists')
FROM unnest(ARRAY['leaderboard_capture_insert', 'leaderboard_capture_update',
                  'leaderboard_capture_delete', 'leaderboard_capture_compact',
                  'leaderboard_forget_truncate']) AS t;
SELECT has_trigger('qr_event', 'games', 'leaderboard_forget_games', 'leaderboard_forget_games exists');
SELECT ok(NOT p.prosecdef AND p.proconfig IS NULL,
          'leaderboard_capture is neither SECURITY DEFINER nor SET (both cost a GUC nest level per row)')
FROM pg_proc p WHERE p.oid = 'qr_event.leaderboard_capture()'::regprocedure;

-- a write by the gateway goes through the trigger
SELECT lives_ok($$
    SELECT qr_event.create_account('tap-lb@example.com', 'correct horse battery', 'T');
    INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
    SELECT id, 'tap lb', now(), now() + interval '1 day' FROM qr_event.accounts WHERE email = 'tap-lb@example.com';
    INSERT INTO qr_event.games (event_id, title, status) SELECT id, 'tap', 'live' FROM qr_event.events WHERE name = 'tap lb';
    INSERT INTO qr_event.guests (event_id, first_name) SELECT id, 'tap' FROM qr_event.events WHERE name = 'tap lb'$$,
    'fixture');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', $$
    SELECT qr_event.record_play(g.id, u.id, NULL, 7, true)
    FROM qr_event.games g JOIN qr_event.guests u ON u.event_id = g.event_id WHERE g.title = 'tap'$$),
    '00000', 'the gateway records a play through the trigger');
-- the gateway plays, then changes the completed score directly: both rows reach the
-- structure through the owner's trigger (22012 if the rank read back were wrong)
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', $q$DO $d$ BEGIN
    PERFORM qr_event.record_play(g.id, u.id, NULL, 7, true)
    FROM qr_event.games g JOIN qr_event.guests u ON u.event_id = g.event_id WHERE g.title = 'tap';
    UPDATE qr_event.game_participations p SET total_score = 9, updated_at = now()
    FROM qr_event.games g WHERE g.id = p.game_id AND g.title = 'tap';
    PERFORM 1 / (r.rank = 1 AND r.total_score = 9 AND r.ranked_count = 1)::integer
    FROM qr_event.game_participations p JOIN qr_event.games g ON g.id = p.game_id AND g.title = 'tap',
         qr_event.leaderboard_rank(g.id, p.id) r;
END $d$ $q$),
    '00000', 'the gateway changes a completed score through the row trigger');


-- compaction runs as the extension owner, though the writer may not call it
INSERT INTO qr_event.game_participations (event_id, game_id, guest_id, total_score, is_completed, completed_at)
SELECT g.event_id, g.id, u.id, 5, true, now()
FROM qr_event.games g JOIN qr_event.guests u ON u.event_id = g.event_id WHERE g.title = 'tap';
SET LOCAL qr_event.leaderboard_compact_every = 1;
SET LOCAL ROLE qr_gateway_role;
UPDATE qr_event.game_participations p SET total_score = 11, updated_at = now()
FROM qr_event.games g WHERE g.id = p.game_id AND g.title = 'tap';
RESET ROLE;
SELECT is((SELECT count(*) FROM qr_event.leaderboard_deltas d JOIN qr_event.games g ON g.id = d.game_id
           WHERE g.title = 'tap'), 0::bigint,
          'a write by the gateway compacts its game as the owner (compact_every = 1)');
SELECT is((SELECT s.score FROM qr_event.leaderboard_scores s JOIN qr_event.games g ON g.id = s.game_id
           WHERE g.title = 'tap'), 11::bigint, 'the folded score is in level 0');
RESET qr_event.leaderboard_compact_every;

-- the direct append refuses a deltas table it would not honour
SELECT throws_ok($$
    ALTER TABLE qr_event.leaderboard_deltas ADD CONSTRAINT tap_delta_check CHECK (delta <> 0);
    UPDATE qr_event.game_participations p SET total_score = 12, updated_at = now()
    FROM qr_event.games g WHERE g.id = p.game_id AND g.title = 'tap'$$,
    'XX000', 'leaderboard_capture: qr_event.leaderboard_deltas must have no check constraint, trigger or rule',
    'a check constraint added to the deltas table stops the append');
SELECT throws_ok($$
    CREATE INDEX tap_delta_expr ON qr_event.leaderboard_deltas ((score + 1));
    UPDATE qr_event.game_participations p SET total_score = 12, updated_at = now()
    FROM qr_event.games g WHERE g.id = p.game_id AND g.title = 'tap'$$,
    'XX000', 'leaderboard_capture: index "tap_delta_expr" of qr_event.leaderboard_deltas is not a plain column index',
    'an expression index on the deltas table stops the append');

SELECT * FROM finish();
ROLLBACK;
