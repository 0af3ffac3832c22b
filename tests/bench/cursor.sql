-- Cursor section of make bench: a 20-row page of the Bench Game's completed
-- participations, ordered by (total_score DESC, completed_at, id), at depths 0,
-- 10,000 and 500,000 (or a tenth and half of the rows, when these are less: the
-- pages must exist) — through qr_event.paginate, and through the baselines measured
-- in the same run: OFFSET, a hand-written keyset query with the
-- redundant bound, and the textbook keyset OR form. Times are in-database
-- (median of repeated runs in one backend, planning included).
-- psql variable figures: the file to write the section's figures to, for
-- bench_figure_rows (tests/bench/lib.sh).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SELECT id AS game_id FROM qr_event.games WHERE title = 'Bench Game' \gset

-- Median wall time, in ms, of running query runs times.
CREATE FUNCTION pg_temp.median_ms(query text, runs int) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    times float8[] := '{}';
BEGIN
    EXECUTE query;              -- warm the cache and the catalog caches
    FOR i IN 1 .. runs LOOP
        t0 := clock_timestamp();
        EXECUTE query;
        times := times || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
    END LOOP;
    RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(times) t);
END
$$;

-- The paginate call of a 20-row page after cursor c.
CREATE FUNCTION pg_temp.page_call(game bigint, c text, size int DEFAULT 20) RETURNS text
LANGUAGE sql AS $$
    SELECT format('SELECT * FROM qr_event.paginate(NULL::qr_event.game_participations, '
                  '''{total_score DESC, completed_at, id}'', %s, %L, %L)',
                  size, c, jsonb_build_object('game_id', game, 'is_completed', true)::text)
$$;

-- The cursor of the page that starts at row depth (0-based), by paging 100 rows at a time.
CREATE FUNCTION pg_temp.cursor_at(game bigint, depth int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c text := NULL;
BEGIN
    FOR i IN 1 .. depth / 100 LOOP
        EXECUTE 'SELECT next_cursor FROM (' || pg_temp.page_call(game, c, 100) || ') p' INTO c;
    END LOOP;
    RETURN c;
END
$$;

CREATE TEMP TABLE results (
    depth int PRIMARY KEY,
    paginate_ms float8,
    bounded_ms float8,
    textbook_ms float8,
    offset_ms float8
);

DO $$
DECLARE
    game bigint := (SELECT id FROM qr_event.games WHERE title = 'Bench Game');
    d int;
    c text;
    b record;
    base text;
    keyset text;
    total bigint := (SELECT count(*) FROM qr_event.game_participations WHERE game_id = game AND is_completed);
BEGIN
    base := format('SELECT id, total_score, completed_at FROM qr_event.game_participations '
                   'WHERE game_id = %s AND is_completed', game);
    FOREACH d IN ARRAY ARRAY[0, least(10000, total / 10), least(500000, total / 2)] LOOP
        RAISE NOTICE 'bench: depth %', d;
        c := pg_temp.cursor_at(game, d);
        INSERT INTO results (depth, paginate_ms)
        VALUES (d, pg_temp.median_ms(pg_temp.page_call(game, c), 300));
        UPDATE results SET offset_ms = pg_temp.median_ms(
            base || format(' ORDER BY total_score DESC, completed_at, id OFFSET %s LIMIT 20', d),
            CASE WHEN d > 100000 THEN 9 ELSE 50 END)
        WHERE results.depth = d;
        IF d > 0 THEN
            -- the boundary row: the last row before the page
            EXECUTE base || format(' ORDER BY total_score DESC, completed_at, id OFFSET %s LIMIT 1',
                                   d - 1) INTO b;
            keyset := format(' (total_score < %1$s OR (total_score = %1$s AND (completed_at > %2$L '
                             'OR (completed_at = %2$L AND id > %3$s))))', b.total_score, b.completed_at, b.id);
            UPDATE results SET
                bounded_ms = pg_temp.median_ms(base || format(' AND total_score <= %s AND', b.total_score)
                    || keyset || ' ORDER BY total_score DESC, completed_at, id LIMIT 20', 300),
                textbook_ms = pg_temp.median_ms(base || ' AND' || keyset
                    || ' ORDER BY total_score DESC, completed_at, id LIMIT 20', 9)
            WHERE results.depth = d;
        END IF;
    END LOOP;
END
$$;

\pset format unaligned
\pset tuples_only on
\pset fieldsep ''
SELECT '| depth | paginate | keyset by hand, bounded | keyset by hand, textbook OR | OFFSET | OFFSET / paginate |';
SELECT '| ---: | ---: | ---: | ---: | ---: | ---: |';
SELECT format('| %s | %s ms | %s | %s | %s ms | %s× |', to_char(depth, 'FM9,999,999'),
              round(paginate_ms::numeric, 3),
              coalesce(round(bounded_ms::numeric, 3) || ' ms', '—'),
              coalesce(round(textbook_ms::numeric, 3) || ' ms', '—'),
              round(offset_ms::numeric, 3), round((offset_ms / paginate_ms)::numeric, 1))
FROM results ORDER BY depth;
-- The figures of the section (tests/bench/lib.sh, bench_figure): every page beside its
-- baselines, then the targets, from which the target table is printed.
CREATE TEMP TABLE figures (
    n serial, id text, description text, measured numeric, unit text, baseline_desc text,
    baseline numeric, ratio numeric, ratio_of text, target text, met boolean, shown text);
INSERT INTO figures (id, description, measured, unit, baseline_desc, baseline, ratio, ratio_of)
SELECT format('depth-%s-vs-%s', r.depth, b.id), format('paginate, page at depth %s', to_char(r.depth, 'FM9,999,999')),
       round(r.paginate_ms::numeric, 3), 'ms', b.description, round(b.ms::numeric, 3),
       round((b.ms / r.paginate_ms)::numeric, 1), 'baseline/measured'
FROM results r
CROSS JOIN LATERAL (VALUES (1, 'bounded', 'keyset by hand, bounded', r.bounded_ms),
                           (2, 'textbook', 'keyset by hand, textbook OR', r.textbook_ms),
                           (3, 'offset', 'OFFSET', r.offset_ms)) AS b (k, id, description, ms)
WHERE b.ms IS NOT NULL
ORDER BY r.depth, b.k;
-- the deepest page (500,000 with 1,000,000 rows)
SELECT to_char(max(depth), 'FM9,999,999') AS deep FROM results \gset
INSERT INTO figures (id, description, measured, unit, baseline_desc, baseline, ratio, ratio_of, target, met, shown)
SELECT 'target-deep-vs-first', 'paginate, page at depth ' || :'deep', round(d.paginate_ms::numeric, 3), 'ms',
       'paginate, first page', round(z.paginate_ms::numeric, 3),
       round((d.paginate_ms / z.paginate_ms)::numeric, 2), 'measured/baseline',
       format('page at depth %s costs at most 2× the first page', :'deep'), d.paginate_ms <= 2 * z.paginate_ms,
       round((d.paginate_ms / z.paginate_ms)::numeric, 2) || '×'
FROM results d, results z WHERE d.depth = (SELECT max(depth) FROM results) AND z.depth = 0;
INSERT INTO figures (id, description, measured, unit, baseline_desc, baseline, ratio, ratio_of, target, met, shown)
SELECT 'target-deep-vs-offset', 'paginate, page at depth ' || :'deep', round(paginate_ms::numeric, 3), 'ms',
       'OFFSET, depth ' || :'deep', round(offset_ms::numeric, 3),
       round((offset_ms / paginate_ms)::numeric, 1), 'baseline/measured',
       format('paginate at least 100× faster than OFFSET at depth %s', :'deep'), offset_ms >= 100 * paginate_ms,
       round((offset_ms / paginate_ms)::numeric, 1) || '×'
FROM results WHERE depth = (SELECT max(depth) FROM results);
INSERT INTO figures (id, description, measured, unit, target, met, shown)
SELECT 'target-slowest-page', 'paginate, slowest of the three depths', round(max(paginate_ms)::numeric, 3), 'ms',
       'in-database time of a 20-row page under 1 ms at any depth', max(paginate_ms) < 1,
       round(max(paginate_ms)::numeric, 3) || ' ms (slowest)'
FROM results;

\ir figures.sql
