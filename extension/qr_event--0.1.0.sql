/* qr_event--0.1.0.sql: the data model, the roles and account creation */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION qr_event" to load this file. \quit

COMMENT ON SCHEMA qr_event IS
    'QR Event: accounts, events, guests, families, games, scores and the QR code audit';

-- ---------------------------------------------------------------------------
-- Accounts (global, not per event)
-- ---------------------------------------------------------------------------

CREATE TABLE qr_event.accounts (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    email           text NOT NULL,
    password_hash   text NOT NULL,
    display_name    text NOT NULL,
    tier            text NOT NULL DEFAULT 'standard',
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_email_format CHECK (
        email ~ '^[^@[:space:][:cntrl:]]{1,64}@[^@[:space:][:cntrl:]]+$'
        AND length(email) <= 254),
    CONSTRAINT accounts_password_hash_format CHECK (
        password_hash ~
        '^[$]pbkdf2-sha256[$]i=[1-9][0-9]{3,7}[$][A-Za-z0-9+/]{22}[$][A-Za-z0-9+/]{43}$'),
    CONSTRAINT accounts_display_name_not_blank CHECK (display_name ~ '[^[:space:]]'),
    CONSTRAINT accounts_display_name_length CHECK (length(display_name) <= 200),
    CONSTRAINT accounts_tier_check CHECK (tier IN ('standard', 'premium'))
);

CREATE UNIQUE INDEX accounts_email_lower_key
    ON qr_event.accounts (pg_catalog.lower(email));

COMMENT ON TABLE qr_event.accounts IS
    'People who sign in to organise or staff events; global, created by qr_event.create_account';
COMMENT ON COLUMN qr_event.accounts.id IS 'Account identifier (identity, never supplied by clients)';
COMMENT ON COLUMN qr_event.accounts.email IS
    'Sign-in email as given (trimmed); unique regardless of case (index accounts_email_lower_key on lower(email))';
COMMENT ON COLUMN qr_event.accounts.password_hash IS
    'PBKDF2-HMAC-SHA256 hash: $pbkdf2-sha256$i=<iterations>$<16-byte salt>$<32-byte key>, base64 without padding; never clear text';
COMMENT ON COLUMN qr_event.accounts.display_name IS 'Name shown to other users (1 to 200 characters, not blank)';
COMMENT ON COLUMN qr_event.accounts.tier IS 'Service tier: standard or premium (rate limits of the gateway)';
COMMENT ON COLUMN qr_event.accounts.created_at IS 'When the account was created';
COMMENT ON COLUMN qr_event.accounts.updated_at IS 'When the account was last changed';

-- ---------------------------------------------------------------------------
-- Events, the tenants: every table below carries event_id
-- ---------------------------------------------------------------------------

CREATE TABLE qr_event.events (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    owner_id        bigint NOT NULL,
    name            text NOT NULL,
    venue           text,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT events_pkey PRIMARY KEY (id),
    CONSTRAINT events_owner_id_fkey FOREIGN KEY (owner_id)
        REFERENCES qr_event.accounts (id),
    CONSTRAINT events_name_not_blank CHECK (name ~ '[^[:space:]]'),
    CONSTRAINT events_name_length CHECK (length(name) <= 200),
    CONSTRAINT events_venue_length CHECK (length(venue) <= 500),
    CONSTRAINT events_ends_after_starts CHECK (ends_at > starts_at)
);

CREATE INDEX events_owner_id_id_idx ON qr_event.events (owner_id, id);

COMMENT ON TABLE qr_event.events IS
    'Events (weddings, galas, conferences); the tenant of every per-event table';
COMMENT ON COLUMN qr_event.events.id IS 'Event identifier, the tenant and distribution key of per-event rows';
COMMENT ON COLUMN qr_event.events.owner_id IS 'The account that owns the event (an organiser by right)';
COMMENT ON COLUMN qr_event.events.name IS 'Event name (1 to 200 characters, not blank)';
COMMENT ON COLUMN qr_event.events.venue IS 'Where the event takes place (up to 500 characters)';
COMMENT ON COLUMN qr_event.events.starts_at IS 'Start of the event; together with ends_at the window in which QR codes are accepted';
COMMENT ON COLUMN qr_event.events.ends_at IS 'End of the event, after starts_at';
COMMENT ON COLUMN qr_event.events.created_at IS 'When the event was created';
COMMENT ON COLUMN qr_event.events.updated_at IS 'When the event was last changed';

