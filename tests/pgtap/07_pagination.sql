-- pgTAP: keyset pagination: the signatures of paginate and the list functions, who may
-- call them, and the cursor secret that no API role can read
BEGIN;
SELECT plan(64);

-- sqlstate_as(role, sql): the SQLSTATE of sql run as role, 00000 on success
\ir lib/sqlstate_as.sql

-- the OUT columns of a function, as "name type, ..."
CREATE FUNCTION pg_temp.out_columns(f regprocedure) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(a.name || ' ' || format_type(a.type, NULL), ', ' ORDER BY a.n)
    FROM pg_proc p, unnest(p.proargnames, p.proallargtypes, p.proargmodes) WITH ORDINALITY AS a (name, type, mode, n)
    WHERE p.oid = f AND a.mode = 'o'
$$;

-- paginate: polymorphic, one row of page and metadata, STABLE, SECURITY INVOKER, C
SELECT has_function('qr_event', 'paginate', ARRAY['anyelement', 'text[]', 'integer', 'text', 'jsonb', 'text', 'text']);
SELECT is(pg_get_function_arguments('qr_event.paginate(anyelement,text[],integer,text,jsonb,text,text)'::regprocedure),
          'relation anyelement, order_by text[], page_size integer DEFAULT 20, cursor text DEFAULT NULL::text, '
          'filter jsonb DEFAULT ''{}''::jsonb, total text DEFAULT ''none''::text, caller text DEFAULT NULL::text, '
          'OUT items anyarray, OUT next_cursor text, OUT prev_cursor text, OUT has_next boolean, '
          'OUT has_prev boolean, OUT page integer, OUT total bigint, OUT total_kind text',
          'paginate takes relation, order_by, page_size, cursor, filter, total, caller');
SELECT is(pg_temp.out_columns('qr_event.paginate(anyelement,text[],integer,text,jsonb,text,text)'),
          'items anyarray, next_cursor text, prev_cursor text, has_next boolean, has_prev boolean, '
          'page integer, total bigint, total_kind text', 'paginate returns a page and its metadata');
SELECT function_lang_is('qr_event', 'paginate', ARRAY['anyelement', 'text[]', 'integer', 'text', 'jsonb', 'text', 'text'], 'c');
SELECT volatility_is('qr_event', 'paginate', ARRAY['anyelement', 'text[]', 'integer', 'text', 'jsonb', 'text', 'text'], 'stable');
SELECT isnt_strict('qr_event', 'paginate', ARRAY['anyelement', 'text[]', 'integer', 'text', 'jsonb', 'text', 'text']);
SELECT isnt_definer('qr_event', 'paginate', ARRAY['anyelement', 'text[]', 'integer', 'text', 'jsonb', 'text', 'text']);
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'qr_event.paginate(anyelement,text[],integer,text,jsonb,text,text)'::regprocedure),
          'u', 'paginate is PARALLEL UNSAFE');

-- the query and plan behind a page
SELECT function_returns('qr_event', 'paginate_query', ARRAY['anyelement', 'text[]', 'integer', 'text', 'jsonb', 'text'], 'text');
SELECT function_returns('qr_event', 'paginate_explain', ARRAY['anyelement', 'text[]', 'integer', 'text', 'jsonb', 'text'], 'text');
SELECT isnt_definer('qr_event', 'paginate_query', ARRAY['anyelement', 'text[]', 'integer', 'text', 'jsonb', 'text']);
SELECT isnt_definer('qr_event', 'paginate_explain', ARRAY['anyelement', 'text[]', 'integer', 'text', 'jsonb', 'text']);

-- the cursor secret and its rotation
SELECT has_table('qr_event', 'cursor_keys', 'the cursor secret has a table');
SELECT col_is_pk('qr_event', 'cursor_keys', 'id', 'one secret, keyed by id');
SELECT col_type_is('qr_event', 'cursor_keys', 'secret', 'bytea', 'the secret is bytea');
SELECT results_eq('SELECT count(*)::int, min(octet_length(secret)) FROM qr_event.cursor_keys',
                  $$VALUES (1, 32)$$, 'the extension created one secret of 32 bytes');
SELECT function_returns('qr_event', 'rotate_cursor_secret', ARRAY[]::text[], 'void');
SELECT function_lang_is('qr_event', 'rotate_cursor_secret', ARRAY[]::text[], 'c');
SELECT volatility_is('qr_event', 'rotate_cursor_secret', ARRAY[]::text[], 'volatile');
SELECT is_definer('qr_event', 'rotate_cursor_secret', ARRAY[]::text[]);

-- the lists of the REST API
SELECT function_returns('qr_event', 'list_events', ARRAY['bigint', 'integer', 'text', 'text'], 'jsonb');
SELECT function_returns('qr_event', 'list_guests', ARRAY['bigint', 'bigint', 'integer', 'text', 'text'], 'jsonb');
SELECT function_returns('qr_event', 'list_families', ARRAY['bigint', 'bigint', 'integer', 'text', 'text'], 'jsonb');
SELECT function_returns('qr_event', 'list_games', ARRAY['bigint', 'integer', 'text', 'text'], 'jsonb');
SELECT is(pg_get_function_arguments('qr_event.list_guests(bigint,bigint,integer,text,text)'::regprocedure),
          'account_id bigint, event_id bigint, page_size integer DEFAULT 20, cursor text DEFAULT NULL::text, '
          'total text DEFAULT ''none''::text', 'list_guests takes the account, the event and the paging arguments');
