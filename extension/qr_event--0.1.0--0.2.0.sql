/* qr_event--0.1.0--0.2.0.sql: keyset pagination with signed cursors, and the JSON lists of the REST API */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION qr_event UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- The cursor secret
-- ---------------------------------------------------------------------------

-- Not registered with pg_extension_config_dump: a restored database signs
-- with a fresh secret, so cursors handed out before the dump stop working.
CREATE TABLE qr_event.cursor_keys (
    id              integer NOT NULL,
    secret          bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT cursor_keys_pkey PRIMARY KEY (id),
    CONSTRAINT cursor_keys_id_check CHECK (id = 1),
    CONSTRAINT cursor_keys_secret_length CHECK (pg_catalog.octet_length(secret) >= 32)
);

COMMENT ON TABLE qr_event.cursor_keys IS
    'The secret that signs pagination cursors (HMAC-SHA256), one row; readable only by its owner and superusers. '
    'Replace it with qr_event.rotate_cursor_secret(); not dumped by pg_dump';
COMMENT ON COLUMN qr_event.cursor_keys.id IS 'Always 1: there is one secret';
COMMENT ON COLUMN qr_event.cursor_keys.secret IS 'HMAC-SHA256 key of the cursors, at least 32 random bytes';
COMMENT ON COLUMN qr_event.cursor_keys.created_at IS 'When the secret was generated';

REVOKE ALL ON qr_event.cursor_keys FROM PUBLIC;

CREATE FUNCTION qr_event.rotate_cursor_secret()
RETURNS void
AS 'MODULE_PATHNAME', 'qr_event_rotate_cursor_secret'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION qr_event.rotate_cursor_secret() IS
    'Replaces the cursor secret with 32 bytes from the server''s strong random source; '
    'every cursor handed out before stops working (callers start again from the first page). '
    'For DBAs only: EXECUTE is revoked from PUBLIC.';

REVOKE ALL ON FUNCTION qr_event.rotate_cursor_secret() FROM PUBLIC;

-- every installation signs with its own secret from the start
SELECT qr_event.rotate_cursor_secret();

-- ---------------------------------------------------------------------------
-- Keyset pagination of any table or view
-- ---------------------------------------------------------------------------

CREATE FUNCTION qr_event.paginate(
    relation anyelement,
    order_by text[],
    page_size integer DEFAULT 20,
    cursor text DEFAULT NULL,
    filter jsonb DEFAULT '{}',
    total text DEFAULT 'none',
    caller text DEFAULT NULL,
    OUT items anyarray,
    OUT next_cursor text,
    OUT prev_cursor text,
    OUT has_next boolean,
    OUT has_prev boolean,
    OUT page integer,
    OUT total bigint,
    OUT total_kind text)
RETURNS record
AS 'MODULE_PATHNAME', 'qr_event_paginate'
LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION qr_event.paginate(anyelement, text[], integer, text, jsonb, text, text) IS
    'One page of a table or view (relation: a typed NULL such as NULL::qr_event.guests) in keyset order: '
    'order_by ''{col [ASC|DESC], ...}'' (NULLs sort last ascending, first descending; the primary key is appended '
    'when the order is not total), equality filters {"col": value}, and signed cursors to the next and previous pages, '
    'bound to the relation, order, filter and caller (default current_user). total: none, exact or estimated. '
    'SECURITY INVOKER: the caller''s privileges and row-level security apply, so EXECUTE is granted to PUBLIC.';

