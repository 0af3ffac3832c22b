--
-- record_play: the three score policies, completion, and every refusal with its SQLSTATE
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

SELECT qr_event.create_account('play@example.com', 'correct horse battery', 'Play') AS acc \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:acc, 'Play event', now(), now() + interval '1 day') RETURNING id AS ev \gset
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
VALUES (:acc, 'Other event', now(), now() + interval '1 day') RETURNING id AS other \gset
INSERT INTO qr_event.games (event_id, title, status, score_policy) VALUES (:ev, 'Best', 'live', 'best') RETURNING id AS best \gset
INSERT INTO qr_event.games (event_id, title, status, score_policy) VALUES (:ev, 'Latest', 'live', 'latest') RETURNING id AS latest \gset
INSERT INTO qr_event.games (event_id, title, status, score_policy) VALUES (:ev, 'Sum', 'live', 'sum') RETURNING id AS sum \gset
INSERT INTO qr_event.games (event_id, title, status) VALUES (:ev, 'Draft', 'draft') RETURNING id AS draft \gset
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:ev, 'Ann') RETURNING id AS ann \gset
INSERT INTO qr_event.guests (event_id, first_name) VALUES (:other, 'Stranger') RETURNING id AS stranger \gset
INSERT INTO qr_event.families (event_id, name) VALUES (:ev, 'Smith') RETURNING id AS smith \gset

-- each policy over the plays 10, 30, 20 (the last completes)
CREATE TEMP TABLE plays AS
SELECT g.policy, s.n, r.*
FROM (VALUES ('best', :best), ('latest', :latest), ('sum', :sum)) AS g (policy, id)
CROSS JOIN (VALUES (1, 10), (2, 30), (3, 20)) AS s (n, score)
CROSS JOIN LATERAL qr_event.record_play(g.id, :ann, NULL, s.score, s.n = 3) AS r;
SELECT policy, n, total_score, is_completed, completed_at IS NOT NULL AS has_completed_at
FROM plays ORDER BY policy, n;

-- completed stays true; completed_at moves only when the total changes
SELECT completed_at AS best_at FROM qr_event.game_participations WHERE game_id = :best AND guest_id = :ann \gset
SELECT total_score, is_completed, completed_at = :'best_at' AS same_completed_at
FROM qr_event.record_play(:best, :ann, NULL, 5, false);
SELECT total_score, is_completed, completed_at > :'best_at' AS later_completed_at
FROM qr_event.record_play(:best, :ann, NULL, 40, false);

-- a family plays too; a play of 0 and the largest score are accepted
SELECT total_score, guest_id IS NULL AS family_play FROM qr_event.record_play(:sum, NULL, :smith, 0, false);
SELECT total_score FROM qr_event.record_play(:sum, NULL, :smith, 1000000000, true);
SET qr_event.max_score = 5;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.record_play(%s, NULL, %s, 6, true)', :sum, :smith)) AS o;
RESET qr_event.max_score;

-- refusals
SELECT t.what, o.code, o.message
FROM (VALUES
    ('negative score', format('SELECT qr_event.record_play(%s, %s, NULL, -1, true)', :best, :ann)),
    ('score too high', format('SELECT qr_event.record_play(%s, %s, NULL, 1000000001, true)', :best, :ann)),
    ('no participant', format('SELECT qr_event.record_play(%s, NULL, NULL, 1, true)', :best)),
    ('two participants', format('SELECT qr_event.record_play(%s, %s, %s, 1, true)', :best, :ann, :smith)),
    ('null score', format('SELECT qr_event.record_play(%s, %s, NULL, NULL, true)', :best, :ann)),
    ('null game', format('SELECT qr_event.record_play(NULL, %s, NULL, 1, true)', :ann)),
    ('unknown game', format('SELECT qr_event.record_play(%s, %s, NULL, 1, true)', :draft + 1000, :ann)),
    ('game not live', format('SELECT qr_event.record_play(%s, %s, NULL, 1, true)', :draft, :ann)),
    ('guest of another event', format('SELECT qr_event.record_play(%s, %s, NULL, 1, true)', :best, :stranger)),
    ('unknown family', format('SELECT qr_event.record_play(%s, NULL, %s, 1, true)', :best, :smith + 1000))
) AS t (what, sql), pg_temp.outcome(t.sql) AS o;

-- sum overflow: a total near the top of bigint
UPDATE qr_event.game_participations SET total_score = 9223372036854775800 WHERE game_id = :sum AND guest_id = :ann;
SELECT o.* FROM pg_temp.outcome(format('SELECT qr_event.record_play(%s, %s, NULL, 100, true)', :sum, :ann)) AS o;
