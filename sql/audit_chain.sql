--
-- audit_chain: the hash chain of qr_code_events: the documented encoding, hashes
-- computed on insert, verify_audit on every kind of tampering, the digest, and the
-- append-only rules with their SQLSTATEs.  Runs in a database of its own, so that
-- verify_audit sees only the events made here.
--
\set regress_db :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS qr_regress_audit;
DROP ROLE IF EXISTS qr_regress_audit_writer;
RESET client_min_messages;
CREATE DATABASE qr_regress_audit;
\c qr_regress_audit
CREATE EXTENSION qr_event;

-- runs one statement and reports its outcome; 00000 when it was accepted
CREATE FUNCTION pg_temp.outcome(sql text, OUT code text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    code := '00000';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
END
$$;

-- a role that may do everything to the event store, as far as privileges go
CREATE ROLE qr_regress_audit_writer NOLOGIN;
GRANT USAGE ON SCHEMA qr_event TO qr_regress_audit_writer;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON qr_event.qr_code_events TO qr_regress_audit_writer;

-- an account, an event, a guest and three QR codes
INSERT INTO qr_event.accounts (email, password_hash, display_name)
VALUES ('audit@example.com', '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Audit')
RETURNING id AS owner \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner, 'Audit gala', '2030-06-01 18:00+00', '2030-06-02 02:00+00') RETURNING id AS ev \gset
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:ev, 'Ann') RETURNING id AS guest \gset
INSERT INTO qr_event.qr_codes (event_id, guest_id, token)
SELECT :ev, :guest, 'audit_chain_token_' || lpad(i::text, 6, '0') FROM generate_series(1, 3) AS i;
SELECT min(id) AS c1, min(id) + 1 AS c2, min(id) + 2 AS c3 FROM qr_event.qr_codes \gset

-- events inserted with hash and prev_hash NULL: the trigger links and hashes them
SET TimeZone = 'America/New_York';
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, payload, actor, gate, device,
                                     occurred_at, recorded_at)
VALUES (:ev, :c1, 1, 'issued', '{"guest_id": 1, "note": "Zoë \"VIP\""}', 'account:1', NULL, '',
        '2030-05-01 12:00:00.25+02', '2030-05-01 10:00:01.000001+00');
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, gate, device, occurred_at)
VALUES (:ev, :c1, 2, 'scan_accepted', 'North', 'scanner-1', '2030-06-01 18:05+00');
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, payload, gate, occurred_at)
VALUES (:ev, :c1, 3, 'scan_rejected', '{"reason": "already_used"}', 'South', '2030-06-01 18:07+00');
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at)
SELECT :ev, c, 1, 'issued', '2030-05-01 12:00+00' FROM unnest(ARRAY[:c2, :c3]) AS c;
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, gate, occurred_at)
SELECT :ev, c, 2, 'scan_accepted', 'North', '2030-06-01 18:10+00' FROM unnest(ARRAY[:c2, :c3]) AS c;

-- the encoding of the first event, exactly as README.md documents it (the session's
-- TimeZone does not matter: timestamps are written in UTC)
SELECT convert_from(qr_event.audit_encode(e), 'UTF8') AS encoding
FROM qr_event.qr_code_events e WHERE seq = 1;
SELECT encode(hash, 'hex') AS hash FROM qr_event.qr_code_events WHERE seq = 1;
RESET TimeZone;

-- every hash is SHA-256 of the encoding (cross-checked with the built-in sha256) and
-- every prev_hash the hash of the code's previous version
SELECT e.seq, e.qr_code_id - :c1 + 1 AS code, e.version,
       e.hash = sha256(qr_event.audit_encode(e)) AS hash_is_sha256,
       e.hash = qr_event.audit_hash(e) AS hash_is_audit_hash,
       octet_length(e.hash) AS hash_bytes,
       e.prev_hash IS NOT DISTINCT FROM p.hash AS linked
