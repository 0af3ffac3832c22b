--
-- paginate: keyset pages of any table or view in both directions, NULL keys,
-- filters, totals, the appended primary key, and every refusal with its SQLSTATE
--

-- runs one statement and reports its outcome; 00000 when it was accepted
CREATE FUNCTION pg_temp.outcome(sql text, OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    code := '00000';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END
$$;

-- the ids (or labels) of a page's rows, in page order
CREATE FUNCTION pg_temp.ids(items anyarray) RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(coalesce(e ->> 'id', e ->> 'label', e ->> 'Key Col'), ',' ORDER BY n), '')
    FROM jsonb_array_elements(to_jsonb(items)) WITH ORDINALITY AS a (e, n)
$$;

-- walks a list forward through next_cursor to its end, then backward through
-- prev_cursor to its start; one row per page
CREATE FUNCTION pg_temp.walk(rel text, order_by text[], size int, filter jsonb DEFAULT '{}')
RETURNS TABLE (step int, direction text, page int, ids text, has_prev boolean, has_next boolean,
               prev boolean, next boolean)
LANGUAGE plpgsql AS $$
DECLARE
    c text;
    next_cursor text;
    prev_cursor text;
BEGIN
    step := 0;
    direction := 'forward';
    LOOP
        EXECUTE format('SELECT pg_temp.ids(items), page, has_prev, has_next, prev_cursor, next_cursor'
                       ' FROM qr_event.paginate(NULL::%s, $1, $2, $3, $4)', rel)
            INTO ids, page, has_prev, has_next, prev_cursor, next_cursor
            USING order_by, size, c, filter;
        step := step + 1;
        prev := prev_cursor IS NOT NULL;
        next := next_cursor IS NOT NULL;
        RETURN NEXT;
        EXIT WHEN step > 100;
        IF direction = 'forward' AND has_next THEN
            c := next_cursor;
        ELSIF has_prev THEN
            direction := 'backward';
            c := prev_cursor;
        ELSE
            EXIT;
        END IF;
    END LOOP;
END
$$;

-- whether walking forward, and backward, gives exactly the rows of the oracle query (ids in order)
CREATE FUNCTION pg_temp.matches(rel text, order_by text[], size int, filter jsonb, oracle text,
                                OUT forward_matches boolean, OUT backward_matches boolean)
LANGUAGE plpgsql AS $$
DECLARE
    want text;
BEGIN
    EXECUTE format('SELECT coalesce(string_agg(id::text, %L ORDER BY ord), %L) FROM (SELECT id, row_number() OVER () AS ord FROM (%s) q) o',
                   ',', '', oracle) INTO want;
    SELECT coalesce(string_agg(w.ids, ',' ORDER BY w.step) FILTER (WHERE w.ids <> ''), '') = want
    INTO forward_matches FROM pg_temp.walk(rel, order_by, size, filter) w WHERE w.direction = 'forward';
    SELECT coalesce(string_agg(w.ids, ',' ORDER BY w.step DESC) FILTER (WHERE w.ids <> ''), '') = want
    INTO backward_matches
    FROM pg_temp.walk(rel, order_by, size, filter) w
    WHERE w.direction = 'backward' OR w.step = (SELECT max(step) FROM pg_temp.walk(rel, order_by, size, filter)
                                                 WHERE direction = 'forward');
END
$$;

-- the fixture: duplicate sort values and NULLs
CREATE SCHEMA paginate_test;
CREATE TABLE paginate_test.items (
    id      bigint PRIMARY KEY,
    grp     integer NOT NULL,
    score   integer,
    name    text,
    ts      timestamptz
);
INSERT INTO paginate_test.items
SELECT i, i % 3,
       CASE WHEN i % 6 = 0 THEN NULL ELSE (i * 7) % 5 END,
       CASE WHEN i % 4 = 0 THEN NULL ELSE 'n' || (i % 3) END,
       '2030-01-01 00:00+00'::timestamptz + (i % 4) * interval '1 hour'
FROM generate_series(1, 20) AS i;
ANALYZE paginate_test.items;

-- the first page: rows, cursors, flags, page number and total
SELECT pg_temp.ids(items) AS ids, next_cursor IS NOT NULL AS next, prev_cursor IS NULL AS no_prev,
       has_next, has_prev, page, total, total_kind
