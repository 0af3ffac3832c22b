/* qr_event--0.3.0--0.4.0.sql: the event-sourced, hash-chained QR audit: hashing, append-only
   event store, commands, projection and replay, verification, analyst views */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION qr_event UPDATE TO '0.4.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- The hash chain of qr_code_events (audit_hash.c, audit_verify.c).  Every
-- event's hash is SHA-256 of its canonical encoding v1, which includes the
-- hash of the code's previous version (prev_hash): README.md, "QR audit:
-- hash chain", specifies it for auditors.
-- ---------------------------------------------------------------------------

CREATE FUNCTION qr_event.audit_encode(e qr_event.qr_code_events)
RETURNS bytea
AS 'MODULE_PATHNAME', 'qr_event_audit_encode'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION qr_event.audit_encode(qr_event.qr_code_events) IS
    'Canonical encoding v1 of an event, the bytes its hash is computed over: "qr_event/audit/v1" and one line '
    '"<name>:<byte length>:<value>" (or "<name>:-" for NULL) per column from seq to prev_hash; integers in decimal, '
    'payload as jsonb text, timestamps as UTC YYYY-MM-DDTHH:MM:SS.ffffffZ, prev_hash as lowercase hex; '
    'hash and txid are not part of it. The same in every session (TimeZone does not matter)';

CREATE FUNCTION qr_event.audit_hash(e qr_event.qr_code_events)
RETURNS bytea
AS 'MODULE_PATHNAME', 'qr_event_audit_hash'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION qr_event.audit_hash(qr_event.qr_code_events) IS
    'SHA-256 (32 bytes) of qr_event.audit_encode(e): the hash the event must carry';

-- Not SECURITY DEFINER: the lookup of version - 1 runs as the inserting role,
-- which may read the table (the gateway role) or is the owner (the commands).
CREATE FUNCTION qr_event.audit_chain()
RETURNS trigger
AS 'MODULE_PATHNAME', 'qr_event_audit_chain'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION qr_event.audit_chain() IS
    'Trigger of qr_code_events (BEFORE INSERT, each row): links the event to its chain and sets its hash. '
    'A NULL prev_hash of version > 1 is read from version - 1 (23503 when that is missing); a given prev_hash is '
    'taken as is (verify_audit reports a wrong one); recorded_at is the clock when NULL; hash = audit_hash(row). '
    'A row that carries its hash is taken as is from a superuser (pg_restore) and refused with 42501 otherwise';

CREATE FUNCTION qr_event.audit_append_only()
RETURNS trigger
AS 'MODULE_PATHNAME', 'qr_event_audit_append_only'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION qr_event.audit_append_only() IS
    'Trigger of qr_code_events (BEFORE UPDATE or DELETE, each row; BEFORE TRUNCATE): refuses with 42501 '
    '"qr_code_events is append-only" unless the current user is a superuser';

REVOKE ALL ON FUNCTION qr_event.audit_chain(), qr_event.audit_append_only() FROM PUBLIC;

CREATE TRIGGER qr_code_events_chain
    BEFORE INSERT ON qr_event.qr_code_events
    FOR EACH ROW EXECUTE FUNCTION qr_event.audit_chain();
CREATE TRIGGER qr_code_events_append_only
    BEFORE UPDATE OR DELETE ON qr_event.qr_code_events
    FOR EACH ROW EXECUTE FUNCTION qr_event.audit_append_only();
CREATE TRIGGER qr_code_events_no_truncate
    BEFORE TRUNCATE ON qr_event.qr_code_events
    FOR EACH STATEMENT EXECUTE FUNCTION qr_event.audit_append_only();

-- also under session_replication_role = replica (logical replication, some restores)
ALTER TABLE qr_event.qr_code_events ENABLE ALWAYS TRIGGER qr_code_events_chain;
ALTER TABLE qr_event.qr_code_events ENABLE ALWAYS TRIGGER qr_code_events_append_only;
ALTER TABLE qr_event.qr_code_events ENABLE ALWAYS TRIGGER qr_code_events_no_truncate;

COMMENT ON TRIGGER qr_code_events_chain ON qr_event.qr_code_events IS
    'Computes prev_hash (when NULL) and hash of every new event (qr_event.audit_chain); fires always, also for replicas';
COMMENT ON TRIGGER qr_code_events_append_only ON qr_event.qr_code_events IS
    'The event store is append-only: UPDATE and DELETE only by superusers (qr_event.audit_append_only); fires always';
COMMENT ON TRIGGER qr_code_events_no_truncate ON qr_event.qr_code_events IS
    'The event store is append-only: TRUNCATE only by superusers (qr_event.audit_append_only); fires always';

CREATE FUNCTION qr_event.verify_audit(saved_digest text DEFAULT NULL, saved_up_to bigint DEFAULT NULL)
RETURNS TABLE (seq bigint, qr_code_id bigint, version integer, problem text)
AS 'MODULE_PATHNAME', 'qr_event_verify_audit'
LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION qr_event.verify_audit(text, bigint) IS
    'Walks every chain of qr_code_events in (qr_code_id, version) order and returns one row per problem: '
    '"hash mismatch" (hash <> audit_hash(row)), "broken link" (prev_hash <> the hash of the code''s previous row, '
    'or set on version 1), "version gap" (a code not starting at 1, or a version not previous + 1); no rows when intact. '
    'With saved_digest and saved_up_to (from audit_digest), also "digest mismatch" when the events up to that seq '
    'changed, were deleted or truncated. For DBAs and qr_analyst';