FROM qr_event.qr_code_events e
LEFT JOIN qr_event.qr_code_events p ON p.qr_code_id = e.qr_code_id AND p.version = e.version - 1
ORDER BY e.seq;

-- NULL, empty text and the byte length of non-ASCII text
SELECT line FROM regexp_split_to_table(
    (SELECT convert_from(qr_event.audit_encode(e), 'UTF8') FROM qr_event.qr_code_events e WHERE seq = 1), E'\n') AS line
WHERE line ~ '^(payload|gate|device):';

-- an intact store: no problems
SELECT * FROM qr_event.verify_audit();

-- the digest: heads by qr_code_id, recomputed here from its definition
SELECT digest AS d0, up_to_seq AS up0, chains, events FROM qr_event.audit_digest() \gset
SELECT :up0 AS up_to_seq, :chains AS chains, :events AS events,
       :'d0' = encode(sha256(convert_to(string_agg(h.qr_code_id || ':' || h.version || ':' || encode(h.hash, 'hex') || E'\n',
                                                   '' ORDER BY h.qr_code_id), 'UTF8')), 'hex') AS digest_recomputed
FROM (SELECT DISTINCT ON (qr_code_id) qr_code_id, version, hash FROM qr_event.qr_code_events
      WHERE seq <= :up0 ORDER BY qr_code_id, version DESC) AS h;
SELECT * FROM qr_event.verify_audit(:'d0', :up0);
SELECT * FROM qr_event.verify_audit(upper(:'d0'), :up0);

-- tampering by a superuser, each undone: verify_audit reports it
BEGIN;
UPDATE qr_event.qr_code_events SET payload = '{"reason": "forged"}' WHERE qr_code_id = :c1 AND version = 3;
SELECT seq, qr_code_id - :c1 + 1 AS code, version, problem FROM qr_event.verify_audit();
ROLLBACK;
BEGIN;
UPDATE qr_event.qr_code_events SET gate = 'South' WHERE qr_code_id = :c1 AND version = 2;
SELECT seq, qr_code_id - :c1 + 1 AS code, version, problem FROM qr_event.verify_audit();
ROLLBACK;
-- a recomputed hash hides the change from the row but not from the next link
BEGIN;
UPDATE qr_event.qr_code_events SET gate = 'South' WHERE qr_code_id = :c1 AND version = 2;
UPDATE qr_event.qr_code_events e SET hash = qr_event.audit_hash(e) WHERE qr_code_id = :c1 AND version = 2;
SELECT seq, qr_code_id - :c1 + 1 AS code, version, problem FROM qr_event.verify_audit();
ROLLBACK;
BEGIN;
UPDATE qr_event.qr_code_events SET hash = sha256('forged') WHERE qr_code_id = :c2 AND version = 2;
SELECT seq, qr_code_id - :c1 + 1 AS code, version, problem FROM qr_event.verify_audit();
ROLLBACK;
BEGIN;
UPDATE qr_event.qr_code_events SET prev_hash = sha256('forged') WHERE qr_code_id = :c1 AND version = 3;
SELECT seq, qr_code_id - :c1 + 1 AS code, version, problem FROM qr_event.verify_audit();
ROLLBACK;
-- a deleted middle event
BEGIN;
DELETE FROM qr_event.qr_code_events WHERE qr_code_id = :c1 AND version = 2;
SELECT seq, qr_code_id - :c1 + 1 AS code, version, problem FROM qr_event.verify_audit();
ROLLBACK;
-- two events' seq values swapped (seq is GENERATED ALWAYS: deleted and put back)
BEGIN;
CREATE TEMP TABLE swapped ON COMMIT DROP AS
SELECT * FROM qr_event.qr_code_events WHERE seq IN (2, 3);
DELETE FROM qr_event.qr_code_events WHERE seq IN (2, 3);
INSERT INTO qr_event.qr_code_events OVERRIDING SYSTEM VALUE
SELECT 5 - seq, event_id, qr_code_id, version, type, payload, actor, gate, device, occurred_at,
       recorded_at, txid, prev_hash, hash