FROM qr_event.paginate(NULL::paginate_test.items, '{score DESC}', 5, total => 'exact');
SELECT (unnest(items)).* FROM qr_event.paginate(NULL::paginate_test.items, '{score DESC, name}', 3);
SELECT pg_typeof(items) FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 1);

-- forward to the end, then back to the start: NULLs first in descending order,
-- ties broken by the appended primary key
SELECT * FROM pg_temp.walk('paginate_test.items', '{score DESC}', 6);
SELECT id, score FROM paginate_test.items ORDER BY score DESC NULLS FIRST, id;

-- mixed directions and NULLs in later keys
SELECT * FROM pg_temp.walk('paginate_test.items', '{score, name DESC}', 4);
SELECT * FROM pg_temp.matches('paginate_test.items', '{score, name DESC}', 4, '{}',
    'SELECT id FROM paginate_test.items ORDER BY score ASC NULLS LAST, name DESC NULLS FIRST, id');

-- every order and page size gives the rows of ORDER BY, forward and backward
SELECT o.order_by, s.size, m.*
FROM (VALUES ('{score DESC}'::text[], 'score DESC NULLS FIRST, id'),
             ('{score}', 'score ASC NULLS LAST, id'),
             ('{name DESC, ts}', 'name DESC NULLS FIRST, ts ASC NULLS LAST, id'),
             ('{name, score DESC, ts DESC}', 'name ASC NULLS LAST, score DESC NULLS FIRST, ts DESC NULLS FIRST, id'),
             ('{ts DESC, grp, id DESC}', 'ts DESC NULLS FIRST, grp, id DESC'),
             ('{grp, id}', 'grp, id'),
             ('{id DESC}', 'id DESC')) AS o (order_by, oracle),
     (VALUES (1), (3), (7), (20), (100)) AS s (size),
     pg_temp.matches('paginate_test.items', o.order_by, s.size, '{}',
                     'SELECT id FROM paginate_test.items ORDER BY ' || o.oracle) AS m
WHERE NOT (m.forward_matches AND m.backward_matches);

-- filters: equality, IS NULL for JSON null, several at once, values of any JSON scalar type
SELECT * FROM pg_temp.walk('paginate_test.items', '{score DESC}', 3, '{"grp": 1}');
SELECT id FROM paginate_test.items WHERE grp = 1 ORDER BY score DESC NULLS FIRST, id;
SELECT pg_temp.ids(items), total FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 20, NULL, '{"name": null}', 'exact');
SELECT pg_temp.ids(items), total FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 20, NULL, '{"grp": 2, "score": "1"}', 'exact');
SELECT pg_temp.ids(items), total FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 20, NULL, '{"ts": "2030-01-01T03:00:00Z", "name": "n0"}', 'exact');
SELECT pg_temp.ids(items), total FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 20, NULL, '{"grp": 7}', 'exact');
SELECT * FROM pg_temp.matches('paginate_test.items', '{name DESC, ts}', 2, '{"score": null}',
    'SELECT id FROM paginate_test.items WHERE score IS NULL ORDER BY name DESC NULLS FIRST, ts, id');

-- totals: none, exact (the filters apply), estimated (the planner's row estimate)
SELECT total, total_kind FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5);
SELECT total, total_kind FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, total => 'exact');
SELECT total, total_kind FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, NULL, '{"grp": 0}', 'exact');
SELECT total, total_kind FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, total => 'estimated');
SELECT total BETWEEN 1 AND 20 AS plausible, total_kind
FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, NULL, '{"grp": 0}', 'estimated');

-- the query text: the primary key appended, the bound on the first key, NULLs,
-- the row comparison when every key runs one way and none can be NULL
SELECT next_cursor AS c_score FROM qr_event.paginate(NULL::paginate_test.items, '{score DESC, name}', 3) \gset
SELECT qr_event.paginate_query(NULL::paginate_test.items, '{score DESC, name}', 3);
SELECT qr_event.paginate_query(NULL::paginate_test.items, '{score DESC, name}', 3, :'c_score');
SELECT next_cursor AS c_grp FROM qr_event.paginate(NULL::paginate_test.items, '{grp, id}', 3) \gset
SELECT qr_event.paginate_query(NULL::paginate_test.items, '{grp, id}', 3, :'c_grp');
SELECT next_cursor AS c_name FROM qr_event.paginate(NULL::paginate_test.items, '{name, id DESC}', 3) \gset
SELECT qr_event.paginate_query(NULL::paginate_test.items, '{name, id DESC}', 3, :'c_name', '{}');

