--
-- lists: the JSON lists of the REST API (events, guests, families, games): their
-- shape, paging through them, and who may see what
--
CREATE FUNCTION pg_temp.outcome(sql text, OUT code text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    code := '00000';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END
$$;
-- a page as shown here: cursors (random under each secret) reduced to whether they are set
CREATE FUNCTION pg_temp.shown(page jsonb) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_set(jsonb_set(page, '{pagination,cursor}',
                               CASE WHEN page #>> '{pagination,cursor}' IS NOT NULL THEN '"<cursor>"' ELSE 'null' END::jsonb),
                     '{pagination,prevCursor}',
                     CASE WHEN page #>> '{pagination,prevCursor}' IS NOT NULL THEN '"<cursor>"' ELSE 'null' END::jsonb)
$$;
-- the ids of a page's objects
CREATE FUNCTION pg_temp.ids(page jsonb) RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(e ->> 'id', ',' ORDER BY n), '')
    FROM jsonb_array_elements(page -> 'data') WITH ORDINALITY AS a (e, n)
$$;

-- fixed ids and times, so that the JSON is the same on every run
ALTER SEQUENCE qr_event.accounts_id_seq RESTART WITH 700001;
ALTER SEQUENCE qr_event.events_id_seq RESTART WITH 700001;
ALTER SEQUENCE qr_event.families_id_seq RESTART WITH 700001;
ALTER SEQUENCE qr_event.guests_id_seq RESTART WITH 700001;
ALTER SEQUENCE qr_event.games_id_seq RESTART WITH 700001;
-- 700001 owns events 700001 and 700003; 700002 organises 700001 and owns 700002, where
-- 700001 is door staff; 700003 is door staff of 700001; 700004 is a stranger
INSERT INTO qr_event.accounts (email, password_hash, display_name, created_at, updated_at)
SELECT 'list' || i || '@example.com',
       '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
       'Lister ' || i, '2030-01-01 00:00+00', '2030-01-01 00:00+00'
FROM generate_series(1, 4) AS i;
INSERT INTO qr_event.events (owner_id, name, venue, starts_at, ends_at, created_at, updated_at) VALUES
    (700001, 'Wedding', 'Old Mill', '2030-06-01 14:00+00', '2030-06-02 02:00+00', '2030-01-02 00:00+00', '2030-01-02 00:00+00'),
    (700002, 'Gala', NULL, '2030-07-01 18:00+00', '2030-07-01 23:00+00', '2030-01-03 00:00+00', '2030-01-03 00:00+00'),
    (700001, 'Picnic', 'Park', '2030-08-01 11:00+00', '2030-08-01 17:00+00', '2030-01-04 00:00+00', '2030-01-04 00:00+00');
INSERT INTO qr_event.event_staff (event_id, account_id, role) VALUES
    (700001, 700002, 'organizer'), (700002, 700001, 'staff'), (700001, 700003, 'staff'),
    (700001, 700001, 'organizer');
INSERT INTO qr_event.families (event_id, name, created_at, updated_at)
SELECT 700001, 'Family ' || i, '2030-01-05 00:00+00', '2030-01-05 00:00+00' FROM generate_series(1, 3) AS i;
INSERT INTO qr_event.guests (event_id, family_id, first_name, last_name, email, created_at, updated_at)
SELECT 700001, CASE WHEN i <= 4 THEN 700001 + i % 3 END, 'Guest', 'Number ' || i,
       CASE WHEN i % 2 = 0 THEN 'guest' || i || '@example.com' END, '2030-01-06 00:00+00', '2030-01-06 00:00+00'
FROM generate_series(1, 5) AS i;
INSERT INTO qr_event.guests (event_id, first_name, created_at, updated_at)
VALUES (700002, 'Elsewhere', '2030-01-06 00:00+00', '2030-01-06 00:00+00');
INSERT INTO qr_event.games (event_id, title, status, score_policy, created_at, updated_at) VALUES
    (700001, 'Quiz', 'live', 'best', '2030-01-07 00:00+00', '2030-01-07 00:00+00'),
    (700001, 'Darts', 'draft', 'sum', '2030-01-07 00:00+00', '2030-01-07 00:00+00'),
    (700002, 'Bingo', 'finished', 'latest', '2030-01-07 00:00+00', '2030-01-07 00:00+00');

SET client_min_messages = warning;
DROP ROLE IF EXISTS qr_regress_lists;
RESET client_min_messages;
CREATE ROLE qr_regress_lists LOGIN IN ROLE qr_gateway_role;
SET ROLE qr_regress_lists;
SET timezone = 'UTC';

-- an account's events, owned or staffed, by id; an owner who is also listed as staff counts once
SELECT jsonb_pretty(pg_temp.shown(qr_event.list_events(700001, 2)));
SELECT qr_event.list_events(700001, 2) #>> '{pagination,cursor}' AS c_events \gset
SELECT jsonb_pretty(pg_temp.shown(qr_event.list_events(700001, 2, :'c_events')));
SELECT pg_temp.ids(qr_event.list_events(a, 10)) AS events, a AS account
FROM unnest(ARRAY[700001, 700002, 700003, 700004, 799999]::bigint[]) AS a ORDER BY a;
SELECT (qr_event.list_events(700002, 10, NULL, 'exact') - 'data') AS exact,
       qr_event.list_events(700002, 10, NULL, 'estimated') ->> 'count' AS estimated_count;

-- guests and families: for the owner and the event's organisers
SELECT jsonb_pretty(pg_temp.shown(qr_event.list_guests(700001, 700001, 2, NULL, 'exact')));
SELECT pg_temp.ids(qr_event.list_guests(a, 700001, 10)) AS guests, a AS account
FROM unnest(ARRAY[700001, 700002]::bigint[]) AS a ORDER BY a;
SELECT jsonb_pretty(pg_temp.shown(qr_event.list_families(700002, 700001)));

-- paging through a list with its cursors, forward to the end
CREATE FUNCTION pg_temp.walk_guests(account bigint, event bigint, size int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    p jsonb;
    c text;
    seen text := '';
BEGIN
    LOOP
        p := qr_event.list_guests(account, event, size, c);
        seen := seen || '[' || (p #>> '{pagination,page}') || ':' || pg_temp.ids(p) || ']';
        EXIT WHEN NOT (p #>> '{pagination,hasNext}')::boolean;
        c := p #>> '{pagination,cursor}';
    END LOOP;
    RETURN seen;
END
$$;
SELECT pg_temp.walk_guests(700001, 700001, 2) AS pages;

-- games: public, for any event that exists
SELECT jsonb_pretty(pg_temp.shown(qr_event.list_games(700001, 1)));
SELECT pg_temp.ids(qr_event.list_games(700002)) AS games_of_700002;

-- no list ever carries a password hash
SELECT bool_and(NOT (p::text LIKE '%password%') AND NOT (p::text LIKE '%pbkdf2%')) AS no_password_hashes
FROM (VALUES (qr_event.list_events(700001)), (qr_event.list_guests(700001, 700001)),
             (qr_event.list_families(700001, 700001)), (qr_event.list_games(700001))) AS t (p);

-- refusals: door staff, strangers and missing events look alike (P0002)
SELECT qr_event.list_guests(700001, 700001, 2) #>> '{pagination,cursor}' AS c_owner \gset
SELECT qr_event.list_families(700001, 700001, 2) #>> '{pagination,cursor}' AS c_families \gset
SELECT t.what, o.* FROM (VALUES
  (1, 'guests: door staff', $$SELECT qr_event.list_guests(700003, 700001)$$),
  (2, 'guests: staff of another event', $$SELECT qr_event.list_guests(700001, 700002)$$),
  (3, 'guests: stranger', $$SELECT qr_event.list_guests(700004, 700001)$$),
  (4, 'guests: missing event', $$SELECT qr_event.list_guests(700001, 799999)$$),
  (5, 'guests: missing account', $$SELECT qr_event.list_guests(799999, 700001)$$),
  (6, 'guests: null account', $$SELECT qr_event.list_guests(NULL, 700001)$$),
  (7, 'guests: null event', $$SELECT qr_event.list_guests(700001, NULL)$$),
  (8, 'families: door staff', $$SELECT qr_event.list_families(700003, 700001)$$),
  (9, 'families: stranger', $$SELECT qr_event.list_families(700004, 700001)$$),
  (10, 'families: missing event', $$SELECT qr_event.list_families(700001, 799999)$$),
  (11, 'games: missing event', $$SELECT qr_event.list_games(799999)$$),
  (12, 'games: null event', $$SELECT qr_event.list_games(NULL)$$),
  (13, 'events: null account', $$SELECT qr_event.list_events(NULL)$$),
  (14, 'page_size 0', $$SELECT qr_event.list_events(700001, 0)$$),
  (15, 'page_size 101', $$SELECT qr_event.list_games(700001, 101)$$),
  (16, 'null page_size', $$SELECT qr_event.list_guests(700001, 700001, NULL)$$),
  (17, 'unknown total', $$SELECT qr_event.list_families(700001, 700001, 20, NULL, 'some')$$),
  (18, 'garbage cursor', $$SELECT qr_event.list_games(700001, 20, 'garbage')$$),
  (19, 'another account''s cursor', $$SELECT qr_event.list_guests(700002, 700001, 2, $$ || quote_literal(:'c_owner') || ')'),
  (20, 'the same account''s cursor', $$SELECT qr_event.list_guests(700001, 700001, 2, $$ || quote_literal(:'c_owner') || ')'),
  (21, 'a guest cursor for families', $$SELECT qr_event.list_families(700001, 700001, 2, $$ || quote_literal(:'c_owner') || ')'),
  (22, 'a cursor of another event', $$SELECT qr_event.list_families(700002, 700002, 2, $$ || quote_literal(:'c_families') || ')')
) AS t (n, what, sql), pg_temp.outcome(t.sql) AS o
ORDER BY t.n;
RESET ROLE;

-- the lists run as their owner: the gateway needs EXECUTE only, which PUBLIC lacks
SELECT p.proname, p.prosecdef AS security_definer, p.proconfig AS settings,
       has_function_privilege('qr_gateway_role', p.oid, 'EXECUTE') AS gateway,
       has_function_privilege('qr_analyst', p.oid, 'EXECUTE') AS analyst
FROM pg_proc p WHERE p.pronamespace = 'qr_event'::regnamespace AND p.proname LIKE 'list\_%'
ORDER BY 1;
SET ROLE qr_analyst;
SELECT * FROM pg_temp.outcome($$SELECT qr_event.list_games(700001)$$);
RESET ROLE;

DELETE FROM qr_event.events WHERE id BETWEEN 700001 AND 700003;
DELETE FROM qr_event.accounts WHERE id BETWEEN 700001 AND 700004;
DROP OWNED BY qr_regress_lists;
DROP ROLE qr_regress_lists;
