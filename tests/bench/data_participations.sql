-- Benchmark data: one event with :rows guests, each with one completed participation
-- in one game ("Bench Game"); scores from 100,000 distinct values (about ten guests
-- share each score) and completion times on whole seconds, so ties are common.
-- Loaded into an empty database with the extension. Guests and participations are
-- inserted in ten batches each (\gexec runs one statement per batch), each followed by
-- a progress line with the seconds elapsed since the load began.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET qr_event.password_iterations = 1000;
\pset format unaligned
\pset tuples_only on
SELECT clock_timestamp() AS load_start \gset

-- Seconds since the load began, to a tenth.
CREATE FUNCTION pg_temp.elapsed(since timestamptz) RETURNS numeric
LANGUAGE sql AS $$ SELECT round(extract(epoch FROM clock_timestamp() - since)::numeric, 1) $$;

-- The progress line after batch b of 10 of what.
CREATE FUNCTION pg_temp.progress(what text, b int, total bigint, since timestamptz) RETURNS text
LANGUAGE sql AS $$
    SELECT format('  %s: %s of %s (%s%%, %s s)', what, to_char(total * b / 10, 'FM999,999,999,990'),
                  to_char(total, 'FM999,999,999,990'), 10 * b, pg_temp.elapsed(since))
$$;

\echo '  accounts, event, game'
SELECT qr_event.create_account('bench@bench.qr-event.test', 'bench-password', 'Bench') AS owner_id \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:owner_id, 'Bench Event', now() - interval '1 day', now() + interval '1 day')
RETURNING id AS event_id \gset
INSERT INTO qr_event.games (event_id, title, status, score_policy)
VALUES (:event_id, 'Bench Game', 'live', 'best') RETURNING id AS game_id \gset

SELECT format('INSERT INTO qr_event.guests (event_id, first_name, last_name) '
              'SELECT %s, ''Guest'', g::text FROM generate_series(%s, %s) AS g',
              :event_id, :rows::bigint * (b - 1) / 10 + 1, :rows::bigint * b / 10),
       format('SELECT pg_temp.progress(''guests'', %s, %s, %L)', b, :rows, :'load_start')
FROM generate_series(1, 10) AS b \gexec

-- In ten statements the write trigger would compact the rank structure ten times, each
-- costing more than the load of a batch: the batches go in without the leaderboard
-- triggers, and the structure is built once from the loaded rows.
ALTER TABLE qr_event.game_participations DISABLE TRIGGER leaderboard_capture_insert;
ALTER TABLE qr_event.game_participations DISABLE TRIGGER leaderboard_capture_compact;
SELECT min(id) AS first_guest, max(id) - min(id) + 1 AS guest_span
FROM qr_event.guests WHERE event_id = :event_id \gset
SELECT format('INSERT INTO qr_event.game_participations '
              '(event_id, game_id, guest_id, total_score, is_completed, completed_at) '
              'SELECT %1$s, %2$s, id, (pg_catalog.hashint8(id) & 2147483647) %% 100000, true, '
              'timestamptz ''2026-11-25 20:00:00+00'' '
              '+ ((pg_catalog.hashint8(id * 7) & 2147483647) %% 10800) * interval ''1 second'' '
              'FROM qr_event.guests WHERE event_id = %1$s AND id BETWEEN %3$s AND %4$s',
              :event_id, :game_id, :first_guest + :guest_span::bigint * (b - 1) / 10,
              :first_guest + :guest_span::bigint * b / 10 - 1),
       format('SELECT pg_temp.progress(''participations'', %s, %s, %L)', b, :rows, :'load_start')
FROM generate_series(1, 10) AS b \gexec

ALTER TABLE qr_event.game_participations ENABLE TRIGGER leaderboard_capture_insert;
ALTER TABLE qr_event.game_participations ENABLE TRIGGER leaderboard_capture_compact;
SELECT qr_event.leaderboard_rebuild(:game_id) \g /dev/null
SELECT format('  rank structure built (%s s)', pg_temp.elapsed(:'load_start'));

VACUUM ANALYZE qr_event.guests;
VACUUM ANALYZE qr_event.game_participations;
SELECT format('  vacuum analyze done (%s s)', pg_temp.elapsed(:'load_start'));
