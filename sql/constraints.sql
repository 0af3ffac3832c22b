--
-- constraints: bad rows are refused with a clear error naming the constraint
--
\set VERBOSITY terse

-- two events of one owner, each with a family, a guest, a game; a QR code in the first
INSERT INTO qr_event.accounts (email, password_hash, display_name)
VALUES ('owner@example.com', '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Owner')
RETURNING id AS owner \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner, 'Wedding', '2030-06-01 14:00+00', '2030-06-02 02:00+00') RETURNING id AS e1 \gset
INSERT INTO qr_event.events (owner_id, name, venue, starts_at, ends_at)
VALUES (:owner, 'Gala', 'Town hall', '2030-07-01 18:00+00', '2030-07-01 23:00+00') RETURNING id AS e2 \gset
INSERT INTO qr_event.families (event_id, name) VALUES (:e1, 'Smiths') RETURNING id AS f1 \gset
INSERT INTO qr_event.families (event_id, name) VALUES (:e2, 'Joneses') RETURNING id AS f2 \gset
INSERT INTO qr_event.guests (event_id, family_id, first_name, last_name) VALUES (:e1, :f1, 'Ann', 'Smith') RETURNING id AS g1 \gset
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:e2, 'Bob') RETURNING id AS g2 \gset
INSERT INTO qr_event.games (event_id, title) VALUES (:e1, 'Quiz') RETURNING id AS q1 \gset
INSERT INTO qr_event.games (event_id, title) VALUES (:e2, 'Darts') RETURNING id AS q2 \gset
INSERT INTO qr_event.qr_codes (event_id, guest_id, token) VALUES (:e1, :g1, 'AAAAAAAAAAAAAAAAAAAAAA') RETURNING id AS c1 \gset
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, hash)
VALUES (:e1, :c1, 1, 'issued', '2030-05-01 10:00+00', sha256('issued'));
INSERT INTO qr_event.game_participations (event_id, game_id, guest_id) VALUES (:e1, :q1, :g1);
INSERT INTO qr_event.event_staff (event_id, account_id, role) VALUES (:e1, :owner, 'organizer');
SELECT status, score_policy FROM qr_event.games WHERE id = :q1;

-- accounts
INSERT INTO qr_event.accounts (email, password_hash, display_name) SELECT 'OWNER@Example.com', password_hash, 'Twin' FROM qr_event.accounts WHERE id = :owner;
INSERT INTO qr_event.accounts (email, password_hash, display_name) VALUES ('clear@example.com', 'correct horse battery', 'Clear');
INSERT INTO qr_event.accounts (email, password_hash, display_name) VALUES ('md5@example.com', 'md5c4ca4238a0b923820dcc509a6f75849b', 'Md5');
INSERT INTO qr_event.accounts (email, password_hash, display_name) SELECT 'no-at-sign', password_hash, 'X' FROM qr_event.accounts WHERE id = :owner;
INSERT INTO qr_event.accounts (email, password_hash, display_name) SELECT 'two@at@example.com', password_hash, 'X' FROM qr_event.accounts WHERE id = :owner;
INSERT INTO qr_event.accounts (email, password_hash, display_name) SELECT 'sp ace@example.com', password_hash, 'X' FROM qr_event.accounts WHERE id = :owner;
INSERT INTO qr_event.accounts (email, password_hash, display_name) SELECT 'x@example.com', password_hash, '   ' FROM qr_event.accounts WHERE id = :owner;
INSERT INTO qr_event.accounts (email, password_hash, display_name) SELECT 'x@example.com', password_hash, repeat('x', 201) FROM qr_event.accounts WHERE id = :owner;
INSERT INTO qr_event.accounts (email, password_hash, display_name, tier) SELECT 'x@example.com', password_hash, 'X', 'gold' FROM qr_event.accounts WHERE id = :owner;
INSERT INTO qr_event.accounts (email, password_hash, display_name) VALUES ('x@example.com', NULL, 'X');
INSERT INTO qr_event.accounts (id, email, password_hash, display_name) SELECT 99, 'x@example.com', password_hash, 'X' FROM qr_event.accounts WHERE id = :owner;

