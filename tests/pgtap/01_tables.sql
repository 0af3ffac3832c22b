-- pgTAP: the tables of qr_event, their columns, types, nullability, identities and defaults
BEGIN;
SELECT plan(89);

SELECT has_schema('qr_event');
SELECT tables_are('qr_event', ARRAY['accounts', 'events', 'event_staff', 'families', 'guests',
    'games', 'game_participations', 'qr_codes', 'qr_code_events', 'cursor_keys',
    'leaderboard_scores', 'leaderboard_buckets', 'leaderboard_deltas', 'leaderboard_state',
    'qr_unknown_scans']);
SELECT sequences_are('qr_event', ARRAY['accounts_id_seq', 'events_id_seq', 'families_id_seq',
    'guests_id_seq', 'games_id_seq', 'game_participations_id_seq', 'qr_codes_id_seq',
    'qr_code_events_seq', 'qr_unknown_scans_seq_seq']);
SELECT functions_are('qr_event', ARRAY['create_account', 'version', 'rotate_cursor_secret', 'paginate',
    'paginate_query', 'paginate_explain', 'is_event_organiser', 'page_envelope', 'list_events',
    'list_guests', 'list_families', 'list_games', 'leaderboard', 'leaderboard_around',
    'leaderboard_rank', 'record_play', 'combine_score', 'leaderboard_changes', 'leaderboard_version',
    'leaderboard_compact', 'leaderboard_rebuild', 'leaderboard_capture', 'leaderboard_forget',
    'leaderboard_lock_key', 'audit_encode', 'audit_hash', 'audit_chain', 'audit_append_only',
    'verify_audit', 'audit_digest', 'new_qr_token', 'qr_append', 'qr_check_text', 'qr_new_code', 'qr_lock_code', 'issue_qr',
    'setting_max_score', 'setting_scan_opens_before',
    'reissue_qr', 'revoke_qr', 'scan_qr', 'qr_apply', 'qr_state_at', 'rebuild_qr_projection',
    'is_event_staff', 'qr_code_json', 'api_issue_qr', 'api_scan_qr', 'api_revoke_qr', 'api_qr_history',
    'verify_password', 'http_account', 'http_guest', 'http_param', 'http_id', 'http_organised_event', 'http_token', 'http_page',
    'http_body_fields', 'http_field', 'http_snake_keys', 'http_login', 'http_guest_login', 'http_list_events',
    'http_create_event', 'http_get_event', 'http_event_stats', 'http_list_guests', 'http_add_guest',
    'http_list_families', 'http_add_family', 'http_list_games', 'http_add_game', 'http_issue_qr',
    'http_scan_qr', 'http_revoke_qr', 'http_qr_history', 'http_leaderboard', 'http_leaderboard_entry',
    'http_play']);
SELECT views_are('qr_event', ARRAY['account_events', 'qr_history_items', 'audit_timeline', 'scan_stats',
    'suspicious_scans']);

SELECT columns_are('qr_event', 'accounts', ARRAY['id', 'email', 'password_hash', 'display_name',
    'tier', 'created_at', 'updated_at']);
SELECT columns_are('qr_event', 'events', ARRAY['id', 'owner_id', 'name', 'venue', 'starts_at',
    'ends_at', 'created_at', 'updated_at']);
SELECT columns_are('qr_event', 'event_staff', ARRAY['event_id', 'account_id', 'role', 'created_at']);
SELECT columns_are('qr_event', 'families', ARRAY['id', 'event_id', 'name', 'created_at', 'updated_at']);
SELECT columns_are('qr_event', 'guests', ARRAY['id', 'event_id', 'family_id', 'first_name',
    'last_name', 'email', 'created_at', 'updated_at']);
SELECT columns_are('qr_event', 'games', ARRAY['id', 'event_id', 'title', 'status', 'score_policy',
    'created_at', 'updated_at']);
SELECT columns_are('qr_event', 'game_participations', ARRAY['id', 'event_id', 'game_id', 'guest_id',
    'family_id', 'total_score', 'is_completed', 'completed_at', 'created_at', 'updated_at']);
SELECT columns_are('qr_event', 'qr_codes', ARRAY['id', 'event_id', 'guest_id', 'token', 'status',
    'version', 'issued_at', 'first_scan_at', 'first_scan_gate', 'revoked_at', 'updated_at',
    'head_hash', 'replaced_by']);
