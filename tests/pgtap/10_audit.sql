-- pgTAP: the hash-chained QR audit (0.4.0): the signatures of the commands, the API
-- functions and the verification, who may call what, the triggers that keep the event
-- store append-only (for every role but superusers, also under replication), and what
-- the analyst may read
BEGIN;
SELECT plan(195);

-- sqlstate_as(role, sql): the SQLSTATE of sql run as role, 00000 on success
\ir lib/sqlstate_as.sql

-- ---------------------------------------------------------------------------
-- signatures
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE tap_audit_sig (sig text, args text, result text) ON COMMIT DROP;
INSERT INTO tap_audit_sig VALUES
    ('qr_event.issue_qr(bigint,text,timestamptz)',
     'guest_id bigint, actor text DEFAULT NULL::text, occurred_at timestamp with time zone DEFAULT now()',
     'text'),
    ('qr_event.reissue_qr(text,text,text,timestamptz)',
     'token text, reason text DEFAULT NULL::text, actor text DEFAULT NULL::text, '
     'occurred_at timestamp with time zone DEFAULT now()',
     'text'),
    ('qr_event.revoke_qr(text,text,text,timestamptz)',
     'token text, reason text DEFAULT NULL::text, actor text DEFAULT NULL::text, '
     'occurred_at timestamp with time zone DEFAULT now()',
     'qr_event.qr_codes'),
    ('qr_event.scan_qr(text,text,text,bigint,text,timestamptz)',
     'token text, gate text, device text DEFAULT NULL::text, event_id bigint DEFAULT NULL::bigint, '
     'actor text DEFAULT NULL::text, occurred_at timestamp with time zone DEFAULT now(), '
     'OUT accepted boolean, OUT reason text, OUT qr_code_id bigint, OUT guest_id bigint, '
     'OUT first_scan_at timestamp with time zone, OUT first_scan_gate text, OUT version integer',
     'record'),
    ('qr_event.qr_state_at(text,timestamptz)',
     'token text, at timestamp with time zone',
     'qr_event.qr_codes'),
    ('qr_event.rebuild_qr_projection(bigint)',
     'event_id bigint DEFAULT NULL::bigint',
     'bigint'),
    ('qr_event.verify_audit(text,bigint)',
     'saved_digest text DEFAULT NULL::text, saved_up_to bigint DEFAULT NULL::bigint',
     'TABLE(seq bigint, qr_code_id bigint, version integer, problem text)'),
    ('qr_event.audit_digest(bigint)',
     'up_to bigint DEFAULT NULL::bigint',
     'TABLE(digest text, up_to_seq bigint, chains bigint, events bigint)'),
    ('qr_event.api_issue_qr(bigint,bigint,bigint)',
     'account_id bigint, event_id bigint, guest_id bigint',
     'jsonb'),
    ('qr_event.api_scan_qr(bigint,text,text,text)',
     'account_id bigint, token text, gate text, device text DEFAULT NULL::text',
     'jsonb'),
    ('qr_event.api_revoke_qr(bigint,text,text)',
     'account_id bigint, token text, reason text DEFAULT NULL::text',
     'jsonb'),
    ('qr_event.api_qr_history(bigint,text,integer,text)',
     'account_id bigint, token text, page_size integer DEFAULT 20, cursor text DEFAULT NULL::text',
     'jsonb');

-- to_regprocedure: a missing function fails its test instead of stopping the file
SELECT is(pg_get_function_arguments(to_regprocedure(s.sig)), s.args, s.sig || ' arguments')
FROM tap_audit_sig s ORDER BY s.sig;
SELECT is(pg_get_function_result(to_regprocedure(s.sig)), s.result, s.sig || ' returns ' || s.result)
FROM tap_audit_sig s ORDER BY s.sig;

-- the commands, the API functions and the verification run as their owner, with a
-- pinned search_path; their reads are STABLE, their writes VOLATILE
SELECT ok(coalesce((SELECT p.prosecdef FROM pg_proc p WHERE p.oid = to_regprocedure(s.sig)), false),
          s.sig || ' is SECURITY DEFINER')