CREATE TABLE qr_event.event_staff (
    event_id        bigint NOT NULL,
    account_id      bigint NOT NULL,
    role            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT event_staff_pkey PRIMARY KEY (event_id, account_id),
    CONSTRAINT event_staff_event_id_fkey FOREIGN KEY (event_id)
        REFERENCES qr_event.events (id) ON DELETE CASCADE,
    CONSTRAINT event_staff_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES qr_event.accounts (id) ON DELETE CASCADE,
    CONSTRAINT event_staff_role_check CHECK (role IN ('organizer', 'staff'))
);

CREATE INDEX event_staff_account_id_event_id_idx
    ON qr_event.event_staff (account_id, event_id);

COMMENT ON TABLE qr_event.event_staff IS
    'Accounts working at an event besides its owner: organisers manage it, staff scan at the door';
COMMENT ON COLUMN qr_event.event_staff.event_id IS 'The event';
COMMENT ON COLUMN qr_event.event_staff.account_id IS 'The account working at the event';
COMMENT ON COLUMN qr_event.event_staff.role IS 'organizer (manages the event) or staff (scans QR codes)';
COMMENT ON COLUMN qr_event.event_staff.created_at IS 'When the account joined the event';

-- ---------------------------------------------------------------------------
-- Guests and their families
-- ---------------------------------------------------------------------------

CREATE TABLE qr_event.families (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    event_id        bigint NOT NULL,
    name            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT families_pkey PRIMARY KEY (id),
    CONSTRAINT families_event_id_id_key UNIQUE (event_id, id),
    CONSTRAINT families_event_id_fkey FOREIGN KEY (event_id)
        REFERENCES qr_event.events (id) ON DELETE CASCADE,
    CONSTRAINT families_name_not_blank CHECK (name ~ '[^[:space:]]'),
    CONSTRAINT families_name_length CHECK (length(name) <= 200)
);

COMMENT ON TABLE qr_event.families IS 'Groups of guests of one event (a household); families can play games as one participant';
COMMENT ON COLUMN qr_event.families.id IS 'Family identifier';
COMMENT ON COLUMN qr_event.families.event_id IS 'The event the family belongs to';
COMMENT ON COLUMN qr_event.families.name IS 'Family name shown on leaderboards (1 to 200 characters, not blank)';
COMMENT ON COLUMN qr_event.families.created_at IS 'When the family was created';
COMMENT ON COLUMN qr_event.families.updated_at IS 'When the family was last changed';

CREATE TABLE qr_event.guests (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    event_id        bigint NOT NULL,
    family_id       bigint,
    first_name      text NOT NULL,
    last_name       text,
    email           text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT guests_pkey PRIMARY KEY (id),
    CONSTRAINT guests_event_id_id_key UNIQUE (event_id, id),
    CONSTRAINT guests_event_id_fkey FOREIGN KEY (event_id)
        REFERENCES qr_event.events (id) ON DELETE CASCADE,
    -- the family must be of the guest's event; deleting it keeps the guest
    CONSTRAINT guests_family_fkey FOREIGN KEY (event_id, family_id)
        REFERENCES qr_event.families (event_id, id) ON DELETE SET NULL (family_id),
    CONSTRAINT guests_first_name_not_blank CHECK (first_name ~ '[^[:space:]]'),
    CONSTRAINT guests_first_name_length CHECK (length(first_name) <= 200),
    CONSTRAINT guests_last_name_not_blank CHECK (last_name ~ '[^[:space:]]'),
    CONSTRAINT guests_last_name_length CHECK (length(last_name) <= 200),
    CONSTRAINT guests_email_format CHECK (
        email ~ '^[^@[:space:][:cntrl:]]{1,64}@[^@[:space:][:cntrl:]]+$'
        AND length(email) <= 254)
);

CREATE INDEX guests_event_id_family_id_idx ON qr_event.guests (event_id, family_id);

