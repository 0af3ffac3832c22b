--
-- QR commands: issue, scan, revoke, re-issue; every reason a door gives; replay, the
-- projection rebuild, the gateway's functions and who may call what
--
-- runs one statement and reports its outcome; 00000 when it was accepted
CREATE FUNCTION pg_temp.outcome(sql text, OUT code text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    code := '00000';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END
$$;

SET qr_event.password_iterations = 1000;
SELECT qr_event.create_account('qr-owner@example.com', 'correct horse battery', 'Owner') AS owner \gset
SELECT qr_event.create_account('qr-door@example.com', 'correct horse battery', 'Door') AS door \gset
SELECT qr_event.create_account('qr-other@example.com', 'correct horse battery', 'Other') AS other \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner, 'Gala', '2026-12-01 18:00+00', '2026-12-01 23:00+00') RETURNING id AS gala \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:other, 'Fair', '2026-12-02 10:00+00', '2026-12-02 18:00+00') RETURNING id AS fair \gset
-- tonight's doors are open whenever the test runs (its times are never printed)
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner, 'Tonight', now() - interval '1 hour', now() + interval '5 hours') RETURNING id AS tonight \gset
INSERT INTO qr_event.event_staff (event_id, account_id, role) VALUES (:gala, :door, 'staff'), (:tonight, :door, 'staff');
INSERT INTO qr_event.guests (event_id, first_name, last_name) VALUES (:gala, 'Ann', 'Archer') RETURNING id AS ann \gset
INSERT INTO qr_event.guests (event_id, first_name, last_name) VALUES (:tonight, 'Ben', 'Baker') RETURNING id AS ben \gset
INSERT INTO qr_event.guests (event_id, first_name, last_name) VALUES (:fair, 'Cy', 'Cole') RETURNING id AS cy \gset

-- issue: a 43-character base64url token, version 1, the chain starts
SELECT qr_event.issue_qr(:ann, 'desk', '2026-11-30 12:00+00') AS ann_token \gset
SELECT qr_event.issue_qr(:cy, 'desk', '2026-11-30 12:00+00') AS cy_token \gset
SELECT length(:'ann_token') AS token_length, :'ann_token' ~ '^[A-Za-z0-9_-]+$' AS base64url,
       :'ann_token' <> :'cy_token' AS distinct_tokens;
SELECT status, version, issued_at, head_hash = (SELECT hash FROM qr_event.qr_code_events e
                                                WHERE e.qr_code_id = c.id AND e.version = 1) AS head_is_issued
FROM qr_event.qr_codes c WHERE token = :'ann_token';
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.issue_qr(%s)', :ann)) AS o;
SELECT o.* FROM pg_temp.outcome('SELECT qr_event.issue_qr(-1)') AS o;
SELECT o.* FROM pg_temp.outcome('SELECT qr_event.issue_qr(NULL)') AS o;

-- the door: each reason, in the order a scanner meets them
SELECT accepted, reason, first_scan_at, first_scan_gate, version
FROM qr_event.scan_qr(:'ann_token', 'North', 'scanner-1', :gala, 'door', '2026-12-01 14:59+00');  -- doors open 3 h before
SELECT accepted, reason, first_scan_at, first_scan_gate, version
FROM qr_event.scan_qr(:'ann_token', 'North', 'scanner-1', :gala, 'door', '2026-12-01 17:30+00');
SELECT accepted, reason, first_scan_at, first_scan_gate, version
FROM qr_event.scan_qr(:'ann_token', 'South', 'scanner-2', :gala, 'door', '2026-12-01 17:35+00');
SELECT accepted, reason, first_scan_at, first_scan_gate, version
FROM qr_event.scan_qr(:'ann_token', 'Hall', 'scanner-3', :fair, 'door', '2026-12-01 17:40+00');
SELECT accepted, reason, version
FROM qr_event.scan_qr(:'cy_token', 'Gate', 'scanner-9', NULL, 'door', '2026-12-02 18:01+00');    -- after the end
SELECT accepted, reason, qr_code_id, version
FROM qr_event.scan_qr('an-unknown-token-of-22-chars', 'North', 'scanner-1', :gala, 'door', '2026-12-01 17:45+00');
SELECT token_sha256 = sha256('an-unknown-token-of-22-chars'::bytea) AS hashed, expected_event_id = :gala AS door_event,
       gate, device
