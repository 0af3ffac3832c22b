-- Leaderboard section of make bench, in-database part: the median time of each
-- leaderboard operation on the Bench Game (1,000,000 completed participations)
-- beside its naive SQL form, measured in the same run in one backend.
-- psql variables: game, first, median, last (participation ids in leaderboard order),
-- deep_cursor (the leaderboard cursor after the first 500,000 rows), figures (the file
-- to write the section's figures to, for bench_figure_rows in tests/bench/lib.sh).
\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- Median wall time, in ms, of running query runs times (after one warm-up run).
CREATE FUNCTION pg_temp.median_ms(query text, runs int) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    times float8[] := '{}';
BEGIN
    EXECUTE query;
    FOR i IN 1 .. runs LOOP
        t0 := clock_timestamp();
        EXECUTE query;
        times := times || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
    END LOOP;
    RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(times) t);
END
$$;

-- The naive leaderboard: every completed participation ranked by a window function.
CREATE VIEW pg_temp.naive_board AS
SELECT p.id, p.game_id, p.total_score, p.completed_at,
       rank() OVER (PARTITION BY p.game_id ORDER BY p.total_score DESC) AS rank,
       row_number() OVER (PARTITION BY p.game_id
                          ORDER BY p.total_score DESC, p.completed_at, p.id) AS position
FROM qr_event.game_participations p
WHERE p.is_completed;

CREATE TEMP TABLE results (n int PRIMARY KEY, id text, operation text, fast_ms float8, naive text, naive_ms float8);

INSERT INTO results VALUES
 (1, 'top-page', 'top page (20 rows)',
  pg_temp.median_ms(format('SELECT * FROM qr_event.leaderboard(%s, 20)', :game), 200),
  'rank() OVER … LIMIT 20',
  pg_temp.median_ms(format('SELECT * FROM pg_temp.naive_board WHERE game_id = %s '
                           'ORDER BY position LIMIT 20', :game), 5)),
 (2, 'page-500000', 'page at depth 500,000',
  pg_temp.median_ms(format('SELECT * FROM qr_event.leaderboard(%s, 20, %L)', :game, :'deep_cursor'), 200),
  'rank() OVER … OFFSET 500000 LIMIT 20',
  pg_temp.median_ms(format('SELECT * FROM pg_temp.naive_board WHERE game_id = %s '
                           'ORDER BY position OFFSET 500000 LIMIT 20', :game), 5)),
 (3, 'around-median', 'around the median participant (radius 5)',
  pg_temp.median_ms(format('SELECT * FROM qr_event.leaderboard_around(%s, %s, 5)', :game, :median), 200),
  'rank() OVER, rows within 5 positions',
  pg_temp.median_ms(format('WITH b AS (SELECT * FROM pg_temp.naive_board WHERE game_id = %1$s) '
                           'SELECT * FROM b WHERE position BETWEEN (SELECT position - 5 FROM b WHERE id = %2$s) '
                           'AND (SELECT position + 5 FROM b WHERE id = %2$s)', :game, :median), 5));

INSERT INTO results
SELECT 3 + 2 * k.i - 1, format('rank-%s-vs-count', k.label), format('leaderboard_rank of the %s participant', k.label),
       pg_temp.median_ms(format('SELECT * FROM qr_event.leaderboard_rank(%s, %s)', :game, k.id), 300),
       'count(*) of higher scores',
       pg_temp.median_ms(format('SELECT count(*) + 1 FROM qr_event.game_participations '
                                'WHERE game_id = %1$s AND is_completed AND total_score > '
                                '(SELECT total_score FROM qr_event.game_participations WHERE id = %2$s)',
                                :game, k.id), 20)
FROM (VALUES (1, 'first', :first), (2, 'median', :median), (3, 'last', :last)) AS k (i, label, id);

INSERT INTO results
SELECT 3 + 2 * k.i, format('rank-%s-vs-window', k.label), format('leaderboard_rank of the %s participant', k.label),
       (SELECT fast_ms FROM results WHERE n = 3 + 2 * k.i - 1),
       'rank() OVER, filtered to one row',
       pg_temp.median_ms(format('SELECT rank FROM pg_temp.naive_board WHERE game_id = %s AND id = %s',
                                :game, k.id), 5)
FROM (VALUES (1, 'first', :first), (2, 'median', :median), (3, 'last', :last)) AS k (i, label, id);

\pset format unaligned
\pset tuples_only on
\pset fieldsep ''
SELECT '| operation | qr_event | naive SQL | naive | naive / qr_event |';
SELECT '| --- | ---: | --- | ---: | ---: |';
SELECT format('| %s | %s ms | %s | %s ms | %s× |', operation, round(fast_ms::numeric, 3), naive,
              round(naive_ms::numeric, 3), round((naive_ms / fast_ms)::numeric, 1))
FROM results ORDER BY n;
-- The figures of the section's in-database part (tests/bench/lib.sh, bench_figure):
-- every operation beside its naive form, then the targets, from which the target
-- table is printed.
CREATE TEMP TABLE figures (
    n serial, id text, description text, measured numeric, unit text, baseline_desc text,
    baseline numeric, ratio numeric, ratio_of text, target text, met boolean, shown text);
INSERT INTO figures (id, description, measured, unit, baseline_desc, baseline, ratio, ratio_of)
SELECT id, operation || ', in-database', round(fast_ms::numeric, 3), 'ms', naive, round(naive_ms::numeric, 3),
       round((naive_ms / fast_ms)::numeric, 1), 'baseline/measured'
FROM results ORDER BY n;
INSERT INTO figures (id, description, measured, unit, baseline_desc, baseline, ratio, ratio_of, target, met, shown)
SELECT t.id, operation, round(fast_ms::numeric, 3), 'ms', naive, round(naive_ms::numeric, 3),
       round((naive_ms / fast_ms)::numeric, 1), 'baseline/measured', t.target, naive_ms >= t.times * fast_ms,
       round((naive_ms / fast_ms)::numeric, 1) || '×'
FROM results
JOIN (VALUES (8, 1, 'target-rank-last-vs-count', 'rank of the last: ≥ 30× faster than count(*)', 30),
             (9, 2, 'target-rank-last-vs-window', 'rank of the last: ≥ 100× faster than rank() OVER', 100))
     AS t (n, k, id, target, times) USING (n)
ORDER BY t.k;
INSERT INTO figures (id, description, measured, unit, target, met, shown)
SELECT 'target-rank-last-time', operation, round(fast_ms::numeric, 3), 'ms',
       'rank of the last: median under 2 ms in-database', fast_ms < 2, round(fast_ms::numeric, 3) || ' ms'
FROM results WHERE n = 8;
INSERT INTO figures (id, description, measured, unit, baseline_desc, baseline, ratio, ratio_of, target, met, shown)
SELECT 'target-rank-spread', 'leaderboard_rank of first, median, last: the slowest',
       round(max(fast_ms)::numeric, 3), 'ms', 'the fastest of the three', round(min(fast_ms)::numeric, 3),
       round((max(fast_ms) / min(fast_ms))::numeric, 2), 'measured/baseline',
       'rank of first, median, last within 3× of each other', max(fast_ms) <= 3 * min(fast_ms),
       round((max(fast_ms) / min(fast_ms))::numeric, 2) || '× (slowest / fastest)'
FROM results WHERE n IN (4, 6, 8);

\ir figures.sql