COMMENT ON TABLE qr_event.guests IS 'People invited to an event; each gets QR codes and may play games';
COMMENT ON COLUMN qr_event.guests.id IS 'Guest identifier';
COMMENT ON COLUMN qr_event.guests.event_id IS 'The event the guest is invited to';
COMMENT ON COLUMN qr_event.guests.family_id IS 'The guest''s family in the same event, if any; set to NULL when the family is deleted';
COMMENT ON COLUMN qr_event.guests.first_name IS 'First name (1 to 200 characters, not blank)';
COMMENT ON COLUMN qr_event.guests.last_name IS 'Last name, if known (1 to 200 characters, not blank)';
COMMENT ON COLUMN qr_event.guests.email IS 'Contact email, if known (not unique: family members may share one)';
COMMENT ON COLUMN qr_event.guests.created_at IS 'When the guest was added';
COMMENT ON COLUMN qr_event.guests.updated_at IS 'When the guest was last changed';

-- ---------------------------------------------------------------------------
-- Games and scores
-- ---------------------------------------------------------------------------

CREATE TABLE qr_event.games (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    event_id        bigint NOT NULL,
    title           text NOT NULL,
    status          text NOT NULL DEFAULT 'draft',
    score_policy    text NOT NULL DEFAULT 'best',
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT games_pkey PRIMARY KEY (id),
    CONSTRAINT games_event_id_id_key UNIQUE (event_id, id),
    CONSTRAINT games_event_id_fkey FOREIGN KEY (event_id)
        REFERENCES qr_event.events (id) ON DELETE CASCADE,
    CONSTRAINT games_title_not_blank CHECK (title ~ '[^[:space:]]'),
    CONSTRAINT games_title_length CHECK (length(title) <= 200),
    CONSTRAINT games_status_check CHECK (status IN ('draft', 'live', 'finished')),
    CONSTRAINT games_score_policy_check CHECK (score_policy IN ('best', 'latest', 'sum'))
);

COMMENT ON TABLE qr_event.games IS 'Games played during an event, each with its own leaderboard';
COMMENT ON COLUMN qr_event.games.id IS 'Game identifier';
COMMENT ON COLUMN qr_event.games.event_id IS 'The event the game belongs to';
COMMENT ON COLUMN qr_event.games.title IS 'Game title (1 to 200 characters, not blank)';
COMMENT ON COLUMN qr_event.games.status IS 'draft (being prepared), live (being played) or finished';
COMMENT ON COLUMN qr_event.games.score_policy IS
    'How a new score combines with a participant''s total: best (keep the higher), latest (replace) or sum (add)';
COMMENT ON COLUMN qr_event.games.created_at IS 'When the game was created';
COMMENT ON COLUMN qr_event.games.updated_at IS 'When the game was last changed';

CREATE TABLE qr_event.game_participations (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    event_id        bigint NOT NULL,
    game_id         bigint NOT NULL,
    guest_id        bigint,
    family_id       bigint,
    total_score     bigint NOT NULL DEFAULT 0,
    is_completed    boolean NOT NULL DEFAULT false,
    completed_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT game_participations_pkey PRIMARY KEY (id),
    CONSTRAINT game_participations_game_fkey FOREIGN KEY (event_id, game_id)
        REFERENCES qr_event.games (event_id, id) ON DELETE CASCADE,
    CONSTRAINT game_participations_guest_fkey FOREIGN KEY (event_id, guest_id)
        REFERENCES qr_event.guests (event_id, id) ON DELETE CASCADE,
    CONSTRAINT game_participations_family_fkey FOREIGN KEY (event_id, family_id)
        REFERENCES qr_event.families (event_id, id) ON DELETE CASCADE,
    CONSTRAINT game_participations_one_participant CHECK (num_nonnulls(guest_id, family_id) = 1),
    CONSTRAINT game_participations_completed_at_check CHECK (
        is_completed = (completed_at IS NOT NULL)),
    CONSTRAINT game_participations_game_id_guest_id_key UNIQUE (game_id, guest_id),
    CONSTRAINT game_participations_game_id_family_id_key UNIQUE (game_id, family_id)
);