-- events
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at) VALUES (:owner, 'Backwards', '2030-06-02', '2030-06-01');
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at) VALUES (:owner, 'Instant', '2030-06-01', '2030-06-01');
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at) VALUES (:owner, '', '2030-06-01', '2030-06-02');
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at) VALUES (:owner, repeat('n', 201), '2030-06-01', '2030-06-02');
INSERT INTO qr_event.events (owner_id, name, venue, starts_at, ends_at) VALUES (:owner, 'Big venue', repeat('v', 501), '2030-06-01', '2030-06-02');
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at) VALUES (-1, 'No owner', '2030-06-01', '2030-06-02');
INSERT INTO qr_event.events (owner_id, name, starts_at) VALUES (:owner, 'No end', '2030-06-01');
UPDATE qr_event.events SET ends_at = starts_at - interval '1 hour' WHERE id = :e1;

-- staff
INSERT INTO qr_event.event_staff (event_id, account_id, role) VALUES (:e2, :owner, 'admin');
INSERT INTO qr_event.event_staff (event_id, account_id, role) VALUES (:e1, :owner, 'staff');
INSERT INTO qr_event.event_staff (event_id, account_id, role) VALUES (:e1, -1, 'staff');

-- families and guests
INSERT INTO qr_event.families (event_id, name) VALUES (:e1, E' \t ');
INSERT INTO qr_event.families (event_id, name) VALUES (:e1, repeat('f', 201));
INSERT INTO qr_event.families (event_id, name) VALUES (-1, 'Nowhere');
INSERT INTO qr_event.guests (event_id, family_id, first_name) VALUES (:e1, :f2, 'Family of another event');
UPDATE qr_event.guests SET family_id = :f2 WHERE id = :g1;
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:e1, '');
INSERT INTO qr_event.guests (event_id, first_name, last_name) VALUES (:e1, 'Cy', ' ');
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:e1, repeat('g', 201));
INSERT INTO qr_event.guests (event_id, first_name, last_name) VALUES (:e1, 'Cy', repeat('g', 201));
INSERT INTO qr_event.guests (event_id, first_name, email) VALUES (:e1, 'Cy', 'cy at example.com');
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:e1, NULL);

-- games
INSERT INTO qr_event.games (event_id, title, status) VALUES (:e1, 'Paused', 'paused');
INSERT INTO qr_event.games (event_id, title, score_policy) VALUES (:e1, 'Average', 'average');
INSERT INTO qr_event.games (event_id, title) VALUES (:e1, ' ');
INSERT INTO qr_event.games (event_id, title) VALUES (:e1, repeat('t', 201));

-- participations
INSERT INTO qr_event.game_participations (event_id, game_id, guest_id, family_id) VALUES (:e1, :q1, :g1, :f1);
INSERT INTO qr_event.game_participations (event_id, game_id) VALUES (:e1, :q1);
INSERT INTO qr_event.game_participations (event_id, game_id, family_id, is_completed) VALUES (:e1, :q1, :f1, true);
INSERT INTO qr_event.game_participations (event_id, game_id, family_id, completed_at) VALUES (:e1, :q1, :f1, now());
INSERT INTO qr_event.game_participations (event_id, game_id, family_id, total_score) VALUES (:e1, :q1, :f1, '12.5');
INSERT INTO qr_event.game_participations (event_id, game_id, family_id, total_score) VALUES (:e1, :q1, :f1, 'NaN');
INSERT INTO qr_event.game_participations (event_id, game_id, family_id, total_score) VALUES (:e1, :q1, :f1, '9223372036854775808');
INSERT INTO qr_event.game_participations (event_id, game_id, family_id, total_score) VALUES (:e1, :q1, :f1, NULL);
INSERT INTO qr_event.game_participations (event_id, game_id, guest_id) VALUES (:e1, :q1, :g2);
INSERT INTO qr_event.game_participations (event_id, game_id, family_id) VALUES (:e1, :q1, :f2);
INSERT INTO qr_event.game_participations (event_id, game_id, guest_id) VALUES (:e1, :q2, :g1);
INSERT INTO qr_event.game_participations (event_id, game_id, guest_id) VALUES (:e1, :q1, :g1);
UPDATE qr_event.game_participations SET is_completed = true WHERE guest_id = :g1;