FROM swapped;
SELECT seq, qr_code_id - :c1 + 1 AS code, version, problem FROM qr_event.verify_audit();
ROLLBACK;
-- a version that starts a chain after 1
BEGIN;
DELETE FROM qr_event.qr_code_events WHERE qr_code_id = :c3 AND version = 1;
SELECT seq, qr_code_id - :c1 + 1 AS code, version, problem FROM qr_event.verify_audit();
ROLLBACK;
SELECT * FROM qr_event.verify_audit();

-- UPDATE, DELETE and TRUNCATE as a role that holds the privileges: refused by the triggers
SET ROLE qr_regress_audit_writer;
SELECT * FROM pg_temp.outcome($$UPDATE qr_event.qr_code_events SET gate = 'x' WHERE seq = 1$$);
SELECT * FROM pg_temp.outcome('DELETE FROM qr_event.qr_code_events WHERE seq = 1');
SELECT * FROM pg_temp.outcome('TRUNCATE qr_event.qr_code_events');
RESET ROLE;
-- also under session_replication_role = replica: the triggers fire always
SET session_replication_role = replica;
SET ROLE qr_regress_audit_writer;
SELECT * FROM pg_temp.outcome($$UPDATE qr_event.qr_code_events SET gate = 'x' WHERE seq = 1$$);
SELECT * FROM pg_temp.outcome('DELETE FROM qr_event.qr_code_events WHERE seq = 1');
SELECT * FROM pg_temp.outcome('TRUNCATE qr_event.qr_code_events');
RESET ROLE;
BEGIN;
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at)
VALUES (:ev, :c3, 3, 'revoked', '2030-06-01 20:00+00');
SELECT version, hash = qr_event.audit_hash(e) AS hashed_under_replica FROM qr_event.qr_code_events e
WHERE qr_code_id = :c3 ORDER BY version;
ROLLBACK;
RESET session_replication_role;
SELECT tgname, tgenabled FROM pg_trigger
WHERE tgrelid = 'qr_event.qr_code_events'::regclass AND NOT tgisinternal ORDER BY tgname;

-- inserts the trigger refuses
SELECT * FROM pg_temp.outcome(format(
    'INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at) VALUES (%s, %s, 5, %L, now())',
    :ev, :c2, 'revoked'));
SELECT * FROM pg_temp.outcome(format(
    'INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash) VALUES (%s, %s, 1, %L, now(), sha256(%L))',
    :ev, :c2, 'issued', 'x'));
SET ROLE qr_regress_audit_writer;
SELECT * FROM pg_temp.outcome(format(
    'INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) '
    'SELECT event_id, qr_code_id, 3, %L, now(), hash, sha256(%L) FROM qr_event.qr_code_events WHERE qr_code_id = %s AND version = 2',
    'revoked', 'chosen', :c2));
-- with hash NULL the same role appends: prev_hash is looked up, hash computed
SELECT * FROM pg_temp.outcome(format(
    'INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at) VALUES (%s, %s, 3, %L, %L)',
    :ev, :c2, 'revoked', '2030-06-01 21:00+00'));
RESET ROLE;
SELECT version, prev_hash = (SELECT hash FROM qr_event.qr_code_events WHERE qr_code_id = :c2 AND version = 2) AS linked,
       hash = qr_event.audit_hash(e) AS hashed
FROM qr_event.qr_code_events e WHERE qr_code_id = :c2 AND version = 3;
-- a superuser's row with its hash is taken as is (pg_restore), and verify_audit tells
BEGIN;
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash)
SELECT event_id, qr_code_id, 4, 'revoked', now(), hash, sha256('restored') FROM qr_event.qr_code_events
WHERE qr_code_id = :c2 AND version = 3;
SELECT hash = sha256('restored') AS taken_as_is FROM qr_event.qr_code_events WHERE qr_code_id = :c2 AND version = 4;
SELECT seq, qr_code_id - :c1 + 1 AS code, version, problem FROM qr_event.verify_audit();
ROLLBACK;