CREATE FUNCTION qr_event.audit_digest(up_to bigint DEFAULT NULL)
RETURNS TABLE (digest text, up_to_seq bigint, chains bigint, events bigint)
AS 'MODULE_PATHNAME', 'qr_event_audit_digest'
LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION qr_event.audit_digest(bigint) IS
    'Digest of the event store as of seq up_to (NULL: the greatest seq, 0 when empty): lowercase hex SHA-256 over '
    '"<qr_code_id>:<version>:<hex hash>\n" of every code''s head (its highest version with seq <= up_to), by qr_code_id; '
    'later appends leave it unchanged. Keep (digest, up_to_seq) outside the database and pass them to verify_audit';

REVOKE ALL ON FUNCTION qr_event.verify_audit(text, bigint), qr_event.audit_digest(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION qr_event.verify_audit(text, bigint), qr_event.audit_digest(bigint) TO qr_analyst;

-- ---------------------------------------------------------------------------
-- The projection gains the head of each code's chain (so a command links its
-- event without looking the previous one up) and the code that replaced it.
-- Only the commands write it; unknown tokens scanned at a door go to their
-- own append-only log, as they have no chain to join.
-- ---------------------------------------------------------------------------

ALTER TABLE qr_event.qr_codes
    ADD COLUMN head_hash bytea,
    ADD COLUMN replaced_by bigint,
    ADD CONSTRAINT qr_codes_head_hash_length CHECK (octet_length(head_hash) = 32),
    -- a replacement belongs to the same event
    ADD CONSTRAINT qr_codes_replaced_by_fkey FOREIGN KEY (event_id, replaced_by)
        REFERENCES qr_event.qr_codes (event_id, id),
    ADD CONSTRAINT qr_codes_replaced_by_only_replaced CHECK (replaced_by IS NULL OR status = 'replaced');

CREATE INDEX qr_codes_event_id_replaced_by_idx ON qr_event.qr_codes (event_id, replaced_by)
    WHERE replaced_by IS NOT NULL;

COMMENT ON COLUMN qr_event.qr_codes.head_hash IS 'The hash of the code''s latest event (the head of its chain)';
COMMENT ON COLUMN qr_event.qr_codes.replaced_by IS 'The code issued in its place (set only for replaced codes; NULL for codes replaced before 0.4.0)';

CREATE TABLE qr_event.qr_unknown_scans (
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    token_sha256    bytea NOT NULL,
    expected_event_id bigint,
    actor           text,
    gate            text NOT NULL,
    device          text,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    CONSTRAINT qr_unknown_scans_pkey PRIMARY KEY (seq),
    CONSTRAINT qr_unknown_scans_token_sha256_length CHECK (octet_length(token_sha256) = 32),
    CONSTRAINT qr_unknown_scans_gate_length CHECK (length(gate) <= 200),
    CONSTRAINT qr_unknown_scans_device_length CHECK (length(device) <= 200),
    CONSTRAINT qr_unknown_scans_actor_length CHECK (length(actor) <= 200)
);

CREATE INDEX qr_unknown_scans_occurred_at_idx ON qr_event.qr_unknown_scans (occurred_at);

COMMENT ON TABLE qr_event.qr_unknown_scans IS
    'Scans of tokens that match no QR code (no chain to append to): what a door saw, with the token hashed';
COMMENT ON COLUMN qr_event.qr_unknown_scans.seq IS 'Order of recording';
COMMENT ON COLUMN qr_event.qr_unknown_scans.token_sha256 IS 'SHA-256 of the scanned text (guessed tokens are not kept in clear)';
COMMENT ON COLUMN qr_event.qr_unknown_scans.expected_event_id IS 'The event the door admits to, when the scanner said';
COMMENT ON COLUMN qr_event.qr_unknown_scans.actor IS 'Who scanned';
COMMENT ON COLUMN qr_event.qr_unknown_scans.gate IS 'Entrance of the scan';
COMMENT ON COLUMN qr_event.qr_unknown_scans.device IS 'Scanner device';
COMMENT ON COLUMN qr_event.qr_unknown_scans.occurred_at IS 'When the scan happened, as reported';
COMMENT ON COLUMN qr_event.qr_unknown_scans.recorded_at IS 'When the database recorded it';

SELECT pg_catalog.pg_extension_config_dump('qr_event.qr_unknown_scans', '');
SELECT pg_catalog.pg_extension_config_dump('qr_event.qr_unknown_scans_seq_seq', '');

-- Events written before 0.4.0 carry hashes of no defined encoding: seal them
-- now, chain by chain in version order, and record each chain's head.
DO $$
DECLARE
    e       record;
    prev    bytea;
BEGIN
    FOR e IN SELECT x.seq, x.version FROM qr_event.qr_code_events x ORDER BY x.qr_code_id, x.version LOOP
        IF e.version = 1 THEN
            prev := NULL;
        END IF;
        UPDATE qr_event.qr_code_events x
        SET prev_hash = CASE WHEN e.version = 1 THEN NULL ELSE coalesce(prev, x.prev_hash) END
        WHERE x.seq = e.seq;
        UPDATE qr_event.qr_code_events x SET hash = qr_event.audit_hash(x) WHERE x.seq = e.seq
        RETURNING x.hash INTO prev;
    END LOOP;
    UPDATE qr_event.qr_codes c
    SET head_hash = (SELECT x.hash FROM qr_event.qr_code_events x WHERE x.qr_code_id = c.id
                     ORDER BY x.version DESC LIMIT 1);
