-- pgTAP: the REST functions (0.5.0): one qr_event.http_<route>(claims jsonb, params jsonb,
-- body jsonb) RETURNS jsonb per route, each SECURITY DEFINER with a pinned search_path
-- and executable by qr_gateway_role only; their helpers, executable by nobody; and
-- verify_password
BEGIN;
SELECT plan(233);

-- sqlstate_as(role, sql): the SQLSTATE of sql run as role, 00000 on success
\ir lib/sqlstate_as.sql

-- the routes: name, route (the start of its comment), STABLE (reads) or VOLATILE (writes)
CREATE TEMP TABLE tap_http_route (fn name, route text, volatility "char") ON COMMIT DROP;
INSERT INTO tap_http_route VALUES
    ('http_login', 'POST /api/auth/login', 's'),
    ('http_guest_login', 'POST /api/auth/guest', 's'),
    ('http_list_events', 'GET /api/events', 's'),
    ('http_create_event', 'POST /api/events', 'v'),
    ('http_get_event', 'GET /api/events/{id}', 's'),
    ('http_event_stats', 'GET /api/events/{id}/stats', 's'),
    ('http_list_guests', 'GET /api/events/{id}/guests', 's'),
    ('http_add_guest', 'POST /api/events/{id}/guests', 'v'),
    ('http_list_families', 'GET /api/events/{id}/families', 's'),
    ('http_add_family', 'POST /api/events/{id}/families', 'v'),
    ('http_list_games', 'GET /api/events/{id}/games', 's'),
    ('http_add_game', 'POST /api/events/{id}/games', 'v'),
    ('http_issue_qr', 'POST /api/events/{id}/guests/{guest_id}/qr', 'v'),
    ('http_scan_qr', 'POST /api/qr/{token}/scan', 'v'),
    ('http_revoke_qr', 'POST /api/qr/{token}/revoke', 'v'),
    ('http_qr_history', 'GET /api/qr/{token}/history', 's'),
    ('http_leaderboard', 'GET /api/games/{id}/leaderboard', 's'),
    ('http_leaderboard_entry', 'GET /api/games/{id}/leaderboard/{participation_id}', 's'),
    ('http_play', 'POST /api/games/{id}/play', 'v');

-- the helpers the routes share; they run inside the routes, as the owner
CREATE TEMP TABLE tap_http_helper (fn name, args text[]) ON COMMIT DROP;
INSERT INTO tap_http_helper VALUES
    ('http_account', ARRAY['jsonb']),
    ('http_guest', ARRAY['jsonb']),
    ('http_param', ARRAY['jsonb', 'text', 'text', 'text', 'boolean']),
    ('http_id', ARRAY['jsonb', 'text']),
    ('http_organised_event', ARRAY['jsonb', 'jsonb']),
    ('http_token', ARRAY['jsonb']),
    ('http_page', ARRAY['jsonb']),
    ('http_body_fields', ARRAY['jsonb', 'text[]', 'text[]']),
    ('http_field', ARRAY['jsonb', 'text', 'text']),
    ('http_snake_keys', ARRAY['jsonb']);

-- exactly these routes take the REST calling convention
SELECT set_eq(
    $$SELECT p.proname FROM pg_proc p
      WHERE p.pronamespace = 'qr_event'::regnamespace
        AND p.proargtypes = '3802 3802 3802'::oidvector$$,
    'SELECT fn FROM tap_http_route',
    'one function of (jsonb, jsonb, jsonb) per REST route');

-- ---------------------------------------------------------------------------
-- the routes
-- ---------------------------------------------------------------------------
SELECT is(pg_get_function_arguments(to_regprocedure('qr_event.' || r.fn || '(jsonb,jsonb,jsonb)')),
          'claims jsonb, params jsonb, body jsonb', r.fn || ' takes (claims, params, body)')
FROM tap_http_route r ORDER BY r.fn;
SELECT is(pg_get_function_result(to_regprocedure('qr_event.' || r.fn || '(jsonb,jsonb,jsonb)')),
          'jsonb', r.fn || ' returns jsonb')
FROM tap_http_route r ORDER BY r.fn;
SELECT ok(coalesce((SELECT p.prosecdef FROM pg_proc p
                    WHERE p.oid = to_regprocedure('qr_event.' || r.fn || '(jsonb,jsonb,jsonb)')), false),
          r.fn || ' is SECURITY DEFINER')
FROM tap_http_route r ORDER BY r.fn;
SELECT is((SELECT p.proconfig FROM pg_proc p WHERE p.oid = to_regprocedure('qr_event.' || r.fn || '(jsonb,jsonb,jsonb)')),
          ARRAY['search_path=pg_catalog, pg_temp'], r.fn || ' pins search_path')
