-- pgTAP: the roles qr_gateway_role and qr_analyst and what each may do (least privilege)
BEGIN;
SELECT plan(115);

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
    -- the QR commands are the only writers of the projection and the event store
    ('qr_codes', '{SELECT}'),
    ('qr_code_events', '{SELECT}'),
    ('qr_unknown_scans', '{}')
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

-- the analyst may read no table: only the audit views (tests/pgtap/10_audit.sql)
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

-- the audit's verification is for analysts (and DBAs); the encoding and hash are pure
SELECT function_privs_are('qr_event', f.name, f.args, r.role, r.privs, r.role || ' on ' || f.name)
FROM (VALUES ('verify_audit'::name, ARRAY['text', 'bigint']), ('audit_digest', ARRAY['bigint'])) AS f (name, args),
     (VALUES ('qr_analyst'::name, '{EXECUTE}'::name[]), ('qr_gateway_role', '{}'), ('public', '{}')) AS r (role, privs)
ORDER BY f.name, r.role;
SELECT function_privs_are('qr_event', f.name, ARRAY['qr_event.qr_code_events'], 'public', '{EXECUTE}'::name[],
                          'PUBLIC may run ' || f.name)
FROM (VALUES ('audit_encode'::name), ('audit_hash')) AS f (name) ORDER BY 1;

-- what the privileges mean in practice
INSERT INTO qr_event.accounts (email, password_hash, display_name)
VALUES ('tap-roles@example.com', '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Owner')
RETURNING id AS owner \gset
-- the event runs now, so that its doors are open
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner, 'Roles', now() - interval '1 hour', now() + interval '1 day') RETURNING id AS ev \gset
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:ev, 'Guest') RETURNING id AS guest \gset
SELECT qr_event.issue_qr(:guest, 'tap') AS token \gset
SELECT id AS code FROM qr_event.qr_codes WHERE token = :'token' \gset

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
-- the event store: the gateway appends only through the commands behind the api_* functions
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', format(
    'INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at) '
    'SELECT event_id, id, version + 1, %L, now() FROM qr_event.qr_codes WHERE id = %s',
    'scan_accepted', :code)), '42501', 'the gateway cannot append to the event store directly');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', format(
    'INSERT INTO qr_event.qr_codes (event_id, guest_id, token) VALUES (%s, %s, %L)',
    :ev, :guest, 'tap_roles_token_76543210')), '42501', 'the gateway cannot create QR codes directly');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', format(
    'UPDATE qr_event.qr_codes SET status = %L, first_scan_at = now() WHERE id = %s', 'used', :code)),
    '42501', 'the gateway cannot change a QR code''s state directly');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', format('SELECT qr_event.api_scan_qr(%s, %L, %L)',
                              :owner, :'token', 'Gate A')),
          '00000', 'the gateway scans through api_scan_qr');
SET LOCAL ROLE qr_gateway_role;
SELECT qr_event.api_scan_qr(:owner, :'token', 'Gate A') ->> 'reason' AS scan_reason \gset
RESET ROLE;
SELECT is(:'scan_reason'::text, 'accepted', 'api_scan_qr, called by the gateway, accepts the code');
SELECT results_eq(format('SELECT version, type, gate, actor FROM qr_event.qr_code_events WHERE qr_code_id = %s ORDER BY version', :code),
                  format('VALUES (1, %L, NULL, %L), (2, %L, %L, %L)', 'issued', 'tap', 'scan_accepted', 'Gate A', 'account:' || :owner),
                  'the scan is the next event of the code''s chain, by the caller''s account');
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
