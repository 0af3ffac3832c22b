-- pgTAP: the roles qr_gateway_role and qr_analyst and what each may do (least privilege)
BEGIN;
SELECT plan(97);

-- sqlstate_as(role, sql): the SQLSTATE of sql run as role, 00000 on success
\ir lib/sqlstate_as.sql

-- the roles
SELECT has_role('qr_gateway_role');
SELECT has_role('qr_analyst');
SELECT ok(NOT rolcanlogin, rolname || ' is NOLOGIN') FROM pg_roles
WHERE rolname IN ('qr_gateway_role', 'qr_analyst') ORDER BY rolname;
SELECT ok(NOT (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls),
          rolname || ' has no special powers')
FROM pg_roles WHERE rolname IN ('qr_gateway_role', 'qr_analyst') ORDER BY rolname;
SELECT isnt(shobj_description(oid, 'pg_authid'), NULL, rolname || ' is documented')
FROM pg_roles WHERE rolname IN ('qr_gateway_role', 'qr_analyst') ORDER BY rolname;

-- the schema: usage only
SELECT schema_privs_are('qr_event', 'qr_gateway_role', ARRAY['USAGE'], 'the gateway may use the schema, not create in it');
SELECT schema_privs_are('qr_event', 'qr_analyst', ARRAY['USAGE'], 'the analyst may use the schema, not create in it');

-- the gateway's table privileges
SELECT table_privs_are('qr_event', t.tab, 'qr_gateway_role', t.privs, 'gateway privileges on ' || t.tab)
FROM (VALUES
    ('accounts'::name, '{}'::name[]),
    ('events', '{SELECT,INSERT,UPDATE}'),
    ('event_staff', '{SELECT,INSERT,UPDATE,DELETE}'),
    ('families', '{SELECT,INSERT,UPDATE,DELETE}'),
    ('guests', '{SELECT,INSERT,UPDATE,DELETE}'),
    ('games', '{SELECT,INSERT,UPDATE,DELETE}'),
    ('game_participations', '{SELECT,INSERT,UPDATE,DELETE}'),
    ('qr_codes', '{SELECT,INSERT,UPDATE}'),
    ('qr_code_events', '{SELECT,INSERT}')
) AS t (tab, privs);

-- accounts: a few columns readable, the password hash never
SELECT column_privs_are('qr_event', 'accounts', c.col, 'qr_gateway_role', c.privs,
                        'gateway column privileges on accounts.' || c.col)
FROM (VALUES ('id'::name, '{SELECT}'::name[]), ('email', '{SELECT}'), ('display_name', '{SELECT}'),
             ('tier', '{SELECT}'), ('created_at', '{SELECT}'), ('password_hash', '{}'),
             ('updated_at', '{}')) AS c (col, privs);

-- no sequence privileges are needed for identity columns
SELECT sequence_privs_are('qr_event', s.relname, 'qr_gateway_role', '{}'::name[],
                          'no privileges on ' || s.relname)
FROM pg_class s WHERE s.relnamespace = 'qr_event'::regnamespace AND s.relkind = 'S' ORDER BY s.relname;

-- the analyst may read no table (the audit views come later)
SELECT table_privs_are('qr_event', c.relname, 'qr_analyst', '{}'::name[], 'analyst has no privileges on ' || c.relname)
FROM pg_class c WHERE c.relnamespace = 'qr_event'::regnamespace AND c.relkind = 'r' ORDER BY c.relname;
SELECT is_empty($$
    SELECT c.relname FROM pg_class c
    WHERE c.relnamespace = 'qr_event'::regnamespace AND c.relkind IN ('r', 'S')
      AND has_any_column_privilege('qr_analyst', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
$$, 'analyst has no column privileges either');

-- functions: creating accounts is for administrators
SELECT function_privs_are('qr_event', 'create_account', ARRAY['text', 'text', 'text', 'text'],
                          'qr_gateway_role', '{}'::name[], 'the gateway cannot create accounts');
SELECT function_privs_are('qr_event', 'create_account', ARRAY['text', 'text', 'text', 'text'],
                          'qr_analyst', '{}'::name[], 'the analyst cannot create accounts');
SELECT function_privs_are('qr_event', 'create_account', ARRAY['text', 'text', 'text', 'text'],
                          'public', '{}'::name[], 'PUBLIC cannot create accounts');

-- what the privileges mean in practice
INSERT INTO qr_event.accounts (email, password_hash, display_name)
VALUES ('tap-roles@example.com', '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Owner')
RETURNING id AS owner \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner, 'Roles', '2030-01-01', '2030-01-02') RETURNING id AS ev \gset
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:ev, 'Guest') RETURNING id AS guest \gset
INSERT INTO qr_event.qr_codes (event_id, guest_id, token)
VALUES (:ev, :guest, 'tap_roles_token_01234567') RETURNING id AS code \gset
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, hash)
VALUES (:ev, :code, 1, 'issued', now(), sha256('issued'));

