/* qr_event--0.4.0--0.5.0.sql: one SQL function per REST route, with one calling convention */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION qr_event UPDATE TO '0.5.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Passwords
-- ---------------------------------------------------------------------------

CREATE FUNCTION qr_event.verify_password(password text, password_hash text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'qr_event_verify_password'
LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION qr_event.verify_password(text, text) IS
    'Whether password matches a hash in the form of accounts.password_hash (PBKDF2-HMAC-SHA256, keys compared in '
    'constant time); false for a malformed hash or a NULL password. A NULL hash (unknown email) still runs one '
    'derivation of qr_event.password_iterations rounds against a fixed dummy hash and answers false, so timing does '
    'not tell which emails exist. Not executable by PUBLIC';

REVOKE ALL ON FUNCTION qr_event.verify_password(text, text) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- The calling convention of the REST functions:
--     qr_event.http_<route>(claims jsonb, params jsonb, body jsonb) RETURNS jsonb
-- claims: the verified JWT claims, NULL for anonymous callers; params: the path
-- and query-string parameters as one object of strings; body: the parsed JSON
-- body or NULL. The helpers below check each of the three in one place; they
-- run inside the SECURITY DEFINER route functions and are executable by nobody
-- else.
-- ---------------------------------------------------------------------------

-- The caller's account id; 28000 for an anonymous caller or claims that name no
-- account, 42501 for a guest.
CREATE FUNCTION qr_event.http_account(claims jsonb)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account bigint;
BEGIN
    IF claims IS NULL OR jsonb_typeof(claims) = 'null' THEN
        RAISE EXCEPTION 'authentication required' USING ERRCODE = '28000';
    END IF;
    IF claims ->> 'role' = 'guest' THEN
        RAISE EXCEPTION 'guests may not use this route' USING ERRCODE = '42501',
            HINT = 'Sign in with an organiser or staff account.';
    END IF;
    IF coalesce(claims ->> 'role', '') NOT IN ('organizer', 'staff')
       OR coalesce(claims ->> 'sub', '') !~ '^[1-9][0-9]{0,17}$' THEN
        RAISE EXCEPTION 'authentication required' USING ERRCODE = '28000',
            DETAIL = 'The token''s claims name no account.';
    END IF;
    account := (claims ->> 'sub')::bigint;
    IF NOT EXISTS (SELECT FROM qr_event.accounts a WHERE a.id = account) THEN
        RAISE EXCEPTION 'authentication required' USING ERRCODE = '28000',
            DETAIL = 'The token''s account no longer exists.';
    END IF;
    RETURN account;
END
$$;

COMMENT ON FUNCTION qr_event.http_account(jsonb) IS
    'The account id of verified JWT claims (role organizer or staff, sub the id): 28000 authentication required for '
    'anonymous callers, malformed claims or a deleted account; 42501 for guests';

-- The caller's guest row; 28000 for an anonymous caller or claims that name no
-- guest of their event, 42501 for an account.
CREATE FUNCTION qr_event.http_guest(claims jsonb)
RETURNS qr_event.guests
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    guest qr_event.guests;
BEGIN
    IF claims IS NULL OR jsonb_typeof(claims) = 'null' THEN
        RAISE EXCEPTION 'authentication required' USING ERRCODE = '28000';
    END IF;
    IF claims ->> 'role' IN ('organizer', 'staff') THEN
        RAISE EXCEPTION 'only guests may use this route' USING ERRCODE = '42501',
            HINT = 'Sign in with the guest''s QR code (POST /api/auth/guest).';
    END IF;
    IF coalesce(claims ->> 'role', '') <> 'guest'
       OR coalesce(claims ->> 'sub', '') !~ '^[1-9][0-9]{0,17}$'
       OR coalesce(claims ->> 'event', '') !~ '^[1-9][0-9]{0,17}$' THEN
        RAISE EXCEPTION 'authentication required' USING ERRCODE = '28000',
            DETAIL = 'The token''s claims name no guest.';
    END IF;
    SELECT * INTO guest FROM qr_event.guests g
    WHERE g.id = (claims ->> 'sub')::bigint AND g.event_id = (claims ->> 'event')::bigint;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'authentication required' USING ERRCODE = '28000',
            DETAIL = 'The token''s guest no longer exists.';
    END IF;
    RETURN guest;
END
$$;

COMMENT ON FUNCTION qr_event.http_guest(jsonb) IS
    'The guest of verified JWT claims (role guest, sub the guest id, event its event): 28000 authentication required '
    'for anonymous callers, malformed claims or a guest that no longer exists in that event; 42501 for accounts';

-- A parameter's string (NULL when absent): 22023 when it is not a string or does
-- not match pattern, 22004 when required and absent.
CREATE FUNCTION qr_event.http_param(params jsonb, name text, pattern text, expected text,
                                    required boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    value jsonb := params -> name;
BEGIN
    IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
        IF required THEN
            RAISE EXCEPTION 'parameter "%" is required', name USING ERRCODE = '22004';
        END IF;
        RETURN NULL;
    END IF;
    IF jsonb_typeof(value) <> 'string' OR (pattern IS NOT NULL AND value #>> '{}' !~ pattern) THEN
        RAISE EXCEPTION 'invalid %: %', name, left(value::text, 100) USING ERRCODE = '22023',
            DETAIL = format('The parameter %s must be %s.', name, expected);
    END IF;
    RETURN value #>> '{}';
END
$$;

COMMENT ON FUNCTION qr_event.http_param(jsonb, text, text, text, boolean) IS
    'One path or query-string parameter of a REST function as text (NULL when absent): 22023 invalid <name> when it '
    'is not a string matching pattern (the detail says what was expected), 22004 when required and absent';

-- A path parameter that is an id.
CREATE FUNCTION qr_event.http_id(params jsonb, name text)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN qr_event.http_param(params, name, '^[1-9][0-9]{0,17}$', 'a positive integer', true)::bigint;

COMMENT ON FUNCTION qr_event.http_id(jsonb, text) IS
    'A path parameter naming a row (id, guest_id, ...) as bigint: 22004 when absent, 22023 unless a positive integer';

-- The event of the path, for a caller who organises it; P0002 otherwise, as
-- for a missing event.
CREATE FUNCTION qr_event.http_organised_event(claims jsonb, params jsonb)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    event   bigint := qr_event.http_id(params, 'id');
BEGIN
    IF NOT qr_event.is_event_organiser(qr_event.http_account(claims), event) THEN
        RAISE EXCEPTION 'event not found' USING ERRCODE = 'P0002';
    END IF;
    RETURN event;
END
$$;

COMMENT ON FUNCTION qr_event.http_organised_event(jsonb, jsonb) IS
    'The path''s event id (params.id) when the claims'' account organises it; 28000 or 42501 for callers that are '
    'not accounts, P0002 event not found for anyone else';

-- The QR token of a path.
CREATE FUNCTION qr_event.http_token(params jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN qr_event.http_param(params, 'token', '^[A-Za-z0-9_-]{22,128}$',
                           '22 to 128 base64url characters (A-Z a-z 0-9 _ -)', true);

COMMENT ON FUNCTION qr_event.http_token(jsonb) IS
    'The token path parameter of the QR routes: 22004 when absent, 22023 unless 22 to 128 base64url characters';

-- limit and cursor of a list.
CREATE FUNCTION qr_event.http_page(params jsonb, OUT page_size integer, OUT cursor text)
RETURNS record
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT coalesce(qr_event.http_param(params, 'limit', '^[1-9][0-9]{0,8}$',
                                        'a positive integer, at most qr_event.max_page_size')::integer, 20),
           qr_event.http_param(params, 'cursor', NULL, 'a string');
END;

COMMENT ON FUNCTION qr_event.http_page(jsonb) IS
    'The limit (default 20; the list functions refuse more than qr_event.max_page_size) and cursor parameters of a '
    'REST list: 22023 when limit is not a positive integer or cursor not a string';

-- The body as an object, refusing unknown fields and missing required ones.
CREATE FUNCTION qr_event.http_body_fields(body jsonb, allowed text[], required text[])
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b       jsonb := coalesce(nullif(body, 'null'), '{}');
    field   text;
BEGIN
    IF jsonb_typeof(b) <> 'object' THEN
        RAISE EXCEPTION 'request body must be a JSON object' USING ERRCODE = '22023';
    END IF;
    SELECT min(k) INTO field FROM jsonb_object_keys(b) AS k WHERE k <> ALL (allowed);
    IF field IS NOT NULL THEN
        RAISE EXCEPTION 'unknown field "%"', left(field, 100) USING ERRCODE = '22023',
            HINT = CASE WHEN cardinality(allowed) = 0 THEN 'This request takes no body fields.'
                        ELSE 'The fields are ' || array_to_string(allowed, ', ') || '.' END;
    END IF;
    SELECT min(r.n) INTO field FROM unnest(required) WITH ORDINALITY AS r (f, n)
    WHERE coalesce(b -> r.f, 'null') = 'null';
    IF field IS NOT NULL THEN
        RAISE EXCEPTION 'field "%" is required', required[field::integer] USING ERRCODE = '22004';
    END IF;
    RETURN b;
END
$$;

COMMENT ON FUNCTION qr_event.http_body_fields(jsonb, text[], text[]) IS
    'The request body of a REST function as a JSON object (NULL: {}): 22023 when it is not an object or has a field '
    'not in allowed (unknown field "x": no mass assignment), 22004 when a required field is missing or null';

-- One field of a checked body as text, of the type asked for.
CREATE FUNCTION qr_event.http_field(body jsonb, name text, type text)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    value   jsonb := body -> name;
    typed   boolean;
BEGIN
    IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
        RETURN NULL;
    END IF;
    typed := CASE type
                 WHEN 'string' THEN jsonb_typeof(value) = 'string'
                 WHEN 'boolean' THEN jsonb_typeof(value) = 'boolean'
                 WHEN 'integer' THEN jsonb_typeof(value) = 'number' AND value::text ~ '^-?[0-9]{1,18}$'
                 WHEN 'timestamp' THEN jsonb_typeof(value) = 'string'
             END;
    IF typed IS NOT TRUE THEN
        RAISE EXCEPTION 'field "%" must be %', name,
            CASE type WHEN 'integer' THEN 'an integer' WHEN 'boolean' THEN 'true or false'
                      WHEN 'timestamp' THEN 'a timestamp' ELSE 'a ' || type END
            USING ERRCODE = '22023';
    END IF;
    IF type = 'timestamp' THEN
        BEGIN
            PERFORM (value #>> '{}')::timestamptz;
        EXCEPTION WHEN data_exception THEN
            RAISE EXCEPTION 'field "%" must be a timestamp', name USING ERRCODE = '22023',
                HINT = 'For example "2030-06-01T18:00:00+02:00".';
        END;
    END IF;
    RETURN value #>> '{}';
END
$$;

COMMENT ON FUNCTION qr_event.http_field(jsonb, text, text) IS
    'One field of a request body as text (NULL when absent or null), checked to be of type string, integer '
    '(at most 18 digits), boolean or timestamp: 22023 field "x" must be ... otherwise';

-- The keys of an object of the 0.4.0 SQL API (api_issue_qr, api_scan_qr, api_revoke_qr:
-- camelCase) as the REST answers spell every key of data: like the columns, snake_case.
CREATE FUNCTION qr_event.http_snake_keys(object jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(jsonb_object_agg(lower(regexp_replace(key, '([a-z0-9])([A-Z])', '\1_\2', 'g')), value),
                        '{}')
        FROM jsonb_each(object));

COMMENT ON FUNCTION qr_event.http_snake_keys(jsonb) IS
    'An object with its top-level keys in snake_case (firstScanAt becomes first_scan_at)';

REVOKE ALL ON FUNCTION qr_event.http_account(jsonb), qr_event.http_guest(jsonb),
    qr_event.http_param(jsonb, text, text, text, boolean), qr_event.http_id(jsonb, text),
    qr_event.http_organised_event(jsonb, jsonb), qr_event.http_token(jsonb), qr_event.http_page(jsonb),
    qr_event.http_body_fields(jsonb, text[], text[]), qr_event.http_field(jsonb, text, text),
    qr_event.http_snake_keys(jsonb) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Sign-in: the gateway signs a token with the claims answered here
-- ---------------------------------------------------------------------------

CREATE FUNCTION qr_event.http_login(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b       jsonb := qr_event.http_body_fields(body, '{email,password}', '{email,password}');
    login   text := qr_event.http_field(b, 'email', 'string');
    secret  text := qr_event.http_field(b, 'password', 'string');
    acc     qr_event.accounts;
BEGIN
    SELECT * INTO acc FROM qr_event.accounts a WHERE lower(a.email) = lower(btrim(login));
    -- an unknown email (NULL hash) still costs one key derivation
    IF NOT qr_event.verify_password(secret, acc.password_hash) OR acc.id IS NULL THEN
        RAISE EXCEPTION 'invalid email or password' USING ERRCODE = '28P01';
    END IF;
    RETURN jsonb_build_object('data', jsonb_build_object(
        'sub', acc.id::text,
        'role', CASE WHEN EXISTS (SELECT FROM qr_event.events e WHERE e.owner_id = acc.id)
                       OR EXISTS (SELECT FROM qr_event.event_staff s
                                  WHERE s.account_id = acc.id AND s.role = 'organizer')
                     THEN 'organizer' ELSE 'staff' END,
        'tier', acc.tier, 'display_name', acc.display_name));
END
$$;

COMMENT ON FUNCTION qr_event.http_login(jsonb, jsonb, jsonb) IS
    'POST /api/auth/login (anyone): body {email, password}; the claims of the account {sub, role, tier, display_name} '
    '(role organizer when it owns or organises an event, else staff); 28P01 invalid email or password for either';

CREATE FUNCTION qr_event.http_guest_login(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b       jsonb := qr_event.http_body_fields(body, '{qr_token}', '{qr_token}');
    qr      text := qr_event.http_field(b, 'qr_token', 'string');
    g       qr_event.guests;
BEGIN
    SELECT gu.* INTO g FROM qr_event.qr_codes c
    JOIN qr_event.guests gu ON gu.event_id = c.event_id AND gu.id = c.guest_id
    WHERE c.token = qr AND c.status IN ('active', 'used');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'invalid QR token' USING ERRCODE = '28P01';
    END IF;
    RETURN jsonb_build_object('data', jsonb_build_object(
        'sub', g.id::text, 'role', 'guest', 'tier', 'standard', 'event', g.event_id,
        'display_name', g.first_name || coalesce(' ' || g.last_name, '')));
END
$$;

COMMENT ON FUNCTION qr_event.http_guest_login(jsonb, jsonb, jsonb) IS
    'POST /api/auth/guest (anyone): body {qr_token}; the claims of the guest of an active or used code '
    '{sub, role guest, tier standard, event, display_name}; 28P01 invalid QR token for an unknown, revoked or replaced one';

-- ---------------------------------------------------------------------------
-- Events
-- ---------------------------------------------------------------------------

CREATE FUNCTION qr_event.http_list_events(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account bigint := qr_event.http_account(claims);
    p       record := qr_event.http_page(params);
BEGIN
    RETURN qr_event.list_events(account, p.page_size, p.cursor);
END
$$;

COMMENT ON FUNCTION qr_event.http_list_events(jsonb, jsonb, jsonb) IS
    'GET /api/events (accounts): the caller''s events as a page (qr_event.list_events); params limit, cursor';

CREATE FUNCTION qr_event.http_create_event(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account bigint := qr_event.http_account(claims);
    b       jsonb := qr_event.http_body_fields(body, '{name,venue,starts_at,ends_at}', '{name,starts_at,ends_at}');
    e       qr_event.events;
BEGIN
    INSERT INTO qr_event.events (owner_id, name, venue, starts_at, ends_at)
    VALUES (account, qr_event.http_field(b, 'name', 'string'), qr_event.http_field(b, 'venue', 'string'),
            qr_event.http_field(b, 'starts_at', 'timestamp')::timestamptz,
            qr_event.http_field(b, 'ends_at', 'timestamp')::timestamptz)
    RETURNING * INTO e;
    RETURN jsonb_build_object('status', 201, 'data', to_jsonb(e));
END
$$;

COMMENT ON FUNCTION qr_event.http_create_event(jsonb, jsonb, jsonb) IS
    'POST /api/events (accounts): body {name, venue?, starts_at, ends_at}; the caller owns the new event; 201 with it';

CREATE FUNCTION qr_event.http_get_event(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account bigint := qr_event.http_account(claims);
    event   bigint := qr_event.http_id(params, 'id');
BEGIN
    IF NOT qr_event.is_event_staff(account, event) THEN
        RAISE EXCEPTION 'event not found' USING ERRCODE = 'P0002';
    END IF;
    RETURN jsonb_build_object('data',
        (SELECT (to_jsonb(a) - 'account_id' - 'event_id') || jsonb_build_object('id', a.event_id)
         FROM qr_event.account_events a WHERE a.account_id = account AND a.event_id = event));
END
$$;

COMMENT ON FUNCTION qr_event.http_get_event(jsonb, jsonb, jsonb) IS
    'GET /api/events/{id} (staff of the event): the event with the caller''s role, as list_events shows it; '
    'P0002 event not found for anyone else';

CREATE FUNCTION qr_event.http_event_stats(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    event   bigint := qr_event.http_organised_event(claims, params);
BEGIN
    RETURN jsonb_build_object('data', jsonb_build_object(
        'event_id', event,
        'guests', (SELECT count(*) FROM qr_event.guests g WHERE g.event_id = event),
        'families', (SELECT count(*) FROM qr_event.families f WHERE f.event_id = event),
        'codes', (SELECT jsonb_build_object('active', count(*) FILTER (WHERE c.status = 'active'),
                                            'used', count(*) FILTER (WHERE c.status = 'used'),
                                            'revoked', count(*) FILTER (WHERE c.status = 'revoked'),
                                            'replaced', count(*) FILTER (WHERE c.status = 'replaced'))
                  FROM qr_event.qr_codes c WHERE c.event_id = event),
        'scans', (SELECT jsonb_build_object('accepted', count(*) FILTER (WHERE e.type = 'scan_accepted'),
                                            'rejected', count(*) FILTER (WHERE e.type = 'scan_rejected'))
                  FROM qr_event.qr_code_events e
                  WHERE e.event_id = event AND e.type IN ('scan_accepted', 'scan_rejected')),
        'games', (SELECT count(*) FROM qr_event.games g WHERE g.event_id = event),
        'completed_participations',
            (SELECT count(*) FROM qr_event.games g
             JOIN qr_event.game_participations p ON p.game_id = g.id AND p.is_completed
             WHERE g.event_id = event)));
END
$$;

COMMENT ON FUNCTION qr_event.http_event_stats(jsonb, jsonb, jsonb) IS
    'GET /api/events/{id}/stats (organisers): {event_id, guests, families, codes {active, used, revoked, replaced}, '
    'scans {accepted, rejected}, games, completed_participations}; P0002 event not found for anyone else';

-- ---------------------------------------------------------------------------
-- Guests, families, games of an event
-- ---------------------------------------------------------------------------

CREATE FUNCTION qr_event.http_list_guests(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account bigint := qr_event.http_account(claims);
    event   bigint := qr_event.http_id(params, 'id');
    p       record := qr_event.http_page(params);
BEGIN
    RETURN qr_event.list_guests(account, event, p.page_size, p.cursor);
END
$$;

COMMENT ON FUNCTION qr_event.http_list_guests(jsonb, jsonb, jsonb) IS
    'GET /api/events/{id}/guests (organisers): qr_event.list_guests; params limit, cursor';

CREATE FUNCTION qr_event.http_add_guest(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    event   bigint := qr_event.http_organised_event(claims, params);
    b       jsonb;
    g       qr_event.guests;
BEGIN
    b := qr_event.http_body_fields(body, '{first_name,last_name,email,family_id}', '{first_name}');
    INSERT INTO qr_event.guests (event_id, family_id, first_name, last_name, email)
    VALUES (event, qr_event.http_field(b, 'family_id', 'integer')::bigint,
            qr_event.http_field(b, 'first_name', 'string'), qr_event.http_field(b, 'last_name', 'string'),
            qr_event.http_field(b, 'email', 'string'))
    RETURNING * INTO g;
    RETURN jsonb_build_object('status', 201, 'data', to_jsonb(g));
END
$$;

COMMENT ON FUNCTION qr_event.http_add_guest(jsonb, jsonb, jsonb) IS
    'POST /api/events/{id}/guests (organisers): body {first_name, last_name?, email?, family_id?}; 201 with the guest '
    '(a family of another event: 23503); P0002 event not found for anyone else';

CREATE FUNCTION qr_event.http_list_families(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account bigint := qr_event.http_account(claims);
    event   bigint := qr_event.http_id(params, 'id');
    p       record := qr_event.http_page(params);
BEGIN
    RETURN qr_event.list_families(account, event, p.page_size, p.cursor);
END
$$;

COMMENT ON FUNCTION qr_event.http_list_families(jsonb, jsonb, jsonb) IS
    'GET /api/events/{id}/families (organisers): qr_event.list_families; params limit, cursor';

CREATE FUNCTION qr_event.http_add_family(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    event   bigint := qr_event.http_organised_event(claims, params);
    b       jsonb;
    f       qr_event.families;
BEGIN
    b := qr_event.http_body_fields(body, '{name}', '{name}');
    INSERT INTO qr_event.families (event_id, name)
    VALUES (event, qr_event.http_field(b, 'name', 'string'))
    RETURNING * INTO f;
    RETURN jsonb_build_object('status', 201, 'data', to_jsonb(f));
END
$$;

COMMENT ON FUNCTION qr_event.http_add_family(jsonb, jsonb, jsonb) IS
    'POST /api/events/{id}/families (organisers): body {name}; 201 with the family; P0002 event not found for anyone else';

CREATE FUNCTION qr_event.http_list_games(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    event   bigint := qr_event.http_id(params, 'id');
    p       record := qr_event.http_page(params);
BEGIN
    RETURN qr_event.list_games(event, p.page_size, p.cursor);
END
$$;

COMMENT ON FUNCTION qr_event.http_list_games(jsonb, jsonb, jsonb) IS
    'GET /api/events/{id}/games (public): qr_event.list_games; params limit, cursor';

CREATE FUNCTION qr_event.http_add_game(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    event   bigint := qr_event.http_organised_event(claims, params);
    b       jsonb;
    g       qr_event.games;
BEGIN
    b := qr_event.http_body_fields(body, '{title,score_policy}', '{title}');
    INSERT INTO qr_event.games (event_id, title, score_policy)
    VALUES (event, qr_event.http_field(b, 'title', 'string'),
            coalesce(qr_event.http_field(b, 'score_policy', 'string'), 'best'))  -- the column's default
    RETURNING * INTO g;
    RETURN jsonb_build_object('status', 201, 'data', to_jsonb(g));
END
$$;

COMMENT ON FUNCTION qr_event.http_add_game(jsonb, jsonb, jsonb) IS
    'POST /api/events/{id}/games (organisers): body {title, score_policy?}; 201 with the game (status draft); '
    'P0002 event not found for anyone else';

-- ---------------------------------------------------------------------------
-- QR codes
-- ---------------------------------------------------------------------------

CREATE FUNCTION qr_event.http_issue_qr(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account bigint := qr_event.http_account(claims);
    event   bigint := qr_event.http_id(params, 'id');
    guest   bigint := qr_event.http_id(params, 'guest_id');
BEGIN
    PERFORM qr_event.http_body_fields(body, '{}', '{}');
    RETURN jsonb_build_object('status', 201, 'data',
                              qr_event.http_snake_keys(qr_event.api_issue_qr(account, event, guest)));
END
$$;

COMMENT ON FUNCTION qr_event.http_issue_qr(jsonb, jsonb, jsonb) IS
    'POST /api/events/{id}/guests/{guest_id}/qr (organisers): qr_event.api_issue_qr, keys in snake_case; '
    'no body fields; 201 with the code';

CREATE FUNCTION qr_event.http_scan_qr(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account bigint := qr_event.http_account(claims);
    token   text := qr_event.http_token(params);
    b       jsonb := qr_event.http_body_fields(body, '{gate,device}', '{gate}');
BEGIN
    RETURN jsonb_build_object('data', qr_event.http_snake_keys(
        qr_event.api_scan_qr(account, token, qr_event.http_field(b, 'gate', 'string'),
                             qr_event.http_field(b, 'device', 'string'))));
END
$$;

COMMENT ON FUNCTION qr_event.http_scan_qr(jsonb, jsonb, jsonb) IS
    'POST /api/qr/{token}/scan (staff): body {gate, device?}; qr_event.api_scan_qr, keys in snake_case';

CREATE FUNCTION qr_event.http_revoke_qr(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account bigint := qr_event.http_account(claims);
    token   text := qr_event.http_token(params);
    b       jsonb := qr_event.http_body_fields(body, '{reason}', '{}');
BEGIN
    RETURN jsonb_build_object('data', qr_event.http_snake_keys(
        qr_event.api_revoke_qr(account, token, qr_event.http_field(b, 'reason', 'string'))));
END
$$;

COMMENT ON FUNCTION qr_event.http_revoke_qr(jsonb, jsonb, jsonb) IS
    'POST /api/qr/{token}/revoke (organisers): body {reason?}; qr_event.api_revoke_qr, keys in snake_case';

CREATE FUNCTION qr_event.http_qr_history(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account bigint := qr_event.http_account(claims);
    token   text := qr_event.http_token(params);
    p       record := qr_event.http_page(params);
BEGIN
    RETURN qr_event.api_qr_history(account, token, p.page_size, p.cursor);
END
$$;

COMMENT ON FUNCTION qr_event.http_qr_history(jsonb, jsonb, jsonb) IS
    'GET /api/qr/{token}/history (staff of the code''s event): qr_event.api_qr_history; params limit, cursor';

-- ---------------------------------------------------------------------------
-- Games: leaderboards and plays
-- ---------------------------------------------------------------------------

CREATE FUNCTION qr_event.http_leaderboard(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    game    bigint := qr_event.http_id(params, 'id');
    p       record := qr_event.http_page(params);
    mode    text := coalesce(qr_event.http_param(params, 'rank_mode', NULL, 'a string'), 'competition');
    items   jsonb;
    last    text;
BEGIN
    SELECT coalesce(jsonb_agg(to_jsonb(l) - 'ordinality' ORDER BY l.ordinality), '[]'),
           (array_agg(l.cursor ORDER BY l.ordinality DESC))[1]
    INTO items, last
    FROM qr_event.leaderboard(game, p.page_size, p.cursor, mode) WITH ORDINALITY AS l;
    RETURN qr_event.page_envelope(items, p.page_size, last, NULL, last IS NOT NULL, NULL, NULL, NULL);
END
$$;

COMMENT ON FUNCTION qr_event.http_leaderboard(jsonb, jsonb, jsonb) IS
    'GET /api/games/{id}/leaderboard (public): a page of qr_event.leaderboard as rows of its columns; params limit, '
    'cursor, rank_mode; pagination.cursor is the last row''s cursor when more rows follow';

CREATE FUNCTION qr_event.http_leaderboard_entry(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    game    bigint := qr_event.http_id(params, 'id');
    part    bigint := qr_event.http_id(params, 'participation_id');
    radius  integer := coalesce(qr_event.http_param(params, 'radius', '^[0-9]{1,9}$',
                                                    'an integer from 0 to 50')::integer, 5);
    mode    text := coalesce(qr_event.http_param(params, 'rank_mode', NULL, 'a string'), 'competition');
BEGIN
    RETURN jsonb_build_object('data', jsonb_build_object(
        'rank', (SELECT to_jsonb(r) FROM qr_event.leaderboard_rank(game, part, mode) AS r),
        'around', (SELECT coalesce(jsonb_agg(to_jsonb(a) - 'ordinality' ORDER BY a.ordinality), '[]')
                   FROM qr_event.leaderboard_around(game, part, radius, mode) WITH ORDINALITY AS a)));
END
$$;

COMMENT ON FUNCTION qr_event.http_leaderboard_entry(jsonb, jsonb, jsonb) IS
    'GET /api/games/{id}/leaderboard/{participation_id} (public): {rank: qr_event.leaderboard_rank, around: rows of '
    'qr_event.leaderboard_around}; params radius (default 5), rank_mode';

CREATE FUNCTION qr_event.http_play(claims jsonb, params jsonb, body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    guest   qr_event.guests := qr_event.http_guest(claims);
    game    bigint := qr_event.http_id(params, 'id');
    b       jsonb := qr_event.http_body_fields(body, '{score,completed,for_family}', '{score}');
    family  boolean := coalesce(qr_event.http_field(b, 'for_family', 'boolean')::boolean, false);
BEGIN
    IF NOT EXISTS (SELECT FROM qr_event.games g WHERE g.id = game AND g.event_id = guest.event_id) THEN
        RAISE EXCEPTION 'game not found' USING ERRCODE = 'P0002';
    END IF;
    IF family AND guest.family_id IS NULL THEN
        RAISE EXCEPTION 'the guest belongs to no family' USING ERRCODE = '22023',
            HINT = 'Leave for_family out to play as the guest.';
    END IF;
    RETURN jsonb_build_object('data', to_jsonb(qr_event.record_play(
        game, CASE WHEN NOT family THEN guest.id END, CASE WHEN family THEN guest.family_id END,
        qr_event.http_field(b, 'score', 'integer')::bigint,
        coalesce(qr_event.http_field(b, 'completed', 'boolean')::boolean, false))));
END
$$;

COMMENT ON FUNCTION qr_event.http_play(jsonb, jsonb, jsonb) IS
    'POST /api/games/{id}/play (guests): body {score, completed?, for_family?}; qr_event.record_play for the guest, '
    'or for the guest''s family when for_family; P0002 game not found for a game of another event';

-- ---------------------------------------------------------------------------
-- Only the gateway runs the REST functions
-- ---------------------------------------------------------------------------

REVOKE ALL ON FUNCTION
    qr_event.http_login(jsonb, jsonb, jsonb), qr_event.http_guest_login(jsonb, jsonb, jsonb),
    qr_event.http_list_events(jsonb, jsonb, jsonb), qr_event.http_create_event(jsonb, jsonb, jsonb),
    qr_event.http_get_event(jsonb, jsonb, jsonb), qr_event.http_event_stats(jsonb, jsonb, jsonb),
    qr_event.http_list_guests(jsonb, jsonb, jsonb), qr_event.http_add_guest(jsonb, jsonb, jsonb),
    qr_event.http_list_families(jsonb, jsonb, jsonb), qr_event.http_add_family(jsonb, jsonb, jsonb),
    qr_event.http_list_games(jsonb, jsonb, jsonb), qr_event.http_add_game(jsonb, jsonb, jsonb),
    qr_event.http_issue_qr(jsonb, jsonb, jsonb), qr_event.http_scan_qr(jsonb, jsonb, jsonb),
    qr_event.http_revoke_qr(jsonb, jsonb, jsonb), qr_event.http_qr_history(jsonb, jsonb, jsonb),
    qr_event.http_leaderboard(jsonb, jsonb, jsonb), qr_event.http_leaderboard_entry(jsonb, jsonb, jsonb),
    qr_event.http_play(jsonb, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    qr_event.http_login(jsonb, jsonb, jsonb), qr_event.http_guest_login(jsonb, jsonb, jsonb),
    qr_event.http_list_events(jsonb, jsonb, jsonb), qr_event.http_create_event(jsonb, jsonb, jsonb),
    qr_event.http_get_event(jsonb, jsonb, jsonb), qr_event.http_event_stats(jsonb, jsonb, jsonb),
    qr_event.http_list_guests(jsonb, jsonb, jsonb), qr_event.http_add_guest(jsonb, jsonb, jsonb),
    qr_event.http_list_families(jsonb, jsonb, jsonb), qr_event.http_add_family(jsonb, jsonb, jsonb),
    qr_event.http_list_games(jsonb, jsonb, jsonb), qr_event.http_add_game(jsonb, jsonb, jsonb),
    qr_event.http_issue_qr(jsonb, jsonb, jsonb), qr_event.http_scan_qr(jsonb, jsonb, jsonb),
    qr_event.http_revoke_qr(jsonb, jsonb, jsonb), qr_event.http_qr_history(jsonb, jsonb, jsonb),
    qr_event.http_leaderboard(jsonb, jsonb, jsonb), qr_event.http_leaderboard_entry(jsonb, jsonb, jsonb),
    qr_event.http_play(jsonb, jsonb, jsonb) TO qr_gateway_role;
