--
-- paginate_plan: a deep page is read by an index scan bounded at the cursor's row,
-- not by a sort of the whole list; shown with EXPLAIN of the query paginate runs,
-- planned with the same parameter values
--
-- fixed ids, so that the plans show the same constants whatever ran before
ALTER SEQUENCE qr_event.accounts_id_seq RESTART WITH 900001;
ALTER SEQUENCE qr_event.events_id_seq RESTART WITH 900001;
ALTER SEQUENCE qr_event.guests_id_seq RESTART WITH 900001;
ALTER SEQUENCE qr_event.games_id_seq RESTART WITH 900001;
ALTER SEQUENCE qr_event.game_participations_id_seq RESTART WITH 900001;

INSERT INTO qr_event.accounts (email, password_hash, display_name)
SELECT 'plan' || i || '@example.com',
       '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Plan ' || i
FROM generate_series(1, 3) AS i;
-- 20,600 events: account 900001 owns every 40th and works at every 40th of
-- account 900003, whose other events account 900002 works at
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
SELECT CASE WHEN i % 40 = 0 THEN 900001 ELSE 900003 END, 'Event ' || i, '2030-01-01', '2030-01-02'
FROM generate_series(1, 20600) AS i;
INSERT INTO qr_event.event_staff (event_id, account_id, role)
SELECT id, CASE WHEN id % 40 = 20 THEN 900001 ELSE 900002 END,
       CASE WHEN id % 3 = 0 THEN 'organizer' ELSE 'staff' END
FROM qr_event.events WHERE owner_id = 900003;
-- 4,000 guests of event 900002 playing two games (a tenth have not completed),
-- and 8,000 guests of two other events
INSERT INTO qr_event.guests (event_id, first_name)
SELECT 900002 + i % 3, 'Guest ' || i FROM generate_series(1, 12000) AS i;
INSERT INTO qr_event.games (event_id, title) VALUES (900002, 'Quiz'), (900002, 'Darts');
INSERT INTO qr_event.game_participations (event_id, game_id, guest_id, total_score, is_completed, completed_at)
SELECT 900002, q.id, g.id, (g.id * 7919 + q.id) % 60, g.id % 10 <> 0,
       CASE WHEN g.id % 10 <> 0 THEN '2030-01-01 12:00+00'::timestamptz + (g.id * 31 % 90) * interval '1 minute' END
FROM qr_event.games q, qr_event.guests g
WHERE q.event_id = 900002 AND g.event_id = 900002
ORDER BY g.id, q.id;
ANALYZE qr_event.accounts, qr_event.events, qr_event.event_staff, qr_event.guests, qr_event.games,
        qr_event.game_participations;

-- the cursor after page n of a list, read through paginate page by page
CREATE FUNCTION pg_temp.cursor_after(n int, relation anyelement, order_by text[], size int, filter jsonb)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c text;
BEGIN
    FOR i IN 1 .. n LOOP
        SELECT p.next_cursor INTO c FROM qr_event.paginate(relation, order_by, size, c, filter) p;
    END LOOP;
    RETURN c;
END
$$;

-- the leaderboard of game 900001: page 51 (after 1,000 rows) in rank order
\set lb_order '{total_score DESC, completed_at, id}'
\set lb_filter '{"game_id": 900001, "is_completed": true}'
SELECT pg_temp.cursor_after(10, NULL::qr_event.game_participations, :'lb_order', 100, :'lb_filter') AS deep \gset
SELECT qr_event.paginate_query(NULL::qr_event.game_participations, :'lb_order', 20, :'deep', :'lb_filter');
SELECT qr_event.paginate_explain(NULL::qr_event.game_participations, :'lb_order', 20, :'deep', :'lb_filter');

-- what must hold: the leaderboard index, bounded on total_score, and no sort
SELECT plan ~ 'Index Scan using game_participations_leaderboard_idx' AS leaderboard_index,
       plan ~ 'Index Cond: \(\(game_id = ''900001''::bigint\) AND \(total_score <= ' AS bounded_on_total_score,
       plan !~ 'Sort(\n|$)' AS no_sort, plan !~ 'Seq Scan' AS no_seq_scan
FROM qr_event.paginate_explain(NULL::qr_event.game_participations, :'lb_order', 20, :'deep', :'lb_filter') AS plan;

-- and it is the page that OFFSET 1000 would give
SELECT array_agg(e.id ORDER BY e.ordinality) = (SELECT array_agg(id) FROM (
           SELECT id FROM qr_event.game_participations WHERE game_id = 900001 AND is_completed
           ORDER BY total_score DESC, completed_at, id OFFSET 1000 LIMIT 20) o) AS same_as_offset,
       min(page) AS page
FROM qr_event.paginate(NULL::qr_event.game_participations, :'lb_order', 20, :'deep', :'lb_filter') AS p,
     unnest(p.items) WITH ORDINALITY AS e;

-- paging back from there reads the same index backward, bounded the other way
SELECT prev_cursor AS back FROM qr_event.paginate(NULL::qr_event.game_participations, :'lb_order', 20, :'deep', :'lb_filter') \gset
SELECT qr_event.paginate_explain(NULL::qr_event.game_participations, :'lb_order', 20, :'back', :'lb_filter');

-- the first page: the same index from its start
SELECT qr_event.paginate_explain(NULL::qr_event.game_participations, :'lb_order', 20, NULL, :'lb_filter');

-- a guest list of an event: an index bounded at the cursor's id
SELECT pg_temp.cursor_after(20, NULL::qr_event.guests, '{id}', 100, '{"event_id": 900002}') AS guests_deep \gset
SELECT qr_event.paginate_explain(NULL::qr_event.guests, '{id}', 20, :'guests_deep', '{"event_id": 900002}');
SELECT plan ~ 'Index Cond: .*id > ' AS bounded, plan !~ 'Seq Scan' AS no_seq_scan, plan !~ 'Sort(\n|$)' AS no_sort
FROM qr_event.paginate_explain(NULL::qr_event.guests, '{id}', 20, :'guests_deep', '{"event_id": 900002}') AS plan;

-- an account's events through the view: owned and staffed events from their
-- indexes, both bounded at the cursor's event_id, merged in order, then each
-- event fetched by its key
SELECT pg_temp.cursor_after(10, NULL::qr_event.account_events, '{event_id}', 50, '{"account_id": 900001}') AS events_deep \gset
SELECT qr_event.paginate_explain(NULL::qr_event.account_events, '{event_id}', 20, :'events_deep', '{"account_id": 900001}');
SELECT plan ~ 'Index Cond: \(\(owner_id = ''900001''::bigint\) AND \(id > ' AS owned_bounded,
       plan ~ 'Index Cond: \(\(account_id = ''900001''::bigint\) AND \(event_id > ' AS staffed_bounded,
       plan !~ 'Seq Scan' AS no_seq_scan, plan !~ 'Sort(\n|$)' AS no_sort
FROM qr_event.paginate_explain(NULL::qr_event.account_events, '{event_id}', 20, :'events_deep', '{"account_id": 900001}') AS plan;

DELETE FROM qr_event.events WHERE owner_id BETWEEN 900001 AND 900003;
DELETE FROM qr_event.accounts WHERE id BETWEEN 900001 AND 900003;