FROM qr_event.qr_unknown_scans;
SELECT type, payload, gate, device, occurred_at FROM qr_event.qr_code_events
WHERE qr_code_id = (SELECT id FROM qr_event.qr_codes WHERE token = :'ann_token') ORDER BY version;

-- scanner arguments
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.scan_qr(%L, NULL)', :'ann_token')) AS o;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.scan_qr(%L, %L)', :'ann_token', '')) AS o;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.scan_qr(%L, %L)', :'ann_token', repeat('g', 201))) AS o;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.scan_qr(%L, %L, %L)', :'ann_token', 'North', repeat('d', 201))) AS o;
SELECT o.* FROM pg_temp.outcome('SELECT qr_event.scan_qr(NULL, ''North'')') AS o;

-- re-issue: the old code is replaced, the new one links back to it
SELECT qr_event.reissue_qr(:'ann_token', 'lost phone', 'desk', '2026-12-01 18:10+00') AS ann_new \gset
SELECT c.status, c.version, c.replaced_by = n.id AS replaced_by_new, n.status AS new_status, n.version AS new_version
FROM qr_event.qr_codes c, qr_event.qr_codes n WHERE c.token = :'ann_token' AND n.token = :'ann_new';
SELECT type, payload ? 'replaced_by' AS names_successor, payload ->> 'reason' AS reason
FROM qr_event.qr_code_events WHERE qr_code_id = (SELECT id FROM qr_event.qr_codes WHERE token = :'ann_token')
ORDER BY version DESC LIMIT 1;
SELECT type, (payload ->> 'replaces')::bigint = (SELECT id FROM qr_event.qr_codes WHERE token = :'ann_token') AS names_predecessor
FROM qr_event.qr_code_events WHERE qr_code_id = (SELECT id FROM qr_event.qr_codes WHERE token = :'ann_new');
SELECT accepted, reason FROM qr_event.scan_qr(:'ann_token', 'North', NULL, :gala, 'door', '2026-12-01 18:20+00');
SELECT accepted, reason FROM qr_event.scan_qr(:'ann_new', 'North', NULL, :gala, 'door', '2026-12-01 18:21+00');
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.reissue_qr(%L)', :'ann_token')) AS o;
SELECT o.* FROM pg_temp.outcome('SELECT qr_event.reissue_qr(''no-such-token-of-22-chars'')') AS o;

-- revoke: later scans are refused; a second revoke is a conflict
SELECT qr_event.issue_qr(:ben, 'desk', '2026-11-30 12:00+00') AS ben_token \gset
SELECT status, version, revoked_at FROM qr_event.revoke_qr(:'ben_token', 'fraud', 'desk', '2026-12-01 17:00+00');
SELECT accepted, reason FROM qr_event.scan_qr(:'ben_token', 'North', NULL, :tonight, 'door');
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.revoke_qr(%L)', :'ben_token')) AS o;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.revoke_qr(%L, %L)', :'ann_token', 'x')) AS o;
SELECT o.* FROM pg_temp.outcome('SELECT qr_event.revoke_qr(''no-such-token-of-22-chars'')') AS o;
-- a revoked code can be re-issued
SELECT qr_event.reissue_qr(:'ben_token', 'cleared', 'desk', '2026-12-01 18:40+00') IS NOT NULL AS reissued_revoked;

-- every chain of these events verifies; replay reproduces the projection exactly
SELECT count(*) AS broken FROM qr_event.verify_audit() v
JOIN qr_event.qr_codes c ON c.id = v.qr_code_id AND c.event_id IN (:gala, :tonight, :fair);
CREATE TEMP TABLE projection_before AS SELECT * FROM qr_event.qr_codes WHERE event_id IN (:gala, :tonight, :fair);
SELECT sum(qr_event.rebuild_qr_projection(e)) AS rows_changed FROM unnest(ARRAY[:gala, :tonight, :fair]) AS e;
SELECT count(*) AS differing FROM (
    (SELECT * FROM projection_before
     EXCEPT SELECT * FROM qr_event.qr_codes WHERE event_id IN (:gala, :tonight, :fair))
    UNION ALL (SELECT * FROM qr_event.qr_codes WHERE event_id IN (:gala, :tonight, :fair)
               EXCEPT SELECT * FROM projection_before)) AS d;