END
$$;

-- Every scan updates its code's row: room on each page keeps those updates
-- HOT (no new entries in the five indexes).
ALTER TABLE qr_event.qr_codes SET (fillfactor = 80);

-- Every UPDATE of a code (each scan) evaluates its CHECKs: the token format
-- without a regular expression costs a tenth as much.
ALTER TABLE qr_event.qr_codes
    DROP CONSTRAINT qr_codes_token_format,
    ADD CONSTRAINT qr_codes_token_format CHECK (length(token) BETWEEN 22 AND 128
        AND pg_catalog.translate(token, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-', '') = '');

-- The commands are the only writers: the API role loses its direct grants.
REVOKE INSERT, UPDATE, DELETE ON qr_event.qr_codes FROM qr_gateway_role;
REVOKE INSERT ON qr_event.qr_code_events FROM qr_gateway_role;
REVOKE ALL ON qr_event.qr_unknown_scans FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Commands: each locks the code's projection row (so one code's events are
-- appended one at a time, and codes never wait for each other), validates
-- against that state, appends its event with the row's head_hash as
-- prev_hash (the trigger computes the hash) and moves the projection.
-- ---------------------------------------------------------------------------

-- A new token: 256 random bits (two version 4 UUIDs, 244 of them random) in
-- base64url, 43 characters; never derived from ids.
CREATE FUNCTION qr_event.new_qr_token()
RETURNS text
LANGUAGE sql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.translate(pg_catalog.rtrim(pg_catalog.encode(
    pg_catalog.uuid_send(pg_catalog.gen_random_uuid()) || pg_catalog.uuid_send(pg_catalog.gen_random_uuid()),
    'base64'), '='), '+/', '-_');

COMMENT ON FUNCTION qr_event.new_qr_token() IS
    'A fresh QR token: 244 random bits from gen_random_uuid, base64url, 43 characters';

-- Appends one event to a locked code's chain and returns its hash.
CREATE FUNCTION qr_event.qr_append(code qr_event.qr_codes, type text, payload jsonb, actor text,
                                   gate text, device text, occurred_at timestamptz)
RETURNS qr_event.qr_code_events
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    INSERT INTO qr_event.qr_code_events
        (event_id, qr_code_id, version, type, payload, actor, gate, device, occurred_at, prev_hash)
    VALUES ((code).event_id, (code).id, (code).version + 1, qr_append.type, qr_append.payload,
            qr_append.actor, qr_append.gate, qr_append.device, qr_append.occurred_at, (code).head_hash)
    RETURNING *;
END;

COMMENT ON FUNCTION qr_event.qr_append(qr_event.qr_codes, text, jsonb, text, text, text, timestamptz) IS
    'Appends the next event of a QR code whose projection row the caller holds locked, linked to its head_hash; '
    'returns the event (with its hash). Used by the commands';

CREATE FUNCTION qr_event.qr_check_text(name text, value text, required boolean)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF value IS NULL THEN
        IF required THEN
            RAISE EXCEPTION '% must not be null', name USING ERRCODE = '22004';
        END IF;
    ELSIF value = '' OR length(value) > 200 THEN
        RAISE EXCEPTION '% must be 1 to 200 characters', name USING ERRCODE = '22023';
    END IF;
END
$$;

COMMENT ON FUNCTION qr_event.qr_check_text(text, text, boolean) IS
    'Checks a gate, device, actor or reason argument: 22004 when required and NULL, 22023 when empty or over 200 characters';

-- A new code of a guest with its issued event (version 1 of a new chain);
-- returns its projection row.
CREATE FUNCTION qr_event.qr_new_code(event_id bigint, guest_id bigint, payload jsonb, actor text,
                                     occurred_at timestamptz)
RETURNS qr_event.qr_codes
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    code    qr_event.qr_codes;
    e       qr_event.qr_code_events;
BEGIN
    INSERT INTO qr_event.qr_codes (event_id, guest_id, token, status, version, issued_at, updated_at)
    VALUES (qr_new_code.event_id, qr_new_code.guest_id, qr_event.new_qr_token(), 'active', 1,
            qr_new_code.occurred_at, pg_catalog.now())
    RETURNING * INTO code;
    code.version := 0;  -- the issued event is version 1
    e := qr_event.qr_append(code, 'issued', qr_new_code.payload, qr_new_code.actor, NULL, NULL,
                            qr_new_code.occurred_at);
    UPDATE qr_event.qr_codes c SET head_hash = e.hash, updated_at = e.recorded_at WHERE c.id = code.id
    RETURNING * INTO code;
    RETURN code;
END
$$;

COMMENT ON FUNCTION qr_event.qr_new_code(bigint, bigint, jsonb, text, timestamptz) IS
    'A new QR code of a guest and its issued event (payload as given); returns its projection row. Used by issue_qr and reissue_qr';

CREATE FUNCTION qr_event.issue_qr(guest_id bigint, actor text DEFAULT NULL,
                                  occurred_at timestamptz DEFAULT pg_catalog.now())
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g       qr_event.guests;
BEGIN
    IF issue_qr.guest_id IS NULL OR issue_qr.occurred_at IS NULL THEN
        RAISE EXCEPTION 'guest_id and occurred_at must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM qr_event.qr_check_text('actor', issue_qr.actor, false);
    -- the guest row lock makes two concurrent issues for one guest take turns
    SELECT * INTO g FROM qr_event.guests x WHERE x.id = issue_qr.guest_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'guest not found' USING ERRCODE = 'P0002';
    END IF;
    IF EXISTS (SELECT FROM qr_event.qr_codes c
               WHERE c.event_id = g.event_id AND c.guest_id = g.id AND c.status IN ('active', 'used')) THEN
        RAISE EXCEPTION 'guest % already has a QR code', g.id USING ERRCODE = '23505',
            HINT = 'Use qr_event.reissue_qr to replace it.';
    END IF;
    RETURN (qr_event.qr_new_code(g.event_id, g.id, pg_catalog.jsonb_build_object('guest_id', g.id),
                                 issue_qr.actor, issue_qr.occurred_at)).token;
END
$$;

COMMENT ON FUNCTION qr_event.issue_qr(bigint, text, timestamptz) IS
    'Issues a QR code to a guest: a new token, its issued event (version 1 of a new chain) and its projection row; '
    'returns the token. P0002 guest not found, 23505 the guest already has an active or used code (use reissue_qr), '
    '22004 null argument, 22023 bad actor';

-- The checks every command by token makes, then the code's row, locked.
CREATE FUNCTION qr_event.qr_lock_code(token text, occurred_at timestamptz, reason text, actor text)
RETURNS qr_event.qr_codes
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    code    qr_event.qr_codes;
BEGIN
    IF qr_lock_code.token IS NULL OR qr_lock_code.occurred_at IS NULL THEN
        RAISE EXCEPTION 'token and occurred_at must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM qr_event.qr_check_text('reason', qr_lock_code.reason, false);
    PERFORM qr_event.qr_check_text('actor', qr_lock_code.actor, false);
    SELECT * INTO code FROM qr_event.qr_codes c WHERE c.token = qr_lock_code.token FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'QR code not found' USING ERRCODE = 'P0002';
    END IF;
    RETURN code;
END
$$;

COMMENT ON FUNCTION qr_event.qr_lock_code(text, timestamptz, text, text) IS
    'The argument checks of reissue_qr and revoke_qr (22004, 22023), then the code''s projection row locked FOR UPDATE '
    '(P0002 QR code not found)';

CREATE FUNCTION qr_event.reissue_qr(token text, reason text DEFAULT NULL, actor text DEFAULT NULL,
                                    occurred_at timestamptz DEFAULT pg_catalog.now())
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_code qr_event.qr_codes;
    new_code qr_event.qr_codes;
    e       qr_event.qr_code_events;
BEGIN
    old_code := qr_event.qr_lock_code(reissue_qr.token, reissue_qr.occurred_at, reissue_qr.reason,
                                      reissue_qr.actor);
    IF old_code.status = 'replaced' THEN
        RAISE EXCEPTION 'QR code was already replaced' USING ERRCODE = '55000';
    END IF;
    new_code := qr_event.qr_new_code(old_code.event_id, old_code.guest_id,
                                     pg_catalog.jsonb_build_object('guest_id', old_code.guest_id,
                                                                   'replaces', old_code.id),
                                     reissue_qr.actor, reissue_qr.occurred_at);
    e := qr_event.qr_append(old_code, 'reissued',
                            pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                                'replaced_by', new_code.id, 'reason', reissue_qr.reason)),
                            reissue_qr.actor, NULL, NULL, reissue_qr.occurred_at);
    UPDATE qr_event.qr_codes c
    SET status = 'replaced', replaced_by = new_code.id, version = e.version, head_hash = e.hash,
        updated_at = e.recorded_at
    WHERE c.id = old_code.id;
    RETURN new_code.token;