SELECT columns_are('qr_event', 'qr_code_events', ARRAY['seq', 'event_id', 'qr_code_id', 'version',
    'type', 'payload', 'actor', 'gate', 'device', 'occurred_at', 'recorded_at', 'txid',
    'prev_hash', 'hash']);
SELECT columns_are('qr_event', 'qr_unknown_scans', ARRAY['seq', 'token_sha256', 'expected_event_id',
    'actor', 'gate', 'device', 'occurred_at', 'recorded_at']);

-- identifiers, references and scores are bigint; instants are timestamptz
SELECT col_type_is('qr_event', t.tab, t.col, t.typ, format('%s.%s is %s', t.tab, t.col, t.typ))
FROM (VALUES
    ('accounts'::name, 'id'::name, 'bigint'::text),
    ('events', 'id', 'bigint'),
    ('families', 'id', 'bigint'),
    ('guests', 'id', 'bigint'),
    ('games', 'id', 'bigint'),
    ('game_participations', 'id', 'bigint'),
    ('qr_codes', 'id', 'bigint'),
    ('qr_code_events', 'seq', 'bigint'),
    ('events', 'owner_id', 'bigint'),
    ('event_staff', 'event_id', 'bigint'),
    ('event_staff', 'account_id', 'bigint'),
    ('families', 'event_id', 'bigint'),
    ('guests', 'event_id', 'bigint'),
    ('guests', 'family_id', 'bigint'),
    ('games', 'event_id', 'bigint'),
    ('game_participations', 'event_id', 'bigint'),
    ('game_participations', 'game_id', 'bigint'),
    ('game_participations', 'guest_id', 'bigint'),
    ('game_participations', 'family_id', 'bigint'),
    ('game_participations', 'total_score', 'bigint'),
    ('game_participations', 'is_completed', 'boolean'),
    ('qr_codes', 'event_id', 'bigint'),
    ('qr_codes', 'guest_id', 'bigint'),
    ('qr_codes', 'token', 'text'),
    ('qr_codes', 'version', 'integer'),
    ('qr_codes', 'head_hash', 'bytea'),
    ('qr_codes', 'replaced_by', 'bigint'),
    ('qr_code_events', 'event_id', 'bigint'),
    ('qr_code_events', 'qr_code_id', 'bigint'),
    ('qr_code_events', 'version', 'integer'),
    ('qr_code_events', 'payload', 'jsonb'),
    ('qr_code_events', 'txid', 'xid8'),
    ('qr_code_events', 'prev_hash', 'bytea'),
    ('qr_code_events', 'hash', 'bytea'),
    ('qr_unknown_scans', 'seq', 'bigint'),
    ('qr_unknown_scans', 'token_sha256', 'bytea'),
    ('qr_unknown_scans', 'expected_event_id', 'bigint'),
    ('accounts', 'created_at', 'timestamp with time zone'),
    ('events', 'starts_at', 'timestamp with time zone'),
    ('events', 'ends_at', 'timestamp with time zone'),
    ('game_participations', 'completed_at', 'timestamp with time zone'),
    ('qr_codes', 'issued_at', 'timestamp with time zone'),
    ('qr_codes', 'first_scan_at', 'timestamp with time zone'),
    ('qr_codes', 'revoked_at', 'timestamp with time zone'),
    ('qr_code_events', 'occurred_at', 'timestamp with time zone'),
    ('qr_code_events', 'recorded_at', 'timestamp with time zone'),
    ('qr_unknown_scans', 'occurred_at', 'timestamp with time zone'),
    ('qr_unknown_scans', 'recorded_at', 'timestamp with time zone')
) AS t (tab, col, typ);

SELECT is_empty($$
    SELECT table_name || '.' || column_name FROM information_schema.columns
    WHERE table_schema = 'qr_event'
      AND (column_name LIKE '%\_at' AND data_type <> 'timestamp with time zone'
           OR (column_name = 'id' OR column_name LIKE '%\_id') AND data_type <> 'bigint')
      AND (table_name, column_name) <> ('cursor_keys', 'id')
$$, 'every *_at column is timestamptz and every id column bigint (but the singleton cursor_keys.id)');
SELECT col_type_is('qr_event', 'cursor_keys', 'id', 'integer', 'cursor_keys.id is integer, always 1');