-- a projection changed behind the commands' back is put right
UPDATE qr_event.qr_codes SET status = 'active', first_scan_at = NULL, first_scan_gate = NULL WHERE token = :'ann_new';
SELECT qr_event.rebuild_qr_projection(:gala) AS rows_changed;
SELECT status, first_scan_gate FROM qr_event.qr_codes WHERE token = :'ann_new';

-- the state at past instants, by replay of what was recorded by then
SELECT (qr_event.qr_state_at(:'ann_token', '2000-01-01')).status IS NULL AS not_yet_issued;
SELECT s.status, s.version, s.first_scan_gate
FROM qr_event.qr_state_at(:'ann_token', (SELECT recorded_at FROM qr_event.qr_code_events e
    JOIN qr_event.qr_codes c ON c.id = e.qr_code_id WHERE c.token = :'ann_token' AND e.version = 2)) AS s;
SELECT s.status, s.version FROM qr_event.qr_state_at(:'ann_token', 'infinity') AS s;
SELECT o.* FROM pg_temp.outcome('SELECT qr_event.qr_state_at(''no-such-token-of-22-chars'', now())') AS o;

-- the gateway's functions: the caller's account decides; not allowed = not found
SELECT (r ->> 'reissued')::boolean AS reissued, r ->> 'status' AS status
FROM qr_event.api_issue_qr(:owner, :tonight, :ben) AS r;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.api_issue_qr(%s, %s, %s)', :door, :tonight, :ben)) AS o;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.api_issue_qr(%s, %s, %s)', :other, :tonight, :ben)) AS o;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.api_issue_qr(%s, %s, %s)', :owner, :tonight, :cy)) AS o;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.api_issue_qr(%s, %s, %s)', :owner, :gala, :ben)) AS o;
SELECT token AS ben_live FROM qr_event.qr_codes WHERE guest_id = :ben AND status = 'active' \gset
SELECT qr_event.api_scan_qr(:door, :'ben_live', 'North', 'scanner-1') - 'firstScanAt' - 'guestId' AS door_scan;
SELECT qr_event.api_scan_qr(:door, :'ben_live', 'North', 'scanner-1') ->> 'reason' AS again;
SELECT qr_event.api_scan_qr(:door, :'cy_token', 'North', 'scanner-1') AS other_events_code;
SELECT qr_event.api_scan_qr(:door, 'no-such-token-of-22-chars', 'North', NULL) AS unknown;
SELECT qr_event.create_account('qr-nobody@example.com', 'correct horse battery', 'Nobody') AS nobody \gset
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.api_scan_qr(%s, %L, %L)', :nobody, :'ben_live', 'North')) AS o;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.api_revoke_qr(%s, %L)', :door, :'ben_live')) AS o;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.api_revoke_qr(%s, %L)', :other, :'ben_live')) AS o;
SELECT qr_event.api_revoke_qr(:owner, :'ben_live', 'left early') ->> 'status' AS revoked_by_owner;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.api_revoke_qr(%s, %L)', :owner, :'ben_live')) AS o;

-- history: cursor pages in version order, for staff of the event only
SELECT qr_event.api_qr_history(:door, :'ann_token', 3) AS page1 \gset
SELECT jsonb_path_query_array(:'page1'::jsonb, '$.data[*].version') AS versions,
       (:'page1'::jsonb -> 'pagination' ->> 'hasNext')::boolean AS has_next;
SELECT jsonb_path_query_array(qr_event.api_qr_history(:door, :'ann_token', 3,
           :'page1'::jsonb -> 'pagination' ->> 'cursor'), '$.data[*].version') AS versions_page2;
SELECT jsonb_path_query_array(:'page1'::jsonb, '$.data[*].type') AS types;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.api_qr_history(%s, %L)', :other, :'ann_token')) AS o;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.api_qr_history(%s, %L, 3, %L)', :owner, :'ann_token',
    :'page1'::jsonb -> 'pagination' ->> 'cursor')) AS o;  -- a cursor is bound to its caller

-- what analysts see
SELECT kind, gate, other_gate FROM qr_event.suspicious_scans ORDER BY seq, kind;
SELECT event_id = :gala AS gala, gate, scans, accepted, rejected, already_used, revoked, wrong_event, outside_window
FROM qr_event.scan_stats WHERE event_id IN (:gala, :fair) ORDER BY event_id, gate, hour;
SELECT type, reason, guest_name, gate FROM qr_event.audit_timeline WHERE event_id = :gala ORDER BY seq LIMIT 6;

