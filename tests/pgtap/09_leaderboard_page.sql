-- pgTAP: leaderboard pages and neighbours: the signatures of leaderboard and
-- leaderboard_around, their row type, and who may call them
BEGIN;
SELECT plan(32);

-- sqlstate_as(role, sql): the SQLSTATE of sql run as role, 00000 on success
\ir lib/sqlstate_as.sql

-- the row both functions return
SELECT has_type('qr_event', 'leaderboard_entry', 'leaderboards return qr_event.leaderboard_entry');
SELECT is((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
           FROM pg_attribute a WHERE a.attrelid = 'qr_event.leaderboard_entry'::regclass AND a.attnum > 0),
          'rank bigint, participation_id bigint, participant_kind text, participant_id bigint, display_name text, '
          'total_score bigint, completed_at timestamp with time zone, cursor text',
          'leaderboard_entry has the columns of DESIGN §4');
SELECT ok(obj_description('qr_event.leaderboard_entry'::regtype, 'pg_type') IS NOT NULL, 'leaderboard_entry is commented');

-- leaderboard
SELECT has_function('qr_event', 'leaderboard', ARRAY['bigint', 'integer', 'text', 'text']);
SELECT is(pg_get_function_arguments('qr_event.leaderboard(bigint,integer,text,text)'::regprocedure),
          'game_id bigint, page_size integer DEFAULT 20, cursor text DEFAULT NULL::text, '
          'rank_mode text DEFAULT ''competition''::text',
          'leaderboard takes game_id, page_size, cursor, rank_mode');
SELECT is(pg_get_function_result('qr_event.leaderboard(bigint,integer,text,text)'::regprocedure),
          'SETOF qr_event.leaderboard_entry', 'leaderboard returns a set of leaderboard_entry');
SELECT function_lang_is('qr_event', 'leaderboard', ARRAY['bigint', 'integer', 'text', 'text'], 'c');
SELECT volatility_is('qr_event', 'leaderboard', ARRAY['bigint', 'integer', 'text', 'text'], 'stable');
SELECT isnt_strict('qr_event', 'leaderboard', ARRAY['bigint', 'integer', 'text', 'text']);
SELECT is_definer('qr_event', 'leaderboard', ARRAY['bigint', 'integer', 'text', 'text']);
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'qr_event.leaderboard(bigint,integer,text,text)'::regprocedure),
          'u', 'leaderboard is PARALLEL UNSAFE');
SELECT ok(obj_description('qr_event.leaderboard(bigint,integer,text,text)'::regprocedure, 'pg_proc') IS NOT NULL,
          'leaderboard is commented');

-- leaderboard_around
SELECT has_function('qr_event', 'leaderboard_around', ARRAY['bigint', 'bigint', 'integer', 'text']);
SELECT is(pg_get_function_arguments('qr_event.leaderboard_around(bigint,bigint,integer,text)'::regprocedure),
          'game_id bigint, participation_id bigint, radius integer DEFAULT 5, '
          'rank_mode text DEFAULT ''competition''::text',
          'leaderboard_around takes game_id, participation_id, radius, rank_mode');
SELECT is(pg_get_function_result('qr_event.leaderboard_around(bigint,bigint,integer,text)'::regprocedure),
          'SETOF qr_event.leaderboard_entry', 'leaderboard_around returns the rows of leaderboard');
SELECT function_lang_is('qr_event', 'leaderboard_around', ARRAY['bigint', 'bigint', 'integer', 'text'], 'c');
SELECT volatility_is('qr_event', 'leaderboard_around', ARRAY['bigint', 'bigint', 'integer', 'text'], 'stable');
SELECT isnt_strict('qr_event', 'leaderboard_around', ARRAY['bigint', 'bigint', 'integer', 'text']);
SELECT is_definer('qr_event', 'leaderboard_around', ARRAY['bigint', 'bigint', 'integer', 'text']);
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'qr_event.leaderboard_around(bigint,bigint,integer,text)'::regprocedure),
          'u', 'leaderboard_around is PARALLEL UNSAFE');
SELECT ok(obj_description('qr_event.leaderboard_around(bigint,bigint,integer,text)'::regprocedure, 'pg_proc') IS NOT NULL,
          'leaderboard_around is commented');

-- both pin search_path, as every SECURITY DEFINER function must
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = f), ARRAY['search_path=pg_catalog, pg_temp'],
          f::text || ' pins search_path')
FROM (VALUES ('qr_event.leaderboard(bigint,integer,text,text)'::regprocedure),
             ('qr_event.leaderboard_around(bigint,bigint,integer,text)'::regprocedure)) AS t (f);

-- privileges: the gateway calls them, nobody else without a grant
SELECT function_privs_are('qr_event', f.name, f.args, r.role,
                          CASE r.role WHEN 'qr_gateway_role' THEN ARRAY['EXECUTE']::name[] ELSE '{}'::name[] END,
                          r.role || CASE r.role WHEN 'qr_gateway_role' THEN ' may call ' ELSE ' cannot call ' END || f.name)
FROM (VALUES ('leaderboard'::name, ARRAY['bigint', 'integer', 'text', 'text']),
             ('leaderboard_around', ARRAY['bigint', 'bigint', 'integer', 'text'])) AS f (name, args),
     (VALUES ('qr_gateway_role'::name), ('qr_analyst'), ('public')) AS r (role)
ORDER BY f.name, r.role;
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'SELECT * FROM qr_event.leaderboard(-1)'), 'P0002',
          'the gateway reaches leaderboard (an unknown game is P0002)');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'SELECT * FROM qr_event.leaderboard_around(-1, -1)'), 'P0002',
          'the gateway reaches leaderboard_around');
SELECT is(pg_temp.sqlstate_as('qr_analyst', 'SELECT * FROM qr_event.leaderboard(-1)'), '42501',
          'the analyst cannot call leaderboard');

SELECT * FROM finish();
ROLLBACK;
