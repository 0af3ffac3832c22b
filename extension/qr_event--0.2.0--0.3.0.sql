/* qr_event--0.2.0--0.3.0.sql: leaderboards: the rank structure, score policies, the change signal and the leaderboard functions */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION qr_event UPDATE TO '0.3.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- The rank structure: per game, counts of completed participations per score,
-- summarised in buckets of 1024 at six levels, plus the deltas the write
-- trigger appends and compaction folds in.  Derived data: not dumped, rebuilt
-- by qr_event.leaderboard_rebuild().
-- ---------------------------------------------------------------------------

CREATE TABLE qr_event.leaderboard_scores (
    game_id         bigint NOT NULL,
    score           bigint NOT NULL,
    n               bigint NOT NULL,
    CONSTRAINT leaderboard_scores_pkey PRIMARY KEY (game_id, score),
    CONSTRAINT leaderboard_scores_game_id_fkey FOREIGN KEY (game_id)
        REFERENCES qr_event.games (id) ON DELETE CASCADE
) WITH (fillfactor = 70);

COMMENT ON TABLE qr_event.leaderboard_scores IS
    'Rank structure, level 0: completed participations per distinct total_score of a game, as of the last compaction '
    '(derived from game_participations; not dumped; rebuilt by qr_event.leaderboard_rebuild)';
COMMENT ON COLUMN qr_event.leaderboard_scores.game_id IS 'The game';
COMMENT ON COLUMN qr_event.leaderboard_scores.score IS 'A total_score held by at least one completed participation';
COMMENT ON COLUMN qr_event.leaderboard_scores.n IS 'How many completed participations hold it (rows reaching 0 are deleted)';

CREATE TABLE qr_event.leaderboard_buckets (
    game_id         bigint NOT NULL,
    level           smallint NOT NULL,
    bucket          bigint NOT NULL,
    n               bigint NOT NULL,
    d               bigint NOT NULL,
    CONSTRAINT leaderboard_buckets_pkey PRIMARY KEY (game_id, level, bucket),
    CONSTRAINT leaderboard_buckets_game_id_fkey FOREIGN KEY (game_id)
        REFERENCES qr_event.games (id) ON DELETE CASCADE,
    CONSTRAINT leaderboard_buckets_level_check CHECK (level BETWEEN 1 AND 6)
) WITH (fillfactor = 70);

COMMENT ON TABLE qr_event.leaderboard_buckets IS
    'Rank structure, levels 1 to 6: per bucket of scores (score >> 10*level), the completed participations '
    'and distinct scores in it, as of the last compaction (derived; not dumped)';
COMMENT ON COLUMN qr_event.leaderboard_buckets.game_id IS 'The game';
COMMENT ON COLUMN qr_event.leaderboard_buckets.level IS '1 to 6: a bucket spans 1024^level scores';
COMMENT ON COLUMN qr_event.leaderboard_buckets.bucket IS 'score >> (10 * level), an arithmetic shift (floor division)';
COMMENT ON COLUMN qr_event.leaderboard_buckets.n IS 'Completed participations with a score in the bucket';
COMMENT ON COLUMN qr_event.leaderboard_buckets.d IS 'Distinct scores in the bucket';

-- No foreign key to games: its check would lock the game row FOR KEY SHARE in
-- every writing transaction, turning that row into a multixact hot spot.  The
-- rows of a deleted game go with the statement trigger on games below.
--
-- Only the trigger writes it, straight to the heap and indexes (see
-- leaderboard_capture.c), so it has no identity column and no check: the
-- trigger refuses to run if one is added.  It is a queue (compaction deletes
-- what it folds), so autovacuum visits it after every 1,000 dead rows, as
-- often as autovacuum_naptime allows.
CREATE TABLE qr_event.leaderboard_deltas (
    game_id         bigint NOT NULL,
    score           bigint NOT NULL,
    delta           integer NOT NULL,
    xid             pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id()
) WITH (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0,
        autovacuum_vacuum_cost_delay = 0);