-- a key that already identifies rows is not extended; a composite key is appended column by column
CREATE TABLE paginate_test.pairs (a int, b int, label text NOT NULL UNIQUE, PRIMARY KEY (a, b));
INSERT INTO paginate_test.pairs SELECT i / 3, i % 3, 'l' || (20 - i) FROM generate_series(0, 11) AS i;
SELECT qr_event.paginate_query(NULL::paginate_test.pairs, '{label DESC}', 5);
SELECT qr_event.paginate_query(NULL::paginate_test.pairs, '{b DESC}', 5);
SELECT qr_event.paginate_query(NULL::paginate_test.pairs, '{b DESC, a}', 5);
SELECT * FROM pg_temp.walk('paginate_test.pairs', '{b DESC}', 5);

-- views have no key of their own: the caller's keys are the order
CREATE VIEW paginate_test.scored AS SELECT id, score, grp FROM paginate_test.items WHERE score IS NOT NULL;
SELECT qr_event.paginate_query(NULL::paginate_test.scored, '{score, id}', 5);
SELECT * FROM pg_temp.walk('paginate_test.scored', '{score DESC, id}', 5);

-- partitioned tables and materialized views
CREATE TABLE paginate_test.parted (id int, part int, score int NOT NULL, PRIMARY KEY (part, id))
    PARTITION BY LIST (part);
CREATE TABLE paginate_test.parted_0 PARTITION OF paginate_test.parted FOR VALUES IN (0);
CREATE TABLE paginate_test.parted_1 PARTITION OF paginate_test.parted FOR VALUES IN (1);
INSERT INTO paginate_test.parted SELECT i, i % 2, i % 4 FROM generate_series(1, 9) AS i;
SELECT qr_event.paginate_query(NULL::paginate_test.parted, '{score DESC}', 4);
SELECT * FROM pg_temp.walk('paginate_test.parted', '{score DESC}', 4);
CREATE MATERIALIZED VIEW paginate_test.snapshot AS SELECT id, score FROM paginate_test.items WHERE grp = 2;
SELECT * FROM pg_temp.walk('paginate_test.snapshot', '{score, id DESC}', 3);

-- names that need quoting, and a column named like the default alias
CREATE VIEW paginate_test.items_view AS SELECT * FROM paginate_test.items;
CREATE TABLE paginate_test."Odd Names" ("Key Col" int PRIMARY KEY, p text, "UPPER" int);
INSERT INTO paginate_test."Odd Names" SELECT i, 'v' || i % 2, i % 4 FROM generate_series(1, 7) AS i;
SELECT qr_event.paginate_query(NULL::paginate_test."Odd Names", '{"\"UPPER\" desc", "p"}', 2);
SELECT * FROM pg_temp.walk('paginate_test."Odd Names"', '{"\"UPPER\" desc", "  P  "}', 2);
SELECT pg_temp.ids(items) FROM qr_event.paginate(NULL::paginate_test."Odd Names", '{"\"Key Col\""}', 3);

-- values of many types round-trip through cursors, whatever the session's settings
CREATE TYPE paginate_test.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN paginate_test.small AS int CHECK (VALUE BETWEEN 0 AND 9);
CREATE TABLE paginate_test.exotic (id int PRIMARY KEY, f float8, n numeric(6, 3), d date, iv interval,
                                   t text COLLATE "C", u uuid, b bytea, e int[], m paginate_test.mood,
                                   sm paginate_test.small, vc varchar(8));
