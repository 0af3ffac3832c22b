--
-- leaderboard_page: qr_event.leaderboard and qr_event.leaderboard_around: ranks in each
-- mode beside rank(), dense_rank() and row_number(), ties, names, cursors, and every
-- refusal with its SQLSTATE
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

-- fixed ids (a range no other test uses) and times, so that the rows are the same on every run
INSERT INTO qr_event.accounts (id, email, password_hash, display_name) OVERRIDING SYSTEM VALUE
VALUES (7100001, 'board@example.com',
        '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Board');
INSERT INTO qr_event.events (id, owner_id, name, starts_at, ends_at) OVERRIDING SYSTEM VALUE
VALUES (7100001, 7100001, 'Board games', '2030-01-01', '2030-01-02');
INSERT INTO qr_event.families (id, event_id, name) OVERRIDING SYSTEM VALUE
VALUES (7100001, 7100001, 'The Curies'), (7100002, 7100001, 'The Babbages'), (7100003, 7100001, 'The Hoppers');
INSERT INTO qr_event.guests (id, event_id, family_id, first_name, last_name) OVERRIDING SYSTEM VALUE VALUES
    (7100001, 7100001, NULL, 'Ada', 'Lovelace'),
    (7100002, 7100001, NULL, 'Grace', NULL),
    (7100003, 7100001, 7100001, 'Marie', 'Curie'),
    (7100004, 7100001, NULL, 'Alan', 'Turing'),
    (7100005, 7100001, NULL, 'Emmy', NULL),
    (7100006, 7100001, NULL, 'Kurt', 'Gödel'),
    (7100007, 7100001, NULL, 'Sofia', 'Kovalevskaya');
-- 7100001 has ties, 7100002 is empty (one participant who has not finished), 7100003 has one
INSERT INTO qr_event.games (id, event_id, title) OVERRIDING SYSTEM VALUE
VALUES (7100001, 7100001, 'Ties'), (7100002, 7100001, 'Empty'), (7100003, 7100001, 'Solo');
-- scores 50, 50, 50 (two completed at the same instant, ordered by id), 40, 40, 30, 0, -5;
-- 7100107 and 7100108 have not completed and are never ranked
INSERT INTO qr_event.game_participations (id, event_id, game_id, guest_id, family_id, total_score,
                                          is_completed, completed_at) OVERRIDING SYSTEM VALUE VALUES
    (7100101, 7100001, 7100001, 7100001, NULL, 50, true, '2030-01-01 12:00+00'),
    (7100102, 7100001, 7100001, NULL, 7100001, 50, true, '2030-01-01 12:00+00'),
    (7100103, 7100001, 7100001, 7100002, NULL, 50, true, '2030-01-01 11:00+00'),
    (7100104, 7100001, 7100001, 7100004, NULL, 40, true, '2030-01-01 12:00+00'),
    (7100105, 7100001, 7100001, NULL, 7100002, 40, true, '2030-01-01 12:05+00'),
    (7100106, 7100001, 7100001, 7100005, NULL, 30, true, '2030-01-01 12:00+00'),
    (7100107, 7100001, 7100001, 7100006, NULL, 70, false, NULL),
    (7100108, 7100001, 7100001, NULL, 7100003, 100, false, NULL),
    (7100109, 7100001, 7100001, 7100007, NULL, 0, true, '2030-01-01 13:00+00'),
    (7100110, 7100001, 7100001, 7100003, NULL, -5, true, '2030-01-01 09:00+00'),
    (7100201, 7100001, 7100002, 7100001, NULL, 10, false, NULL),
    (7100301, 7100001, 7100003, NULL, 7100003, 12, true, '2030-01-01 12:00+00');

-- the oracle: Postgres's own ranks over the completed participations
CREATE TEMP VIEW oracle AS
SELECT p.game_id, p.id,
       rank() OVER (PARTITION BY p.game_id ORDER BY p.total_score DESC) AS competition,
       dense_rank() OVER (PARTITION BY p.game_id ORDER BY p.total_score DESC) AS dense,
       row_number() OVER (PARTITION BY p.game_id ORDER BY p.total_score DESC, p.completed_at, p.id) AS ordinal
FROM qr_event.game_participations p
WHERE p.is_completed;

-- the whole leaderboard in each mode: rows, names and ranks
SELECT rank, participation_id, participant_kind, participant_id, display_name, total_score,
       completed_at, cursor IS NOT NULL AS has_cursor