-- The only index: every delta pays for each index on the write path.  Readers
-- and compaction find a game's deltas through it; leaderboard_changes scans
-- the pending deltas of all games, which compaction keeps few.
CREATE INDEX leaderboard_deltas_game_id_score_idx ON qr_event.leaderboard_deltas (game_id, score);

COMMENT ON TABLE qr_event.leaderboard_deltas IS
    'Rank structure, pending changes: what each written row did to the completed participations per score, '
    'appended by the trigger on game_participations and folded into scores and buckets by leaderboard_compact (derived; not dumped)';
COMMENT ON COLUMN qr_event.leaderboard_deltas.game_id IS 'The game';
COMMENT ON COLUMN qr_event.leaderboard_deltas.score IS 'The total_score whose count changed';
COMMENT ON COLUMN qr_event.leaderboard_deltas.delta IS 'The change of that count: -1 or +1';
COMMENT ON COLUMN qr_event.leaderboard_deltas.xid IS 'The writing transaction, for the change signal';

CREATE TABLE qr_event.leaderboard_state (
    game_id         bigint NOT NULL,
    folded          bigint NOT NULL DEFAULT 0,
    compacted_xid   pg_catalog.xid8 NOT NULL,
    compacted_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT leaderboard_state_pkey PRIMARY KEY (game_id),
    CONSTRAINT leaderboard_state_game_id_fkey FOREIGN KEY (game_id)
        REFERENCES qr_event.games (id) ON DELETE CASCADE
);

CREATE INDEX leaderboard_state_compacted_xid_idx ON qr_event.leaderboard_state (compacted_xid);

COMMENT ON TABLE qr_event.leaderboard_state IS
    'Rank structure, per game: what compaction last did (derived; not dumped)';
COMMENT ON COLUMN qr_event.leaderboard_state.game_id IS 'The game';
COMMENT ON COLUMN qr_event.leaderboard_state.folded IS 'Deltas folded into the structure so far; plus the pending ones, the game''s version';
COMMENT ON COLUMN qr_event.leaderboard_state.compacted_xid IS 'The transaction of the last compaction or rebuild, for the change signal';
COMMENT ON COLUMN qr_event.leaderboard_state.compacted_at IS 'When the game was last compacted or rebuilt';

REVOKE ALL ON qr_event.leaderboard_scores, qr_event.leaderboard_buckets,
    qr_event.leaderboard_deltas, qr_event.leaderboard_state FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Maintenance: compaction and rebuild
-- ---------------------------------------------------------------------------

-- The advisory lock key of a game's structure; a hash collision only makes
-- two games skip or wait for each other's compaction.
CREATE FUNCTION qr_event.leaderboard_lock_key(game_id bigint)
RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.hashint8(game_id);

COMMENT ON FUNCTION qr_event.leaderboard_lock_key(bigint) IS
    'Second key of the advisory lock (first key 1364345410) that serialises compactions and rebuilds of a game''s rank structure';