INSERT INTO paginate_test.exotic
SELECT i, (i % 4) * 0.1 + 1e-300 * (i % 2), (i % 3) / 7.0, date '2030-01-31' + (i % 3),
       (i % 3) * interval '1 month 1 day', chr(120 + i % 3) || 'é ''"\', md5((i % 4)::text)::uuid,
       decode(md5((i % 5)::text), 'hex'), ARRAY[i % 2, i % 3], (ARRAY['sad', 'ok', 'happy'])[1 + i % 3]::paginate_test.mood,
       CASE WHEN i % 5 = 0 THEN NULL ELSE i % 4 END, 'v' || (i % 3)
FROM generate_series(1, 24) AS i;
SET extra_float_digits = 0;
SET datestyle = 'SQL, DMY';
SET intervalstyle = 'iso_8601';
SET timezone = 'America/New_York';
SELECT c.order_by, m.*
FROM (VALUES ('{f DESC}'::text[], 'f DESC, id'), ('{n, d DESC}', 'n, d DESC, id'),
             ('{iv DESC, t}', 'iv DESC, t, id'), ('{t, u DESC}', 't, u DESC, id'),
             ('{b, e DESC}', 'b, e DESC, id'), ('{e, f, n}', 'e, f, n, id'),
             ('{m DESC, vc}', 'm DESC, vc, id'), ('{sm, vc DESC}', 'sm, vc DESC, id')) AS c (order_by, oracle),
     pg_temp.matches('paginate_test.exotic', c.order_by, 5, '{}',
                     'SELECT id FROM paginate_test.exotic ORDER BY ' || c.oracle) AS m;
SELECT next_cursor AS c_float FROM qr_event.paginate(NULL::paginate_test.exotic, '{f DESC}', 5) \gset
RESET extra_float_digits;
RESET datestyle;
RESET intervalstyle;
RESET timezone;
SELECT pg_temp.ids(items) FROM qr_event.paginate(NULL::paginate_test.exotic, '{f DESC}', 5, :'c_float');

-- a page size may change between calls; it is not part of the list
SELECT next_cursor AS c5 FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5) \gset
SELECT pg_temp.ids(items), page FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 2, :'c5');

-- empty lists, and a boundary whose following rows are gone (the page size changes too:
-- page numbers count pages as the cursors saw them)
SELECT pg_temp.ids(items) AS ids, next_cursor, prev_cursor, has_next, has_prev, page
FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, NULL, '{"grp": 99}');
BEGIN;
SELECT next_cursor AS c_tail FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 15) \gset
DELETE FROM paginate_test.items WHERE id > 15;
SELECT pg_temp.ids(items) AS ids, next_cursor IS NULL AS no_next, prev_cursor IS NOT NULL AS prev,
       has_next, has_prev, page
FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, :'c_tail');
SELECT prev_cursor AS c_back FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, :'c_tail') \gset
SELECT pg_temp.ids(items) AS ids, has_next, has_prev, page
FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, :'c_back');
ROLLBACK;

-- reading backward to the start after deletions gives a short page 1: no row twice;
-- after a page emptied by deletions, next leads to the first page
BEGIN;
SELECT next_cursor AS c_p2 FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5) \gset
SELECT next_cursor AS c_p3 FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, :'c_p2') \gset
SELECT pg_temp.ids(items) AS ids, page, prev_cursor AS c_back_p2 FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, :'c_p3') \gset
SELECT :'ids' AS page_3_ids, :page AS page;
DELETE FROM paginate_test.items WHERE id BETWEEN 2 AND 7;
SELECT pg_temp.ids(items) AS ids, has_next, has_prev, page, prev_cursor, next_cursor IS NOT NULL AS next
FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, :'c_back_p2');
DELETE FROM paginate_test.items WHERE id < 11;
SELECT pg_temp.ids(items) AS ids, has_next, has_prev, page, next_cursor AS c_restart
FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, :'c_back_p2') \gset
SELECT :'ids' AS empty_page, :'has_next' AS has_next, :'has_prev' AS has_prev, :page AS page;
SELECT pg_temp.ids(items) AS ids, has_next, has_prev, page
FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 5, :'c_restart');
ROLLBACK;