-- identities: GENERATED ALWAYS, so clients cannot choose ids
SELECT is(a.attidentity, 'a', format('%s.%s is GENERATED ALWAYS AS IDENTITY', t.tab, t.col))
FROM (VALUES ('accounts', 'id'), ('events', 'id'), ('families', 'id'), ('guests', 'id'),
             ('games', 'id'), ('game_participations', 'id'), ('qr_codes', 'id'),
             ('qr_code_events', 'seq'), ('qr_unknown_scans', 'seq')) AS t (tab, col)
LEFT JOIN pg_attribute a ON a.attrelid = ('qr_event.' || t.tab)::regclass AND a.attname = t.col;

-- exactly these columns may be NULL
SELECT set_eq($$
    SELECT table_name || '.' || column_name FROM information_schema.columns
    WHERE table_schema = 'qr_event' AND is_nullable = 'YES'
      AND table_name IN (SELECT table_name FROM information_schema.tables
                         WHERE table_schema = 'qr_event' AND table_type = 'BASE TABLE')
$$, ARRAY['events.venue', 'guests.family_id', 'guests.last_name', 'guests.email',
          'game_participations.guest_id', 'game_participations.family_id',
          'game_participations.completed_at', 'qr_codes.first_scan_at',
          'qr_codes.first_scan_gate', 'qr_codes.revoked_at', 'qr_code_events.actor',
          'qr_code_events.gate', 'qr_code_events.device', 'qr_code_events.prev_hash',
          -- head_hash: NULL for a code with no event (before 0.4.0); replaced_by: only when replaced
          'qr_codes.head_hash', 'qr_codes.replaced_by',
          -- what an unknown scan did not say
          'qr_unknown_scans.expected_event_id', 'qr_unknown_scans.actor', 'qr_unknown_scans.device'],
    'only optional columns are nullable');

-- defaults
SELECT col_default_is('qr_event', 'accounts', 'tier', 'standard'::text, 'accounts.tier defaults to standard');
SELECT col_default_is('qr_event', 'games', 'status', 'draft'::text, 'games.status defaults to draft');
SELECT col_default_is('qr_event', 'games', 'score_policy', 'best'::text, 'games.score_policy defaults to best');
SELECT col_default_is('qr_event', 'game_participations', 'total_score', 0::bigint, 'total_score defaults to 0');
SELECT col_default_is('qr_event', 'game_participations', 'is_completed', false, 'is_completed defaults to false');
SELECT col_default_is('qr_event', 'qr_codes', 'status', 'active'::text, 'qr_codes.status defaults to active');
SELECT col_default_is('qr_event', 'qr_codes', 'version', 1, 'qr_codes.version defaults to 1');
SELECT col_default_is('qr_event', 'qr_code_events', 'payload', '{}'::jsonb, 'payload defaults to {}');
SELECT col_default_is('qr_event', 'qr_code_events', 'recorded_at', 'clock_timestamp()'::text,
                      'recorded_at is the clock at insert');
SELECT col_default_is('qr_event', 'qr_code_events', 'txid', 'pg_current_xact_id()'::text,
                      'txid is the inserting transaction');
SELECT col_default_is('qr_event', 'qr_unknown_scans', 'recorded_at', 'clock_timestamp()'::text,
                      'an unknown scan''s recorded_at is the clock at insert');
SELECT col_hasnt_default('qr_event', 'qr_codes', c, 'qr_codes.' || c || ' has no default (the commands set it)')
FROM unnest(ARRAY['head_hash', 'replaced_by']::name[]) AS c;
SELECT is_empty($$
    SELECT table_name || '.' || column_name FROM information_schema.columns
    WHERE table_schema = 'qr_event' AND column_name IN ('created_at', 'updated_at', 'issued_at')
      AND column_default IS DISTINCT FROM 'now()'
      AND table_name IN (SELECT table_name FROM information_schema.tables
                         WHERE table_schema = 'qr_event' AND table_type = 'BASE TABLE')
$$, 'created_at, updated_at and issued_at default to now()');

SELECT * FROM finish();
ROLLBACK;
