--
-- http_api: the REST functions qr_event.http_<route>(claims, params, body), called as the
-- gateway calls them (as qr_gateway_role); for each route its answer and every refusal
-- with its SQLSTATE, for anonymous callers, guests A and B, door staff of the event,
-- door staff of another event, organisers and the organiser of another event
--
SET TimeZone = 'UTC';
SET qr_event.password_iterations = 1000;

-- an answer as shown here: times, tokens, cursors, hashes and seq values (which vary)
-- reduced to a placeholder when set
CREATE FUNCTION pg_temp.masked(j jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    RETURN CASE jsonb_typeof(j)
        WHEN 'object' THEN (
            SELECT coalesce(jsonb_object_agg(k, CASE
                WHEN jsonb_typeof(v) = 'null' THEN v
                WHEN k IN ('created_at', 'updated_at', 'completed_at', 'occurred_at', 'recorded_at',
                           'issued_at', 'revoked_at', 'first_scan_at') THEN '"<time>"'
                WHEN k IN ('token', 'cursor', 'prevCursor', 'hash', 'prev_hash', 'seq') THEN to_jsonb('<' || k || '>')
                ELSE pg_temp.masked(v) END), '{}')
            FROM jsonb_each(j) AS e (k, v))
        WHEN 'array' THEN (
            SELECT coalesce(jsonb_agg(pg_temp.masked(v) ORDER BY n), '[]')
            FROM jsonb_array_elements(j) WITH ORDINALITY AS a (v, n))
        ELSE j END;
END
$$;
-- calls qr_event.http_<route> and reports the SQLSTATE (00000 on success), the message
-- and the masked answer
CREATE FUNCTION pg_temp.call(route text, claims jsonb, params jsonb, body jsonb DEFAULT NULL,
                             OUT code text, OUT message text, OUT result jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT qr_event.%I($1, $2, $3)', 'http_' || route) INTO result USING claims, params, body;
    result := pg_temp.masked(result);
    code := '00000';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END
$$;
-- a list reduced to the ids of its objects (participation#rank for leaderboards, versions
-- for histories) and its pagination
CREATE FUNCTION pg_temp.listed(route text, claims jsonb, params jsonb,
                               OUT code text, OUT message text, OUT ids text, OUT pagination jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    page jsonb;
BEGIN
    SELECT c.code, c.message, c.result INTO code, message, page FROM pg_temp.call(route, claims, params) AS c;
    ids := (SELECT string_agg(coalesce(e ->> 'id', (e ->> 'participation_id') || '#' || (e ->> 'rank'), e ->> 'version'), ',' ORDER BY n)
            FROM jsonb_array_elements(page -> 'data') WITH ORDINALITY AS a (e, n));
    pagination := (page -> 'pagination') || jsonb_build_object('count', page -> 'count');
END
$$;

-- fixed ids, so that answers are the same on every run
ALTER SEQUENCE qr_event.accounts_id_seq RESTART WITH 900001;
ALTER SEQUENCE qr_event.events_id_seq RESTART WITH 900001;
ALTER SEQUENCE qr_event.families_id_seq RESTART WITH 900001;
ALTER SEQUENCE qr_event.guests_id_seq RESTART WITH 900001;
ALTER SEQUENCE qr_event.games_id_seq RESTART WITH 900001;
ALTER SEQUENCE qr_event.game_participations_id_seq RESTART WITH 900001;
ALTER SEQUENCE qr_event.qr_codes_id_seq RESTART WITH 900001;

-- owner owns the Gala, helper organises it, door scans at it; other owns the Fair, where
-- fardoor scans; nobody works nowhere
SELECT qr_event.create_account('http-owner@example.com', 'owner password 1', 'Olive Owner', 'premium') AS owner,
       qr_event.create_account('http-helper@example.com', 'helper password 1', 'Hal Helper') AS helper,
       qr_event.create_account('http-door@example.com', 'door password 1', 'Dora Door') AS door,
       qr_event.create_account('http-other@example.com', 'other password 1', 'Otto Other') AS other,
       qr_event.create_account('http-fardoor@example.com', 'fardoor password 1', 'Fay Fardoor') AS fardoor,
       qr_event.create_account('http-nobody@example.com', 'nobody password 1', 'Ned Nobody') AS nobody \gset
-- the Gala's doors are open whenever the test runs
INSERT INTO qr_event.events (owner_id, name, venue, starts_at, ends_at)
VALUES (:owner, 'Gala', 'Hall', '2000-01-01 18:00+00', '2100-01-01 02:00+00') RETURNING id AS gala \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:other, 'Fair', '2000-01-02 10:00+00', '2100-01-02 18:00+00') RETURNING id AS fair \gset
INSERT INTO qr_event.event_staff (event_id, account_id, role)
VALUES (:gala, :helper, 'organizer'), (:gala, :door, 'staff'), (:fair, :fardoor, 'staff');
INSERT INTO qr_event.families (event_id, name) VALUES (:gala, 'Archer') RETURNING id AS archers \gset
INSERT INTO qr_event.families (event_id, name) VALUES (:fair, 'Cole') RETURNING id AS coles \gset
-- guest A (Ann, of the Archers) and guest B (Ben, no family) at the Gala; Cy at the Fair
INSERT INTO qr_event.guests (event_id, family_id, first_name, last_name) VALUES (:gala, :archers, 'Ann', 'Archer') RETURNING id AS ann \gset
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:gala, 'Ben') RETURNING id AS ben \gset
INSERT INTO qr_event.guests (event_id, family_id, first_name, last_name) VALUES (:fair, :coles, 'Cy', 'Cole') RETURNING id AS cy \gset
INSERT INTO qr_event.games (event_id, title, status, score_policy) VALUES (:gala, 'Quiz', 'live', 'sum') RETURNING id AS quiz \gset
INSERT INTO qr_event.games (event_id, title) VALUES (:gala, 'Darts') RETURNING id AS darts \gset
INSERT INTO qr_event.games (event_id, title, status) VALUES (:fair, 'Bingo', 'live') RETURNING id AS bingo \gset

-- the claims the gateway would pass for each caller (anonymous: NULL)
SELECT jsonb_build_object('sub', :'owner', 'role', 'organizer', 'tier', 'premium', 'event', NULL) AS c_owner,
       jsonb_build_object('sub', :'helper', 'role', 'organizer', 'tier', 'standard', 'event', NULL) AS c_helper,
       jsonb_build_object('sub', :'door', 'role', 'staff', 'tier', 'standard', 'event', NULL) AS c_door,
       jsonb_build_object('sub', :'other', 'role', 'organizer', 'tier', 'standard', 'event', NULL) AS c_other,
       jsonb_build_object('sub', :'fardoor', 'role', 'staff', 'tier', 'standard', 'event', NULL) AS c_fardoor,
       jsonb_build_object('sub', :'nobody', 'role', 'staff', 'tier', 'standard', 'event', NULL) AS c_nobody,
       jsonb_build_object('sub', :'ann', 'role', 'guest', 'tier', 'standard', 'event', :gala) AS c_ann,
       jsonb_build_object('sub', :'ben', 'role', 'guest', 'tier', 'standard', 'event', :gala) AS c_ben,
       jsonb_build_object('sub', :'cy', 'role', 'guest', 'tier', 'standard', 'event', :fair) AS c_cy,
       jsonb_build_object('id', :'gala') AS p_gala, jsonb_build_object('id', :'fair') AS p_fair,
       '{"id": "999999999"}' AS p_missing \gset

-- ---------------------------------------------------------------------------
-- http_snake_keys: top-level keys only, values untouched
-- ---------------------------------------------------------------------------
SELECT qr_event.http_snake_keys('{"guestId": 1, "firstScanAt": "x", "reason": "ok", "already_snake": 2,
    "replacedBy": {"innerKey": 3}, "v2Token": 4, "ABC": 5}') AS snake,
       qr_event.http_snake_keys('{}') AS empty;

-- ---------------------------------------------------------------------------
-- verify_password, against hashes made by create_account
-- ---------------------------------------------------------------------------
SELECT password_hash AS owner_hash FROM qr_event.accounts WHERE id = :owner \gset
SELECT qr_event.verify_password('owner password 1', :'owner_hash') AS right_password,
       qr_event.verify_password('owner password 2', :'owner_hash') AS wrong_password,
       qr_event.verify_password('', :'owner_hash') AS empty_password,
       qr_event.verify_password(NULL, :'owner_hash') AS null_password,
       qr_event.verify_password('owner password 1', NULL) AS null_hash;
-- another iteration count: each hash carries its own
SET qr_event.password_iterations = 2345;
SELECT qr_event.create_account('http-iter@example.com', 'iteration password', 'Ida Iter') AS iter \gset
SET qr_event.password_iterations = 1000;
SELECT split_part(password_hash, '$', 3) AS iterations,
       qr_event.verify_password('iteration password', password_hash) AS right_password,
       qr_event.verify_password('iteration passworD', password_hash) AS wrong_password
FROM qr_event.accounts WHERE id = :iter;
-- a malformed hash is false, never an error
SELECT h.label, qr_event.verify_password('owner password 1', h.hash) AS verified
FROM (VALUES
    ('the hash itself', :'owner_hash'),
    ('another algorithm', replace(:'owner_hash', 'pbkdf2-sha256', 'pbkdf2-sha512')),
    ('other iterations', replace(:'owner_hash', 'i=1000', 'i=1001')),
    ('leading zero', replace(:'owner_hash', 'i=1000', 'i=01000')),
    ('too few iterations', replace(:'owner_hash', 'i=1000', 'i=999')),
    ('nine digits', replace(:'owner_hash', 'i=1000', 'i=100000000')),
    ('short salt', regexp_replace(:'owner_hash', '^(.*)[A-Za-z0-9+/](\$[A-Za-z0-9+/]{43})$', '\1\2')),
    ('long key', :'owner_hash' || 'A'),
    ('padded key', :'owner_hash' || '='),
    ('bad character', regexp_replace(:'owner_hash', '.$', '!')),
    ('other key', regexp_replace(:'owner_hash', '[A-Za-z0-9+/]{43}$', repeat('A', 43))),
    ('empty', ''),
    ('garbage', 'not a hash at all')) AS h (label, hash);
-- an unknown email (NULL hash) still costs a key derivation of the current iteration count
SET qr_event.password_iterations = 400000;
SELECT clock_timestamp() AS t0 \gset
SELECT qr_event.verify_password('some password', NULL) AS verified;
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '20 ms' AS dummy_derivation_took_time;
SET qr_event.password_iterations = 1000;

-- ---------------------------------------------------------------------------
-- every REST function runs as the gateway
-- ---------------------------------------------------------------------------
SET ROLE qr_gateway_role;

-- login: the claims the gateway signs; role organizer for owners and organisers
SELECT c.* FROM pg_temp.call('login', NULL, '{}', '{"email": "http-owner@example.com", "password": "owner password 1"}') AS c;
SELECT c.result -> 'data' ->> 'sub' = :'owner' AS sub_is_the_account
FROM pg_temp.call('login', NULL, '{}', '{"email": "  HTTP-Owner@Example.com ", "password": "owner password 1"}') AS c;
SELECT a.who, c.code, c.result -> 'data' ->> 'role' AS role, c.result -> 'data' ->> 'tier' AS tier,
       c.result -> 'data' ->> 'display_name' AS display_name
FROM (VALUES ('helper', 'http-helper@example.com', 'helper password 1'),
             ('door', 'http-door@example.com', 'door password 1'),
             ('other', 'http-other@example.com', 'other password 1'),
             ('fardoor', 'http-fardoor@example.com', 'fardoor password 1'),
             ('nobody', 'http-nobody@example.com', 'nobody password 1')) AS a (who, email, password),
     pg_temp.call('login', NULL, '{}', jsonb_build_object('email', a.email, 'password', a.password)) AS c;
-- one answer for a wrong password and an unknown email
SELECT b.label, c.code, c.message
FROM (VALUES
    ('wrong password', '{"email": "http-owner@example.com", "password": "owner password 2"}'::jsonb),
    ('unknown email', '{"email": "nobody-at-all@example.com", "password": "owner password 1"}'),
    ('another account''s password', '{"email": "http-owner@example.com", "password": "door password 1"}'),
    ('missing password', '{"email": "http-owner@example.com"}'),
    ('null email', '{"email": null, "password": "x"}'),
    ('unknown field', '{"email": "http-owner@example.com", "password": "owner password 1", "tier": "premium"}'),
    ('email not a string', '{"email": 42, "password": "owner password 1"}'),
    ('body not an object', '["http-owner@example.com", "owner password 1"]'),
    ('no body', NULL)) AS b (label, body),
     pg_temp.call('login', NULL, '{}', b.body) AS c;

-- ---------------------------------------------------------------------------
-- events
-- ---------------------------------------------------------------------------
-- who sees which events
SELECT a.who, l.* FROM (VALUES
    ('anonymous', NULL::jsonb), ('guest A', :'c_ann'), ('owner', :'c_owner'), ('helper', :'c_helper'),
    ('door', :'c_door'), ('other', :'c_other'), ('fardoor', :'c_fardoor'), ('nobody', :'c_nobody')) AS a (who, claims),
    pg_temp.listed('list_events', a.claims, '{}') AS l;
SELECT c.result -> 'data' -> 0 AS door_sees FROM pg_temp.call('list_events', :'c_door', '{}') AS c;
-- claims that name no account
SELECT a.label, c.code, c.message FROM (VALUES
    ('JSON null', 'null'::jsonb),
    ('no sub', '{"role": "staff"}'),
    ('sub not an id', '{"sub": "x1", "role": "staff"}'),
    ('unknown role', jsonb_build_object('sub', :'owner', 'role', 'admin')),
    ('deleted account', '{"sub": "999999999", "role": "organizer"}')) AS a (label, claims),
    pg_temp.call('list_events', a.claims, '{}') AS c;

-- create: the caller owns the new event; 201 with it
SELECT c.* FROM pg_temp.call('create_event', :'c_door', '{}',
    '{"name": "Picnic", "venue": "Park", "starts_at": "2030-08-01T11:00:00+02:00", "ends_at": "2030-08-01 17:00Z"}') AS c;
SELECT b.label, c.code, c.message FROM (VALUES
    ('owner_id (mass assignment)', '{"name": "X", "starts_at": "2030-08-01T11:00Z", "ends_at": "2030-08-01T12:00Z", "owner_id": 1}'::jsonb),
    ('id', '{"id": 5, "name": "X", "starts_at": "2030-08-01T11:00Z", "ends_at": "2030-08-01T12:00Z"}'),
    ('missing name', '{"starts_at": "2030-08-01T11:00Z", "ends_at": "2030-08-01T12:00Z"}'),
    ('missing ends_at', '{"name": "X", "starts_at": "2030-08-01T11:00Z"}'),
    ('name not a string', '{"name": 7, "starts_at": "2030-08-01T11:00Z", "ends_at": "2030-08-01T12:00Z"}'),
    ('not a timestamp', '{"name": "X", "starts_at": "soon", "ends_at": "2030-08-01T12:00Z"}'),
    ('timestamp as a number', '{"name": "X", "starts_at": 1, "ends_at": "2030-08-01T12:00Z"}'),
    ('ends before it starts', '{"name": "X", "starts_at": "2030-08-01T11:00Z", "ends_at": "2030-08-01T10:00Z"}'),
    ('blank name', '{"name": " ", "starts_at": "2030-08-01T11:00Z", "ends_at": "2030-08-01T12:00Z"}'),
    ('no body', NULL)) AS b (label, body),
    pg_temp.call('create_event', :'c_owner', '{}', b.body) AS c;
SELECT a.who, c.code, c.message FROM (VALUES ('anonymous', NULL::jsonb), ('guest A', :'c_ann')) AS a (who, claims),
    pg_temp.call('create_event', a.claims, '{}', '{"name": "X", "starts_at": "2030-08-01T11:00Z", "ends_at": "2030-08-01T12:00Z"}') AS c;

-- pages of a list: limit and cursor
SELECT c.result #>> '{pagination,cursor}' AS door_cursor
FROM (SELECT qr_event.http_list_events(:'c_door', '{"limit": "1"}', NULL) AS result) AS c \gset
SELECT l.* FROM pg_temp.listed('list_events', :'c_door', '{"limit": "1"}') AS l;
SELECT l.* FROM pg_temp.listed('list_events', :'c_door', jsonb_build_object('limit', '1', 'cursor', :'door_cursor')) AS l;
SELECT p.label, c.code, c.message FROM (VALUES
    ('limit 0', '{"limit": "0"}'::jsonb),
    ('limit -1', '{"limit": "-1"}'),
    ('limit abc', '{"limit": "abc"}'),
    ('limit 1.5', '{"limit": "1.5"}'),
    ('limit 10 digits', '{"limit": "1000000000"}'),
    ('limit over the maximum', '{"limit": "101"}'),
    ('limit a number', '{"limit": 5}'),
    ('cursor garbage', '{"cursor": "garbage"}'),
    ('cursor empty', '{"cursor": ""}'),
    ('another caller''s cursor', jsonb_build_object('cursor', :'door_cursor'))) AS p (label, params),
    pg_temp.call('list_events', :'c_owner', p.params) AS c;

-- one event: staff of the event only; anyone else as for a missing event
SELECT a.who, c.code, c.message, c.result -> 'data' ->> 'role' AS role, c.result -> 'data' ->> 'name' AS name
FROM (VALUES
    ('anonymous', NULL::jsonb, :'p_gala'::jsonb), ('guest A', :'c_ann', :'p_gala'),
    ('owner', :'c_owner', :'p_gala'), ('helper', :'c_helper', :'p_gala'), ('door', :'c_door', :'p_gala'),
    ('fardoor', :'c_fardoor', :'p_gala'), ('other', :'c_other', :'p_gala'), ('nobody', :'c_nobody', :'p_gala'),
    ('owner, missing event', :'c_owner', :'p_missing'), ('owner, id abc', :'c_owner', '{"id": "abc"}'),
    ('owner, no id', :'c_owner', '{}')) AS a (who, claims, params),
    pg_temp.call('get_event', a.claims, a.params) AS c;
SELECT c.* FROM pg_temp.call('get_event', :'c_owner', :'p_gala') AS c;

-- ---------------------------------------------------------------------------
-- guests, families, games of an event
-- ---------------------------------------------------------------------------
SELECT a.who, r.route, l.* FROM (VALUES
    ('anonymous', NULL::jsonb, :'p_gala'::jsonb), ('guest A', :'c_ann', :'p_gala'),
    ('owner', :'c_owner', :'p_gala'), ('helper', :'c_helper', :'p_gala'), ('door', :'c_door', :'p_gala'),
    ('fardoor', :'c_fardoor', :'p_gala'), ('other', :'c_other', :'p_gala'),
    ('other, own event', :'c_other', :'p_fair'), ('owner, missing event', :'c_owner', :'p_missing')) AS a (who, claims, params),
    (VALUES ('list_guests'), ('list_families')) AS r (route),
    pg_temp.listed(r.route, a.claims, a.params) AS l
ORDER BY r.route, a.who COLLATE "C";
SELECT l.* FROM pg_temp.listed('list_guests', :'c_owner', :'p_gala'::jsonb || '{"limit": "1"}') AS l;
SELECT c.code, c.message FROM pg_temp.call('list_guests', :'c_owner', :'p_gala'::jsonb || '{"limit": "x"}') AS c;

-- add a guest or a family: organisers of the event; 201 with the new row
SELECT c.* FROM pg_temp.call('add_guest', :'c_helper', :'p_gala',
    jsonb_build_object('first_name', 'Dee', 'last_name', 'Dune', 'email', 'dee@example.com', 'family_id', :archers)) AS c;
SELECT c.* FROM pg_temp.call('add_family', :'c_owner', :'p_gala', '{"name": "Baker"}') AS c;
SELECT a.who, r.route, c.code, c.message FROM (VALUES
    ('anonymous', NULL::jsonb, :'p_gala'::jsonb), ('guest A', :'c_ann', :'p_gala'), ('door', :'c_door', :'p_gala'),
    ('fardoor', :'c_fardoor', :'p_gala'), ('other', :'c_other', :'p_gala'),
    ('owner, missing event', :'c_owner', :'p_missing')) AS a (who, claims, params),
    (VALUES ('add_guest', '{"first_name": "Eve"}'::jsonb), ('add_family', '{"name": "Eve"}')) AS r (route, body),
    pg_temp.call(r.route, a.claims, a.params, r.body) AS c
ORDER BY r.route, a.who COLLATE "C";
SELECT b.label, c.code, c.message FROM (VALUES
    ('event_id (mass assignment)', jsonb_build_object('first_name', 'Eve', 'event_id', :fair)),
    ('id', '{"first_name": "Eve", "id": 1}'),
    ('missing first_name', '{"last_name": "Eve"}'),
    ('family of another event', jsonb_build_object('first_name', 'Eve', 'family_id', :coles)),
    ('family_id a string', jsonb_build_object('first_name', 'Eve', 'family_id', :'archers')),
    ('family_id a fraction', '{"first_name": "Eve", "family_id": 1.5}'),
    ('bad email', '{"first_name": "Eve", "email": "eve"}'),
    ('first_name an object', '{"first_name": {"x": 1}}')) AS b (label, body),
    pg_temp.call('add_guest', :'c_owner', :'p_gala', b.body) AS c;
SELECT c.code, c.message FROM pg_temp.call('add_family', :'c_owner', :'p_gala', '{"name": "X", "event_id": 1}') AS c;

-- games: the list is public, adding is for organisers
SELECT a.who, l.* FROM (VALUES
    ('anonymous', NULL::jsonb, :'p_gala'::jsonb), ('guest B', :'c_ben', :'p_gala'), ('other', :'c_other', :'p_gala'),
    ('anonymous, Fair', NULL, :'p_fair'), ('anonymous, missing event', NULL, :'p_missing'),
    ('malformed claims', '"x"', :'p_gala')) AS a (who, claims, params),
    pg_temp.listed('list_games', a.claims, a.params) AS l;
SELECT c.* FROM pg_temp.call('add_game', :'c_owner', :'p_gala', '{"title": "Chess"}') AS c;
SELECT c.result -> 'data' ->> 'score_policy' AS score_policy
FROM pg_temp.call('add_game', :'c_helper', :'p_gala', '{"title": "Golf", "score_policy": "latest"}') AS c;
SELECT a.who, c.code, c.message FROM (VALUES
    ('anonymous', NULL::jsonb, :'p_gala'::jsonb), ('guest A', :'c_ann', :'p_gala'), ('door', :'c_door', :'p_gala'),
    ('other', :'c_other', :'p_gala'), ('owner, missing event', :'c_owner', :'p_missing')) AS a (who, claims, params),
    pg_temp.call('add_game', a.claims, a.params, '{"title": "X"}') AS c;
SELECT b.label, c.code, c.message FROM (VALUES
    ('status (mass assignment)', '{"title": "X", "status": "live"}'::jsonb),
    ('missing title', '{"score_policy": "best"}'),
    ('unknown policy', '{"title": "X", "score_policy": "max"}'),
    ('policy not a string', '{"title": "X", "score_policy": true}')) AS b (label, body),
    pg_temp.call('add_game', :'c_owner', :'p_gala', b.body) AS c;

-- ---------------------------------------------------------------------------
-- QR codes
-- ---------------------------------------------------------------------------
-- issue: organisers of the guest's event; 201 with the code
SELECT c.* FROM pg_temp.call('issue_qr', :'c_owner', jsonb_build_object('id', :'gala', 'guest_id', :'ann')) AS c;
SELECT token AS ann_token FROM qr_event.qr_codes WHERE guest_id = :ann \gset
SELECT qr_event.http_issue_qr(:'c_helper', jsonb_build_object('id', :'gala', 'guest_id', :'ben'), '{}') #>> '{data,token}' AS ben_token \gset
SELECT :'ben_token' = (SELECT token FROM qr_event.qr_codes WHERE guest_id = :ben) AS answers_the_token;
SELECT qr_event.http_issue_qr(:'c_other', jsonb_build_object('id', :'fair', 'guest_id', :'cy'), NULL) #>> '{data,token}' AS cy_token \gset
SELECT a.who, c.code, c.message FROM (VALUES
    ('anonymous', NULL::jsonb, jsonb_build_object('id', :'gala', 'guest_id', :'ben'), NULL::jsonb),
    ('guest B', :'c_ben', jsonb_build_object('id', :'gala', 'guest_id', :'ben'), NULL),
    ('door', :'c_door', jsonb_build_object('id', :'gala', 'guest_id', :'ben'), NULL),
    ('other', :'c_other', jsonb_build_object('id', :'gala', 'guest_id', :'ben'), NULL),
    ('other, own event', :'c_other', jsonb_build_object('id', :'fair', 'guest_id', :'ben'), NULL),
    ('owner, guest of another event', :'c_owner', jsonb_build_object('id', :'gala', 'guest_id', :'cy'), NULL),
    ('owner, missing guest', :'c_owner', jsonb_build_object('id', :'gala', 'guest_id', '999999999'), NULL),
    ('owner, no guest_id', :'c_owner', jsonb_build_object('id', :'gala'), NULL),
    ('owner, a body field', :'c_owner', jsonb_build_object('id', :'gala', 'guest_id', :'ben'), '{"token": "mine"}')
    ) AS a (who, claims, params, body),
    pg_temp.call('issue_qr', a.claims, a.params, a.body) AS c;

-- guest sign-in with an active code
SELECT c.* FROM pg_temp.call('guest_login', NULL, '{}', jsonb_build_object('qr_token', :'ann_token')) AS c;
SELECT c.result -> 'data' ->> 'sub' = :'ben' AS ben_signed_in, c.result -> 'data' -> 'event' = to_jsonb(:gala) AS of_the_gala
FROM pg_temp.call('guest_login', NULL, '{}', jsonb_build_object('qr_token', :'ben_token')) AS c;

-- scan: staff at the door
SELECT c.* FROM pg_temp.call('scan_qr', :'c_door', jsonb_build_object('token', :'ann_token'), '{"gate": "North", "device": "s-1"}') AS c;
SELECT c.result -> 'data' ->> 'guest_id' = :'ann' AS names_the_guest
FROM pg_temp.call('scan_qr', :'c_helper', jsonb_build_object('token', :'ann_token'), '{"gate": "South"}') AS c;
SELECT a.who, c.code, c.message, c.result -> 'data' ->> 'reason' AS reason FROM (VALUES
    ('anonymous', NULL::jsonb, jsonb_build_object('token', :'ann_token'), '{"gate": "North"}'::jsonb),
    ('guest A', :'c_ann', jsonb_build_object('token', :'ann_token'), '{"gate": "North"}'),
    ('owner again', :'c_owner', jsonb_build_object('token', :'ann_token'), '{"gate": "North"}'),
    ('fardoor (their own door)', :'c_fardoor', jsonb_build_object('token', :'ann_token'), '{"gate": "Fair gate"}'),
    ('nobody', :'c_nobody', jsonb_build_object('token', :'ann_token'), '{"gate": "North"}'),
    ('door, unknown token', :'c_door', '{"token": "an-unknown-token-of-22-chars"}', '{"gate": "North"}'),
    ('door, malformed token', :'c_door', '{"token": "short"}', '{"gate": "North"}'),
    ('door, token with a slash', :'c_door', '{"token": "an/unknown/token/of/22/chars"}', '{"gate": "North"}'),
    ('door, no token', :'c_door', '{}', '{"gate": "North"}'),
    ('door, missing gate', :'c_door', jsonb_build_object('token', :'ann_token'), '{"device": "s-1"}'),
    ('door, no body', :'c_door', jsonb_build_object('token', :'ann_token'), NULL),
    ('door, empty gate', :'c_door', jsonb_build_object('token', :'ann_token'), '{"gate": ""}'),
    ('door, gate a number', :'c_door', jsonb_build_object('token', :'ann_token'), '{"gate": 1}'),
    ('door, unknown field', :'c_door', jsonb_build_object('token', :'ann_token'), '{"gate": "North", "event_id": 1}')
    ) AS a (who, claims, params, body),
    pg_temp.call('scan_qr', a.claims, a.params, a.body) AS c;

-- a used code still signs its guest in
SELECT c.code, c.result -> 'data' ->> 'sub' = :'ann' AS ann_signed_in
FROM pg_temp.call('guest_login', NULL, '{}', jsonb_build_object('qr_token', :'ann_token')) AS c;

-- history: staff of the code's event
SELECT l.* FROM pg_temp.listed('qr_history', :'c_door', jsonb_build_object('token', :'ann_token', 'limit', '2')) AS l;
SELECT c.result -> 'data' -> 0 AS first_event
FROM pg_temp.call('qr_history', :'c_owner', jsonb_build_object('token', :'ann_token')) AS c;
SELECT a.who, c.code, c.message FROM (VALUES
    ('anonymous', NULL::jsonb, jsonb_build_object('token', :'ann_token')),
    ('guest A', :'c_ann', jsonb_build_object('token', :'ann_token')),
    ('fardoor', :'c_fardoor', jsonb_build_object('token', :'ann_token')),
    ('other', :'c_other', jsonb_build_object('token', :'ann_token')),
    ('door, unknown token', :'c_door', '{"token": "an-unknown-token-of-22-chars"}'),
    ('door, malformed token', :'c_door', '{"token": "a b"}'),
    ('door, limit 0', :'c_door', jsonb_build_object('token', :'ann_token', 'limit', '0')),
    ('door, bad cursor', :'c_door', jsonb_build_object('token', :'ann_token', 'cursor', 'AAAA'))) AS a (who, claims, params),
    pg_temp.call('qr_history', a.claims, a.params) AS c;

-- revoke: organisers of the code's event
SELECT a.who, c.code, c.message FROM (VALUES
    ('anonymous', NULL::jsonb, '{}'::jsonb), ('guest B', :'c_ben', '{}'), ('door', :'c_door', '{}'),
    ('other', :'c_other', '{}'), ('helper, unknown field', :'c_helper', '{"reason": "x", "status": "active"}'),
    ('helper, empty reason', :'c_helper', '{"reason": ""}')) AS a (who, claims, body),
    pg_temp.call('revoke_qr', a.claims, jsonb_build_object('token', :'ben_token'), a.body) AS c;
SELECT c.* FROM pg_temp.call('revoke_qr', :'c_helper', jsonb_build_object('token', :'ben_token'), '{"reason": "lost"}') AS c;
SELECT c.code, c.message FROM pg_temp.call('revoke_qr', :'c_owner', jsonb_build_object('token', :'ben_token'), NULL) AS c;
SELECT c.code, c.message FROM pg_temp.call('revoke_qr', :'c_owner', '{"token": "an-unknown-token-of-22-chars"}', NULL) AS c;

-- re-issuing replaces the guest's live code
SELECT c.code, c.result -> 'data' ->> 'reissued' AS reissued, c.result -> 'data' ->> 'status' AS status
FROM pg_temp.call('issue_qr', :'c_owner', jsonb_build_object('id', :'gala', 'guest_id', :'ann')) AS c;
SELECT token AS ann_new_token FROM qr_event.qr_codes WHERE guest_id = :ann AND status = 'active' \gset

-- guest sign-in: active and used codes only, one answer for the rest
SELECT b.label, c.code, c.message, c.result -> 'data' ->> 'display_name' AS display_name FROM (VALUES
    ('new code', jsonb_build_object('qr_token', :'ann_new_token')),
    ('replaced code', jsonb_build_object('qr_token', :'ann_token')),
    ('revoked code', jsonb_build_object('qr_token', :'ben_token')),
    ('unknown code', '{"qr_token": "an-unknown-token-of-22-chars"}'),
    ('not a token', '{"qr_token": "?"}'),
    ('code of the Fair', jsonb_build_object('qr_token', :'cy_token')),
    ('missing qr_token', '{}'),
    ('qr_token a number', '{"qr_token": 12}'),
    ('unknown field', jsonb_build_object('qr_token', :'ann_new_token', 'role', 'organizer'))) AS b (label, body),
    pg_temp.call('guest_login', NULL, '{}', b.body) AS c;

-- ---------------------------------------------------------------------------
-- stats: organisers
-- ---------------------------------------------------------------------------
SELECT c.* FROM pg_temp.call('event_stats', :'c_helper', :'p_gala') AS c;
SELECT a.who, c.code, c.message FROM (VALUES
    ('anonymous', NULL::jsonb, :'p_gala'::jsonb), ('guest A', :'c_ann', :'p_gala'), ('door', :'c_door', :'p_gala'),
    ('fardoor', :'c_fardoor', :'p_gala'), ('other', :'c_other', :'p_gala'),
    ('owner, missing event', :'c_owner', :'p_missing')) AS a (who, claims, params),
    pg_temp.call('event_stats', a.claims, a.params) AS c;

-- ---------------------------------------------------------------------------
-- play: guests only, in games of their event
-- ---------------------------------------------------------------------------
SELECT c.* FROM pg_temp.call('play', :'c_ann', jsonb_build_object('id', :'quiz'), '{"score": 40, "completed": true}') AS c;
SELECT c.* FROM pg_temp.call('play', :'c_ann', jsonb_build_object('id', :'quiz'), '{"score": 25, "completed": true, "for_family": true}') AS c;
SELECT c.code, c.result -> 'data' ->> 'total_score' AS total_score, c.result -> 'data' ->> 'is_completed' AS is_completed
FROM pg_temp.call('play', :'c_ben', jsonb_build_object('id', :'quiz'), '{"score": 30, "for_family": false}') AS c;
SELECT c.code, c.result -> 'data' ->> 'total_score' AS total_score, c.result -> 'data' ->> 'is_completed' AS is_completed
FROM pg_temp.call('play', :'c_ben', jsonb_build_object('id', :'quiz'), '{"score": 10, "completed": true}') AS c;
SELECT c.code, c.result -> 'data' ->> 'total_score' AS total_score
FROM pg_temp.call('play', :'c_cy', jsonb_build_object('id', :'bingo'), '{"score": 40, "completed": true}') AS c;
SELECT a.who, c.code, c.message FROM (VALUES
    ('anonymous', NULL::jsonb, jsonb_build_object('id', :'quiz'), '{"score": 1}'::jsonb),
    ('owner', :'c_owner', jsonb_build_object('id', :'quiz'), '{"score": 1}'),
    ('door', :'c_door', jsonb_build_object('id', :'quiz'), '{"score": 1}'),
    ('guest B for a family', :'c_ben', jsonb_build_object('id', :'quiz'), '{"score": 1, "for_family": true}'),
    ('guest C in the Gala''s game', :'c_cy', jsonb_build_object('id', :'quiz'), '{"score": 1}'),
    ('guest A in the Fair''s game', :'c_ann', jsonb_build_object('id', :'bingo'), '{"score": 1}'),
    ('guest A, missing game', :'c_ann', '{"id": "999999999"}', '{"score": 1}'),
    ('guest A, draft game', :'c_ann', jsonb_build_object('id', :'darts'), '{"score": 1}'),
    ('guest A, missing score', :'c_ann', jsonb_build_object('id', :'quiz'), '{"completed": true}'),
    ('guest A, no body', :'c_ann', jsonb_build_object('id', :'quiz'), NULL),
    ('guest A, score a string', :'c_ann', jsonb_build_object('id', :'quiz'), '{"score": "10"}'),
    ('guest A, score a fraction', :'c_ann', jsonb_build_object('id', :'quiz'), '{"score": 1.5}'),
    ('guest A, negative score', :'c_ann', jsonb_build_object('id', :'quiz'), '{"score": -1}'),
    ('guest A, huge score', :'c_ann', jsonb_build_object('id', :'quiz'), '{"score": 99999999999999999999}'),
    ('guest A, completed a string', :'c_ann', jsonb_build_object('id', :'quiz'), '{"score": 1, "completed": "yes"}'),
    ('guest A, guest_id (mass assignment)', :'c_ann', jsonb_build_object('id', :'quiz'), jsonb_build_object('score', 1, 'guest_id', :ben)),
    ('guest A, family_id', :'c_ann', jsonb_build_object('id', :'quiz'), jsonb_build_object('score', 1, 'family_id', :archers)),
    ('guest A claiming the Fair', jsonb_build_object('sub', :'ann', 'role', 'guest', 'event', :fair), jsonb_build_object('id', :'bingo'), '{"score": 1}'),
    ('deleted guest', jsonb_build_object('sub', '999999999', 'role', 'guest', 'event', :gala), jsonb_build_object('id', :'quiz'), '{"score": 1}'),
    ('guest without event', jsonb_build_object('sub', :'ann', 'role', 'guest'), jsonb_build_object('id', :'quiz'), '{"score": 1}')
    ) AS a (who, claims, params, body),
    pg_temp.call('play', a.claims, a.params, a.body) AS c;

-- ---------------------------------------------------------------------------
-- leaderboards: public
-- ---------------------------------------------------------------------------
SELECT c.* FROM pg_temp.call('leaderboard', NULL, jsonb_build_object('id', :'quiz', 'limit', '2')) AS c;
SELECT (c.result #>> '{pagination,cursor}') = (c.result #>> '{data,1,cursor}') AS cursor_is_the_last_rows,
       c.result #>> '{pagination,cursor}' AS lb_cursor
FROM (SELECT qr_event.http_leaderboard(NULL, jsonb_build_object('id', :'quiz', 'limit', '2'), NULL) AS result) AS c \gset
SELECT :'cursor_is_the_last_rows' AS cursor_is_the_last_rows;
SELECT l.* FROM pg_temp.listed('leaderboard', NULL, jsonb_build_object('id', :'quiz', 'limit', '2', 'cursor', :'lb_cursor')) AS l;
SELECT a.who, l.* FROM (VALUES
    ('guest C, dense', :'c_cy'::jsonb, jsonb_build_object('id', :'quiz', 'rank_mode', 'dense')),
    ('other, all', :'c_other', jsonb_build_object('id', :'quiz')),
    ('anonymous, draft game', NULL, jsonb_build_object('id', :'darts'))) AS a (who, claims, params),
    pg_temp.listed('leaderboard', a.claims, a.params) AS l;
SELECT a.label, c.code, c.message FROM (VALUES
    ('missing game', '{"id": "999999999"}'::jsonb),
    ('id abc', '{"id": "abc"}'),
    ('rank_mode best', jsonb_build_object('id', :'quiz', 'rank_mode', 'best')),
    ('rank_mode a number', jsonb_build_object('id', :'quiz', 'rank_mode', 1)),
    ('limit 0', jsonb_build_object('id', :'quiz', 'limit', '0')),
    ('limit 101', jsonb_build_object('id', :'quiz', 'limit', '101')),
    ('tampered cursor', jsonb_build_object('id', :'quiz', 'cursor', 'x' || :'lb_cursor')),
    ('cursor of another game', jsonb_build_object('id', :'bingo', 'cursor', :'lb_cursor')),
    ('cursor of another list', jsonb_build_object('id', :'quiz', 'cursor', :'door_cursor'))) AS a (label, params),
    pg_temp.call('leaderboard', NULL, a.params) AS c;

-- one participation: its rank and neighbours
SELECT id AS ann_play FROM qr_event.game_participations WHERE guest_id = :ann AND game_id = :quiz \gset
SELECT id AS cy_play FROM qr_event.game_participations WHERE guest_id = :cy AND game_id = :bingo \gset
SELECT c.* FROM pg_temp.call('leaderboard_entry', NULL, jsonb_build_object('id', :'quiz', 'participation_id', :'ann_play', 'radius', '1')) AS c;
SELECT c.result #> '{data,rank}' AS rank, jsonb_array_length(c.result #> '{data,around}') AS around
FROM pg_temp.call('leaderboard_entry', :'c_ben', jsonb_build_object('id', :'quiz', 'participation_id', :'ann_play', 'rank_mode', 'ordinal')) AS c;
SELECT a.label, c.code, c.message FROM (VALUES
    ('missing game', jsonb_build_object('id', '999999999', 'participation_id', :'ann_play')),
    ('participation of another game', jsonb_build_object('id', :'quiz', 'participation_id', :'cy_play')),
    ('missing participation', jsonb_build_object('id', :'quiz', 'participation_id', '999999999')),
    ('radius x', jsonb_build_object('id', :'quiz', 'participation_id', :'ann_play', 'radius', 'x')),
    ('radius -1', jsonb_build_object('id', :'quiz', 'participation_id', :'ann_play', 'radius', '-1')),
    ('radius 51', jsonb_build_object('id', :'quiz', 'participation_id', :'ann_play', 'radius', '51')),
    ('rank_mode best', jsonb_build_object('id', :'quiz', 'participation_id', :'ann_play', 'rank_mode', 'best')),
    ('no participation_id', jsonb_build_object('id', :'quiz'))) AS a (label, params),
    pg_temp.call('leaderboard_entry', NULL, a.params) AS c;
RESET ROLE;
-- a participation that is not completed has no rank
UPDATE qr_event.game_participations SET is_completed = false, completed_at = NULL WHERE id = :ann_play;
SELECT c.code, c.message FROM pg_temp.call('leaderboard_entry', NULL, jsonb_build_object('id', :'quiz', 'participation_id', :'ann_play')) AS c;

-- ---------------------------------------------------------------------------
-- only the gateway may call them
-- ---------------------------------------------------------------------------
SELECT p.oid::regprocedure AS function,
       has_function_privilege('qr_gateway_role', p.oid, 'EXECUTE') AS gateway,
       has_function_privilege('qr_analyst', p.oid, 'EXECUTE') AS analyst,
       EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS public,
       p.prosecdef AS security_definer, p.proconfig AS settings
FROM pg_proc p
WHERE p.pronamespace = 'qr_event'::regnamespace AND (p.proname LIKE 'http\_%' OR p.proname = 'verify_password')
ORDER BY p.proname COLLATE "C";