-- the leaderboard order: total_score DESC, completed_at ASC, id ASC
CREATE INDEX game_participations_leaderboard_idx
    ON qr_event.game_participations (game_id, total_score DESC, completed_at, id)
    WHERE is_completed;
CREATE INDEX game_participations_guest_id_idx
    ON qr_event.game_participations (guest_id) WHERE guest_id IS NOT NULL;
CREATE INDEX game_participations_family_id_idx
    ON qr_event.game_participations (family_id) WHERE family_id IS NOT NULL;

COMMENT ON TABLE qr_event.game_participations IS
    'One participant (a guest or a family) in one game, with its score; only completed ones are ranked';
COMMENT ON COLUMN qr_event.game_participations.id IS 'Participation identifier, the last tie-breaker of the leaderboard order';
COMMENT ON COLUMN qr_event.game_participations.event_id IS 'The event of the game and of the participant';
COMMENT ON COLUMN qr_event.game_participations.game_id IS 'The game played';
COMMENT ON COLUMN qr_event.game_participations.guest_id IS 'The guest playing; exactly one of guest_id and family_id is set';
COMMENT ON COLUMN qr_event.game_participations.family_id IS 'The family playing; exactly one of guest_id and family_id is set';
COMMENT ON COLUMN qr_event.game_participations.total_score IS 'Score so far, combined by the game''s score_policy (an integer, ranked descending)';
COMMENT ON COLUMN qr_event.game_participations.is_completed IS 'Whether the participation is finished and ranked';
COMMENT ON COLUMN qr_event.game_participations.completed_at IS 'When it was completed (set exactly when is_completed); earlier ranks first on equal scores';
COMMENT ON COLUMN qr_event.game_participations.created_at IS 'When the participant started the game';
COMMENT ON COLUMN qr_event.game_participations.updated_at IS 'When the score last changed';

-- ---------------------------------------------------------------------------
-- QR codes: the projection (qr_codes) and the append-only event store
-- ---------------------------------------------------------------------------

CREATE TABLE qr_event.qr_codes (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    event_id        bigint NOT NULL,
    guest_id        bigint NOT NULL,
    token           text NOT NULL,
    status          text NOT NULL DEFAULT 'active',
    version         integer NOT NULL DEFAULT 1,
    issued_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    first_scan_at   timestamptz,
    first_scan_gate text,
    revoked_at      timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT qr_codes_pkey PRIMARY KEY (id),
    CONSTRAINT qr_codes_token_key UNIQUE (token),
    CONSTRAINT qr_codes_event_id_id_key UNIQUE (event_id, id),
    -- a guest with issued codes keeps its audit trail: no cascade
    CONSTRAINT qr_codes_guest_fkey FOREIGN KEY (event_id, guest_id)
        REFERENCES qr_event.guests (event_id, id),
    CONSTRAINT qr_codes_token_format CHECK (token ~ '^[A-Za-z0-9_-]{22,128}$'),
    CONSTRAINT qr_codes_status_check CHECK (status IN ('active', 'used', 'revoked', 'replaced')),
    CONSTRAINT qr_codes_version_check CHECK (version > 0),
    CONSTRAINT qr_codes_used_has_first_scan CHECK (status <> 'used' OR first_scan_at IS NOT NULL),
    CONSTRAINT qr_codes_revoked_has_revoked_at CHECK (status <> 'revoked' OR revoked_at IS NOT NULL),
    CONSTRAINT qr_codes_first_scan_gate_length CHECK (length(first_scan_gate) <= 200)
);

CREATE INDEX qr_codes_event_id_guest_id_idx ON qr_event.qr_codes (event_id, guest_id);

COMMENT ON TABLE qr_event.qr_codes IS
    'Projection of qr_code_events: the current state of every QR code, one row per code';
COMMENT ON COLUMN qr_event.qr_codes.id IS 'QR code identifier (internal; guests only ever see the token)';
COMMENT ON COLUMN qr_event.qr_codes.event_id IS 'The event the code admits to';
COMMENT ON COLUMN qr_event.qr_codes.guest_id IS 'The guest the code was issued to, in the same event';
COMMENT ON COLUMN qr_event.qr_codes.token IS
    'What the QR image encodes: at least 128 random bits in base64url (22 to 128 characters), never derived from ids';