FROM qr_event.leaderboard(7100001, 100);
SELECT rank, participation_id, total_score FROM qr_event.leaderboard(7100001, 100, rank_mode => 'dense');
SELECT rank, participation_id, total_score FROM qr_event.leaderboard(7100001, 100, rank_mode => 'ordinal');

-- the same against the oracle, for every mode and page size 100
SELECT m.mode, bool_and(l.rank = CASE m.mode WHEN 'competition' THEN o.competition
                                             WHEN 'dense' THEN o.dense ELSE o.ordinal END) AS ranks_match,
       array_agg(l.participation_id ORDER BY l.ordinality) = (SELECT array_agg(id ORDER BY ordinal) FROM oracle WHERE game_id = 7100001)
           AS order_matches
FROM (VALUES ('competition'), ('dense'), ('ordinal')) AS m (mode),
     LATERAL qr_event.leaderboard(7100001, 100, NULL, m.mode) WITH ORDINALITY AS l
     JOIN oracle o ON o.id = l.participation_id
GROUP BY m.mode ORDER BY m.mode;

-- an empty game, and a game with one participant
SELECT count(*) AS empty_rows FROM qr_event.leaderboard(7100002);
SELECT rank, participation_id, participant_kind, display_name, cursor IS NULL AS last
FROM qr_event.leaderboard(7100003);
SELECT m.mode, l.rank FROM (VALUES ('competition'), ('dense'), ('ordinal')) AS m (mode),
       LATERAL qr_event.leaderboard(7100003, 1, NULL, m.mode) l ORDER BY 1;

-- paging forward: the last row's cursor leads to the next page; ranks carry over
-- pages (a tie across a page boundary keeps its rank)
CREATE FUNCTION pg_temp.walk(game bigint, size int, mode text)
RETURNS TABLE (page int, rank bigint, participation_id bigint, total_score bigint, has_cursor boolean)
LANGUAGE plpgsql AS $$
DECLARE
    c text;
    last text;
    n int := 0;
    r record;
BEGIN
    LOOP
        n := n + 1;
        last := NULL;
        FOR r IN SELECT * FROM qr_event.leaderboard(game, size, c, mode) LOOP
            page := n;
            rank := r.rank;
            participation_id := r.participation_id;
            total_score := r.total_score;
            has_cursor := r.cursor IS NOT NULL;
            last := r.cursor;
            RETURN NEXT;
        END LOOP;
        EXIT WHEN last IS NULL OR n > 100;
        c := last;
    END LOOP;
END
$$;
SELECT * FROM pg_temp.walk(7100001, 2, 'competition');
SELECT * FROM pg_temp.walk(7100001, 3, 'dense');

-- every walk in every mode and page size gives the oracle's rows and ranks
SELECT count(*) AS walk_mismatches
FROM generate_series(1, 9) AS s (size)
CROSS JOIN (VALUES ('competition'), ('dense'), ('ordinal')) AS m (mode)
CROSS JOIN LATERAL (
    SELECT array_agg(w.participation_id ORDER BY w.n) AS ids, array_agg(w.rank ORDER BY w.n) AS ranks
    FROM pg_temp.walk(7100001, s.size, m.mode) WITH ORDINALITY AS w (page, rank, participation_id, score, c, n)) AS got
CROSS JOIN LATERAL (
    SELECT array_agg(o.id ORDER BY o.ordinal) AS ids,
           array_agg(CASE m.mode WHEN 'competition' THEN o.competition WHEN 'dense' THEN o.dense ELSE o.ordinal END
                     ORDER BY o.ordinal) AS ranks
    FROM oracle o WHERE o.game_id = 7100001) AS want
WHERE got.ids IS DISTINCT FROM want.ids OR got.ranks IS DISTINCT FROM want.ranks;

-- a row's cursor continues after that row, not after its page
SELECT l.cursor AS after_second FROM qr_event.leaderboard(7100001, 4) WITH ORDINALITY AS l WHERE l.ordinality = 2 \gset
SELECT rank, participation_id FROM qr_event.leaderboard(7100001, 2, :'after_second');

-- the cursors are those of qr_event.paginate over the game's completed participations,
-- for caller 'public': each accepts the other's
SELECT l.cursor AS lb_cursor FROM qr_event.leaderboard(7100001, 3) WITH ORDINALITY AS l WHERE l.ordinality = 3 \gset
SELECT ARRAY(SELECT (unnest(items)).id) AS paginate_ids
FROM qr_event.paginate(NULL::qr_event.game_participations, '{total_score DESC, completed_at, id}', 2, :'lb_cursor',
                       '{"game_id": 7100001, "is_completed": true}', 'none', 'public');
