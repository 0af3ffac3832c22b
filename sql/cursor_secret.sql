--
-- cursor_secret: the secret that signs cursors is readable by no API role, yet
-- they can page; rotating it makes every outstanding cursor invalid
--
CREATE FUNCTION pg_temp.outcome(sql text, OUT code text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    code := '00000';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
END
$$;
CREATE FUNCTION pg_temp.ids(items anyarray) RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(e ->> 'id', ',' ORDER BY n), '')
    FROM jsonb_array_elements(to_jsonb(items)) WITH ORDINALITY AS a (e, n)
$$;

-- login roles as a DBA would create them for the gateway and an analyst
SET client_min_messages = warning;
DROP ROLE IF EXISTS qr_regress_gateway;
DROP ROLE IF EXISTS qr_regress_analyst;
RESET client_min_messages;
CREATE ROLE qr_regress_gateway LOGIN IN ROLE qr_gateway_role;
CREATE ROLE qr_regress_analyst LOGIN IN ROLE qr_analyst;

INSERT INTO qr_event.accounts (email, password_hash, display_name)
VALUES ('secret@example.com', '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Secret')
RETURNING id AS owner \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner, 'Secrets', '2030-01-01', '2030-01-02') RETURNING id AS ev \gset
INSERT INTO qr_event.guests (event_id, first_name) SELECT :ev, 'Guest ' || i FROM generate_series(1, 7) AS i;
SELECT min(id) - 1 AS base FROM qr_event.guests WHERE event_id = :ev \gset
-- a table the analyst may read
CREATE TABLE public.secret_report (id int PRIMARY KEY, what text NOT NULL);
INSERT INTO public.secret_report SELECT i, 'row ' || i FROM generate_series(1, 5) AS i;
GRANT SELECT ON public.secret_report TO qr_analyst;

-- one secret of 32 random bytes, created with the extension, not dumped by pg_dump
SELECT id, octet_length(secret) AS bytes, created_at <= now() AS created FROM qr_event.cursor_keys;
SELECT 'qr_event.cursor_keys'::regclass = ANY (extconfig) AS dumped FROM pg_extension WHERE extname = 'qr_event';
SELECT r.rolname, has_table_privilege(r.rolname, 'qr_event.cursor_keys', 'SELECT') AS can_read,
       has_table_privilege(r.rolname, 'qr_event.cursor_keys', 'UPDATE') AS can_write,
       has_function_privilege(r.rolname, 'qr_event.rotate_cursor_secret()', 'EXECUTE') AS can_rotate
FROM pg_roles r
WHERE r.rolname IN ('qr_gateway_role', 'qr_analyst', 'qr_regress_gateway', 'qr_regress_analyst')
ORDER BY 1;
SELECT relacl IS NULL OR NOT EXISTS (SELECT FROM aclexplode(relacl) a WHERE a.grantee = 0) AS no_public_grant
FROM pg_class WHERE oid = 'qr_event.cursor_keys'::regclass;

-- the gateway's login role pages through guests, with cursors, without reading the secret
SET ROLE qr_regress_gateway;
SELECT * FROM pg_temp.outcome('SELECT * FROM qr_event.cursor_keys');
SELECT * FROM pg_temp.outcome('SELECT qr_event.rotate_cursor_secret()');
SELECT * FROM pg_temp.outcome('UPDATE qr_event.cursor_keys SET secret = secret');
SELECT pg_temp.ids(items) AS ids, page, has_next, next_cursor AS gw_cursor
FROM qr_event.paginate(NULL::qr_event.guests, '{id}', 3, NULL, jsonb_build_object('event_id', :ev)) \gset
SELECT string_agg((id::int - :base)::text, ',' ORDER BY ord) AS guests_1_to_3
FROM unnest(string_to_array(:'ids', ',')) WITH ORDINALITY AS u (id, ord);
SELECT string_agg(((e ->> 'id')::int - :base)::text, ',' ORDER BY n) AS guests_4_to_6, min(page) AS page
FROM qr_event.paginate(NULL::qr_event.guests, '{id}', 3, :'gw_cursor', jsonb_build_object('event_id', :ev)) AS p,
     jsonb_array_elements(to_jsonb(p.items)) WITH ORDINALITY AS a (e, n);