-- QR codes
INSERT INTO qr_event.qr_codes (event_id, guest_id, token) VALUES (:e1, :g1, 'too-short');
INSERT INTO qr_event.qr_codes (event_id, guest_id, token) VALUES (:e1, :g1, 'AAAAAAAAAAAAAAAAAAAAA+/=');
INSERT INTO qr_event.qr_codes (event_id, guest_id, token) VALUES (:e1, :g1, repeat('A', 129));
INSERT INTO qr_event.qr_codes (event_id, guest_id, token) VALUES (:e1, :g1, 'AAAAAAAAAAAAAAAAAAAAAA');
INSERT INTO qr_event.qr_codes (event_id, guest_id, token) VALUES (:e2, :g1, 'BBBBBBBBBBBBBBBBBBBBBB');
INSERT INTO qr_event.qr_codes (event_id, guest_id, token, status) VALUES (:e1, :g1, 'BBBBBBBBBBBBBBBBBBBBBB', 'lost');
INSERT INTO qr_event.qr_codes (event_id, guest_id, token, version) VALUES (:e1, :g1, 'BBBBBBBBBBBBBBBBBBBBBB', 0);
UPDATE qr_event.qr_codes SET status = 'used' WHERE id = :c1;
UPDATE qr_event.qr_codes SET status = 'revoked' WHERE id = :c1;

-- the event store
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) VALUES (:e1, :c1, 2, 'scan_accepted', now(), NULL, sha256('x'));
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) VALUES (:e1, :c1, 1, 'issued', now(), sha256('x'), sha256('y'));
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) VALUES (:e1, :c1, 2, 'scan_accepted', now(), '\x00'::bytea, sha256('y'));
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) VALUES (:e1, :c1, 2, 'scan_accepted', now(), sha256('x'), decode(md5('y'), 'hex'));
-- a NULL hash is computed by the trigger qr_code_events_chain (sql/audit_chain.sql); without it, refused
BEGIN;
ALTER TABLE qr_event.qr_code_events DISABLE TRIGGER qr_code_events_chain;
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) VALUES (:e1, :c1, 2, 'scan_accepted', now(), sha256('x'), NULL);
ROLLBACK;
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) VALUES (:e1, :c1, 0, 'scan_accepted', now(), sha256('x'), sha256('y'));
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) VALUES (:e1, :c1, 2, 'scanned', now(), sha256('x'), sha256('y'));
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash, payload) VALUES (:e1, :c1, 2, 'scan_accepted', now(), sha256('x'), sha256('y'), '[]');
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash, gate) VALUES (:e1, :c1, 2, 'scan_accepted', now(), sha256('x'), sha256('y'), repeat('g', 201));
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) VALUES (:e1, :c1, 2, 'scan_accepted', NULL, sha256('x'), sha256('y'));
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, hash) VALUES (:e1, :c1, 1, 'issued', now(), sha256('again'));
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) VALUES (:e2, :c1, 2, 'scan_accepted', now(), sha256('x'), sha256('y'));
-- a good link records its transaction and the clock at insert
BEGIN;
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) VALUES (:e1, :c1, 2, 'scan_accepted', now(), sha256('x'), sha256('y'));
SELECT version, type, prev_hash IS NULL AS starts_chain, payload,
       txid = pg_current_xact_id() AS this_transaction, recorded_at >= now() AS recorded_now
FROM qr_event.qr_code_events ORDER BY seq;
COMMIT;

-- deletes: a family's guests stay in their event and its scores go; a guest with QR codes
-- keeps them (and its event) for the audit; an event without codes goes with all it holds
INSERT INTO qr_event.game_participations (event_id, game_id, family_id) VALUES (:e1, :q1, :f1);
DELETE FROM qr_event.families WHERE id = :f1;
SELECT event_id = :e1 AS same_event, family_id FROM qr_event.guests WHERE id = :g1;
SELECT count(*) AS family_participations FROM qr_event.game_participations WHERE family_id = :f1;
DELETE FROM qr_event.guests WHERE id = :g1;
DELETE FROM qr_event.events WHERE id = :e1;
DELETE FROM qr_event.accounts WHERE id = :owner;
DELETE FROM qr_event.events WHERE id = :e2;
SELECT count(*) AS families_left, (SELECT count(*) FROM qr_event.guests WHERE event_id = :e2) AS guests_left,
       (SELECT count(*) FROM qr_event.games WHERE event_id = :e2) AS games_left
FROM qr_event.families WHERE event_id = :e2;