FROM tap_audit_sig s ORDER BY s.sig;
SELECT is((SELECT p.proconfig FROM pg_proc p WHERE p.oid = to_regprocedure(s.sig)),
          ARRAY['search_path=pg_catalog, pg_temp'], s.sig || ' pins search_path')
FROM tap_audit_sig s ORDER BY s.sig;
SELECT is((SELECT p.provolatile FROM pg_proc p WHERE p.oid = to_regprocedure(s.sig))::text,
          CASE WHEN s.sig ~ '^qr_event\.(verify_audit|audit_digest|qr_state_at|api_qr_history)\(' THEN 's' ELSE 'v' END,
          s.sig || CASE WHEN s.sig ~ '^qr_event\.(verify_audit|audit_digest|qr_state_at|api_qr_history)\('
                        THEN ' is STABLE' ELSE ' is VOLATILE' END)
FROM tap_audit_sig s ORDER BY s.sig;

-- the door's hot path is C (scan_qr.c): it appends straight to qr_code_events
SELECT function_lang_is('qr_event', 'scan_qr', ARRAY['text', 'text', 'text', 'bigint', 'text', 'timestamp with time zone'], 'c',
                        'scan_qr is written in C');

-- the helpers run as their caller (inside the commands: the owner); the append-only
-- trigger function must not run as its owner, or every role would pass as a superuser
SELECT ok(NOT coalesce((SELECT p.prosecdef FROM pg_proc p WHERE p.oid = to_regprocedure(f)), true),
          f || ' is SECURITY INVOKER')
FROM unnest(ARRAY['qr_event.qr_append(qr_event.qr_codes,text,jsonb,text,text,text,timestamptz)',
                  'qr_event.new_qr_token()', 'qr_event.qr_check_text(text,text,boolean)',
                  'qr_event.qr_apply(qr_event.qr_codes,qr_event.qr_code_events,text)',
                  'qr_event.qr_code_json(qr_event.qr_codes)', 'qr_event.is_event_staff(bigint,bigint)',
                  'qr_event.audit_chain()', 'qr_event.audit_append_only()']) AS f;
SELECT is(pg_get_function_result('qr_event.qr_append(qr_event.qr_codes,text,jsonb,text,text,text,timestamptz)'::regprocedure),
          'qr_event.qr_code_events', 'qr_append returns the appended event');
SELECT is(pg_get_function_result('qr_event.is_event_staff(bigint,bigint)'::regprocedure), 'boolean',
          'is_event_staff returns boolean');

-- ---------------------------------------------------------------------------
-- EXECUTE: the gateway calls the api_* functions, never a command; the analyst
-- verifies; PUBLIC runs none of them
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE tap_audit_exec (fn name, args text[], gateway boolean, analyst boolean) ON COMMIT DROP;
INSERT INTO tap_audit_exec VALUES
    ('issue_qr', ARRAY['bigint', 'text', 'timestamptz'], false, false),
    ('reissue_qr', ARRAY['text', 'text', 'text', 'timestamptz'], false, false),
    ('revoke_qr', ARRAY['text', 'text', 'text', 'timestamptz'], false, false),
    ('scan_qr', ARRAY['text', 'text', 'text', 'bigint', 'text', 'timestamptz'], false, false),
    ('qr_state_at', ARRAY['text', 'timestamptz'], false, false),
    ('rebuild_qr_projection', ARRAY['bigint'], false, false),
    ('qr_append', ARRAY['qr_event.qr_codes', 'text', 'jsonb', 'text', 'text', 'text', 'timestamptz'], false, false),
    ('new_qr_token', ARRAY[]::text[], false, false),
    ('is_event_staff', ARRAY['bigint', 'bigint'], true, false),
    ('api_issue_qr', ARRAY['bigint', 'bigint', 'bigint'], true, false),
    ('api_scan_qr', ARRAY['bigint', 'text', 'text', 'text'], true, false),
    ('api_revoke_qr', ARRAY['bigint', 'text', 'text'], true, false),
    ('api_qr_history', ARRAY['bigint', 'text', 'integer', 'text'], true, false),
    ('verify_audit', ARRAY['text', 'bigint'], false, true),
    ('audit_digest', ARRAY['bigint'], false, true);