COMMENT ON COLUMN qr_event.qr_codes.status IS
    'active (not yet scanned), used (accepted at a door), revoked, or replaced (superseded by a re-issued code)';
COMMENT ON COLUMN qr_event.qr_codes.version IS 'Version of the last event of the code applied to this row';
COMMENT ON COLUMN qr_event.qr_codes.issued_at IS 'When the code was issued';
COMMENT ON COLUMN qr_event.qr_codes.first_scan_at IS 'When the code was first accepted at a door (set for used codes)';
COMMENT ON COLUMN qr_event.qr_codes.first_scan_gate IS 'The gate of the first accepted scan';
COMMENT ON COLUMN qr_event.qr_codes.revoked_at IS 'When the code was revoked (set for revoked codes)';
COMMENT ON COLUMN qr_event.qr_codes.updated_at IS 'When the row was last changed';

CREATE TABLE qr_event.qr_code_events (
    seq             bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME qr_event.qr_code_events_seq),
    event_id        bigint NOT NULL,
    qr_code_id      bigint NOT NULL,
    version         integer NOT NULL,
    type            text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}',
    actor           text,
    gate            text,
    device          text,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    txid            xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    prev_hash       bytea,
    hash            bytea NOT NULL,
    CONSTRAINT qr_code_events_pkey PRIMARY KEY (seq),
    CONSTRAINT qr_code_events_qr_code_id_version_key UNIQUE (qr_code_id, version),
    CONSTRAINT qr_code_events_qr_code_fkey FOREIGN KEY (event_id, qr_code_id)
        REFERENCES qr_event.qr_codes (event_id, id),
    CONSTRAINT qr_code_events_version_check CHECK (version > 0),
    CONSTRAINT qr_code_events_type_check CHECK (
        type IN ('issued', 'scan_accepted', 'scan_rejected', 'revoked', 'reissued')),
    CONSTRAINT qr_code_events_payload_object CHECK (jsonb_typeof(payload) = 'object'),
    CONSTRAINT qr_code_events_actor_length CHECK (length(actor) <= 200),
    CONSTRAINT qr_code_events_gate_length CHECK (length(gate) <= 200),
    CONSTRAINT qr_code_events_device_length CHECK (length(device) <= 200),
    -- the first event of a code starts its chain; every later one links back
    CONSTRAINT qr_code_events_prev_hash_check CHECK ((version = 1) = (prev_hash IS NULL)),
    CONSTRAINT qr_code_events_prev_hash_length CHECK (octet_length(prev_hash) = 32),
    CONSTRAINT qr_code_events_hash_length CHECK (octet_length(hash) = 32)
);

CREATE INDEX qr_code_events_event_id_occurred_at_idx
    ON qr_event.qr_code_events (event_id, occurred_at);

COMMENT ON TABLE qr_event.qr_code_events IS
    'Append-only event store of QR codes: every issue, scan and revocation, hash-chained per code';
COMMENT ON COLUMN qr_event.qr_code_events.seq IS 'Global order in which events were recorded';
COMMENT ON COLUMN qr_event.qr_code_events.event_id IS 'The event (tenant) of the QR code';
COMMENT ON COLUMN qr_event.qr_code_events.qr_code_id IS 'The QR code the event is about';
COMMENT ON COLUMN qr_event.qr_code_events.version IS 'Position in the code''s own stream, from 1 without gaps';
COMMENT ON COLUMN qr_event.qr_code_events.type IS 'issued, scan_accepted, scan_rejected, revoked or reissued';
COMMENT ON COLUMN qr_event.qr_code_events.payload IS 'Type-specific details as a JSON object (for example the rejection reason)';
COMMENT ON COLUMN qr_event.qr_code_events.actor IS 'Who caused the event (for example the account id of the scanning staff member)';
COMMENT ON COLUMN qr_event.qr_code_events.gate IS 'Entrance at which a scan happened';
COMMENT ON COLUMN qr_event.qr_code_events.device IS 'Scanner device that reported the scan';
COMMENT ON COLUMN qr_event.qr_code_events.occurred_at IS 'When the event happened, as reported';
COMMENT ON COLUMN qr_event.qr_code_events.recorded_at IS 'When the database recorded it (clock_timestamp at insert)';
COMMENT ON COLUMN qr_event.qr_code_events.txid IS 'Transaction that recorded the event';
COMMENT ON COLUMN qr_event.qr_code_events.prev_hash IS 'The hash of the previous event of the same code; NULL exactly for version 1';
COMMENT ON COLUMN qr_event.qr_code_events.hash IS 'SHA-256 (32 bytes) over this event and prev_hash, linking the chain';