-- Its work is proportional to the pending deltas, not to the game: it reaches
-- scores and buckets only through the upserts' index lookups, never by a join
-- the planner could turn into a scan of all of a game's rows.  Each count
-- moves by its net change (the old count is the new one minus the change);
-- counts that reach 0 are deleted by the statements after, as one statement
-- may not modify a row twice.  The counts have no CHECK (an upsert checks its
-- proposed row, a negative change, before it finds the conflict): a count
-- gone negative raises XX001 instead, and leaderboard_rebuild repairs it.
CREATE FUNCTION qr_event.leaderboard_compact(game_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g       bigint := game_id;
    n_folded bigint;
    gone_scores bigint[];
    gone_levels smallint[];
    gone_buckets bigint[];
    broken  bigint;
BEGIN
    IF g IS NULL THEN
        RAISE EXCEPTION 'game_id must not be null' USING ERRCODE = '22004';
    END IF;
    -- under a transaction snapshot a concurrent compaction's deletions would
    -- raise serialization failures: fold only in READ COMMITTED
    IF current_setting('transaction_isolation') <> 'read committed'
       OR NOT pg_try_advisory_xact_lock(1364345410, qr_event.leaderboard_lock_key(g)) THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT FROM qr_event.games WHERE id = g) THEN
        DELETE FROM qr_event.leaderboard_deltas d WHERE d.game_id = g;
        RETURN 0;
    END IF;
    -- one statement, one snapshot: the deltas deleted are exactly those folded
    WITH del AS (
        DELETE FROM qr_event.leaderboard_deltas d WHERE d.game_id = g
        RETURNING d.score, d.delta
    ), agg AS (
        SELECT score, sum(delta) AS dn FROM del GROUP BY score HAVING sum(delta) <> 0
    ), upd0 AS (
        UPDATE qr_event.leaderboard_scores s SET n = s.n + a.dn
        FROM agg a
        WHERE s.game_id = g AND s.score = a.score
        RETURNING s.score, a.dn, s.n AS new_n
    ), ins0 AS (
        INSERT INTO qr_event.leaderboard_scores (game_id, score, n)
        SELECT g, a.score, a.dn FROM agg a
        WHERE NOT EXISTS (SELECT FROM upd0 u WHERE u.score = a.score)
        RETURNING score, n AS dn, n AS new_n
    ), ch AS (
        SELECT score, dn, new_n, new_n - dn AS old_n FROM upd0
        UNION ALL
        SELECT score, dn, new_n, 0 FROM ins0
    ), b1 AS (
        SELECT ch.score >> 10 AS bucket, sum(ch.dn) AS dn,
               sum((ch.new_n > 0)::integer - (ch.old_n > 0)::integer) AS dd
        FROM ch GROUP BY 1
    ), bch AS (
        SELECT l::smallint AS level, b1.bucket >> (10 * (l - 1)) AS bucket,
               sum(b1.dn) AS dn, sum(b1.dd) AS dd
        FROM b1, generate_series(1, 6) AS l
        GROUP BY 1, 2
        HAVING sum(b1.dn) <> 0 OR sum(b1.dd) <> 0
    ), upb AS (
        INSERT INTO qr_event.leaderboard_buckets AS o (game_id, level, bucket, n, d)
        SELECT g, level, bucket, dn, dd FROM bch
        ON CONFLICT ON CONSTRAINT leaderboard_buckets_pkey DO UPDATE
            SET n = o.n + excluded.n, d = o.d + excluded.d
        RETURNING o.level, o.bucket, o.n, o.d
    ), st AS (
        INSERT INTO qr_event.leaderboard_state AS t
            (game_id, folded, compacted_xid, compacted_at)
        SELECT g, count(*), pg_current_xact_id(), now() FROM del HAVING count(*) > 0
        ON CONFLICT ON CONSTRAINT leaderboard_state_pkey DO UPDATE
            SET folded = t.folded + excluded.folded,
                compacted_xid = excluded.compacted_xid,
                compacted_at = excluded.compacted_at
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM del),
           (SELECT array_agg(ch.score) FROM ch WHERE ch.new_n = 0),
           (SELECT array_agg(upb.level) FROM upb WHERE upb.n = 0),
           (SELECT array_agg(upb.bucket) FROM upb WHERE upb.n = 0),
           (SELECT count(*) FROM ch WHERE ch.new_n < 0 OR ch.old_n < 0)
           + (SELECT count(*) FROM upb WHERE upb.n < 0 OR upb.d < 0 OR upb.d > upb.n),
           (SELECT count(*) FROM st)
    INTO n_folded, gone_scores, gone_levels, gone_buckets, broken;
    IF broken > 0 THEN
        RAISE EXCEPTION 'rank structure of game % is inconsistent', g
            USING ERRCODE = 'XX001',
                  HINT = 'Run SELECT qr_event.leaderboard_rebuild(' || g || ').';
    END IF;
    IF gone_scores IS NOT NULL THEN
        DELETE FROM qr_event.leaderboard_scores s
        WHERE s.game_id = g AND s.score = ANY (gone_scores) AND s.n = 0;
    END IF;
    IF gone_levels IS NOT NULL THEN
        DELETE FROM qr_event.leaderboard_buckets o
        USING unnest(gone_levels, gone_buckets) AS z (level, bucket)
        WHERE o.game_id = g AND o.level = z.level AND o.bucket = z.bucket AND o.n = 0;
    END IF;
    RETURN n_folded;