END
$$;

COMMENT ON FUNCTION qr_event.reissue_qr(text, text, text, timestamptz) IS
    'Replaces a QR code (lost, revoked, or used and to be let in again): the old code gets a reissued event and '
    'status replaced, the guest a new code whose issued event names the old one; returns the new token. '
    'P0002 QR code not found, 55000 already replaced, 22004/22023 bad arguments';

CREATE FUNCTION qr_event.revoke_qr(token text, reason text DEFAULT NULL, actor text DEFAULT NULL,
                                   occurred_at timestamptz DEFAULT pg_catalog.now())
RETURNS qr_event.qr_codes
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    code    qr_event.qr_codes;
    e       qr_event.qr_code_events;
BEGIN
    code := qr_event.qr_lock_code(revoke_qr.token, revoke_qr.occurred_at, revoke_qr.reason, revoke_qr.actor);
    IF code.status IN ('revoked', 'replaced') THEN
        RAISE EXCEPTION 'QR code is already %', code.status USING ERRCODE = '55000';
    END IF;
    e := qr_event.qr_append(code, 'revoked',
                            pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                                'reason', revoke_qr.reason, 'previous_status', code.status)),
                            revoke_qr.actor, NULL, NULL, revoke_qr.occurred_at);
    UPDATE qr_event.qr_codes c
    SET status = 'revoked', revoked_at = revoke_qr.occurred_at, version = e.version, head_hash = e.hash,
        updated_at = e.recorded_at
    WHERE c.id = code.id
    RETURNING * INTO code;
    RETURN code;
END
$$;