RESET ROLE;

-- the analyst pages what it may read; the secret and the event tables stay closed
SET ROLE qr_regress_analyst;
SELECT * FROM pg_temp.outcome('SELECT * FROM qr_event.cursor_keys');
SELECT * FROM pg_temp.outcome('SELECT qr_event.rotate_cursor_secret()');
SELECT * FROM pg_temp.outcome($$SELECT qr_event.paginate(NULL::qr_event.guests, '{id}')$$);
SELECT pg_temp.ids(items) AS ids, next_cursor AS an_cursor FROM qr_event.paginate(NULL::public.secret_report, '{what DESC}', 2) \gset
SELECT :'ids' AS first_page, pg_temp.ids(items) AS second_page
FROM qr_event.paginate(NULL::public.secret_report, '{what DESC}', 2, :'an_cursor');
RESET ROLE;

-- row-level security applies to the caller's pages
ALTER TABLE public.secret_report ENABLE ROW LEVEL SECURITY;
CREATE POLICY odd_rows ON public.secret_report FOR SELECT TO qr_analyst USING (id % 2 = 1);
SET ROLE qr_regress_analyst;
SELECT pg_temp.ids(items), total FROM qr_event.paginate(NULL::public.secret_report, '{id}', 10, total => 'exact');
RESET ROLE;

-- rotation: a new secret; cursors signed under the old one are refused, new ones work
SELECT md5(secret) AS old_secret, created_at AS old_created FROM qr_event.cursor_keys \gset
SELECT next_cursor AS old_cursor FROM qr_event.paginate(NULL::public.secret_report, '{id}', 2) \gset
SELECT qr_event.rotate_cursor_secret();
SELECT md5(secret) <> :'old_secret' AS new_secret, octet_length(secret) AS bytes,
       created_at >= :'old_created' AS newer, count(*) OVER () AS rows
FROM qr_event.cursor_keys;
SELECT * FROM pg_temp.outcome($$SELECT qr_event.paginate(NULL::public.secret_report, '{id}', 2, $$ || quote_literal(:'old_cursor') || ')');
SELECT next_cursor AS new_cursor FROM qr_event.paginate(NULL::public.secret_report, '{id}', 2) \gset
SELECT pg_temp.ids(items) FROM qr_event.paginate(NULL::public.secret_report, '{id}', 2, :'new_cursor');
SELECT :'new_cursor' <> :'old_cursor' AS cursor_changed;

-- a cursor handed to the gateway before a rotation fails there too
SET ROLE qr_regress_gateway;
SELECT * FROM pg_temp.outcome($$SELECT qr_event.paginate(NULL::qr_event.guests, '{id}', 3, $$
    || quote_literal(:'gw_cursor') || ', ' || quote_literal(jsonb_build_object('event_id', :ev)) || ')');
RESET ROLE;

-- without a secret, cursors can be neither read nor written; the first page of a
-- list that fits on it needs none
BEGIN;
DELETE FROM qr_event.cursor_keys;
SELECT * FROM pg_temp.outcome($$SELECT qr_event.paginate(NULL::public.secret_report, '{id}', 2, $$ || quote_literal(:'new_cursor') || ')');
SELECT * FROM pg_temp.outcome($$SELECT qr_event.paginate(NULL::public.secret_report, '{id}', 2)$$);
SELECT pg_temp.ids(items), next_cursor FROM qr_event.paginate(NULL::public.secret_report, '{id}', 10);
ROLLBACK;

-- the table holds one secret of at least 32 bytes
SELECT code, message FROM pg_temp.outcome($$INSERT INTO qr_event.cursor_keys (id, secret) VALUES (2, sha256('a') || sha256('b'))$$);
SELECT code, message FROM pg_temp.outcome($$UPDATE qr_event.cursor_keys SET secret = '\x0102'$$);

DROP TABLE public.secret_report;
DELETE FROM qr_event.events WHERE id = :ev;
DELETE FROM qr_event.accounts WHERE id = :owner;
DROP OWNED BY qr_regress_gateway, qr_regress_analyst;
DROP ROLE qr_regress_gateway;
DROP ROLE qr_regress_analyst;