SELECT is(pg_temp.sqlstate_as('qr_gateway_role', format(
    'INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at) VALUES (%s, %L, %L, %L)',
    :owner, 'Gateway event', '2030-02-01', '2030-02-02')), '00000',
    'the gateway inserts through an identity without sequence privileges');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', format(
    'INSERT INTO qr_event.events (id, owner_id, name, starts_at, ends_at) VALUES (424242, %s, %L, %L, %L)',
    :owner, 'Chosen id', '2030-02-01', '2030-02-02')), '428C9', 'the gateway cannot choose an id');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'SELECT id, email, display_name, tier, created_at FROM qr_event.accounts'),
          '00000', 'the gateway reads the public columns of accounts');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'SELECT password_hash FROM qr_event.accounts'),
          '42501', 'the gateway cannot read password hashes');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'SELECT * FROM qr_event.accounts'),
          '42501', 'the gateway cannot SELECT * from accounts');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', format(
    'INSERT INTO qr_event.accounts (email, password_hash, display_name) SELECT %L, password_hash, %L FROM qr_event.accounts LIMIT 1',
    'new@example.com', 'New')), '42501', 'the gateway cannot create accounts directly');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', format(
    'INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) '
    'SELECT event_id, qr_code_id, 2, %L, now(), hash, sha256(%L) FROM qr_event.qr_code_events WHERE qr_code_id = %s',
    'scan_accepted', 'next', :code)), '00000', 'the gateway appends to the event store');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'UPDATE qr_event.qr_code_events SET gate = ''x'''),
          '42501', 'the gateway cannot rewrite the event store');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'DELETE FROM qr_event.qr_code_events'),
          '42501', 'the gateway cannot delete from the event store');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'DELETE FROM qr_event.events'),
          '42501', 'the gateway cannot delete events');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'DELETE FROM qr_event.qr_codes'),
          '42501', 'the gateway cannot delete QR codes');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', format('DELETE FROM qr_event.guests WHERE event_id = %s AND id <> %s', :ev, :guest)),
          '00000', 'the gateway deletes guests');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'TRUNCATE qr_event.' || c.relname),
          '42501', 'the gateway cannot TRUNCATE ' || c.relname)
FROM pg_class c WHERE c.relnamespace = 'qr_event'::regnamespace AND c.relkind = 'r' ORDER BY c.relname;
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'CREATE TABLE qr_event.gateway_table (x int)'),
          '42501', 'the gateway cannot create tables in the schema');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'ALTER TABLE qr_event.guests ADD COLUMN x int'),
          '42501', 'the gateway cannot alter tables');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'DROP TABLE qr_event.guests'),
          '42501', 'the gateway cannot drop tables');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'SELECT qr_event.create_account(''gw@example.com'', ''correct horse battery'', ''Gw'')'),
          '42501', 'the gateway cannot call create_account');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'SELECT qr_event.version()'),
          '00000', 'the gateway may ask for the version');
SELECT is(pg_temp.sqlstate_as('qr_analyst', 'SELECT * FROM qr_event.' || c.relname || ' LIMIT 1'),
          '42501', 'the analyst cannot read ' || c.relname)
FROM pg_class c WHERE c.relnamespace = 'qr_event'::regnamespace AND c.relkind = 'r' ORDER BY c.relname;

SELECT * FROM finish();
ROLLBACK;