SELECT next_cursor AS pg_next, prev_cursor AS pg_prev
FROM qr_event.paginate(NULL::qr_event.game_participations, '{total_score DESC, completed_at, id}', 3, :'lb_cursor',
                       '{"game_id": 7100001, "is_completed": true}', 'none', 'public') \gset
SELECT rank, participation_id FROM qr_event.leaderboard(7100001, 2, :'pg_next');
-- a backward cursor reads the rows before its boundary, still in leaderboard order
SELECT rank, participation_id, cursor IS NOT NULL AS has_cursor FROM qr_event.leaderboard(7100001, 2, :'pg_prev');

-- leaderboard_around: at the top, the bottom and in the middle, radius 0 and wider than the board
SELECT rank, participation_id, display_name, cursor IS NOT NULL AS has_cursor
FROM qr_event.leaderboard_around(7100001, 7100103, 2);
SELECT rank, participation_id, display_name, cursor IS NOT NULL AS has_cursor
FROM qr_event.leaderboard_around(7100001, 7100110, 2);
SELECT rank, participation_id, display_name, cursor IS NOT NULL AS has_cursor
FROM qr_event.leaderboard_around(7100001, 7100104, 1, 'dense');
SELECT rank, participation_id, cursor IS NOT NULL AS has_cursor FROM qr_event.leaderboard_around(7100001, 7100105, 0);
SELECT rank, participation_id, cursor IS NOT NULL AS has_cursor FROM qr_event.leaderboard_around(7100001, 7100110, 0);
SELECT rank, participation_id FROM qr_event.leaderboard_around(7100003, 7100301, 50, 'ordinal');

-- every participation, radius and mode against the oracle
SELECT count(*) AS mismatches
FROM qr_event.game_participations p
CROSS JOIN generate_series(0, 4) AS r (radius)
CROSS JOIN (VALUES ('competition'), ('dense'), ('ordinal')) AS m (mode)
CROSS JOIN LATERAL (
    SELECT array_agg(a.participation_id ORDER BY a.n) AS ids,
           array_agg(a.rank ORDER BY a.n) AS ranks
    FROM qr_event.leaderboard_around(p.game_id, p.id, r.radius, m.mode) WITH ORDINALITY AS a (rank, participation_id, k, pid, name, score, at, c, n)) AS got
CROSS JOIN LATERAL (
    SELECT array_agg(o.id ORDER BY o.ordinal) AS ids,
           array_agg(CASE m.mode WHEN 'competition' THEN o.competition WHEN 'dense' THEN o.dense ELSE o.ordinal END
                     ORDER BY o.ordinal) AS ranks
    FROM oracle o, oracle me
    WHERE me.id = p.id AND o.game_id = me.game_id AND o.ordinal BETWEEN me.ordinal - r.radius AND me.ordinal + r.radius) AS want
WHERE p.is_completed AND p.id BETWEEN 7100000 AND 7199999
  AND (got.ids IS DISTINCT FROM want.ids OR got.ranks IS DISTINCT FROM want.ranks);

-- refusals: each with its SQLSTATE, none crashes
SELECT l.next_cursor AS other_list FROM qr_event.paginate(NULL::qr_event.games, '{id}', 1, NULL,
                                                         '{"event_id": 7100001}', 'none', 'public') l \gset
