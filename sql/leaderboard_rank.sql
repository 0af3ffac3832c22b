--
-- leaderboard_rank: every rank mode with ties, an empty game, a lone participant,
-- changes pending and compacted, and every refusal with its SQLSTATE
--
SET qr_event.leaderboard_compact_every = 0;

-- runs one statement and reports its outcome; 00000 when it was accepted
CREATE FUNCTION pg_temp.outcome(sql text, OUT code text, OUT message text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    code := '00000';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
END
$$;

SELECT qr_event.create_account('rank@example.com', 'correct horse battery', 'Rank') AS acc \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:acc, 'Rank event', now(), now() + interval '1 day') RETURNING id AS ev \gset
INSERT INTO qr_event.games (event_id, title, status) VALUES (:ev, 'Main', 'live') RETURNING id AS g \gset
INSERT INTO qr_event.games (event_id, title, status) VALUES (:ev, 'Empty', 'live') RETURNING id AS empty \gset
INSERT INTO qr_event.games (event_id, title, status) VALUES (:ev, 'Solo', 'live') RETURNING id AS solo \gset
INSERT INTO qr_event.guests (event_id, first_name)
SELECT :ev, 'guest ' || i FROM generate_series(1, 9) AS i;
CREATE TEMP TABLE guest AS
SELECT row_number() OVER (ORDER BY id) AS k, id FROM qr_event.guests WHERE event_id = :ev;

-- scores 50, 30, 30, 30, 10, 0, 0 completed at increasing times; k = 8 not completed
INSERT INTO qr_event.game_participations (event_id, game_id, guest_id, total_score, is_completed, completed_at)
SELECT :ev, :g, g.id, s.score, s.score IS NOT NULL AND g.k <> 8,
       CASE WHEN g.k <> 8 THEN timestamptz '2030-01-01' + g.k * interval '1 minute' END
FROM guest g
JOIN (VALUES (1, 30), (2, 50), (3, 30), (4, 0), (5, 10), (6, 30), (7, 0), (8, 40)) AS s (k, score) ON s.k = g.k;
CREATE TEMP TABLE part AS
SELECT g.k, p.id FROM guest g JOIN qr_event.game_participations p ON p.guest_id = g.id AND p.game_id = :g;

-- compares every completed participation with rank(), dense_rank() and row_number()
CREATE FUNCTION pg_temp.check_ranks(game bigint)
RETURNS TABLE (k bigint, score bigint, competition bigint, dense bigint, ordinal bigint,
               ranked_count bigint, percentile numeric, all_match boolean)
LANGUAGE sql AS $$
    SELECT pt.k, p.total_score, c.rank, d.rank, o.rank, c.ranked_count, c.percentile,
           c.rank = rank() OVER s AND d.rank = dense_rank() OVER s AND o.rank = row_number() OVER w
           AND c.ranked_count = count(*) OVER ()
    FROM qr_event.game_participations p
    JOIN part pt ON pt.id = p.id,
         qr_event.leaderboard_rank(game, p.id) c,
         qr_event.leaderboard_rank(game, p.id, 'dense') d,
         qr_event.leaderboard_rank(game, p.id, 'ordinal') o
    WHERE p.game_id = game AND p.is_completed
    WINDOW s AS (ORDER BY p.total_score DESC), w AS (ORDER BY p.total_score DESC, p.completed_at, p.id)
    ORDER BY o.rank
$$;

-- all changes pending
SELECT count(*) AS pending FROM qr_event.leaderboard_deltas WHERE game_id = :g;
SELECT * FROM pg_temp.check_ranks(:g);

-- compacted: the same ranks from the structure alone
SELECT qr_event.leaderboard_compact(:g) AS folded;
SELECT count(*) AS pending FROM qr_event.leaderboard_deltas WHERE game_id = :g;
SELECT score, n FROM qr_event.leaderboard_scores WHERE game_id = :g ORDER BY score DESC;
SELECT level, bucket, n, d FROM qr_event.leaderboard_buckets WHERE game_id = :g ORDER BY level, bucket;
SELECT * FROM pg_temp.check_ranks(:g);

-- an update that changes neither score nor completion adds no delta
UPDATE qr_event.game_participations SET updated_at = now() WHERE game_id = :g;
SELECT count(*) AS pending FROM qr_event.leaderboard_deltas WHERE game_id = :g;

-- score changes, uncompleting, completing and a delete, pending over the structure
UPDATE qr_event.game_participations SET total_score = 60 WHERE id = (SELECT id FROM part WHERE k = 5);
UPDATE qr_event.game_participations SET is_completed = false, completed_at = NULL
WHERE id = (SELECT id FROM part WHERE k = 2);
UPDATE qr_event.game_participations SET is_completed = true, completed_at = '2030-01-01 00:30'
WHERE id = (SELECT id FROM part WHERE k = 8);
DELETE FROM qr_event.game_participations WHERE id = (SELECT id FROM part WHERE k = 7);
SELECT score, delta FROM qr_event.leaderboard_deltas WHERE game_id = :g ORDER BY score DESC;
SELECT * FROM pg_temp.check_ranks(:g);
SELECT qr_event.leaderboard_compact(:g) AS folded;
SELECT * FROM pg_temp.check_ranks(:g);

-- a score vanishing and reappearing while pending keeps dense ranks exact
UPDATE qr_event.game_participations SET total_score = 11 WHERE id = (SELECT id FROM part WHERE k = 8);
UPDATE qr_event.game_participations SET total_score = 40 WHERE id = (SELECT id FROM part WHERE k = 4);
SELECT * FROM pg_temp.check_ranks(:g);