SELECT function_privs_are('qr_event', e.fn, e.args, r.role,
                          CASE WHEN may THEN ARRAY['EXECUTE']::name[] ELSE '{}'::name[] END,
                          r.role || CASE WHEN may THEN ' may call ' ELSE ' cannot call ' END || e.fn)
FROM tap_audit_exec e,
     LATERAL (VALUES ('qr_gateway_role'::name, e.gateway), ('qr_analyst', e.analyst), ('public', false)) AS r (role, may)
ORDER BY e.fn, r.role;
SELECT function_privs_are('qr_event', f, ARRAY[]::text[], 'public', '{}'::name[], 'PUBLIC cannot call ' || f)
FROM unnest(ARRAY['audit_chain', 'audit_append_only']::name[]) AS f;

-- ---------------------------------------------------------------------------
-- the triggers of the event store
-- ---------------------------------------------------------------------------
SELECT triggers_are('qr_event', 'qr_code_events',
                    ARRAY['qr_code_events_chain', 'qr_code_events_append_only', 'qr_code_events_no_truncate']);
SELECT trigger_is('qr_event', 'qr_code_events', t.name, 'qr_event', t.fn, t.name || ' calls ' || t.fn)
FROM (VALUES ('qr_code_events_chain'::name, 'audit_chain'::name),
             ('qr_code_events_append_only', 'audit_append_only'),
             ('qr_code_events_no_truncate', 'audit_append_only')) AS t (name, fn);
-- tgtype bits: 1 row, 2 before, 4 insert, 8 delete, 16 update, 32 truncate
SELECT is((SELECT g.tgtype::int FROM pg_trigger g
           WHERE g.tgrelid = 'qr_event.qr_code_events'::regclass AND g.tgname = t.name), t.tgtype, t.name || ' ' || t.what)
FROM (VALUES ('qr_code_events_chain'::name, 1 + 2 + 4, 'fires BEFORE INSERT FOR EACH ROW'),
             ('qr_code_events_append_only', 1 + 2 + 8 + 16, 'fires BEFORE UPDATE OR DELETE FOR EACH ROW'),
             ('qr_code_events_no_truncate', 2 + 32, 'fires BEFORE TRUNCATE FOR EACH STATEMENT')) AS t (name, tgtype, what);
SELECT is((SELECT g.tgenabled::text FROM pg_trigger g
           WHERE g.tgrelid = 'qr_event.qr_code_events'::regclass AND g.tgname = t),
          'A', t || ' is ENABLE ALWAYS (fires under session_replication_role = replica too)')
FROM unnest(ARRAY['qr_code_events_chain', 'qr_code_events_append_only', 'qr_code_events_no_truncate']::name[]) AS t;

-- ---------------------------------------------------------------------------
-- the views: the API's history (for no role) and the analyst's three
-- ---------------------------------------------------------------------------
SELECT columns_are('qr_event', 'qr_history_items', ARRAY['qr_code_id', 'version', 'seq', 'type', 'payload',
    'actor', 'gate', 'device', 'occurred_at', 'recorded_at', 'prev_hash', 'hash']);
SELECT columns_are('qr_event', 'audit_timeline', ARRAY['seq', 'event_id', 'event_name', 'qr_code_id', 'guest_id',
    'guest_name', 'version', 'type', 'reason', 'actor', 'gate', 'device', 'occurred_at', 'recorded_at', 'hash']);
SELECT columns_are('qr_event', 'scan_stats', ARRAY['event_id', 'gate', 'hour', 'scans', 'accepted', 'rejected',
    'already_used', 'revoked', 'wrong_event', 'outside_window', 'codes']);
SELECT columns_are('qr_event', 'suspicious_scans', ARRAY['kind', 'event_id', 'qr_code_id', 'guest_id', 'seq',
    'gate', 'device', 'occurred_at', 'other_gate', 'other_occurred_at']);