-- the digest as of up0 ignores legitimate appends made since; the current one moves
SELECT digest = :'d0' AS unchanged, up_to_seq, chains, events FROM qr_event.audit_digest(:up0);
SELECT digest <> :'d0' AS moved, up_to_seq > :up0 AS later, chains, events FROM qr_event.audit_digest();
SELECT * FROM qr_event.verify_audit(:'d0', :up0);
-- a deleted tail event leaves every chain intact: only the saved digest tells
BEGIN;
DELETE FROM qr_event.qr_code_events WHERE qr_code_id = :c1 AND version = 3;
SELECT * FROM qr_event.verify_audit();
SELECT * FROM qr_event.verify_audit(:'d0', :up0);
ROLLBACK;
-- so does a truncated table
BEGIN;
TRUNCATE qr_event.qr_code_events;
SELECT * FROM qr_event.verify_audit(:'d0', :up0);
SELECT * FROM qr_event.audit_digest(0);
ROLLBACK;

-- arguments
SELECT * FROM pg_temp.outcome($$SELECT * FROM qr_event.verify_audit(repeat('0', 64))$$);
SELECT * FROM pg_temp.outcome('SELECT * FROM qr_event.verify_audit(NULL, 5)');
SELECT * FROM pg_temp.outcome($$SELECT * FROM qr_event.verify_audit('abc', 5)$$);
SELECT * FROM pg_temp.outcome($$SELECT * FROM qr_event.verify_audit(repeat('0', 64), -1)$$);
SELECT * FROM pg_temp.outcome('SELECT * FROM qr_event.audit_digest(-1)');
SELECT * FROM pg_temp.outcome($$SELECT qr_event.audit_encode(ROW(1, 1, 1, 1, 'issued', '{}', NULL, NULL, NULL,
    'infinity', now(), NULL, NULL, NULL)::qr_event.qr_code_events)$$);
SELECT * FROM pg_temp.outcome($$SELECT qr_event.audit_encode(ROW(1, 1, 1, 1, 'issued', '{}', NULL, NULL, NULL,
    '0001-01-01 00:00+00'::timestamptz - interval '1 microsecond', now(), NULL, NULL, NULL)::qr_event.qr_code_events)$$);
SELECT convert_from(qr_event.audit_encode(ROW(-1, 1, 1, -2147483648, '', '{}', NULL, NULL, NULL,
    '0001-01-01 00:00+00', '9999-12-31 23:59:59.999999+00', NULL, '\x00ff', NULL)::qr_event.qr_code_events), 'UTF8') AS edges;

-- who may verify: qr_analyst, not PUBLIC
SELECT p.oid::regprocedure AS function,
       has_function_privilege('qr_analyst', p.oid, 'EXECUTE') AS analyst,
       has_function_privilege('qr_regress_audit_writer', p.oid, 'EXECUTE') AS other_role
FROM pg_proc p
WHERE p.pronamespace = 'qr_event'::regnamespace
  AND p.proname IN ('audit_encode', 'audit_hash', 'verify_audit', 'audit_digest')
ORDER BY 1::text;
SET ROLE qr_analyst;
SELECT count(*) AS problems FROM qr_event.verify_audit();
SELECT chains, events FROM qr_event.audit_digest();
RESET ROLE;
SET ROLE qr_regress_audit_writer;
SELECT code FROM pg_temp.outcome('SELECT * FROM qr_event.verify_audit()');
SELECT code FROM pg_temp.outcome('SELECT * FROM qr_event.audit_digest()');
RESET ROLE;

\c :regress_db
DROP DATABASE qr_regress_audit;
DROP ROLE qr_regress_audit_writer;