END
$$;

COMMENT ON FUNCTION qr_event.leaderboard_compact(bigint) IS
    'Folds the committed pending deltas of a game into its rank structure and returns how many it folded; '
    'NULL when skipped (another transaction is compacting the game, or the transaction is not READ COMMITTED). '
    'The write trigger calls it now and then (qr_event.leaderboard_compact_every); a DBA or cron job may call it any time.';

REVOKE ALL ON FUNCTION qr_event.leaderboard_compact(bigint) FROM PUBLIC;

CREATE FUNCTION qr_event.leaderboard_rebuild(game_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g       bigint;
    games   bigint := 0;
BEGIN
    FOR g IN SELECT id FROM qr_event.games
             WHERE leaderboard_rebuild.game_id IS NULL OR id = leaderboard_rebuild.game_id
             ORDER BY id
    LOOP
        PERFORM pg_advisory_xact_lock(1364345410, qr_event.leaderboard_lock_key(g));
        DELETE FROM qr_event.leaderboard_scores s WHERE s.game_id = g;
        DELETE FROM qr_event.leaderboard_buckets b WHERE b.game_id = g;
        -- one snapshot: the deltas deleted are those whose effect the
        -- participations read here already show; later ones stay pending
        WITH del AS (
            DELETE FROM qr_event.leaderboard_deltas d WHERE d.game_id = g RETURNING 1
        ), lvl0 AS (
            SELECT p.total_score AS score, count(*) AS n
            FROM qr_event.game_participations p
            WHERE p.game_id = g AND p.is_completed
            GROUP BY p.total_score
        ), ins0 AS (
            INSERT INTO qr_event.leaderboard_scores (game_id, score, n)
            SELECT g, score, n FROM lvl0
            RETURNING 1
        ), insb AS (
            INSERT INTO qr_event.leaderboard_buckets (game_id, level, bucket, n, d)
            SELECT g, l::smallint, score >> (10 * l), sum(n), count(*)
            FROM lvl0, generate_series(1, 6) AS l
            GROUP BY l, score >> (10 * l)
            RETURNING 1
        )
        INSERT INTO qr_event.leaderboard_state AS t
            (game_id, folded, compacted_xid, compacted_at)
        SELECT g, count(*) + 1, pg_current_xact_id(), now() FROM del
        ON CONFLICT ON CONSTRAINT leaderboard_state_pkey DO UPDATE
            SET folded = t.folded + excluded.folded,
                compacted_xid = excluded.compacted_xid,
                compacted_at = excluded.compacted_at;
        games := games + 1;
    END LOOP;
    IF leaderboard_rebuild.game_id IS NOT NULL AND games = 0 THEN
        RAISE EXCEPTION 'game not found' USING ERRCODE = 'P0002';
    END IF;
    RETURN games;
END
$$;

COMMENT ON FUNCTION qr_event.leaderboard_rebuild(bigint) IS
    'Rebuilds the rank structure of a game (of every game when NULL) from game_participations and returns how many games it rebuilt; '
    'run SELECT qr_event.leaderboard_rebuild() after restoring a dump, which does not contain the structure. '
    'Waits for a running compaction of the game; writers are not blocked.';

REVOKE ALL ON FUNCTION qr_event.leaderboard_rebuild(bigint) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- The write path: row-level triggers in C, appending to leaderboard_deltas
-- for each row whose completed score changed
-- ---------------------------------------------------------------------------

-- As a row trigger, appends -1 for the old and +1 for the new completed
-- (game_id, total_score) of a row straight to the heap and index and, with a
-- probability of (deltas of the game) / qr_event.leaderboard_compact_every,
-- marks the game due; as a statement trigger, compacts the due games once
-- each (as the extension owner), so pending deltas stay few without a hot
-- row.  Not SECURITY DEFINER and no WHEN clauses: both cost more per
-- statement than the checks the function makes itself.
CREATE FUNCTION qr_event.leaderboard_capture()
RETURNS trigger
AS 'MODULE_PATHNAME', 'qr_event_leaderboard_capture'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION qr_event.leaderboard_capture() IS
    'Trigger of game_participations: per row, records the row''s change to completed scores in leaderboard_deltas '
    '(-1 old, +1 new; no row updated); per statement, now and then compacts the games it changed';

CREATE TRIGGER leaderboard_capture_insert
    AFTER INSERT ON qr_event.game_participations
    FOR EACH ROW EXECUTE FUNCTION qr_event.leaderboard_capture();
CREATE TRIGGER leaderboard_capture_update
    AFTER UPDATE OF total_score, is_completed, game_id ON qr_event.game_participations
    FOR EACH ROW EXECUTE FUNCTION qr_event.leaderboard_capture();
CREATE TRIGGER leaderboard_capture_delete
    AFTER DELETE ON qr_event.game_participations
    FOR EACH ROW EXECUTE FUNCTION qr_event.leaderboard_capture();
CREATE TRIGGER leaderboard_capture_compact
    AFTER INSERT OR UPDATE OR DELETE ON qr_event.game_participations
    FOR EACH STATEMENT EXECUTE FUNCTION qr_event.leaderboard_capture();

-- Removes the pending deltas of deleted games (the other structure tables
-- follow by their foreign keys) and of truncated participations.
CREATE FUNCTION qr_event.leaderboard_forget()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM qr_event.leaderboard_rebuild();
    ELSE
        DELETE FROM qr_event.leaderboard_deltas d USING old_games o WHERE d.game_id = o.id;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION qr_event.leaderboard_forget() IS
    'Trigger of games (delete): removes the pending deltas of deleted games; of game_participations (truncate): rebuilds the structure';

REVOKE ALL ON FUNCTION qr_event.leaderboard_capture(), qr_event.leaderboard_forget() FROM PUBLIC;

CREATE TRIGGER leaderboard_forget_games
    AFTER DELETE ON qr_event.games
    REFERENCING OLD TABLE AS old_games
    FOR EACH STATEMENT EXECUTE FUNCTION qr_event.leaderboard_forget();
CREATE TRIGGER leaderboard_forget_truncate
    AFTER TRUNCATE ON qr_event.game_participations
    FOR EACH STATEMENT EXECUTE FUNCTION qr_event.leaderboard_forget();

-- ---------------------------------------------------------------------------
-- Rank
-- ---------------------------------------------------------------------------

CREATE FUNCTION qr_event.leaderboard_rank(game_id bigint, participation_id bigint,
                                          rank_mode text DEFAULT 'competition')
RETURNS TABLE (rank bigint, total_score bigint, ranked_count bigint, percentile numeric)
AS 'MODULE_PATHNAME', 'qr_event_leaderboard_rank'
LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION qr_event.leaderboard_rank(bigint, bigint, text) IS
    'Rank of a completed participation in its game (order total_score DESC, completed_at, id; rank_mode competition, dense '
    'or ordinal), its score, the number of ranked participations, and the percentile: the share of the others it is ahead of, '
    '100 * (ranked_count - rank) / (ranked_count - 1) rounded to 2 decimals, 100 when it is alone. '
    'Time independent of the depth (ordinal: plus the ties at its score). '
    'P0002 game not found / participation not found, 55000 participation is not completed, 22023 invalid rank_mode, 22004 null argument';

REVOKE ALL ON FUNCTION qr_event.leaderboard_rank(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION qr_event.leaderboard_rank(bigint, bigint, text) TO qr_gateway_role;

-- ---------------------------------------------------------------------------
-- Score policies
-- ---------------------------------------------------------------------------

-- The setting, read through the library (never by current_setting, which a
-- role could answer with a placeholder before the library is loaded).
CREATE FUNCTION qr_event.setting_max_score()
RETURNS bigint
AS 'MODULE_PATHNAME', 'qr_event_setting_max_score'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION qr_event.setting_max_score() IS
    'The current qr_event.max_score (superuser-only setting), read from the library';

CREATE FUNCTION qr_event.record_play(game_id bigint, guest_id bigint, family_id bigint,
                                     score bigint, completed boolean DEFAULT false)
RETURNS qr_event.game_participations
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    max_score   bigint := qr_event.setting_max_score();
    game        qr_event.games;
    result      qr_event.game_participations;
BEGIN
    IF record_play.game_id IS NULL OR record_play.score IS NULL OR record_play.completed IS NULL THEN
        RAISE EXCEPTION 'game_id, score and completed must not be null' USING ERRCODE = '22004';
    END IF;
    IF num_nonnulls(record_play.guest_id, record_play.family_id) <> 1 THEN
        RAISE EXCEPTION 'exactly one of guest_id and family_id must be given' USING ERRCODE = '22023';
    END IF;
    IF record_play.score < 0 OR record_play.score > max_score THEN
        RAISE EXCEPTION 'score must be between 0 and %', max_score USING ERRCODE = '22023';
    END IF;
    SELECT * INTO game FROM qr_event.games g WHERE g.id = record_play.game_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'game not found' USING ERRCODE = 'P0002';
    END IF;
    IF game.status <> 'live' THEN
        RAISE EXCEPTION 'game is not live' USING ERRCODE = '55000',
            HINT = format('The game is %s; plays are recorded only while it is live.', game.status);
    END IF;
    IF record_play.guest_id IS NOT NULL THEN
        PERFORM FROM qr_event.guests WHERE id = record_play.guest_id AND event_id = game.event_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'guest not found' USING ERRCODE = 'P0002',
                DETAIL = 'The guest must belong to the event of the game.';
        END IF;
        INSERT INTO qr_event.game_participations AS p
            (event_id, game_id, guest_id, total_score, is_completed, completed_at)
        VALUES (game.event_id, game.id, record_play.guest_id, record_play.score, record_play.completed,
                CASE WHEN record_play.completed THEN now() END)
        ON CONFLICT (game_id, guest_id) DO UPDATE SET
            total_score = qr_event.combine_score(game.score_policy, p.total_score, excluded.total_score),
            is_completed = p.is_completed OR excluded.is_completed,
            completed_at = CASE
                WHEN NOT (p.is_completed OR excluded.is_completed) THEN NULL
                WHEN p.is_completed AND p.total_score
                     = qr_event.combine_score(game.score_policy, p.total_score, excluded.total_score)
                    THEN p.completed_at
                ELSE now() END,
            updated_at = now()
        RETURNING * INTO result;
    ELSE
        PERFORM FROM qr_event.families WHERE id = record_play.family_id AND event_id = game.event_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'family not found' USING ERRCODE = 'P0002',
                DETAIL = 'The family must belong to the event of the game.';
        END IF;
        INSERT INTO qr_event.game_participations AS p
            (event_id, game_id, family_id, total_score, is_completed, completed_at)
        VALUES (game.event_id, game.id, record_play.family_id, record_play.score, record_play.completed,
                CASE WHEN record_play.completed THEN now() END)
        ON CONFLICT (game_id, family_id) DO UPDATE SET
            total_score = qr_event.combine_score(game.score_policy, p.total_score, excluded.total_score),
            is_completed = p.is_completed OR excluded.is_completed,
            completed_at = CASE
                WHEN NOT (p.is_completed OR excluded.is_completed) THEN NULL
                WHEN p.is_completed AND p.total_score
                     = qr_event.combine_score(game.score_policy, p.total_score, excluded.total_score)
                    THEN p.completed_at
                ELSE now() END,
            updated_at = now()
        RETURNING * INTO result;
    END IF;
    RETURN result;
END
$$;

COMMENT ON FUNCTION qr_event.record_play(bigint, bigint, bigint, bigint, boolean) IS
    'Records one play of a guest or a family (exactly one of the two) in a live game, combining the score by the game''s '
    'score_policy in one INSERT ... ON CONFLICT DO UPDATE, so concurrent plays of one participant never lose an update: '
    'best keeps the higher, latest replaces, sum adds (22003 on bigint overflow). A participation stays completed once completed; '
    'completed_at is when its current total_score was reached (ties rank whoever got there first). '
    'Scores from 0 to qr_event.max_score (22023); 22004 null argument, 22023 not exactly one participant, '
    'P0002 game not found / guest not found / family not found (also of another event), 55000 game is not live';

REVOKE ALL ON FUNCTION qr_event.record_play(bigint, bigint, bigint, bigint, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION qr_event.record_play(bigint, bigint, bigint, bigint, boolean) TO qr_gateway_role;

CREATE FUNCTION qr_event.combine_score(policy text, total bigint, score bigint)
RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE policy WHEN 'best' THEN greatest(total, score)
                   WHEN 'latest' THEN score
                   WHEN 'sum' THEN total + score END;

COMMENT ON FUNCTION qr_event.combine_score(text, bigint, bigint) IS
    'A participant''s new total_score after a play of score under a score_policy: best, latest or sum';

-- ---------------------------------------------------------------------------
-- The change signal
-- ---------------------------------------------------------------------------

CREATE FUNCTION qr_event.leaderboard_version(game_id bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    version bigint;
BEGIN
    IF game_id IS NULL THEN
        RAISE EXCEPTION 'game_id must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM FROM qr_event.games g WHERE g.id = leaderboard_version.game_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'game not found' USING ERRCODE = 'P0002';
    END IF;
    SELECT coalesce((SELECT s.folded FROM qr_event.leaderboard_state s
                     WHERE s.game_id = leaderboard_version.game_id), 0)
         + (SELECT count(*) FROM qr_event.leaderboard_deltas d
            WHERE d.game_id = leaderboard_version.game_id)
    INTO version;
    RETURN version;
END
$$;

COMMENT ON FUNCTION qr_event.leaderboard_version(bigint) IS
    'Version of a game''s ranking: grows with every committed change to its completed scores (never repeats for a game), '
    'a cache key for pages and ranks. P0002 game not found';

CREATE FUNCTION qr_event.leaderboard_changes(since pg_catalog.pg_snapshot DEFAULT NULL)
RETURNS TABLE (game_id bigint, version bigint, next_since pg_catalog.pg_snapshot)
LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH changed AS (
        SELECT d.game_id FROM qr_event.leaderboard_deltas d
        WHERE d.xid >= pg_snapshot_xmin(since) AND NOT pg_visible_in_snapshot(d.xid, since)
        UNION
        SELECT s.game_id FROM qr_event.leaderboard_state s
        WHERE s.compacted_xid >= pg_snapshot_xmin(since) AND NOT pg_visible_in_snapshot(s.compacted_xid, since)
    ), versions AS (
        SELECT c.game_id,
               coalesce((SELECT s.folded FROM qr_event.leaderboard_state s WHERE s.game_id = c.game_id), 0)
               + (SELECT count(*) FROM qr_event.leaderboard_deltas d WHERE d.game_id = c.game_id) AS version
        FROM changed c
        WHERE EXISTS (SELECT FROM qr_event.games g WHERE g.id = c.game_id)
    )
    SELECT v.game_id, v.version, pg_current_snapshot() FROM versions v
    UNION ALL
    SELECT NULL, NULL, pg_current_snapshot() WHERE NOT EXISTS (SELECT FROM versions)
    ORDER BY 1 NULLS LAST;
END;

COMMENT ON FUNCTION qr_event.leaderboard_changes(pg_catalog.pg_snapshot) IS
    'The change signal, polled (no NOTIFY on the write path): the games whose ranking changed by transactions '
    'not visible in the snapshot since, with their versions (leaderboard_version), each row carrying next_since, '
    'the snapshot to pass on the next call; one row (NULL, NULL, next_since) when nothing changed or since is NULL. '
    'Exact: a change committed by a transaction that was still running at since is reported once it commits, '
    'and compaction never hides one';

REVOKE ALL ON FUNCTION qr_event.leaderboard_version(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION qr_event.leaderboard_changes(pg_catalog.pg_snapshot) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION qr_event.leaderboard_version(bigint),
    qr_event.leaderboard_changes(pg_catalog.pg_snapshot) TO qr_gateway_role;

-- the structure of the participations that exist before this version
SELECT qr_event.leaderboard_rebuild();

-- ---------------------------------------------------------------------------
-- Leaderboard pages and neighbours
-- ---------------------------------------------------------------------------

-- The row of both functions: a type, since their arguments cursor and
-- participation_id share names with result columns.
CREATE TYPE qr_event.leaderboard_entry AS (
    rank             bigint,
    participation_id bigint,
    participant_kind text,
    participant_id   bigint,
    display_name     text,
    total_score      bigint,
    completed_at     timestamptz,
    cursor           text
);

COMMENT ON TYPE qr_event.leaderboard_entry IS
    'One row of a leaderboard, as qr_event.leaderboard and qr_event.leaderboard_around return it';
COMMENT ON COLUMN qr_event.leaderboard_entry.rank IS 'Rank in the game by the rank_mode asked for (competition, dense or ordinal)';
COMMENT ON COLUMN qr_event.leaderboard_entry.participation_id IS 'The participation (game_participations.id)';
COMMENT ON COLUMN qr_event.leaderboard_entry.participant_kind IS 'guest or family';
COMMENT ON COLUMN qr_event.leaderboard_entry.participant_id IS 'The guest''s or the family''s id';
COMMENT ON COLUMN qr_event.leaderboard_entry.display_name IS 'The family name, or the guest''s first name and last name (when known)';
COMMENT ON COLUMN qr_event.leaderboard_entry.total_score IS 'The participation''s score';
COMMENT ON COLUMN qr_event.leaderboard_entry.completed_at IS 'When the participation was completed (earlier ranks first on equal scores)';
COMMENT ON COLUMN qr_event.leaderboard_entry.cursor IS
    'Cursor of the rows after this one (pass it to qr_event.leaderboard); NULL on the last row of the leaderboard';

CREATE FUNCTION qr_event.leaderboard(
    game_id bigint,
    page_size integer DEFAULT 20,
    cursor text DEFAULT NULL,
    rank_mode text DEFAULT 'competition')
RETURNS SETOF qr_event.leaderboard_entry
AS 'MODULE_PATHNAME', 'qr_event_leaderboard'
LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
ROWS 20;

COMMENT ON FUNCTION qr_event.leaderboard(bigint, integer, text, text) IS
    'One page of a game''s leaderboard (completed participations by total_score DESC, completed_at, id), '
    'with ranks in rank_mode competition (1,1,3), dense (1,1,2) or ordinal (1,2,3) and display names. '
    'Each row''s cursor continues after that row (NULL on the last row); cursors are those of qr_event.paginate '
    'over game_participations for caller ''public''. Public data read as the owner (SECURITY DEFINER): EXECUTE for qr_gateway_role only.';

CREATE FUNCTION qr_event.leaderboard_around(
    game_id bigint,
    participation_id bigint,
    radius integer DEFAULT 5,
    rank_mode text DEFAULT 'competition')
RETURNS SETOF qr_event.leaderboard_entry
AS 'MODULE_PATHNAME', 'qr_event_leaderboard_around'
LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
ROWS 11;

COMMENT ON FUNCTION qr_event.leaderboard_around(bigint, bigint, integer, text) IS
    'A completed participation of the game and up to radius (0 to 50) rows before and after it in leaderboard '
    'order, as rows of qr_event.leaderboard (same ranks and cursors). Public data read as the owner (SECURITY DEFINER): EXECUTE for qr_gateway_role only.';

-- Anonymous REST callers reach them through the gateway; like list_games and
-- leaderboard_rank, EXECUTE is the gateway's, and a DBA grants it to others.
REVOKE ALL ON FUNCTION qr_event.leaderboard(bigint, integer, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION qr_event.leaderboard_around(bigint, bigint, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION qr_event.leaderboard(bigint, integer, text, text),
    qr_event.leaderboard_around(bigint, bigint, integer, text) TO qr_gateway_role;
