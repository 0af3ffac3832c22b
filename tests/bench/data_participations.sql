-- Benchmark data: one event with :rows guests, each with one completed participation
-- in one game ("Bench Game"); scores from 100,000 distinct values (about ten guests
-- share each score) and completion times on whole seconds, so ties are common.
-- Loaded into an empty database with the extension; prints progress as it goes.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET qr_event.password_iterations = 1000;

\echo '  accounts, event, game'
SELECT qr_event.create_account('bench@bench.qr-event.test', 'bench-password', 'Bench') AS owner_id \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner_id, 'Bench Event', now() - interval '1 day', now() + interval '1 day')
RETURNING id AS event_id \gset
INSERT INTO qr_event.games (event_id, title, status, score_policy)
VALUES (:event_id, 'Bench Game', 'live', 'best') RETURNING id AS game_id \gset

\echo '  guests:' :rows
INSERT INTO qr_event.guests (event_id, first_name, last_name)
SELECT :event_id, 'Guest', g::text FROM generate_series(1, :rows) AS g;

\echo '  participations:' :rows
INSERT INTO qr_event.game_participations
    (event_id, game_id, guest_id, total_score, is_completed, completed_at)
SELECT :event_id, :game_id, id,
       (pg_catalog.hashint8(id) & 2147483647) % 100000,
       true, timestamptz '2026-11-25 20:00:00+00' + ((pg_catalog.hashint8(id * 7) & 2147483647) % 10800) * interval '1 second'
FROM qr_event.guests WHERE event_id = :event_id;

\echo '  vacuum analyze'
VACUUM ANALYZE qr_event.guests;
VACUUM ANALYZE qr_event.game_participations;