FROM tap_http_route r ORDER BY r.fn;
SELECT is((SELECT p.provolatile FROM pg_proc p WHERE p.oid = to_regprocedure('qr_event.' || r.fn || '(jsonb,jsonb,jsonb)')),
          r.volatility, r.fn || CASE r.volatility WHEN 's' THEN ' is STABLE' ELSE ' is VOLATILE' END)
FROM tap_http_route r ORDER BY r.fn;
SELECT ok(starts_with(obj_description(to_regprocedure('qr_event.' || r.fn || '(jsonb,jsonb,jsonb)'), 'pg_proc'),
                      r.route || ' ('),
          r.fn || ' is commented with its route ' || r.route)
FROM tap_http_route r ORDER BY r.fn;
SELECT function_privs_are('qr_event', r.fn, ARRAY['jsonb', 'jsonb', 'jsonb'], x.role,
                          CASE WHEN x.may THEN ARRAY['EXECUTE']::name[] ELSE '{}'::name[] END,
                          x.role || CASE WHEN x.may THEN ' may call ' ELSE ' cannot call ' END || r.fn)
FROM tap_http_route r,
     LATERAL (VALUES ('qr_gateway_role'::name, true), ('qr_analyst', false), ('public', false)) AS x (role, may)
ORDER BY r.fn, x.role;

-- whatever is added later: no http_* function runs as its caller with PUBLIC execute
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_proc p
      WHERE p.pronamespace = 'qr_event'::regnamespace AND p.proname LIKE 'http\_%'
        AND p.proargtypes = '3802 3802 3802'::oidvector
        AND (NOT p.prosecdef OR p.proconfig IS DISTINCT FROM ARRAY['search_path=pg_catalog, pg_temp'])$$,
    'every REST function is SECURITY DEFINER with search_path = pg_catalog, pg_temp');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_proc p
      WHERE p.pronamespace = 'qr_event'::regnamespace AND p.proname LIKE 'http\_%'
        AND (has_function_privilege('public', p.oid, 'EXECUTE')
             OR has_function_privilege('qr_analyst', p.oid, 'EXECUTE'))$$,
    'no http_* function is executable by PUBLIC or qr_analyst');

-- ---------------------------------------------------------------------------
-- the helpers: SECURITY INVOKER, pinned search_path, executable by nobody
-- ---------------------------------------------------------------------------
SELECT ok(NOT coalesce((SELECT p.prosecdef FROM pg_proc p
                        WHERE p.oid = to_regprocedure(format('qr_event.%s(%s)', h.fn, array_to_string(h.args, ',')))), true),
          h.fn || ' is SECURITY INVOKER')
FROM tap_http_helper h ORDER BY h.fn;
SELECT is((SELECT p.proconfig FROM pg_proc p
           WHERE p.oid = to_regprocedure(format('qr_event.%s(%s)', h.fn, array_to_string(h.args, ',')))),
          ARRAY['search_path=pg_catalog, pg_temp'], h.fn || ' pins search_path')
FROM tap_http_helper h ORDER BY h.fn;
SELECT function_privs_are('qr_event', h.fn, h.args, x.role, '{}'::name[], x.role || ' cannot call ' || h.fn)
FROM tap_http_helper h,
     LATERAL (VALUES ('qr_gateway_role'::name), ('qr_analyst'), ('public')) AS x (role)
ORDER BY h.fn, x.role;

-- ---------------------------------------------------------------------------
-- verify_password: C, called on NULL input (a NULL hash still derives a key)
-- ---------------------------------------------------------------------------
SELECT function_lang_is('qr_event', 'verify_password', ARRAY['text', 'text'], 'c', 'verify_password is written in C');
SELECT function_returns('qr_event', 'verify_password', ARRAY['text', 'text'], 'boolean', 'verify_password returns boolean');
SELECT isnt_strict('qr_event', 'verify_password', ARRAY['text', 'text'], 'verify_password is called on NULL input');
SELECT function_privs_are('qr_event', 'verify_password', ARRAY['text', 'text'], x.role, '{}'::name[],
                          x.role || ' cannot call verify_password')
FROM (VALUES ('qr_gateway_role'::name), ('qr_analyst'), ('public')) AS x (role);

-- ---------------------------------------------------------------------------
-- what that means for the roles
-- ---------------------------------------------------------------------------
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', $$SELECT qr_event.http_list_games(NULL, '{"id": "999999999"}', NULL)$$),
          'P0002', 'the gateway runs a route (a missing event: P0002)');
SELECT is(pg_temp.sqlstate_as('qr_analyst', $$SELECT qr_event.http_list_games(NULL, '{"id": "999999999"}', NULL)$$),
          '42501', 'the analyst cannot run a route');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', $$SELECT qr_event.http_body_fields('{}', '{}', '{}')$$),
          '42501', 'the gateway cannot run a helper directly');

SELECT * FROM finish();
ROLLBACK;