SELECT qr_event.list_guests(7100001, 7100001, 1) #>> '{pagination,cursor}' AS guests_cursor \gset
SELECT l.cursor AS game1_cursor FROM qr_event.leaderboard(7100001, 1) l \gset
\x on
SELECT t.what, o.code, o.message FROM (VALUES
  (1, 'null game', $$SELECT * FROM qr_event.leaderboard(NULL)$$),
  (2, 'unknown game', $$SELECT * FROM qr_event.leaderboard(7199999)$$),
  (3, 'unknown rank mode', $$SELECT * FROM qr_event.leaderboard(7100001, rank_mode => 'olympic')$$),
  (4, 'rank mode in capitals', $$SELECT * FROM qr_event.leaderboard(7100001, rank_mode => 'Dense')$$),
  (5, 'null rank mode', $$SELECT * FROM qr_event.leaderboard(7100001, rank_mode => NULL)$$),
  (6, 'page size 0', $$SELECT * FROM qr_event.leaderboard(7100001, 0)$$),
  (7, 'negative page size', $$SELECT * FROM qr_event.leaderboard(7100001, -1)$$),
  (8, 'page size over the limit', $$SELECT * FROM qr_event.leaderboard(7100001, 101)$$),
  (9, 'null page size', $$SELECT * FROM qr_event.leaderboard(7100001, NULL)$$),
  (10, 'garbage cursor', $$SELECT * FROM qr_event.leaderboard(7100001, 2, 'not a cursor!')$$),
  (11, 'empty cursor', $$SELECT * FROM qr_event.leaderboard(7100001, 2, '')$$),
  (12, 'altered cursor', $$SELECT * FROM qr_event.leaderboard(7100001, 2, $$ ||
       quote_literal(overlay(:'game1_cursor' PLACING CASE WHEN substr(:'game1_cursor', 30, 1) = 'A' THEN 'B' ELSE 'A' END FROM 30 FOR 1)) || ')'),
  (13, 'truncated cursor', $$SELECT * FROM qr_event.leaderboard(7100001, 2, $$ || quote_literal(left(:'game1_cursor', 40)) || ')'),
  (14, 'enormous cursor', $$SELECT * FROM qr_event.leaderboard(7100001, 2, repeat('A', 100000))$$),
  (15, 'cursor of another game', $$SELECT * FROM qr_event.leaderboard(7100003, 2, $$ || quote_literal(:'game1_cursor') || ')'),
  (16, 'cursor of the games list', $$SELECT * FROM qr_event.leaderboard(7100001, 2, $$ || quote_literal(:'other_list') || ')'),
  (17, 'cursor of list_guests', $$SELECT * FROM qr_event.leaderboard(7100001, 2, $$ || quote_literal(:'guests_cursor') || ')'),
  (18, 'leaderboard cursor in paginate for another caller', $$SELECT qr_event.paginate(NULL::qr_event.game_participations, '{total_score DESC, completed_at, id}', 2, $$ || quote_literal(:'game1_cursor') || $$, '{"game_id": 7100001, "is_completed": true}')$$),
  (19, 'around: null game', $$SELECT * FROM qr_event.leaderboard_around(NULL, 7100101)$$),
  (20, 'around: null participation', $$SELECT * FROM qr_event.leaderboard_around(7100001, NULL)$$),
  (21, 'around: unknown game', $$SELECT * FROM qr_event.leaderboard_around(7199999, 7100101)$$),
  (22, 'around: unknown participation', $$SELECT * FROM qr_event.leaderboard_around(7100001, 7199999)$$),
  (23, 'around: participation of another game', $$SELECT * FROM qr_event.leaderboard_around(7100003, 7100101)$$),
  (24, 'around: not completed', $$SELECT * FROM qr_event.leaderboard_around(7100001, 7100107)$$),
  (25, 'around: not completed in an empty game', $$SELECT * FROM qr_event.leaderboard_around(7100002, 7100201)$$),
  (26, 'around: negative radius', $$SELECT * FROM qr_event.leaderboard_around(7100001, 7100101, -1)$$),
  (27, 'around: radius over 50', $$SELECT * FROM qr_event.leaderboard_around(7100001, 7100101, 51)$$),
  (28, 'around: null radius', $$SELECT * FROM qr_event.leaderboard_around(7100001, 7100101, NULL)$$),
  (29, 'around: unknown rank mode', $$SELECT * FROM qr_event.leaderboard_around(7100001, 7100101, 1, '')$$),
  (30, 'around: null rank mode', $$SELECT * FROM qr_event.leaderboard_around(7100001, 7100101, 1, NULL)$$)
) AS t (n, what, sql), pg_temp.outcome(t.sql) AS o
ORDER BY t.n;
\x off

-- the gateway may read leaderboards; a role without the grant may not
SET ROLE qr_gateway_role;
SELECT count(*) AS rows_for_gateway FROM qr_event.leaderboard(7100001);
SELECT count(*) AS rows_around_for_gateway FROM qr_event.leaderboard_around(7100001, 7100104);
RESET ROLE;
SELECT o.code, o.message FROM pg_temp.outcome('SET LOCAL ROLE qr_analyst; SELECT * FROM qr_event.leaderboard(7100001)') AS o;

DELETE FROM qr_event.events WHERE id = 7100001;
DELETE FROM qr_event.accounts WHERE id = 7100001;