SELECT table_privs_are('qr_event', v.name, r.role,
                       CASE WHEN r.role = 'qr_analyst' AND v.name <> 'qr_history_items'
                            THEN ARRAY['SELECT']::name[] ELSE '{}'::name[] END,
                       format('%s privileges on %s', r.role, v.name))
FROM unnest(ARRAY['audit_timeline', 'scan_stats', 'suspicious_scans', 'qr_history_items']::name[]) AS v (name),
     unnest(ARRAY['qr_analyst', 'qr_gateway_role', 'public']::name[]) AS r (role)
ORDER BY v.name, r.role;
-- and no table of the audit
SELECT table_privs_are('qr_event', t, 'qr_analyst', '{}'::name[], 'the analyst has no privilege on ' || t)
FROM unnest(ARRAY['qr_codes', 'qr_code_events', 'qr_unknown_scans']::name[]) AS t;
SELECT table_privs_are('qr_event', 'qr_unknown_scans', r, '{}'::name[], r || ' has no privilege on qr_unknown_scans')
FROM unnest(ARRAY['qr_gateway_role', 'public']::name[]) AS r;

-- ---------------------------------------------------------------------------
-- what the privileges mean in practice, on one code issued and scanned twice
-- ---------------------------------------------------------------------------
INSERT INTO qr_event.accounts (email, password_hash, display_name)
VALUES ('tap-audit@example.com', '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Owner')
RETURNING id AS owner \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner, 'Audit', now() - interval '1 hour', now() + interval '1 day') RETURNING id AS ev \gset
INSERT INTO qr_event.guests (event_id, first_name, last_name) VALUES (:ev, 'Ada', 'Audit') RETURNING id AS guest \gset
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:ev, 'Bo') RETURNING id AS guest2 \gset
SELECT qr_event.issue_qr(:guest, 'tap') AS token \gset
SELECT id AS code FROM qr_event.qr_codes WHERE token = :'token' \gset
SELECT reason AS scan1 FROM qr_event.scan_qr(:'token', 'Gate A', 'scanner-1', :ev, 'tap') \gset
SELECT reason AS scan2 FROM qr_event.scan_qr(:'token', 'Gate B', 'scanner-2', :ev, 'tap') \gset
SELECT is(ARRAY[:'scan1', :'scan2'], ARRAY['accepted', 'already_used'],
          'fixture: the code is accepted at gate A, then rejected as already used at gate B');

-- ---------------------------------------------------------------------------
-- the door opens qr_event.scan_opens_before minutes before an event starts (a
-- setting of the library, registered once it is loaded: the fixture's commands did)
-- ---------------------------------------------------------------------------
SELECT is((SELECT setting || ' ' || unit FROM pg_settings WHERE name = 'qr_event.scan_opens_before'),
          '180 min', 'qr_event.scan_opens_before is 180 minutes by default');
SELECT is((SELECT context FROM pg_settings WHERE name = 'qr_event.scan_opens_before'), 'superuser',
          'only superusers change qr_event.scan_opens_before');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', 'SET qr_event.scan_opens_before = 10080'), '42501',
          'the gateway cannot open the doors earlier');

-- the gateway: the api_* functions, never a command nor a view
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', format('SELECT qr_event.api_issue_qr(%s, %s, %s)', :owner, :ev, :guest2)),
          '00000', 'the gateway issues a code through api_issue_qr');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', format('SELECT qr_event.api_qr_history(%s, %L)', :owner, :'token')),
          '00000', 'the gateway lists a code''s history through api_qr_history');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', format('SELECT qr_event.api_revoke_qr(%s, %L)', :owner, :'token')),
          '00000', 'the gateway revokes a code through api_revoke_qr');
