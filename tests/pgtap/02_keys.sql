-- pgTAP: primary keys, unique keys and foreign keys, including the tenant (event_id) keys
BEGIN;
SELECT plan(44);

-- primary keys
SELECT col_is_pk('qr_event', 'accounts', ARRAY['id'], 'accounts has primary key id');
SELECT col_is_pk('qr_event', 'events', ARRAY['id'], 'events has primary key id');
SELECT col_is_pk('qr_event', 'event_staff', ARRAY['event_id', 'account_id'],
                 'event_staff has primary key (event_id, account_id)');
SELECT col_is_pk('qr_event', 'families', ARRAY['id'], 'families has primary key id');
SELECT col_is_pk('qr_event', 'guests', ARRAY['id'], 'guests has primary key id');
SELECT col_is_pk('qr_event', 'games', ARRAY['id'], 'games has primary key id');
SELECT col_is_pk('qr_event', 'game_participations', ARRAY['id'], 'game_participations has primary key id');
SELECT col_is_pk('qr_event', 'qr_codes', ARRAY['id'], 'qr_codes has primary key id');
SELECT col_is_pk('qr_event', 'qr_code_events', ARRAY['seq'], 'qr_code_events has primary key seq');
SELECT col_is_pk('qr_event', 'qr_unknown_scans', ARRAY['seq'], 'qr_unknown_scans has primary key seq');

-- unique keys: (event_id, id) on every parent of a per-event child, and the natural keys
SELECT col_is_unique('qr_event', 'families', ARRAY['event_id', 'id'], 'families is unique on (event_id, id)');
SELECT col_is_unique('qr_event', 'guests', ARRAY['event_id', 'id'], 'guests is unique on (event_id, id)');
SELECT col_is_unique('qr_event', 'games', ARRAY['event_id', 'id'], 'games is unique on (event_id, id)');
SELECT col_is_unique('qr_event', 'qr_codes', ARRAY['event_id', 'id'], 'qr_codes is unique on (event_id, id)');
SELECT col_is_unique('qr_event', 'qr_codes', ARRAY['token'], 'qr_codes.token is unique');
SELECT col_is_unique('qr_event', 'qr_code_events', ARRAY['qr_code_id', 'version'],
                     'a code''s stream has one event per version');
SELECT col_is_unique('qr_event', 'game_participations', ARRAY['game_id', 'guest_id'],
                     'a guest plays a game once');
SELECT col_is_unique('qr_event', 'game_participations', ARRAY['game_id', 'family_id'],
                     'a family plays a game once');
SELECT index_is_unique('qr_event', 'accounts', 'accounts_email_lower_key',
                       'emails are unique regardless of case');

-- foreign keys; children point at (event_id, id) of their parents, so tenants never mix
SELECT fk_ok('qr_event', 'events', ARRAY['owner_id'], 'qr_event', 'accounts', ARRAY['id']);
SELECT fk_ok('qr_event', 'event_staff', ARRAY['event_id'], 'qr_event', 'events', ARRAY['id']);
SELECT fk_ok('qr_event', 'event_staff', ARRAY['account_id'], 'qr_event', 'accounts', ARRAY['id']);
SELECT fk_ok('qr_event', 'families', ARRAY['event_id'], 'qr_event', 'events', ARRAY['id']);
SELECT fk_ok('qr_event', 'guests', ARRAY['event_id'], 'qr_event', 'events', ARRAY['id']);
SELECT fk_ok('qr_event', 'guests', ARRAY['event_id', 'family_id'], 'qr_event', 'families', ARRAY['event_id', 'id']);
SELECT fk_ok('qr_event', 'games', ARRAY['event_id'], 'qr_event', 'events', ARRAY['id']);
SELECT fk_ok('qr_event', 'game_participations', ARRAY['event_id', 'game_id'], 'qr_event', 'games', ARRAY['event_id', 'id']);
SELECT fk_ok('qr_event', 'game_participations', ARRAY['event_id', 'guest_id'], 'qr_event', 'guests', ARRAY['event_id', 'id']);
SELECT fk_ok('qr_event', 'game_participations', ARRAY['event_id', 'family_id'], 'qr_event', 'families', ARRAY['event_id', 'id']);
SELECT fk_ok('qr_event', 'qr_codes', ARRAY['event_id', 'guest_id'], 'qr_event', 'guests', ARRAY['event_id', 'id']);
SELECT fk_ok('qr_event', 'qr_code_events', ARRAY['event_id', 'qr_code_id'], 'qr_event', 'qr_codes', ARRAY['event_id', 'id']);
-- a code's replacement is a code of the same event
SELECT fk_ok('qr_event', 'qr_codes', ARRAY['event_id', 'replaced_by'], 'qr_event', 'qr_codes', ARRAY['event_id', 'id']);
-- an unknown scan matched no code, so it names no row: no foreign key (expected_event_id is
-- what the scanner said, kept even when that event is gone)
SELECT hasnt_fk('qr_event', 'qr_unknown_scans', 'qr_unknown_scans references nothing');

SELECT is((SELECT count(*)::int FROM pg_constraint
           WHERE connamespace = 'qr_event'::regnamespace AND contype = 'f'), 16,
          'there are no other foreign keys');