-- who may do what
SET ROLE qr_gateway_role;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.scan_qr(%L, %L)', :'ann_new', 'North')) AS o;
SELECT o.* FROM pg_temp.outcome(format('INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at) VALUES (%s, 1, 99, ''revoked'', now())', :gala)) AS o;
SELECT o.* FROM pg_temp.outcome('UPDATE qr_event.qr_codes SET status = ''active''') AS o;
SELECT o.* FROM pg_temp.outcome('SELECT * FROM qr_event.suspicious_scans') AS o;
RESET ROLE;
SET ROLE qr_analyst;
SELECT count(*) > 0 AS analyst_reads_timeline FROM qr_event.audit_timeline;
SELECT o.* FROM pg_temp.outcome('SELECT * FROM qr_event.qr_codes') AS o;
SELECT o.* FROM pg_temp.outcome('SELECT * FROM qr_event.qr_code_events') AS o;
SELECT o.* FROM pg_temp.outcome('SELECT * FROM qr_event.qr_unknown_scans') AS o;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.scan_qr(%L, %L)', :'ann_new', 'North')) AS o;
RESET ROLE;

-- scan_qr appends straight to qr_code_events' heap and indexes: it refuses a table
-- that gained what it would bypass, and works again once that is gone
BEGIN;
CREATE FUNCTION pg_temp.dba_note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER dba_note BEFORE INSERT ON qr_event.qr_code_events FOR EACH ROW EXECUTE FUNCTION pg_temp.dba_note();
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.scan_qr(%L, %L)', :'ann_new', 'North')) AS o;
DROP TRIGGER dba_note ON qr_event.qr_code_events;
SELECT accepted, reason FROM qr_event.scan_qr(:'ann_new', 'North');
ALTER TABLE qr_event.qr_code_events ADD CONSTRAINT dba_no_north CHECK (gate <> 'North') NOT VALID;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.scan_qr(%L, %L)', :'ann_new', 'North')) AS o;
ALTER TABLE qr_event.qr_code_events DROP CONSTRAINT dba_no_north;
SELECT accepted, reason FROM qr_event.scan_qr(:'ann_new', 'North');
ROLLBACK;
BEGIN;
ALTER TABLE qr_event.qr_code_events DROP CONSTRAINT qr_code_events_gate_length,
    ADD CONSTRAINT qr_code_events_gate_length CHECK (length(gate) <= 3) NOT VALID;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.scan_qr(%L, %L)', :'ann_new', 'North')) AS o;
ROLLBACK;
BEGIN;
CREATE INDEX dba_rejected_by_gate ON qr_event.qr_code_events (gate) WHERE type = 'scan_rejected';
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.scan_qr(%L, %L)', :'ann_new', 'North')) AS o;
ROLLBACK;
BEGIN;
ALTER TABLE qr_event.qr_code_events ADD COLUMN dba_note text;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.scan_qr(%L, %L)', :'ann_new', 'North')) AS o;
ROLLBACK;
BEGIN;
CREATE RULE dba_rule AS ON INSERT TO qr_event.qr_code_events DO ALSO NOTIFY qr_scans;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.scan_qr(%L, %L)', :'ann_new', 'North')) AS o;
ROLLBACK;
SELECT accepted, reason, version FROM qr_event.scan_qr(:'ann_new', 'North');
SELECT count(*) AS broken FROM qr_event.verify_audit() v
JOIN qr_event.qr_codes c ON c.id = v.qr_code_id AND c.event_id IN (:gala, :tonight, :fair);

-- a role cannot widen the door's window with a placeholder set before the library is
-- loaded: reading the setting loads it, and the placeholder is discarded
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner, 'Far future', now() + interval '1000 days', now() + interval '1001 days') RETURNING id AS far \gset
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:far, 'Fay') RETURNING id AS fay \gset
SELECT qr_event.issue_qr(:fay) AS fay_token \gset
\c
SET ROLE qr_gateway_role;
SET qr_event.scan_opens_before = '1440000min';
SELECT qr_event.api_scan_qr(:owner, :'fay_token', 'North') ->> 'reason' AS reason;
SHOW qr_event.scan_opens_before;
RESET ROLE;