-- a rebuild gives the same structure as compaction
SELECT qr_event.leaderboard_compact(:g) AS folded;
CREATE TEMP TABLE before AS SELECT level, bucket, n, d FROM qr_event.leaderboard_buckets WHERE game_id = :g;
SELECT qr_event.leaderboard_rebuild(:g) AS games;
SELECT count(*) AS differences FROM (
    (SELECT level, bucket, n, d FROM qr_event.leaderboard_buckets WHERE game_id = :g EXCEPT SELECT * FROM before)
    UNION ALL
    (SELECT * FROM before EXCEPT SELECT level, bucket, n, d FROM qr_event.leaderboard_buckets WHERE game_id = :g)) AS x;
SELECT * FROM pg_temp.check_ranks(:g);

-- a game with one participant, at score 0
INSERT INTO qr_event.game_participations (event_id, game_id, guest_id, total_score, is_completed, completed_at)
SELECT :ev, :solo, id, 0, true, now() FROM guest WHERE k = 1 RETURNING id AS lone \gset
SELECT * FROM qr_event.leaderboard_rank(:solo, :lone);
SELECT * FROM qr_event.leaderboard_rank(:solo, :lone, 'dense');
SELECT * FROM qr_event.leaderboard_rank(:solo, :lone, 'ordinal');

-- deleting a game takes its structure along, pending deltas included
UPDATE qr_event.game_participations SET total_score = 5 WHERE game_id = :solo;
SELECT qr_event.leaderboard_compact(:solo) IS NOT NULL AS compacted;
UPDATE qr_event.game_participations SET total_score = 6 WHERE game_id = :solo;
DELETE FROM qr_event.games WHERE id = :solo;
SELECT (SELECT count(*) FROM qr_event.leaderboard_deltas WHERE game_id = :solo) AS deltas,
       (SELECT count(*) FROM qr_event.leaderboard_scores WHERE game_id = :solo) AS scores,
       (SELECT count(*) FROM qr_event.leaderboard_buckets WHERE game_id = :solo) AS buckets,
       (SELECT count(*) FROM qr_event.leaderboard_state WHERE game_id = :solo) AS state;

-- compaction is skipped outside READ COMMITTED
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT qr_event.leaderboard_compact(:g) AS folded;
COMMIT;

-- refusals
SELECT t.what, o.code, o.message, o.hint
FROM (VALUES
    ('unknown game', format('SELECT * FROM qr_event.leaderboard_rank(%s, %s)', :empty + 1000, (SELECT id FROM part WHERE k = 1))),
    ('empty game', format('SELECT * FROM qr_event.leaderboard_rank(%s, %s)', :empty, (SELECT id FROM part WHERE k = 1))),
    ('participation of another game', format('SELECT * FROM qr_event.leaderboard_rank(%s, %s)', :empty, (SELECT id FROM part WHERE k = 1))),
    ('unknown participation', format('SELECT * FROM qr_event.leaderboard_rank(%s, -1)', :g)),
    ('not completed', format('SELECT * FROM qr_event.leaderboard_rank(%s, %s)', :g, (SELECT id FROM part WHERE k = 2))),
    ('bad mode', format('SELECT * FROM qr_event.leaderboard_rank(%s, %s, ''Dense'')', :g, (SELECT id FROM part WHERE k = 1))),
    ('null game', format('SELECT * FROM qr_event.leaderboard_rank(NULL, %s)', (SELECT id FROM part WHERE k = 1))),
    ('null participation', format('SELECT * FROM qr_event.leaderboard_rank(%s, NULL)', :g)),
    ('null mode', format('SELECT * FROM qr_event.leaderboard_rank(%s, %s, NULL)', :g, (SELECT id FROM part WHERE k = 1))),
    ('compact null', 'SELECT qr_event.leaderboard_compact(NULL)'),
    ('rebuild unknown game', format('SELECT qr_event.leaderboard_rebuild(%s)', :empty + 1000)),
    ('version unknown game', format('SELECT qr_event.leaderboard_version(%s)', :empty + 1000)),
    ('changes bad snapshot', 'SELECT * FROM qr_event.leaderboard_changes(''x'')')
) AS t (what, sql), pg_temp.outcome(t.sql) AS o;

-- the change signal: a snapshot to start from, then the games changed since
SELECT next_since AS since FROM qr_event.leaderboard_changes() \gset
SELECT game_id IS NULL AS nothing, version FROM qr_event.leaderboard_changes(:'since');
SELECT qr_event.leaderboard_version(:g) AS v0 \gset
UPDATE qr_event.game_participations SET total_score = total_score + 1 WHERE id = (SELECT id FROM part WHERE k = 1);
SELECT game_id = :g AS main_game, version > :v0 AS newer, version = qr_event.leaderboard_version(:g) AS current
FROM qr_event.leaderboard_changes(:'since');
-- compaction moves the deltas into the structure: the version stays, the change is still reported
SELECT qr_event.leaderboard_compact(:g) AS folded;
SELECT game_id = :g AS main_game, version = qr_event.leaderboard_version(:g) AS current
FROM qr_event.leaderboard_changes(:'since');
SELECT next_since AS since FROM qr_event.leaderboard_changes(:'since') \gset
SELECT game_id IS NULL AS nothing FROM qr_event.leaderboard_changes(:'since');

RESET qr_event.leaderboard_compact_every;