SELECT is_definer('qr_event', f.name, f.args, f.name || ' runs as its owner')
FROM (VALUES ('list_events'::name, ARRAY['bigint', 'integer', 'text', 'text']),
             ('list_guests', ARRAY['bigint', 'bigint', 'integer', 'text', 'text']),
             ('list_families', ARRAY['bigint', 'bigint', 'integer', 'text', 'text']),
             ('list_games', ARRAY['bigint', 'integer', 'text', 'text'])) AS f (name, args);
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace = 'qr_event'::regnamespace AND p.prosecdef
      AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
$$, 'every SECURITY DEFINER function pins search_path to pg_catalog, pg_temp');
SELECT function_returns('qr_event', 'is_event_organiser', ARRAY['bigint', 'bigint'], 'boolean');
SELECT volatility_is('qr_event', 'page_envelope',
                     ARRAY['jsonb', 'integer', 'text', 'text', 'boolean', 'integer', 'bigint', 'text'], 'immutable');
SELECT has_view('qr_event', 'account_events', 'an account''s events are a view');
SELECT columns_are('qr_event', 'account_events', ARRAY['account_id', 'event_id', 'role', 'owner_id', 'name',
    'venue', 'starts_at', 'ends_at', 'created_at', 'updated_at']);

-- privileges: nobody but the owner reads or rotates the secret
SELECT table_privs_are('qr_event', 'cursor_keys', r.role, '{}'::name[], r.role || ' has no privilege on cursor_keys')
FROM (VALUES ('qr_gateway_role'::name), ('qr_analyst'), ('public')) AS r (role);
SELECT is_empty($$
    SELECT r.rolname FROM pg_roles r
    WHERE r.rolname IN ('qr_gateway_role', 'qr_analyst')
      AND has_any_column_privilege(r.rolname, 'qr_event.cursor_keys', 'SELECT, INSERT, UPDATE, REFERENCES')
$$, 'no column of cursor_keys is granted either');
SELECT function_privs_are('qr_event', 'rotate_cursor_secret', ARRAY[]::text[], r.role, '{}'::name[],
                          r.role || ' cannot rotate the secret')
FROM (VALUES ('qr_gateway_role'::name), ('qr_analyst'), ('public')) AS r (role);
SELECT is(pg_temp.sqlstate_as(r.role, 'SELECT secret FROM qr_event.cursor_keys'), '42501',
          r.role || ' cannot read the secret')
FROM (VALUES ('qr_gateway_role'::name), ('qr_analyst')) AS r (role);

-- paginate reads only what the caller may read, so anyone may call it
SELECT function_privs_are('qr_event', 'paginate', ARRAY['anyelement', 'text[]', 'integer', 'text', 'jsonb', 'text', 'text'],
                          'public', ARRAY['EXECUTE'], 'PUBLIC may call paginate');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', $$SELECT qr_event.paginate(NULL::qr_event.games, '{id}')$$),
          '00000', 'the gateway pages a table it may read');
SELECT is(pg_temp.sqlstate_as('qr_analyst', $$SELECT qr_event.paginate(NULL::qr_event.games, '{id}')$$),
          '42501', 'the analyst cannot page a table it may not read');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', $$SELECT qr_event.paginate(NULL::qr_event.accounts, '{id}')$$),
          '42501', 'the gateway cannot page whole accounts (password hashes)');

-- the lists: the gateway only
SELECT function_privs_are('qr_event', f.name, f.args, r.role,
                          CASE r.role WHEN 'qr_gateway_role' THEN ARRAY['EXECUTE']::name[] ELSE '{}'::name[] END,
                          r.role || CASE r.role WHEN 'qr_gateway_role' THEN ' may call ' ELSE ' cannot call ' END || f.name)
FROM (VALUES ('list_events'::name, ARRAY['bigint', 'integer', 'text', 'text']),
             ('list_guests', ARRAY['bigint', 'bigint', 'integer', 'text', 'text']),
             ('list_families', ARRAY['bigint', 'bigint', 'integer', 'text', 'text']),
             ('list_games', ARRAY['bigint', 'integer', 'text', 'text'])) AS f (name, args),
     (VALUES ('qr_gateway_role'::name), ('qr_analyst'), ('public')) AS r (role)
ORDER BY f.name, r.role;
SELECT function_privs_are('qr_event', 'is_event_organiser', ARRAY['bigint', 'bigint'], 'public', '{}'::name[],
                          'PUBLIC cannot probe who organises what');
SELECT table_privs_are('qr_event', 'account_events', 'qr_analyst', '{}'::name[], 'the analyst cannot read account_events');

-- the largest page is a superuser setting
SELECT is(current_setting('qr_event.max_page_size'), '100', 'qr_event.max_page_size is 100 by default');
SELECT is((SELECT context FROM pg_settings WHERE name = 'qr_event.max_page_size'), 'superuser',
          'only superusers change qr_event.max_page_size');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'SET qr_event.max_page_size = 10000'), '42501',
          'the gateway cannot raise the largest page');

SELECT * FROM finish();
ROLLBACK;