SELECT is(pg_temp.sqlstate_as('qr_gateway_role', c.sql), '42501', 'the gateway cannot ' || c.what)
FROM (VALUES
    (format('SELECT qr_event.issue_qr(%s)', :guest2), 'call issue_qr'),
    (format('SELECT qr_event.reissue_qr(%L)', :'token'), 'call reissue_qr'),
    (format('SELECT qr_event.revoke_qr(%L)', :'token'), 'call revoke_qr'),
    (format('SELECT * FROM qr_event.scan_qr(%L, %L)', :'token', 'Gate C'), 'call scan_qr'),
    (format('SELECT qr_event.qr_state_at(%L, now())', :'token'), 'call qr_state_at'),
    (format('SELECT qr_event.rebuild_qr_projection(%s)', :ev), 'call rebuild_qr_projection'),
    (format('SELECT qr_event.qr_append(c, %L, %L, NULL, NULL, NULL, now()) FROM qr_event.qr_codes c WHERE c.id = %s',
            'scan_accepted', '{}', :code), 'call qr_append'),
    ('SELECT * FROM qr_event.verify_audit()', 'call verify_audit'),
    ('SELECT * FROM qr_event.qr_history_items LIMIT 1', 'read qr_history_items'),
    ('SELECT * FROM qr_event.audit_timeline LIMIT 1', 'read audit_timeline'),
    ('SELECT * FROM qr_event.qr_unknown_scans LIMIT 1', 'read qr_unknown_scans')
) AS c (sql, what);

-- the analyst: each view and the verification, nothing else
SELECT is(pg_temp.sqlstate_as('qr_analyst', format('SELECT * FROM qr_event.%I LIMIT 1', v)), '00000',
          'the analyst reads ' || v)
FROM unnest(ARRAY['audit_timeline', 'scan_stats', 'suspicious_scans']) AS v;
SELECT is(pg_temp.sqlstate_as('qr_analyst', f), '00000', 'the analyst runs ' || f)
FROM unnest(ARRAY['SELECT * FROM qr_event.verify_audit()', 'SELECT * FROM qr_event.audit_digest()']) AS f;
SELECT is(pg_temp.sqlstate_as('qr_analyst', format('SELECT * FROM qr_event.%I LIMIT 1', t)), '42501',
          'the analyst cannot read ' || t)
FROM unnest(ARRAY['qr_codes', 'qr_code_events', 'qr_unknown_scans', 'qr_history_items', 'guests']) AS t;
SELECT is(pg_temp.sqlstate_as('qr_analyst', c.sql), '42501', 'the analyst cannot ' || c.what)
FROM (VALUES
    (format('SELECT qr_event.issue_qr(%s)', :guest2), 'call issue_qr'),
    (format('SELECT * FROM qr_event.scan_qr(%L, %L)', :'token', 'Gate C'), 'call scan_qr'),
    (format('SELECT qr_event.api_scan_qr(%s, %L, %L)', :owner, :'token', 'Gate C'), 'call api_scan_qr'),
    (format('SELECT qr_event.rebuild_qr_projection(%s)', :ev), 'call rebuild_qr_projection')
) AS c (sql, what);

-- what the analyst sees of the fixture (as the analyst)
SET LOCAL ROLE qr_analyst;
SELECT string_agg(format('%s %s %s %s', version, type, coalesce(gate, '-'), guest_name), ', ' ORDER BY version) AS timeline
FROM qr_event.audit_timeline WHERE qr_code_id = :code \gset
SELECT string_agg(format('%s %s/%s/%s/%s %s', gate, scans, accepted, rejected, already_used, codes), ', ' ORDER BY gate) AS stats
FROM qr_event.scan_stats WHERE event_id = :ev \gset
SELECT string_agg(format('%s %s %s', kind, gate, coalesce(other_gate, '-')), ', ' ORDER BY kind) AS suspicious
FROM qr_event.suspicious_scans WHERE qr_code_id = :code \gset
SELECT count(*) AS problems FROM qr_event.verify_audit() WHERE qr_code_id = :code \gset
RESET ROLE;
SELECT is(:'timeline'::text, '1 issued - Ada Audit, 2 scan_accepted Gate A Ada Audit, 3 scan_rejected Gate B Ada Audit',
          'audit_timeline shows the code''s events with its guest');