CREATE FUNCTION qr_event.paginate_query(
    relation anyelement,
    order_by text[],
    page_size integer DEFAULT 20,
    cursor text DEFAULT NULL,
    filter jsonb DEFAULT '{}',
    caller text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'qr_event_paginate_query'
LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION qr_event.paginate_query(anyelement, text[], integer, text, jsonb, text) IS
    'The SQL text qr_event.paginate runs for these arguments, with $n parameters for the boundary, filter values '
    'and limit; for understanding and tuning, reads no rows';

CREATE FUNCTION qr_event.paginate_explain(
    relation anyelement,
    order_by text[],
    page_size integer DEFAULT 20,
    cursor text DEFAULT NULL,
    filter jsonb DEFAULT '{}',
    caller text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'qr_event_paginate_explain'
LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION qr_event.paginate_explain(anyelement, text[], integer, text, jsonb, text) IS
    'EXPLAIN (COSTS OFF) of the page query of qr_event.paginate, planned with the same parameter values '
    '(shows whether an index bounds the scan)';

-- ---------------------------------------------------------------------------
-- The lists of the REST API, as JSON
-- ---------------------------------------------------------------------------

-- The memberships are one UNION ALL of single tables, so that a filter on
-- account_id and a bound on event_id reach both indexes and their merge reads
-- in event_id order; the events are then fetched one by one (OFFSET 0 keeps
-- that lookup a nested loop, which a LIMIT stops early).
CREATE VIEW qr_event.account_events AS
SELECT m.account_id, m.event_id, m.role, e.owner_id,
       e.name, e.venue, e.starts_at, e.ends_at, e.created_at, e.updated_at
FROM (SELECT ev.owner_id AS account_id, ev.id AS event_id, 'owner'::text AS role
      FROM qr_event.events ev
      UNION ALL
      SELECT s.account_id, s.event_id, s.role
      FROM qr_event.event_staff s) AS m
CROSS JOIN LATERAL (SELECT ev.* FROM qr_event.events ev
                    WHERE ev.id OPERATOR(pg_catalog.=) m.event_id OFFSET 0) AS e
WHERE m.role OPERATOR(pg_catalog.=) 'owner'
   OR m.account_id OPERATOR(pg_catalog.<>) e.owner_id;

COMMENT ON VIEW qr_event.account_events IS
    'The events each account owns or works at, one row per account and event (an owner listed as staff counts once, as owner)';
COMMENT ON COLUMN qr_event.account_events.account_id IS 'The account';
COMMENT ON COLUMN qr_event.account_events.event_id IS 'The event';
COMMENT ON COLUMN qr_event.account_events.role IS 'The account''s part in the event: owner, organizer or staff';
COMMENT ON COLUMN qr_event.account_events.owner_id IS 'The owner of the event';
COMMENT ON COLUMN qr_event.account_events.name IS 'Event name';
COMMENT ON COLUMN qr_event.account_events.venue IS 'Where the event takes place';
COMMENT ON COLUMN qr_event.account_events.starts_at IS 'Start of the event';
COMMENT ON COLUMN qr_event.account_events.ends_at IS 'End of the event';
COMMENT ON COLUMN qr_event.account_events.created_at IS 'When the event was created';
COMMENT ON COLUMN qr_event.account_events.updated_at IS 'When the event was last changed';

GRANT SELECT ON qr_event.account_events TO qr_gateway_role;

CREATE FUNCTION qr_event.is_event_organiser(account_id bigint, event_id bigint)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM qr_event.events e
                   WHERE e.id = is_event_organiser.event_id
                     AND e.owner_id = is_event_organiser.account_id)
        OR EXISTS (SELECT FROM qr_event.event_staff s
                   WHERE s.event_id = is_event_organiser.event_id
                     AND s.account_id = is_event_organiser.account_id
                     AND s.role = 'organizer')
$$;

COMMENT ON FUNCTION qr_event.is_event_organiser(bigint, bigint) IS
    'Whether the account organises the event: its owner or an event_staff organizer (false for a missing event)';

REVOKE ALL ON FUNCTION qr_event.is_event_organiser(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION qr_event.is_event_organiser(bigint, bigint) TO qr_gateway_role;

CREATE FUNCTION qr_event.page_envelope(data jsonb, page_size integer, next_cursor text,
                                       prev_cursor text, has_next boolean, page integer,
                                       total bigint, total_kind text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'data', data,
        'pagination', pg_catalog.jsonb_build_object(
            'limit', page_size, 'page', page, 'hasNext', has_next,
            'cursor', next_cursor, 'prevCursor', prev_cursor, 'total', total),
        'count', total_kind)
$$;

COMMENT ON FUNCTION qr_event.page_envelope(jsonb, integer, text, text, boolean, integer, bigint, text) IS
    'The JSON of one page of a REST list: {"data":[...],"pagination":{"limit","page","hasNext","cursor",'
    '"prevCursor","total"},"count":"exact"|"estimated"|null}';

CREATE FUNCTION qr_event.list_events(account_id bigint, page_size integer DEFAULT 20,
                                     cursor text DEFAULT NULL, total text DEFAULT 'none')
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
BEGIN
    IF list_events.account_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed', MESSAGE = 'account_id must not be null';
    END IF;
    SELECT * INTO p
    FROM qr_event.paginate(NULL::qr_event.account_events, '{event_id}', list_events.page_size,
                           list_events.cursor,
                           pg_catalog.jsonb_build_object('account_id', list_events.account_id),
                           list_events.total, 'account:' || list_events.account_id);
    RETURN qr_event.page_envelope(
        (SELECT coalesce(pg_catalog.jsonb_agg(
                    (a.e - 'account_id' - 'event_id')
                    || pg_catalog.jsonb_build_object('id', a.e -> 'event_id') ORDER BY a.n), '[]')
         FROM pg_catalog.jsonb_array_elements(pg_catalog.to_jsonb(p.items)) WITH ORDINALITY AS a (e, n)),
        list_events.page_size, p.next_cursor, p.prev_cursor, p.has_next, p.page, p.total, p.total_kind);
END
$$;

COMMENT ON FUNCTION qr_event.list_events(bigint, integer, text, text) IS
    'GET /api/events: the events the account owns or works at, by id, as a JSON page '
    '(objects with the columns of events plus role); cursors are bound to the account';

CREATE FUNCTION qr_event.list_guests(account_id bigint, event_id bigint, page_size integer DEFAULT 20,
                                     cursor text DEFAULT NULL, total text DEFAULT 'none')
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
BEGIN
    IF NOT coalesce(qr_event.is_event_organiser(list_guests.account_id, list_guests.event_id), false) THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found', MESSAGE = 'event not found';
    END IF;
    SELECT * INTO p
    FROM qr_event.paginate(NULL::qr_event.guests, '{id}', list_guests.page_size, list_guests.cursor,
                           pg_catalog.jsonb_build_object('event_id', list_guests.event_id),
                           list_guests.total, 'account:' || list_guests.account_id);
    RETURN qr_event.page_envelope(pg_catalog.to_jsonb(p.items), list_guests.page_size, p.next_cursor,
                                  p.prev_cursor, p.has_next, p.page, p.total, p.total_kind);
END
$$;

COMMENT ON FUNCTION qr_event.list_guests(bigint, bigint, integer, text, text) IS
    'GET /api/events/{id}/guests: the guests of an event, by id, as a JSON page, for an organiser of the event; '
    'anyone else gets P0002 event not found, as for a missing event';

CREATE FUNCTION qr_event.list_families(account_id bigint, event_id bigint, page_size integer DEFAULT 20,
                                       cursor text DEFAULT NULL, total text DEFAULT 'none')
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
BEGIN
    IF NOT coalesce(qr_event.is_event_organiser(list_families.account_id, list_families.event_id), false) THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found', MESSAGE = 'event not found';
    END IF;
    SELECT * INTO p
    FROM qr_event.paginate(NULL::qr_event.families, '{id}', list_families.page_size, list_families.cursor,
                           pg_catalog.jsonb_build_object('event_id', list_families.event_id),
                           list_families.total, 'account:' || list_families.account_id);
    RETURN qr_event.page_envelope(pg_catalog.to_jsonb(p.items), list_families.page_size, p.next_cursor,
                                  p.prev_cursor, p.has_next, p.page, p.total, p.total_kind);
END
$$;

COMMENT ON FUNCTION qr_event.list_families(bigint, bigint, integer, text, text) IS
    'GET /api/events/{id}/families: the families of an event, by id, as a JSON page, for an organiser of the event; '
    'anyone else gets P0002 event not found, as for a missing event';

CREATE FUNCTION qr_event.list_games(event_id bigint, page_size integer DEFAULT 20,
                                    cursor text DEFAULT NULL, total text DEFAULT 'none')
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
BEGIN
    IF NOT EXISTS (SELECT FROM qr_event.events e WHERE e.id = list_games.event_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found', MESSAGE = 'event not found';
    END IF;
    SELECT * INTO p
    FROM qr_event.paginate(NULL::qr_event.games, '{id}', list_games.page_size, list_games.cursor,
                           pg_catalog.jsonb_build_object('event_id', list_games.event_id),
                           list_games.total, 'public');
    RETURN qr_event.page_envelope(pg_catalog.to_jsonb(p.items), list_games.page_size, p.next_cursor,
                                  p.prev_cursor, p.has_next, p.page, p.total, p.total_kind);
END
$$;

COMMENT ON FUNCTION qr_event.list_games(bigint, integer, text, text) IS
    'GET /api/events/{id}/games: the games of an event, by id, as a JSON page; public '
    '(P0002 event not found for a missing event)';

REVOKE ALL ON FUNCTION qr_event.list_events(bigint, integer, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION qr_event.list_guests(bigint, bigint, integer, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION qr_event.list_families(bigint, bigint, integer, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION qr_event.list_games(bigint, integer, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    qr_event.list_events(bigint, integer, text, text),
    qr_event.list_guests(bigint, bigint, integer, text, text),
    qr_event.list_families(bigint, bigint, integer, text, text),
    qr_event.list_games(bigint, integer, text, text)
    TO qr_gateway_role;