-- ---------------------------------------------------------------------------
-- pg_dump keeps the rows and the identity positions of every table
-- ---------------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('qr_event.accounts', '');
SELECT pg_catalog.pg_extension_config_dump('qr_event.events', '');
SELECT pg_catalog.pg_extension_config_dump('qr_event.event_staff', '');
SELECT pg_catalog.pg_extension_config_dump('qr_event.families', '');
SELECT pg_catalog.pg_extension_config_dump('qr_event.guests', '');
SELECT pg_catalog.pg_extension_config_dump('qr_event.games', '');
SELECT pg_catalog.pg_extension_config_dump('qr_event.game_participations', '');
SELECT pg_catalog.pg_extension_config_dump('qr_event.qr_codes', '');
SELECT pg_catalog.pg_extension_config_dump('qr_event.qr_code_events', '');

-- the identity sequences; one call per statement, as each updates pg_extension
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('qr_event.accounts', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('qr_event.events', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('qr_event.families', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('qr_event.guests', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('qr_event.games', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('qr_event.game_participations', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('qr_event.qr_codes', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('qr_event.qr_code_events', 'seq')::pg_catalog.regclass, '');

-- ---------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------

CREATE FUNCTION qr_event.version()
RETURNS text
AS 'MODULE_PATHNAME', 'qr_event_version'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION qr_event.version() IS
    'Version of the loaded qr_event library; matches the extension version when library and SQL objects agree';

CREATE FUNCTION qr_event.create_account(email text, password text, display_name text,
                                        tier text DEFAULT 'standard')
RETURNS bigint
AS 'MODULE_PATHNAME', 'qr_event_create_account'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION qr_event.create_account(text, text, text, text) IS
    'Creates an account and returns its id; the password is stored as a salted PBKDF2-HMAC-SHA256 hash '
    '(qr_event.password_iterations); email and display name are trimmed, emails compared without case. '
    'For DBAs and admin tools only.';

REVOKE ALL ON FUNCTION qr_event.create_account(text, text, text, text) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Roles (cluster-wide: created once, kept by DROP EXTENSION)
-- ---------------------------------------------------------------------------

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'qr_gateway_role') THEN
        CREATE ROLE qr_gateway_role NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'qr_analyst') THEN
        CREATE ROLE qr_analyst NOLOGIN;
    END IF;
END
$roles$;

COMMENT ON ROLE qr_gateway_role IS
    'qr_event: what the qr_gateway daemon may do (read and write event data, no DDL, no TRUNCATE, no password hashes); '
    'grant it to the gateway''s login role. Cluster-wide: created by CREATE EXTENSION qr_event if missing, '
    'left in place by DROP EXTENSION';
COMMENT ON ROLE qr_analyst IS
    'qr_event: read access to the audit views for analysts (none yet in 0.1.0: it reads no table); '
    'grant it to their login roles. '
    'Cluster-wide: created by CREATE EXTENSION qr_event if missing, left in place by DROP EXTENSION';

GRANT USAGE ON SCHEMA qr_event TO qr_gateway_role, qr_analyst;

GRANT SELECT (id, email, display_name, tier, created_at) ON qr_event.accounts TO qr_gateway_role;

GRANT SELECT, INSERT, UPDATE ON
    qr_event.events, qr_event.event_staff, qr_event.families, qr_event.guests,
    qr_event.games, qr_event.game_participations, qr_event.qr_codes
    TO qr_gateway_role;

GRANT DELETE ON
    qr_event.event_staff, qr_event.families, qr_event.guests,
    qr_event.games, qr_event.game_participations
    TO qr_gateway_role;

-- the event store is append-only
GRANT SELECT, INSERT ON qr_event.qr_code_events TO qr_gateway_role;