SELECT is(:'stats'::text, 'Gate A 1/1/0/0 1, Gate B 1/0/1/1 1', 'scan_stats counts the scans per gate and why they failed');
SELECT is(:'suspicious'::text, 'duplicate Gate B Gate A, two_gates Gate B Gate A',
          'suspicious_scans reports the second scan, as a duplicate and as one at another gate');
SELECT is(:'problems'::bigint, 0::bigint, 'verify_audit finds the chain the commands wrote intact');

-- ---------------------------------------------------------------------------
-- append-only: a role holding every table privilege still cannot change events
-- ---------------------------------------------------------------------------
CREATE ROLE tap_audit_writer NOLOGIN;
GRANT USAGE ON SCHEMA qr_event TO tap_audit_writer;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON qr_event.qr_code_events TO tap_audit_writer;
SELECT table_privs_are('qr_event', 'qr_code_events', 'tap_audit_writer',
                       ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'],
                       'fixture: a non-superuser role holds every write privilege on qr_code_events');
SELECT is(pg_temp.sqlstate_as('tap_audit_writer', format(
    'UPDATE qr_event.qr_code_events SET gate = %L WHERE qr_code_id = %s', 'Gate Z', :code)), '42501',
    'UPDATE of qr_code_events by a non-superuser is refused');
SELECT is(pg_temp.sqlstate_as('tap_audit_writer', format(
    'DELETE FROM qr_event.qr_code_events WHERE qr_code_id = %s', :code)), '42501',
    'DELETE from qr_code_events by a non-superuser is refused');
-- TRUNCATE waits for an ACCESS EXCLUSIVE lock before its trigger refuses
SET LOCAL lock_timeout = '10s';
SELECT is(pg_temp.sqlstate_as('tap_audit_writer', 'TRUNCATE qr_event.qr_code_events'), '42501',
          'TRUNCATE of qr_code_events by a non-superuser is refused');
RESET lock_timeout;
-- the refusal is the trigger's, not a missing privilege
SET LOCAL ROLE tap_audit_writer;
SELECT throws_ok(format('UPDATE qr_event.qr_code_events SET gate = %L WHERE qr_code_id = %s', 'Gate Z', :code),
                 '42501', 'qr_code_events is append-only', 'the append-only trigger refuses the UPDATE');
SELECT throws_ok(format('DELETE FROM qr_event.qr_code_events WHERE qr_code_id = %s', :code),
                 '42501', 'qr_code_events is append-only', 'the append-only trigger refuses the DELETE');
RESET ROLE;
SET LOCAL session_replication_role = replica;
SELECT is(pg_temp.sqlstate_as('tap_audit_writer', format(
    'UPDATE qr_event.qr_code_events SET gate = %L WHERE qr_code_id = %s', 'Gate Z', :code)), '42501',
    'the UPDATE is refused under session_replication_role = replica too');
SET LOCAL session_replication_role = origin;
-- appending stays possible, the hash is the database's
SELECT is(pg_temp.sqlstate_as('tap_audit_writer', format(
    'INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at) '
    'SELECT event_id, qr_code_id, version + 1, %L, now() FROM qr_event.qr_code_events '
    'WHERE qr_code_id = %s ORDER BY version DESC LIMIT 1', 'revoked', :code)), '00000',
    'a non-superuser with INSERT appends an event, chained by the trigger');
SELECT is(pg_temp.sqlstate_as('tap_audit_writer', format(
    'INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, hash) '
    'SELECT event_id, qr_code_id, version + 1, %L, now(), sha256(%L) FROM qr_event.qr_code_events '
    'WHERE qr_code_id = %s ORDER BY version DESC LIMIT 1', 'revoked', 'forged', :code)), '42501',
    'a non-superuser cannot choose an event''s hash');
SELECT is((SELECT string_agg(version || ' ' || type || ' ' || coalesce(gate, '-'), ', ' ORDER BY version)
           FROM qr_event.qr_code_events WHERE qr_code_id = :code),
          '1 issued -, 2 scan_accepted Gate A, 3 scan_rejected Gate B',
          'the recorded events are unchanged');

SELECT * FROM finish();
ROLLBACK;