COMMENT ON FUNCTION qr_event.revoke_qr(text, text, text, timestamptz) IS
    'Revokes a QR code (active or used): a revoked event and status revoked; later scans are rejected as revoked. '
    'Returns the code''s row. P0002 QR code not found, 55000 already revoked or replaced, 22004/22023 bad arguments';

-- The setting, read through the library (see setting_max_score).
CREATE FUNCTION qr_event.setting_scan_opens_before()
RETURNS interval
AS 'MODULE_PATHNAME', 'qr_event_setting_scan_opens_before'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION qr_event.setting_scan_opens_before() IS
    'The current qr_event.scan_opens_before (superuser-only setting) as an interval, read from the library';

-- The door's hot path, in C (scan_qr.c): one kept statement locks the code's
-- row, the event goes straight to the heap and indexes of qr_code_events with
-- its hash computed by the chain trigger's code (audit_hash.c) and the table's
-- CHECKs checked in C, and one kept UPDATE moves the projection.  It refuses
-- (55000) a qr_code_events that gained a trigger, CHECK, rule, row level
-- security, column or non-plain index it would bypass.
CREATE FUNCTION qr_event.scan_qr(token text, gate text, device text DEFAULT NULL,
                                 event_id bigint DEFAULT NULL, actor text DEFAULT NULL,
                                 occurred_at timestamptz DEFAULT pg_catalog.now(),
                                 OUT accepted boolean, OUT reason text, OUT qr_code_id bigint, OUT guest_id bigint,
                                 OUT first_scan_at timestamptz, OUT first_scan_gate text, OUT version integer)
RETURNS record
AS 'MODULE_PATHNAME', 'qr_event_scan_qr'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION qr_event.scan_qr(text, text, text, bigint, text, timestamptz) IS
    'A door scan: accepted exactly once per code, else rejected with a reason (already_used, with the first '
    'scan''s time and gate; revoked; replaced; wrong_event when event_id, the door''s event, is not the code''s; '
    'outside_window before starts_at - qr_event.scan_opens_before or after ends_at; unknown for a token of no code, '
    'logged in qr_unknown_scans). Every scan of a known code is an event of its chain. 22004/22023 bad arguments';

-- ---------------------------------------------------------------------------
-- Replay: the state of a code from its events alone
-- ---------------------------------------------------------------------------

-- One step of the replay: the projection row after event e.
CREATE FUNCTION qr_event.qr_apply(state qr_event.qr_codes, e qr_event.qr_code_events, token text)
RETURNS qr_event.qr_codes
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF e.type = 'issued' THEN
        state := ROW(e.qr_code_id, e.event_id, (e.payload ->> 'guest_id')::bigint, token, 'active', e.version,
                     e.occurred_at, NULL, NULL, NULL, e.recorded_at, e.hash, NULL)::qr_event.qr_codes;
        RETURN state;
    END IF;
    state.version := e.version;
    state.head_hash := e.hash;
    state.updated_at := e.recorded_at;
    CASE e.type
        WHEN 'scan_accepted' THEN
            state.status := 'used';
            state.first_scan_at := e.occurred_at;
            state.first_scan_gate := e.gate;
        WHEN 'revoked' THEN
            state.status := 'revoked';
            state.revoked_at := e.occurred_at;
        WHEN 'reissued' THEN
            state.status := 'replaced';
            state.replaced_by := (e.payload ->> 'replaced_by')::bigint;
        ELSE
            NULL;  -- scan_rejected changes only the version
    END CASE;
    RETURN state;
END
$$;

COMMENT ON FUNCTION qr_event.qr_apply(qr_event.qr_codes, qr_event.qr_code_events, text) IS
    'One replay step: the projection row of a code after its event e (token: the code''s token, which events do not carry)';

CREATE FUNCTION qr_event.qr_state_at(token text, at timestamptz)
RETURNS qr_event.qr_codes
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id      bigint;
    state   qr_event.qr_codes;
    e       qr_event.qr_code_events;
BEGIN
    IF qr_state_at.token IS NULL OR qr_state_at.at IS NULL THEN
        RAISE EXCEPTION 'token and at must not be null' USING ERRCODE = '22004';
    END IF;
    SELECT c.id INTO id FROM qr_event.qr_codes c WHERE c.token = qr_state_at.token;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'QR code not found' USING ERRCODE = 'P0002';
    END IF;
    FOR e IN SELECT * FROM qr_event.qr_code_events x
             WHERE x.qr_code_id = id AND x.recorded_at <= qr_state_at.at ORDER BY x.version
    LOOP
        state := qr_event.qr_apply(state, e, qr_state_at.token);
    END LOOP;
    RETURN state;  -- NULL (all fields) before the code was issued
END
$$;

COMMENT ON FUNCTION qr_event.qr_state_at(text, timestamptz) IS
    'The state of a QR code at a past instant: its events recorded at or before at, replayed in version order; '
    'a row of NULLs before it was issued. P0002 QR code not found';