-- what a delete does: cascade within an event, keep the audit
SELECT set_eq($$
    SELECT conname::text, confdeltype::text,
           coalesce((SELECT string_agg(a.attname, ',') FROM unnest(c.confdelsetcols) AS k
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k), '')
    FROM pg_constraint c
    WHERE connamespace = 'qr_event'::regnamespace AND contype = 'f'
$$, $$ VALUES
    ('events_owner_id_fkey', 'a', ''),
    ('event_staff_event_id_fkey', 'c', ''),
    ('event_staff_account_id_fkey', 'c', ''),
    ('families_event_id_fkey', 'c', ''),
    ('guests_event_id_fkey', 'c', ''),
    ('guests_family_fkey', 'n', 'family_id'),
    ('games_event_id_fkey', 'c', ''),
    ('game_participations_game_fkey', 'c', ''),
    ('game_participations_guest_fkey', 'c', ''),
    ('game_participations_family_fkey', 'c', ''),
    ('qr_codes_guest_fkey', 'a', ''),
    ('qr_code_events_qr_code_fkey', 'a', ''),
    ('qr_codes_replaced_by_fkey', 'a', ''),
    ('leaderboard_scores_game_id_fkey', 'c', ''),
    ('leaderboard_buckets_game_id_fkey', 'c', ''),
    ('leaderboard_state_game_id_fkey', 'c', '')
$$, 'delete actions: cascade inside an event, SET NULL (family_id) for guests, no action for owners, QR codes and replacements');
SELECT is((SELECT ARRAY[confupdtype, confmatchtype]::text FROM pg_constraint
           WHERE conrelid = 'qr_event.qr_codes'::regclass AND conname = 'qr_codes_replaced_by_fkey'),
          '{a,s}', 'qr_codes_replaced_by_fkey: no action on update, MATCH SIMPLE (a NULL replaced_by references nothing)');

-- every per-event table carries its tenant
SELECT is_empty($$
    SELECT c.relname FROM pg_class c
    WHERE c.relnamespace = 'qr_event'::regnamespace AND c.relkind = 'r'
      AND c.relname NOT IN ('accounts', 'events', 'cursor_keys')
      -- unknown tokens belong to no code, hence to no known event (see hasnt_fk above)
      AND c.relname <> 'qr_unknown_scans'
      -- the rank structure is derived per game, keyed by game_id
      AND c.relname NOT LIKE 'leaderboard\_%'
      AND NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid
                      AND a.attname = 'event_id' AND a.attnotnull)
$$, 'every per-event table has a NOT NULL event_id');

-- a reference to a per-event table goes through (event_id, id), never id alone
SELECT is_empty($$
    SELECT c.conname FROM pg_constraint c
    WHERE c.connamespace = 'qr_event'::regnamespace AND c.contype = 'f'
      AND c.confrelid NOT IN ('qr_event.accounts'::regclass, 'qr_event.events'::regclass)
      AND cardinality(c.conkey) <> 2
      AND c.conrelid::regclass::text NOT LIKE 'qr_event.leaderboard\_%'
$$, 'foreign keys to per-event tables are composite');

-- the keys hold: a child cannot point into another event
INSERT INTO qr_event.accounts (email, password_hash, display_name)
VALUES ('tap-keys@example.com', '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Owner')
RETURNING id AS owner \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner, 'One', '2030-01-01', '2030-01-02') RETURNING id AS e1 \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner, 'Two', '2030-01-01', '2030-01-02') RETURNING id AS e2 \gset
INSERT INTO qr_event.families (event_id, name) VALUES (:e1, 'Ones') RETURNING id AS f1 \gset
INSERT INTO qr_event.families (event_id, name) VALUES (:e2, 'Twos') RETURNING id AS f2 \gset
INSERT INTO qr_event.games (event_id, title) VALUES (:e1, 'Quiz') RETURNING id AS q1 \gset
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:e1, 'Coded') RETURNING id AS g1 \gset
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:e2, 'Coded') RETURNING id AS g2 \gset
INSERT INTO qr_event.qr_codes (event_id, guest_id, token)
VALUES (:e1, :g1, 'tap_keys_token_one_0123') RETURNING id AS c1 \gset
INSERT INTO qr_event.qr_codes (event_id, guest_id, token)
VALUES (:e1, :g1, 'tap_keys_token_two_0123') RETURNING id AS c1b \gset
INSERT INTO qr_event.qr_codes (event_id, guest_id, token)
VALUES (:e2, :g2, 'tap_keys_token_three_01') RETURNING id AS c2 \gset
SELECT throws_ok(format('INSERT INTO qr_event.guests (event_id, family_id, first_name) VALUES (%s, %s, %L)',
                        :e1, :f2, 'Stray'),
                 '23503', NULL, 'a guest cannot join a family of another event');
SELECT lives_ok(format('INSERT INTO qr_event.guests (event_id, family_id, first_name) VALUES (%s, %s, %L)',
                       :e1, :f1, 'Home'),
                'a guest can join a family of its own event');
SELECT throws_ok(format('INSERT INTO qr_event.game_participations (event_id, game_id, family_id) VALUES (%s, %s, %s)',
                        :e1, :q1, :f2),
                 '23503', NULL, 'a family cannot play a game of another event');
SELECT throws_ok(format('INSERT INTO qr_event.game_participations (event_id, game_id, family_id) VALUES (%s, %s, %s)',
                        :e2, :q1, :f2),
                 '23503', NULL, 'a participation cannot claim another event than its game''s');
SELECT throws_ok(format('UPDATE qr_event.qr_codes SET status = %L, replaced_by = %s WHERE id = %s', 'replaced', :c2, :c1),
                 '23503', NULL, 'a QR code cannot be replaced by a code of another event');
SELECT lives_ok(format('UPDATE qr_event.qr_codes SET status = %L, replaced_by = %s WHERE id = %s', 'replaced', :c1b, :c1),
                'a QR code can be replaced by a code of its own event');

SELECT * FROM finish();
ROLLBACK;