-- the largest page is a superuser setting
SET qr_event.max_page_size = 4;
SELECT * FROM pg_temp.outcome($$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', 5)$$);
SELECT pg_temp.ids(items) FROM qr_event.paginate(NULL::paginate_test.items, '{id}', 4);
RESET qr_event.max_page_size;

-- refusals
CREATE TYPE paginate_test.pair AS (x int, y int);
CREATE TABLE paginate_test.shapes (id int PRIMARY KEY, doc json, spot point);
CREATE TABLE paginate_test.wide (k1 int, k2 int, k3 int, k4 int, k5 int, k6 int, k7 int, k8 int,
                                 k9 int PRIMARY KEY);
GRANT USAGE ON SCHEMA paginate_test TO qr_analyst;
\x on
SELECT t.what, o.* FROM (VALUES
  (1, 'untyped NULL relation', $$SELECT qr_event.paginate(NULL, '{id}')$$),
  (2, 'not a row type', $$SELECT qr_event.paginate(NULL::int, '{id}')$$),
  (3, 'a record', $$SELECT qr_event.paginate(NULL::record, '{x}')$$),
  (4, 'a composite type', $$SELECT qr_event.paginate(NULL::paginate_test.pair, '{x}')$$),
  (5, 'null order_by', $$SELECT qr_event.paginate(NULL::paginate_test.items, NULL)$$),
  (6, 'empty order_by', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{}')$$),
  (7, 'null entry', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{NULL}')$$),
  (8, 'empty entry', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{""}')$$),
  (9, 'blank entry', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{"  "}')$$),
  (10, 'bad direction', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{"score sideways"}')$$),
  (11, 'NULLS placement', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{"score DESC NULLS LAST"}')$$),
  (12, 'unclosed quote', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{"\"score"}')$$),
  (13, 'empty quoted name', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{"\"\""}')$$),
  (14, 'unknown column', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{nope}')$$),
  (15, 'quoted name is exact', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{"\"Score\""}')$$),
  (16, 'system column', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{ctid}')$$),
  (17, 'duplicate column', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{score, "SCORE DESC"}')$$),
  (18, 'key without order', $$SELECT qr_event.paginate(NULL::paginate_test.shapes, '{doc}')$$),
  (19, 'point key', $$SELECT qr_event.paginate(NULL::paginate_test.shapes, '{spot}')$$),
  (20, 'nine keys', $$SELECT qr_event.paginate(NULL::paginate_test.wide, '{k1,k2,k3,k4,k5,k6,k7,k8,k9}')$$),
  (21, 'eight keys and the primary key', $$SELECT qr_event.paginate(NULL::paginate_test.wide, '{k1,k2,k3,k4,k5,k6,k7,k8}')$$),
  (22, 'null page_size', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', NULL)$$),
  (23, 'page_size 0', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', 0)$$),
  (24, 'negative page_size', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', -5)$$),
  (25, 'page_size 101', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', 101)$$),
  (26, 'null filter', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', filter => NULL)$$),
  (27, 'array filter', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', filter => '[1]')$$),
  (28, 'scalar filter', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', filter => '3')$$),
  (29, 'array value', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', filter => '{"grp": [1, 2]}')$$),
  (30, 'object value', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', filter => '{"grp": {"in": 1}}')$$),
  (31, 'unknown filter column', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', filter => '{"nope": 1}')$$),
  (32, 'value of the wrong type', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', filter => '{"grp": "abc"}')$$),
  (33, 'value out of range', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', filter => '{"grp": 1e100}')$$),
  (34, 'column without equality', $$SELECT qr_event.paginate(NULL::paginate_test.shapes, '{id}', filter => '{"spot": "(1,2)"}')$$),
  (35, 'null total', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', total => NULL)$$),
  (36, 'unknown total', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', total => 'all')$$),
  (37, 'total in capitals', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{id}', total => 'EXACT')$$),
  (38, 'no select privilege', $$SET LOCAL ROLE qr_analyst; SELECT qr_event.paginate(NULL::paginate_test.items, '{id}')$$)
) AS t (n, what, sql), pg_temp.outcome(t.sql) AS o
ORDER BY t.n;
\x off

-- tampered cursors: every one is refused with 22023, none crashes
SELECT next_cursor AS good FROM qr_event.paginate(NULL::paginate_test.items, '{score DESC, name}', 3) \gset
SELECT next_cursor AS good_grp1 FROM qr_event.paginate(NULL::paginate_test.items, '{score DESC, name}', 3, NULL, '{"grp": 1}') \gset
SELECT next_cursor AS good_alice FROM qr_event.paginate(NULL::paginate_test.items, '{score DESC, name}', 3, caller => 'alice') \gset
SELECT :'good' ~ '^[A-Za-z0-9_-]+$' AS base64url, length(:'good') < 200 AS short;
SELECT pg_temp.ids(items), page FROM qr_event.paginate(NULL::paginate_test.items, '{score DESC, name}', 3, :'good');
\set alter 'SELECT pg_temp.ids(items) FROM qr_event.paginate(NULL::paginate_test.items, ''{score DESC, name}'', 3, '
\x on
SELECT t.what, o.code, o.message, o.detail, o.hint FROM (VALUES
  (1, 'altered character', overlay(:'good' PLACING CASE WHEN substr(:'good', 6, 1) = 'A' THEN 'B' ELSE 'A' END FROM 6 FOR 1)),
  (2, 'altered version', 'B' || substr(:'good', 2)),
  (3, 'truncated to whole groups', left(:'good', (length(:'good') - 8) / 4 * 4)),
  (4, 'truncated below the smallest cursor', left(:'good', 20)),
  (5, 'impossible length', left(:'good', 21)),
  (6, 'padding', :'good' || '='),
  (7, 'standard base64 alphabet', translate(:'good', '-_', '+/') || '+'),
  (8, 'white space', ' ' || :'good'),
  (9, 'garbage', 'not a cursor!'),
  (10, 'non-ASCII', 'curs€r'),
  (11, 'empty string', ''),
  (12, 'enormous', repeat('A', 100000)),
  (13, 'just over the limit', repeat('A', 4097))
) AS t (n, what, cursor), pg_temp.outcome(:'alter' || quote_literal(t.cursor) || ')') AS o
ORDER BY t.n;
SELECT t.what, o.code, o.message, o.detail FROM (VALUES
  (1, 'another order', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{score, name}', 3, $$ || quote_literal(:'good') || ')'),
  (2, 'another direction word for the same order', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{"score desc", "name asc"}', 3, $$ || quote_literal(:'good') || ')'),
  (3, 'another relation', $$SELECT qr_event.paginate(NULL::paginate_test.items_view, '{score DESC, name}', 3, $$ || quote_literal(:'good') || ')'),
  (4, 'another filter', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{score DESC, name}', 3, $$ || quote_literal(:'good_grp1') || $$, '{"grp": 2}')$$),
  (5, 'no filter', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{score DESC, name}', 3, $$ || quote_literal(:'good_grp1') || ')'),
  (6, 'another caller', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{score DESC, name}', 3, $$ || quote_literal(:'good_alice') || $$, caller => 'bob')$$),
  (7, 'the role instead of the caller', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{score DESC, name}', 3, $$ || quote_literal(:'good_alice') || ')'),
  (8, 'the caller named like the role', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{score DESC, name}', 3, $$ || quote_literal(:'good') || $$, caller => current_user)$$),
  (9, 'another page size', $$SELECT qr_event.paginate(NULL::paginate_test.items, '{score DESC, name}', 7, $$ || quote_literal(:'good') || ')')
) AS t (n, what, sql), pg_temp.outcome(t.sql) AS o
ORDER BY t.n;
\x off

-- a thousand mutations of a good cursor and of random text: all refused with 22023
SELECT o.code, count(*) > 900 AS most
FROM generate_series(1, 1000) AS i,
     LATERAL (SELECT CASE i % 4
                WHEN 0 THEN overlay(:'good' PLACING substr(md5(i::text), 1, 1 + i % 3) FROM 1 + i % length(:'good'))
                WHEN 1 THEN left(:'good', i % length(:'good'))
                WHEN 2 THEN :'good' || substr(md5(i::text), 1, 1 + i % 5)
                ELSE substr(repeat(md5(i::text), 8), 1, i % 120) END AS cursor) AS m,
     pg_temp.outcome(:'alter' || quote_literal(m.cursor) || ')') AS o
WHERE m.cursor <> :'good'
GROUP BY o.code ORDER BY o.code;

DROP SCHEMA paginate_test CASCADE;
