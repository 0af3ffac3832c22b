-- pgTAP: the CHECK constraints of every table exist, are validated, and hold
BEGIN;
SELECT plan(28);

CREATE FUNCTION pg_temp.checks_of(tab text) RETURNS text
LANGUAGE sql AS $$
    SELECT format('SELECT conname::text FROM pg_constraint WHERE conrelid = %L::regclass AND contype = %L',
                  'qr_event.' || tab, 'c')
$$;

SELECT set_eq(pg_temp.checks_of('accounts'), ARRAY['accounts_email_format',
    'accounts_password_hash_format', 'accounts_display_name_not_blank',
    'accounts_display_name_length', 'accounts_tier_check'], 'checks of accounts');
SELECT set_eq(pg_temp.checks_of('events'), ARRAY['events_name_not_blank', 'events_name_length',
    'events_venue_length', 'events_ends_after_starts'], 'checks of events');
SELECT set_eq(pg_temp.checks_of('event_staff'), ARRAY['event_staff_role_check'], 'checks of event_staff');
SELECT set_eq(pg_temp.checks_of('families'), ARRAY['families_name_not_blank', 'families_name_length'],
    'checks of families');
SELECT set_eq(pg_temp.checks_of('guests'), ARRAY['guests_first_name_not_blank',
    'guests_first_name_length', 'guests_last_name_not_blank', 'guests_last_name_length',
    'guests_email_format'], 'checks of guests');
SELECT set_eq(pg_temp.checks_of('games'), ARRAY['games_title_not_blank', 'games_title_length',
    'games_status_check', 'games_score_policy_check'], 'checks of games');
SELECT set_eq(pg_temp.checks_of('game_participations'), ARRAY['game_participations_one_participant',
    'game_participations_completed_at_check'], 'checks of game_participations');
SELECT set_eq(pg_temp.checks_of('qr_codes'), ARRAY['qr_codes_token_format', 'qr_codes_status_check',
    'qr_codes_version_check', 'qr_codes_used_has_first_scan', 'qr_codes_revoked_has_revoked_at',
    'qr_codes_first_scan_gate_length', 'qr_codes_head_hash_length', 'qr_codes_replaced_by_only_replaced'],
    'checks of qr_codes');
SELECT set_eq(pg_temp.checks_of('qr_code_events'), ARRAY['qr_code_events_version_check',
    'qr_code_events_type_check', 'qr_code_events_payload_object', 'qr_code_events_actor_length',
    'qr_code_events_gate_length', 'qr_code_events_device_length', 'qr_code_events_prev_hash_check',
    'qr_code_events_prev_hash_length', 'qr_code_events_hash_length'], 'checks of qr_code_events');
SELECT set_eq(pg_temp.checks_of('qr_unknown_scans'), ARRAY['qr_unknown_scans_token_sha256_length',
    'qr_unknown_scans_gate_length', 'qr_unknown_scans_device_length', 'qr_unknown_scans_actor_length'],
    'checks of qr_unknown_scans');

SELECT is_empty($$
    SELECT conname FROM pg_constraint
    WHERE connamespace = 'qr_event'::regnamespace AND NOT convalidated
$$, 'every constraint is validated');

SELECT is_empty($$
    SELECT c.relname || '.' || a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
    WHERE c.relnamespace = 'qr_event'::regnamespace AND c.relkind = 'r' AND a.attnum > 0
      AND a.atttypid = 'text'::regtype
      AND a.attname NOT IN ('status', 'score_policy', 'tier', 'role', 'type', 'password_hash', 'token')
      AND NOT EXISTS (SELECT FROM pg_constraint k
                      WHERE k.conrelid = c.oid AND k.contype = 'c' AND a.attnum = ANY (k.conkey)
                        AND pg_get_constraintdef(k.oid) ~ 'length\(')
$$, 'every free-text column has a length limit');

-- the rules hold for direct writes, not only through the API
CREATE FUNCTION pg_temp.check_violated(sql text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN NULL;
EXCEPTION WHEN check_violation THEN
    RETURN substring(SQLERRM FROM 'check constraint "([^"]+)"');
END
$$;
INSERT INTO qr_event.accounts (email, password_hash, display_name)
VALUES ('tap-checks@example.com', '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Owner')
RETURNING id AS owner \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner, 'Checks', '2030-01-01', '2030-01-02') RETURNING id AS ev \gset
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:ev, 'Guest') RETURNING id AS guest \gset
INSERT INTO qr_event.games (event_id, title) VALUES (:ev, 'Game') RETURNING id AS game \gset
INSERT INTO qr_event.families (event_id, name) VALUES (:ev, 'Family') RETURNING id AS family \gset
INSERT INTO qr_event.qr_codes (event_id, guest_id, token)
VALUES (:ev, :guest, 'tap_checks_token_0123456') RETURNING id AS code \gset

SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.accounts (email, password_hash, display_name) VALUES (%L, %L, %L)',
    'plain@example.com', 'hunter2hunter2', 'Plain')),
    'accounts_password_hash_format', 'a clear-text password is refused');
SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at) VALUES (%s, %L, %L, %L)',
    :owner, 'Backwards', '2030-01-02', '2030-01-01')),
    'events_ends_after_starts', 'an event cannot end before it starts');
SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.game_participations (event_id, game_id, guest_id, family_id) VALUES (%s, %s, %s, %s)',
    :ev, :game, :guest, :family)),
    'game_participations_one_participant', 'a participation is not both a guest''s and a family''s');
SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.game_participations (event_id, game_id) VALUES (%s, %s)', :ev, :game)),
    'game_participations_one_participant', 'a participation has a participant');
SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.game_participations (event_id, game_id, guest_id, is_completed) VALUES (%s, %s, %s, true)',
    :ev, :game, :guest)),
    'game_participations_completed_at_check', 'a completed participation has completed_at');
SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.qr_codes (event_id, guest_id, token) VALUES (%s, %s, %L)', :ev, :guest, 'guessable')),
    'qr_codes_token_format', 'a token has at least 22 base64url characters');
SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, prev_hash, hash) '
    'VALUES (%s, %s, 1, %L, now(), sha256(%L), sha256(%L))', :ev, :code, 'issued', 'a', 'b')),
    'qr_code_events_prev_hash_check', 'the first event of a code has no prev_hash');
SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, hash) '
    'VALUES (%s, %s, 2, %L, now(), sha256(%L))', :ev, :code, 'revoked', 'b')),
    'qr_code_events_prev_hash_check', 'a later event links to its predecessor');
SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, hash) '
    'VALUES (%s, %s, 1, %L, now(), %L::bytea)', :ev, :code, 'issued', '\x0102')),
    'qr_code_events_hash_length', 'a hash is 32 bytes');
SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, occurred_at, hash) '
    'VALUES (%s, %s, 1, %L, now(), sha256(%L))', :ev, :code, 'issued', 'a')),
    NULL, 'a well-formed first event is accepted');
SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.games (event_id, title, score_policy) VALUES (%s, %L, %L)', :ev, 'Avg', 'average')),
    'games_score_policy_check', 'a score policy is best, latest or sum');
INSERT INTO qr_event.qr_codes (event_id, guest_id, token)
VALUES (:ev, :guest, 'tap_checks_token_6543210') RETURNING id AS code2 \gset
SELECT is(pg_temp.check_violated(format(
    'UPDATE qr_event.qr_codes SET replaced_by = %s WHERE id = %s', :code2, :code)),
    'qr_codes_replaced_by_only_replaced', 'only a replaced code names its replacement');
SELECT is(pg_temp.check_violated(format(
    'UPDATE qr_event.qr_codes SET status = %L, replaced_by = %s WHERE id = %s', 'replaced', :code2, :code)),
    NULL, 'a replaced code names its replacement');
SELECT is(pg_temp.check_violated(format(
    'UPDATE qr_event.qr_codes SET head_hash = %L::bytea WHERE id = %s', '\x0102', :code)),
    'qr_codes_head_hash_length', 'a chain head is a 32-byte hash');
SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.qr_unknown_scans (token_sha256, gate, occurred_at) VALUES (%L::bytea, %L, now())',
    '\x0102', 'Gate A')),
    'qr_unknown_scans_token_sha256_length', 'an unknown token is kept as its 32-byte SHA-256 only');
SELECT is(pg_temp.check_violated(format(
    'INSERT INTO qr_event.qr_unknown_scans (token_sha256, gate, occurred_at) VALUES (sha256(%L), %L, now())',
    'guess', repeat('g', 201))),
    'qr_unknown_scans_gate_length', 'an unknown scan''s gate has at most 200 characters');

SELECT * FROM finish();
ROLLBACK;