CREATE FUNCTION qr_event.rebuild_qr_projection(event_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c       record;
    state   qr_event.qr_codes;
    e       qr_event.qr_code_events;
    n       bigint := 0;
BEGIN
    -- commands wait while the projection is rebuilt; readers see the old rows until commit
    LOCK TABLE qr_event.qr_codes IN SHARE ROW EXCLUSIVE MODE;
    FOR c IN SELECT x.id, x.token FROM qr_event.qr_codes x
             WHERE rebuild_qr_projection.event_id IS NULL OR x.event_id = rebuild_qr_projection.event_id
             ORDER BY x.id LOOP
        state := NULL;
        FOR e IN SELECT * FROM qr_event.qr_code_events x WHERE x.qr_code_id = c.id ORDER BY x.version LOOP
            state := qr_event.qr_apply(state, e, c.token);
        END LOOP;
        IF state.id IS NULL OR state.guest_id IS NULL THEN
            RAISE EXCEPTION 'QR code % has no issued event naming its guest', c.id USING ERRCODE = 'XX001',
                HINT = 'Its chain was not written by the commands; see qr_event.verify_audit().';
        END IF;
        UPDATE qr_event.qr_codes x
        SET status = state.status, version = state.version, issued_at = state.issued_at,
            first_scan_at = state.first_scan_at, first_scan_gate = state.first_scan_gate,
            revoked_at = state.revoked_at, updated_at = state.updated_at, head_hash = state.head_hash,
            replaced_by = state.replaced_by, guest_id = state.guest_id, event_id = state.event_id
        WHERE x.id = c.id AND x IS DISTINCT FROM state;
        IF FOUND THEN
            n := n + 1;
        END IF;
    END LOOP;
    RETURN n;
END
$$;

COMMENT ON FUNCTION qr_event.rebuild_qr_projection(bigint) IS
    'Replays the events of every code (of one event when event_id is given) into qr_codes (the event store is the '
    'truth) and returns how many rows it had to '
    'change: 0 when the projection was exact (the commands set updated_at to their event''s recorded_at, as the '
    'replay does). XX001 for a code without an issued event naming its guest';

-- ---------------------------------------------------------------------------
-- What the gateway calls: the caller's account (verified claims) decides
-- what it may do; a code of an event the caller does not work at answers
-- exactly like a missing one (P0002).
-- ---------------------------------------------------------------------------

CREATE FUNCTION qr_event.is_event_staff(account_id bigint, event_id bigint)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT qr_event.is_event_organiser(is_event_staff.account_id, is_event_staff.event_id)
        OR EXISTS (SELECT FROM qr_event.event_staff s
                   WHERE s.event_id = is_event_staff.event_id AND s.account_id = is_event_staff.account_id)
$$;

COMMENT ON FUNCTION qr_event.is_event_staff(bigint, bigint) IS
    'Whether the account works at the event: an organiser, or event_staff of any role (false for a missing event)';

CREATE FUNCTION qr_event.qr_code_json(code qr_event.qr_codes)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.jsonb_build_object(
    'id', (code).id, 'eventId', (code).event_id, 'guestId', (code).guest_id, 'token', (code).token,
    'status', (code).status, 'version', (code).version, 'issuedAt', (code).issued_at,
    'firstScanAt', (code).first_scan_at, 'firstScanGate', (code).first_scan_gate,
    'revokedAt', (code).revoked_at, 'replacedBy', (code).replaced_by);

COMMENT ON FUNCTION qr_event.qr_code_json(qr_event.qr_codes) IS 'The JSON of a QR code as the REST API returns it';

CREATE FUNCTION qr_event.api_issue_qr(account_id bigint, event_id bigint, guest_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    live_token text;
    new_token  text;
BEGIN
    IF NOT coalesce(qr_event.is_event_organiser(api_issue_qr.account_id, api_issue_qr.event_id), false)
       OR NOT EXISTS (SELECT FROM qr_event.guests g
                      WHERE g.id = api_issue_qr.guest_id AND g.event_id = api_issue_qr.event_id) THEN
        RAISE EXCEPTION 'guest not found' USING ERRCODE = 'P0002';
    END IF;
    -- the guest's live code, if any, is replaced; otherwise a first code is issued
    SELECT c.token INTO live_token FROM qr_event.qr_codes c
    WHERE c.event_id = api_issue_qr.event_id AND c.guest_id = api_issue_qr.guest_id
      AND c.status IN ('active', 'used', 'revoked')
    ORDER BY c.id DESC LIMIT 1;
    IF live_token IS NULL THEN
        new_token := qr_event.issue_qr(api_issue_qr.guest_id, 'account:' || api_issue_qr.account_id);
    ELSE
        new_token := qr_event.reissue_qr(live_token, 'reissued by an organiser', 'account:' || api_issue_qr.account_id);
    END IF;
    RETURN qr_event.qr_code_json((SELECT c FROM qr_event.qr_codes c WHERE c.token = new_token))
        || pg_catalog.jsonb_build_object('reissued', live_token IS NOT NULL);
END
$$;

COMMENT ON FUNCTION qr_event.api_issue_qr(bigint, bigint, bigint) IS
    'POST /api/events/{id}/guests/{guest_id}/qr: issues a guest''s first code, or replaces the live one; organisers '
    'of the event only (anyone else: P0002 guest not found, as for a missing guest)';

CREATE FUNCTION qr_event.api_scan_qr(account_id bigint, token text, gate text, device text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    code_event bigint;
    door_event bigint;
    r       record;
BEGIN
    IF api_scan_qr.account_id IS NULL THEN
        RAISE EXCEPTION 'account_id must not be null' USING ERRCODE = '22004';
    END IF;
    SELECT c.event_id INTO code_event FROM qr_event.qr_codes c WHERE c.token = api_scan_qr.token;
    IF code_event IS NOT NULL AND qr_event.is_event_staff(api_scan_qr.account_id, code_event) THEN
        door_event := code_event;
    ELSE
        -- a door of another event (the caller's, when it works at exactly one) or an unknown token
        SELECT min(x.event_id) INTO door_event FROM (
            SELECT s.event_id FROM qr_event.event_staff s WHERE s.account_id = api_scan_qr.account_id
            UNION SELECT e.id FROM qr_event.events e WHERE e.owner_id = api_scan_qr.account_id) AS x;
        IF door_event IS NULL THEN
            RAISE EXCEPTION 'QR code not found' USING ERRCODE = 'P0002';
        END IF;
    END IF;
    SELECT * INTO r FROM qr_event.scan_qr(api_scan_qr.token, api_scan_qr.gate, api_scan_qr.device,
                                          door_event, 'account:' || api_scan_qr.account_id);
    RETURN pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'accepted', r.accepted, 'reason', r.reason,
        'guestId', CASE WHEN r.reason <> 'wrong_event' THEN r.guest_id END,
        'firstScanAt', CASE WHEN r.reason IN ('accepted', 'already_used') THEN r.first_scan_at END,
        'firstScanGate', CASE WHEN r.reason IN ('accepted', 'already_used') THEN r.first_scan_gate END));
END
$$;

COMMENT ON FUNCTION qr_event.api_scan_qr(bigint, text, text, text) IS
    'POST /api/qr/{token}/scan: a door scan by staff; the door is the code''s event when the caller works there, '
    'else the caller''s own event (then wrong_event, or unknown). P0002 for a caller who works at no event';

CREATE FUNCTION qr_event.api_revoke_qr(account_id bigint, token text, reason text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT coalesce(qr_event.is_event_organiser(api_revoke_qr.account_id,
                        (SELECT c.event_id FROM qr_event.qr_codes c WHERE c.token = api_revoke_qr.token)), false) THEN
        RAISE EXCEPTION 'QR code not found' USING ERRCODE = 'P0002';
    END IF;
    RETURN qr_event.qr_code_json(qr_event.revoke_qr(api_revoke_qr.token, api_revoke_qr.reason,
                                                    'account:' || api_revoke_qr.account_id));
END
$$;

COMMENT ON FUNCTION qr_event.api_revoke_qr(bigint, text, text) IS
    'POST /api/qr/{token}/revoke: organisers of the code''s event only (anyone else: P0002, as for a missing code); '
    '55000 already revoked or replaced';

-- The history rows the API shows: hashes in hex
CREATE VIEW qr_event.qr_history_items AS
SELECT e.qr_code_id, e.version, e.seq, e.type, e.payload, e.actor, e.gate, e.device,
       e.occurred_at, e.recorded_at, pg_catalog.encode(e.prev_hash, 'hex') AS prev_hash,
       pg_catalog.encode(e.hash, 'hex') AS hash
FROM qr_event.qr_code_events e;

COMMENT ON VIEW qr_event.qr_history_items IS 'The events of QR codes as GET /api/qr/{token}/history lists them (hashes in hex)';

CREATE FUNCTION qr_event.api_qr_history(account_id bigint, token text, page_size integer DEFAULT 20,
                                        cursor text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    code    qr_event.qr_codes;
    p       record;
BEGIN
    SELECT * INTO code FROM qr_event.qr_codes c WHERE c.token = api_qr_history.token;
    IF NOT FOUND OR NOT qr_event.is_event_staff(api_qr_history.account_id, code.event_id) THEN
        RAISE EXCEPTION 'QR code not found' USING ERRCODE = 'P0002';
    END IF;
    SELECT * INTO p
    FROM qr_event.paginate(NULL::qr_event.qr_history_items, '{version}', api_qr_history.page_size,
                           api_qr_history.cursor, pg_catalog.jsonb_build_object('qr_code_id', code.id),
                           'none', 'account:' || api_qr_history.account_id);
    RETURN qr_event.page_envelope(pg_catalog.to_jsonb(p.items), api_qr_history.page_size, p.next_cursor,
                                  p.prev_cursor, p.has_next, p.page, p.total, p.total_kind);
END
$$;

COMMENT ON FUNCTION qr_event.api_qr_history(bigint, text, integer, text) IS
    'GET /api/qr/{token}/history: the code''s events in version order as a JSON page with cursors, for staff of '
    'its event (anyone else: P0002, as for a missing code)';

REVOKE ALL ON FUNCTION qr_event.issue_qr(bigint, text, timestamptz),
    qr_event.reissue_qr(text, text, text, timestamptz),
    qr_event.revoke_qr(text, text, text, timestamptz),
    qr_event.scan_qr(text, text, text, bigint, text, timestamptz),
    qr_event.qr_state_at(text, timestamptz),
    qr_event.rebuild_qr_projection(bigint),
    qr_event.qr_append(qr_event.qr_codes, text, jsonb, text, text, text, timestamptz),
    qr_event.qr_new_code(bigint, bigint, jsonb, text, timestamptz),
    qr_event.qr_lock_code(text, timestamptz, text, text),
    qr_event.new_qr_token(),
    qr_event.is_event_staff(bigint, bigint),
    qr_event.api_issue_qr(bigint, bigint, bigint),
    qr_event.api_scan_qr(bigint, text, text, text),
    qr_event.api_revoke_qr(bigint, text, text),
    qr_event.api_qr_history(bigint, text, integer, text) FROM PUBLIC;
REVOKE ALL ON qr_event.qr_history_items FROM PUBLIC;
GRANT EXECUTE ON FUNCTION qr_event.is_event_staff(bigint, bigint),
    qr_event.api_issue_qr(bigint, bigint, bigint),
    qr_event.api_scan_qr(bigint, text, text, text),
    qr_event.api_revoke_qr(bigint, text, text),
    qr_event.api_qr_history(bigint, text, integer, text) TO qr_gateway_role;

-- ---------------------------------------------------------------------------
-- Analyst views: qr_analyst reads these and nothing else (they run with the
-- owner's rights; tokens and hashes of unknown scans never appear)
-- ---------------------------------------------------------------------------

CREATE VIEW qr_event.audit_timeline AS
SELECT e.seq, e.event_id, ev.name AS event_name, e.qr_code_id, c.guest_id,
       pg_catalog.concat_ws(' ', g.first_name, g.last_name) AS guest_name,
       e.version, e.type, e.payload ->> 'reason' AS reason, e.actor, e.gate, e.device,
       e.occurred_at, e.recorded_at, pg_catalog.encode(e.hash, 'hex') AS hash
FROM qr_event.qr_code_events e
JOIN qr_event.qr_codes c ON c.id = e.qr_code_id
JOIN qr_event.events ev ON ev.id = e.event_id
JOIN qr_event.guests g ON g.id = c.guest_id;

COMMENT ON VIEW qr_event.audit_timeline IS
    'Every QR event with its event, code, guest and reason (for scan_rejected and revoked), in seq order when sorted by seq';

CREATE VIEW qr_event.scan_stats AS
SELECT e.event_id, e.gate, pg_catalog.date_trunc('hour', e.occurred_at) AS hour,
       count(*) AS scans,
       count(*) FILTER (WHERE e.type = 'scan_accepted') AS accepted,
       count(*) FILTER (WHERE e.type = 'scan_rejected') AS rejected,
       count(*) FILTER (WHERE e.payload ->> 'reason' = 'already_used') AS already_used,
       count(*) FILTER (WHERE e.payload ->> 'reason' IN ('revoked', 'replaced')) AS revoked,
       count(*) FILTER (WHERE e.payload ->> 'reason' = 'wrong_event') AS wrong_event,
       count(*) FILTER (WHERE e.payload ->> 'reason' = 'outside_window') AS outside_window,
       count(DISTINCT e.qr_code_id) AS codes
FROM qr_event.qr_code_events e
WHERE e.type IN ('scan_accepted', 'scan_rejected')
GROUP BY e.event_id, e.gate, pg_catalog.date_trunc('hour', e.occurred_at);

COMMENT ON VIEW qr_event.scan_stats IS
    'Door scans per event (the code''s), gate and hour (in the session time zone): accepted, rejected and why, distinct codes. '
    'Unknown tokens are counted in qr_unknown_scans, not here';

CREATE VIEW qr_event.suspicious_scans AS
SELECT 'duplicate'::text AS kind, e.event_id, e.qr_code_id, c.guest_id, e.seq, e.gate, e.device, e.occurred_at,
       (e.payload ->> 'first_scan_gate') AS other_gate, (e.payload ->> 'first_scan_at')::timestamptz AS other_occurred_at
FROM qr_event.qr_code_events e JOIN qr_event.qr_codes c ON c.id = e.qr_code_id
WHERE e.type = 'scan_rejected' AND e.payload ->> 'reason' = 'already_used'
UNION ALL
SELECT 'after_revocation', e.event_id, e.qr_code_id, c.guest_id, e.seq, e.gate, e.device, e.occurred_at,
       NULL, c.revoked_at
FROM qr_event.qr_code_events e JOIN qr_event.qr_codes c ON c.id = e.qr_code_id
WHERE e.type = 'scan_rejected' AND e.payload ->> 'reason' IN ('revoked', 'replaced')
UNION ALL
SELECT 'two_gates', s.event_id, s.qr_code_id, c.guest_id, s.seq, s.gate, s.device, s.occurred_at,
       s.prev_gate, s.prev_occurred_at
FROM (SELECT e.*, pg_catalog.lag(e.gate) OVER w AS prev_gate, pg_catalog.lag(e.occurred_at) OVER w AS prev_occurred_at
      FROM qr_event.qr_code_events e
      WHERE e.type IN ('scan_accepted', 'scan_rejected')
      WINDOW w AS (PARTITION BY e.qr_code_id ORDER BY e.version)) AS s
JOIN qr_event.qr_codes c ON c.id = s.qr_code_id
WHERE s.gate IS DISTINCT FROM s.prev_gate AND s.prev_occurred_at IS NOT NULL
  AND s.occurred_at - s.prev_occurred_at BETWEEN interval '0' AND interval '10 minutes';

COMMENT ON VIEW qr_event.suspicious_scans IS
    'Scans worth a look: duplicate (a used code scanned again; other_* is the first scan), after_revocation (a revoked or '
    'replaced code scanned; other_occurred_at is the revocation), two_gates (a scan at another gate than the code''s '
    'previous scan, within 10 minutes of it; other_* is that previous scan)';

REVOKE ALL ON qr_event.audit_timeline, qr_event.scan_stats, qr_event.suspicious_scans FROM PUBLIC;
GRANT SELECT ON qr_event.audit_timeline, qr_event.scan_stats, qr_event.suspicious_scans TO qr_analyst;
